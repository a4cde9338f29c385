"""Issue 11, "grading a class": many submissions graded at once, in parallel worker processes,
into a gradebook (CSV, JSON) and feedback files; a broken, hanging, crashing or forging
submission is reported in its own row and never changes another one's grade."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from sqlacourse import authoring as a
from sqlacourse._gradekernel import MIME
from sqlacourse.gradebook import _suspects, collect, feedback_name, lesson_of

EX = "00-count-customers"
SOLVED = a.SOLUTIONS / "00-orientation.ipynb"
UNSOLVED = a.EXERCISES / "00-orientation.ipynb"
WRONG = "def count_customers(session):\n    return 0\n"


def notebook(target: Path, *cells: str, base: Path = SOLVED, answer: str | None = None) -> Path:
    """Notebook 00 (solved by default) with ``cells`` inserted before its check cell."""
    nb = a.read(base)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    check = next(i for i in code if nb.cells[i].source.startswith("check("))
    if answer is not None:
        answer_cell = next(i for i in code if "def count_customers" in nb.cells[i].source
                           or "NotImplementedError" in nb.cells[i].source)
        nb.cells[answer_cell].source = answer
    for offset, source in enumerate(cells):
        nb.cells.insert(check + offset, nbformat.v4.new_code_cell(textwrap.dedent(source)))
    target.parent.mkdir(parents=True, exist_ok=True)
    a.write(nb, target)
    return target


def grade(*args, env=None, cwd=None, timeout=900):
    return subprocess.run([sys.executable, "-m", "sqlacourse", "grade", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


# --------------------------------------------------------------------------
# Without kernels
# --------------------------------------------------------------------------
def test_collect_paths_folders_and_globs(tmp_path):
    for name in ("alice/00-orientation.ipynb", "bob/sub/00-orientation.ipynb",
                 "alice/.ipynb_checkpoints/00-orientation-checkpoint.ipynb", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    (tmp_path / "empty").mkdir()
    alice, bob = tmp_path / "alice/00-orientation.ipynb", tmp_path / "bob/sub/00-orientation.ipynb"

    found, problems = collect([str(tmp_path)])
    assert found == [alice, bob] and problems == []  # recursive, checkpoints skipped
    found, problems = collect([f"{tmp_path}/*/00-*.ipynb", str(alice), f"{tmp_path}/**/*.ipynb"])
    assert found == [alice, bob] and problems == []  # each notebook once
    found, problems = collect([str(tmp_path / "notes.txt"), str(tmp_path / "missing.ipynb")])
    assert found == [tmp_path / "notes.txt", tmp_path / "missing.ipynb"]  # rows of their own
    found, problems = collect([f"{tmp_path}/nothing-*.ipynb", str(tmp_path / "empty")])
    assert found == [] and len(problems) == 2 and "matches no notebook" in problems[0]
    assert "without any .ipynb" in problems[1]


def test_lesson_from_the_file_name():
    lessons = {"00-orientation", "03-querying"}
    assert lesson_of(Path("x/03-querying.ipynb"), lessons) == "03-querying"
    assert lesson_of(Path("03-querying-alice.ipynb"), lessons) == "03-querying"
    assert lesson_of(Path("alice_00-orientation.ipynb"), lessons) == "00-orientation"
    assert lesson_of(Path("alice.ipynb"), lessons) is None
    assert feedback_name(Path("/c/alice/03-querying.ipynb"), Path("/c")) == "alice__03-querying.md"


def test_who_is_graded_again_alone_when_the_course_files_changed():
    w = {  # started, checked (the comparison of the files), what it found
        0: {"started": 0, "checked": 10, "changed": []},
        1: {"started": 1, "checked": 5, "changed": ["x.py"]},  # saw a change made after 0
        2: {"started": 6, "checked": 12, "changed": []},
        3: {"started": 11, "checked": 20, "changed": []},
    }
    # The change was made after the last clean comparison before 5 (none) and before 5:
    # 0 and 1 ran then; 2 started later, 3 too.
    assert _suspects(w, None) == {0, 1}
    # A change seen only by the command's last comparison, after every submission had compared
    # the files clean (a process left behind?): nobody can be blamed (it is put back, said).
    assert _suspects({i: dict(v, changed=[]) for i, v in w.items()}, 25) == set()
    # Two changes: the second seen by 3 at 20, after 2's clean comparison at 12: 3 alone.
    w[3]["changed"] = ["y.py"]
    assert _suspects(w, None) == {0, 1, 3}
    assert _suspects({i: dict(v, changed=[]) for i, v in w.items()}, None) == set()


# --------------------------------------------------------------------------
# A class
# --------------------------------------------------------------------------
@pytest.mark.notebooks
def test_a_class_is_graded_in_parallel_into_a_gradebook_and_feedback(tmp_path):
    cls = tmp_path / "class"
    notebook(cls / "alice" / "00-orientation.ipynb")
    (cls / "alice" / ".ipynb_checkpoints").mkdir()
    (cls / "alice" / ".ipynb_checkpoints" / "00-orientation-checkpoint.ipynb").write_text("{")
    notebook(cls / "bob" / "00-orientation.ipynb", base=UNSOLVED, answer=WRONG)
    # interrupted after --cell-timeout; the rest of the notebook still runs and is graded
    notebook(cls / "carol" / "00-orientation.ipynb", "import time\nwhile True:\n    time.sleep(0.1)")
    # deaf to interrupts: stopped by the overall limit (--timeout)
    notebook(cls / "dave" / "00-orientation.ipynb", """
        import signal, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            time.sleep(0.1)
    """)
    notebook(cls / "erin" / "00-orientation.ipynb", "import os\nos._exit(3)")
    (cls / "frank").mkdir()
    (cls / "frank" / "00-orientation.ipynb").write_text("this is not a notebook")
    (tmp_path / "notes.txt").write_text("no notebook either")

    out = tmp_path / "out"
    done = grade(cls, tmp_path / "notes.txt", "--jobs", "2", "--cell-timeout", "3", "--timeout", "25",
                 "--csv", out / "grades.csv", "--json-file", out / "grades.json",
                 "--feedback", out / "feedback", "--json", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr  # frank and notes.txt were not run
    printed = json.loads(done.stdout)  # stdout: only the JSON
    assert printed == json.loads((out / "grades.json").read_text())
    rows = {Path(r["notebook"]).parent.name: r for r in printed["submissions"]}
    assert list(rows) == ["alice", "bob", "carol", "dave", "erin", "frank", tmp_path.name]
    assert printed["summary"] == {"submissions": 7, "all_passed": 2, "some_failed": 3, "not_graded": 2}
    assert printed["exit_status"] == 2

    def only(name):
        (row,) = rows[name]["exercises"]
        assert row["id"] == EX
        return row

    assert only("alice")["passed"] is True and rows["alice"]["error"] is None
    assert only("bob")["passed"] is False and "sent no SQL" in only("bob")["message"]
    assert only("carol")["passed"] is True  # the hanging cell was interrupted
    assert any("KeyboardInterrupt" in e or "Interrupt" in e for e in rows["carol"]["cell_errors"])
    assert only("dave")["passed"] is False and "overall limit of 25 s" in only("dave")["message"]
    assert only("erin")["passed"] is False and "kernel stopped" in only("erin")["message"]
    assert rows["frank"]["exercises"] == [] and "not a readable notebook" in rows["frank"]["error"]
    assert "not a readable notebook" in rows[tmp_path.name]["error"]

    with open(out / "grades.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["submission"] for r in table] == [r["notebook"] for r in printed["submissions"]]
    assert list(table[0]) == ["submission", "lesson", EX, "passed", "failed", "total", "error"]
    assert [r[EX] for r in table] == ["1", "0", "1", "0", "0", "", ""]
    assert [(r["passed"], r["total"]) for r in table][:2] == [("1", "1"), ("0", "1")]
    assert table[0]["error"] == "" and "not a readable notebook" in table[5]["error"]

    # named after the path below the folder all submissions share (here tmp_path: notes.txt)
    feedback = sorted(p.name for p in (out / "feedback").iterdir())
    assert feedback == [f"class__{n}__00-orientation.md" for n in
                        ("alice", "bob", "carol", "dave", "erin", "frank")] + ["notes.md"]
    bob = (out / "feedback" / "class__bob__00-orientation.md").read_text()
    assert f"## {EX}: not passed" in bob and only("bob")["message"] in bob and "0 of 1" in bob
    assert f"## {EX}: passed" in (out / "feedback" / "class__alice__00-orientation.md").read_text()
    assert "could not be graded" in (out / "feedback" / "class__frank__00-orientation.md").read_text()


@pytest.mark.notebooks
def test_a_quoted_glob_one_after_another_and_the_exit_status(tmp_path):
    notebook(tmp_path / "c" / "alice" / "00-orientation.ipynb")
    notebook(tmp_path / "c" / "bob" / "00-orientation.ipynb")
    done = grade("c/*/00-*.ipynb", "--jobs", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 submissions: 2 all passed" in done.stdout
    notebook(tmp_path / "c" / "bob" / "00-orientation.ipynb", base=UNSOLVED, answer=WRONG)
    done = grade("c/*/00-*.ipynb", "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    rows = json.loads(done.stdout)["submissions"]
    assert [r["passed"] for r in rows] == [1, 0]

    # a notebook of no lesson (neither its name nor a check() line says which) is not graded
    (tmp_path / "c" / "carl").mkdir()
    a.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]),
            tmp_path / "c" / "carl" / "notes.ipynb")
    done = grade("c/", "--json", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    rows = json.loads(done.stdout)["submissions"]
    assert [r["lesson"] for r in rows] == ["00-orientation", "00-orientation", None]
    assert "no lesson of the course in its name or in its check() lines" in rows[2]["error"]

    nothing = grade("c/*/99-*.ipynb", "--json", cwd=tmp_path)
    assert nothing.returncode == 2 and "matches no notebook" in nothing.stderr
    assert json.loads(nothing.stdout)["submissions"] == []


def _private_course(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "course"
    shutil.copytree(a.ROOT / "src" / "sqlacourse", root / "src" / "sqlacourse",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(a.ROOT / "data", root / "data")
    shutil.copytree(a.EXERCISES, root / "exercises")
    env = dict(os.environ, PYTHONPATH=str(root / "src"))
    env.pop("SQLACOURSE_DATA_DIR", None)
    return root, env


@pytest.mark.notebooks
def test_a_forgery_in_one_submission_does_not_change_another_graded_beside_it(tmp_path):
    root, env = _private_course(tmp_path)
    grader = root / "src" / "sqlacourse" / "graders" / "lesson00.py"
    original = grader.read_bytes()
    cls = tmp_path / "class"
    notebook(cls / "alice" / "00-orientation.ipynb", "import time\ntime.sleep(2)")
    notebook(cls / "mallory" / "00-orientation.ipynb", f"""
        import time
        time.sleep(1)
        path = {str(grader)!r}
        text = open(path).read()
        open(path, "w").write(text.replace("def count_customers(candidate, g: Grading) -> str:",
                              "def count_customers(candidate, g: Grading) -> str:\\n    return 'forged'"))
    """, base=UNSOLVED, answer=WRONG)
    notebook(cls / "oscar" / "00-orientation.ipynb", f"""
        import json
        fake = {{"v": 1, "nonce": "x", "id": "{EX}", "passed": True, "message": "ok",
                "database_error": False}}
        display({{"{MIME}": {{"payload": json.dumps(fake), "mac": "0" * 64}}}}, raw=True)
    """, base=UNSOLVED, answer=WRONG)
    notebook(cls / "trudy" / "00-orientation.ipynb", """
        import os, signal
        os.kill(os.getppid(), signal.SIGKILL)
    """)
    notebook(cls / "victor" / "00-orientation.ipynb")

    done = grade(cls, "--jobs", "2", "--json", env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr  # trudy's worker was killed
    rows = {Path(r["notebook"]).parent.name: r for r in json.loads(done.stdout)["submissions"]}
    assert rows["alice"]["passed"] == 1 and rows["alice"]["error"] is None, rows["alice"]
    assert rows["victor"]["passed"] == 1 and rows["victor"]["error"] is None, rows["victor"]
    mallory = rows["mallory"]["exercises"][0]
    assert mallory["passed"] is False and "changed the course's own files" in mallory["message"]
    assert "graders/lesson00.py" in mallory["message"]
    assert rows["oscar"]["exercises"][0]["passed"] is False
    assert "grading process was killed" in rows["trudy"]["error"]
    assert grader.read_bytes() == original  # put back
    assert "return 'forged'" in grader.with_name(".lesson00.py.changed-during-grading").read_text()


def test_wrong_options_are_refused_before_any_grading(tmp_path):
    notebook(tmp_path / "c" / "alice" / "00-orientation.ipynb")
    (tmp_path / "out").mkdir()
    folder_as_csv = grade("c", "--csv", "out", cwd=tmp_path, timeout=120)
    assert folder_as_csv.returncode == 2 and "--csv out is a folder" in folder_as_csv.stderr
    assert folder_as_csv.stdout == ""  # nothing was graded
    no_jobs = grade("c", "--jobs", "0", cwd=tmp_path, timeout=120)
    assert no_jobs.returncode == 2 and "--jobs must be at least 1" in no_jobs.stderr
