"""Issue 7, "a grade that cannot be forged": each test grades a submission that performs one
forgery on top of an unsolved exercise notebook, and asserts that it does not pass, that the
grade command does not crash, and that the next, untouched submission is graded normally."""

from __future__ import annotations

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
from sqlacourse._gradekernel import ENTRY, MIME
from sqlacourse.submission import GradingRun, run_notebook

pytestmark = pytest.mark.notebooks

EX = "00-count-customers"
UNSOLVED = a.EXERCISES / "00-orientation.ipynb"
SOLVED = a.SOLUTIONS / "00-orientation.ipynb"
WRONG = ("def count_customers(session):\n"
         "    session.scalar(select(func.count()).select_from(Customer))\n"
         "    return 0\n")


@pytest.fixture(scope="module")
def run():
    with GradingRun() as shared:
        yield shared


def submission(tmp_path: Path, *cells: str, answer: str = WRONG, check_line: str | None = None) -> Path:
    """The unsolved notebook 00 with ``answer`` as the answer cell and ``cells`` inserted
    before the check cell (``check_line`` replaces the check cell's text)."""
    nb = a.read(UNSOLVED)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    answer_index = next(i for i in code if "NotImplementedError" in nb.cells[i].source)
    check_index = next(i for i in code if nb.cells[i].source.startswith("check("))
    nb.cells[answer_index].source = answer
    if check_line is not None:
        nb.cells[check_index].source = check_line
    for offset, source in enumerate(cells):
        nb.cells.insert(check_index + offset, nbformat.v4.new_code_cell(textwrap.dedent(source)))
    folder = tmp_path / "sub"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "00-orientation.ipynb"
    a.write(nb, path)
    return path


def assert_not_passed(result):
    assert [e["id"] for e in result.exercises] == [EX], result.exercises
    row = result.exercises[0]
    assert row["passed"] is False, row
    assert result.passed == 0 and result.failed == 1
    return row


def assert_next_submission_is_graded_normally(run, tmp_path):
    wrong = run_notebook(submission(tmp_path / "next-wrong"), run=run)
    assert wrong.exercises[0]["passed"] is False
    assert "customers, your function returned 0" in wrong.exercises[0]["message"], wrong.exercises


FORGERIES = {
    "write-a-pass-into-the-old-report-file": """
        import json, os
        path = os.environ.get("SQLACOURSE_GRADE_REPORT") or "report.jsonl"
        with open(path, "a") as fh:
            fh.write(json.dumps({"id": "00-count-customers", "passed": True, "message": "ok"}) + "\\n")
    """,
    "publish-a-fake-result-from-a-cell": f"""
        import json
        fake = {{"v": 1, "nonce": "x", "id": "00-count-customers", "passed": True, "message": "ok",
                "database_error": False}}
        display({{"{MIME}": {{"payload": json.dumps(fake), "mac": "0" * 64}}}}, raw=True)
    """,
    "replace-the-course-entry-point": f"""
        import builtins, json
        def fake(exercise_id, name, get_candidate, nonce):
            payload = json.dumps({{"v": 1, "nonce": nonce, "id": exercise_id, "passed": True,
                                  "message": "ok", "database_error": False}}, sort_keys=True)
            display({{"{MIME}": {{"payload": payload, "mac": "0" * 64}}}}, raw=True)
        builtins.{ENTRY} = fake
    """,
    "patch-the-registry-from-a-cell": """
        from sqlacourse.registry import REGISTRY
        REGISTRY["00-count-customers"].grader = lambda candidate, g: "all good"
    """,
    "replace-the-registered-exercise": """
        import dataclasses
        from sqlacourse.registry import REGISTRY
        REGISTRY["00-count-customers"] = dataclasses.replace(REGISTRY["00-count-customers"],
                                                             grader=lambda c, g: "ok")
    """,
    "patch-feedback-from-a-cell": """
        from sqlacourse.grading import Feedback
        Feedback.__init__.__defaults__ = ("", [], False)
        Feedback.passed = property(lambda self: True, lambda self, v: None)
    """,
    "patch-grade-from-a-cell": """
        import sqlacourse.grading as grading
        real = grading.grade
        grading.grade = lambda exercise_id, candidate, **kw: grading.Feedback(exercise_id, True, "ok")
    """,
    "patch-a-grading-helper-from-a-cell": """
        import sqlacourse.graders.lesson00 as lesson00
        lesson00.isinstance = lambda *args: True
        class NeverFail(Exception):
            pass
        lesson00.Fail = NeverFail
    """,
    "patch-the-grader-code-object": """
        import sqlacourse.graders.lesson00 as lesson00
        lesson00.count_customers.__code__ = (lambda candidate, g: "ok").__code__
    """,
    "silence-the-fingerprint-then-patch-the-registry": """
        import sqlacourse._gradekernel as gk
        gk.Fingerprint.changes = lambda self: []
        from sqlacourse.registry import REGISTRY
        REGISTRY["00-count-customers"].grader = lambda candidate, g: "all good"
    """,
    "patch-builtins": """
        import builtins
        builtins.divmod = lambda *args: (0, 0)
    """,
    "a-fake-sqlacourse-package-next-to-the-notebook": """
        import os, sys, importlib
        os.makedirs("sqlacourse", exist_ok=True)
        with open("sqlacourse/__init__.py", "w") as fh:
            fh.write("def check(*a, **k):\\n    return True\\n")
        sys.path.insert(0, os.getcwd())
        for name in [n for n in sys.modules if n.startswith("sqlacourse")]:
            del sys.modules[name]
        import sqlacourse
    """,
}


@pytest.mark.parametrize("forgery", list(FORGERIES.values()), ids=list(FORGERIES))
def test_a_forgery_from_a_cell_fails(forgery, run, tmp_path):
    result = run_notebook(submission(tmp_path, forgery), run=run, cell_timeout=60)
    row = assert_not_passed(result)
    assert row["message"], row


INSIDE_THE_CANDIDATE = {
    "patches-the-registry": """
        def count_customers(session):
            from sqlacourse.registry import REGISTRY
            REGISTRY["00-count-customers"].grader = lambda candidate, g: "all good"
            return 0
    """,
    "patches-feedback": """
        def count_customers(session):
            import sqlacourse.grading as grading
            grading.Feedback.__bool__ = lambda self: True
            grading.Feedback.as_dict = lambda self: {"id": self.exercise, "passed": True, "message": ""}
            return 0
    """,
    "patches-the-grader-helper": """
        def count_customers(session):
            import sqlacourse.graders.lesson00 as lesson00
            lesson00.Fail = type("Fail", (Exception,), {})
            return 0
    """,
    "publishes-a-second-report": f"""
        def count_customers(session):
            display({{"{MIME}": {{"payload": "{{}}", "mac": "0"}}}}, raw=True)
            return session.scalar(__import__("sqlalchemy").text("SELECT count(*) FROM customers"))
    """,
    "calls-the-course-entry-with-a-correct-answer": f"""
        def count_customers(session):
            import builtins, re
            from sqlalchemy import text
            source = get_ipython().history_manager.input_hist_raw[-1]
            nonce = re.findall(r'"([0-9a-f]{{32}})"', source)[-1]
            right = lambda s: s.scalar(text("SELECT count(*) FROM customers"))
            getattr(builtins, "{ENTRY}")("00-count-customers", "right", lambda: right, nonce)
            return 0
    """,
    "int-subclass-that-always-says-equal": """
        class Equal(int):
            def __eq__(self, other):
                return True
            def __ne__(self, other):
                return False
            __hash__ = int.__hash__
        def count_customers(session):
            from sqlalchemy import text
            session.scalar(text("SELECT count(*) FROM customers"))
            return Equal(0)
    """,
}


@pytest.mark.parametrize("answer", list(INSIDE_THE_CANDIDATE.values()), ids=list(INSIDE_THE_CANDIDATE))
def test_a_forgery_from_inside_the_candidate_fails(answer, run, tmp_path):
    result = run_notebook(submission(tmp_path, answer=textwrap.dedent(answer)), run=run, cell_timeout=60)
    assert_not_passed(result)


def test_extra_ids_edited_checks_and_yes_as_passed(run, tmp_path):
    extra = f"""
        import json
        for item in [{{"id": "99-made-up", "passed": "yes"}}, {{"id": "00-count-customers", "passed": "yes"}}]:
            display({{"{MIME}": {{"payload": json.dumps(item), "mac": "yes"}}}}, raw=True)
        check("99-made-up", count_customers)
    """
    path = submission(tmp_path, extra, check_line='check("00-count-customers", lambda s: 200)')
    result = run_notebook(path, run=run)
    row = assert_not_passed(result)
    assert "customers, your function returned 0" in row["message"], row  # the course's check cell ran, on the answer


def test_a_deleted_check_cell_is_put_back(run, tmp_path):
    nb = a.read(SOLVED)
    nb.cells = [c for c in nb.cells if not c.source.startswith("check(")]
    path = tmp_path / "00-orientation.ipynb"
    a.write(nb, path)
    result = run_notebook(path, run=run)
    assert result.exercises[0]["passed"] is True, result.exercises


def test_the_reference_and_the_untouched_notebook_after_all_forgeries(run, tmp_path):
    """The same run graded every forgery above: the next submissions are graded normally."""
    assert run_notebook(SOLVED, run=run).exercises[0]["passed"] is True
    assert_next_submission_is_graded_normally(run, tmp_path)


def _grade_cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "sqlacourse", "grade", *map(str, args)],
                          capture_output=True, text=True, timeout=600, env=env, cwd=cwd)


def test_fake_json_on_stdout_then_killing_the_grader_is_not_a_pass(tmp_path):
    fake = json.dumps({"notebook": "x", "exercises": [{"id": EX, "passed": True, "message": "ok"}],
                       "passed": 1, "failed": 0})
    path = submission(tmp_path, f"""
        import os, signal
        os.write(1, {fake!r}.encode() + b"\\n")
        os.write(2, b"fake stderr\\n")
        os.kill(os.getppid(), signal.SIGKILL)
    """)
    done = _grade_cli(path, "--json")
    assert done.returncode != 0
    assert '"passed": 1' not in done.stdout and "fake stderr" not in done.stderr


def test_a_kernel_that_dies_is_reported_in_the_row(tmp_path):
    path = submission(tmp_path, "import os\nos._exit(3)")
    done = _grade_cli(path, "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    row = json.loads(done.stdout)["exercises"][0]
    assert row["passed"] is False and "kernel stopped" in row["message"], row

    dying_check = submission(tmp_path, answer="def count_customers(session):\n    import os\n    os._exit(4)\n")
    done = _grade_cli(dying_check, "--json")
    assert done.returncode == 1
    row = json.loads(done.stdout)["exercises"][0]
    assert "kernel stopped during this check" in row["message"], row


KERNEL_NEVER_READY = """
from jupyter_client.asynchronous.client import AsyncKernelClient
from sqlacourse.submission import GradingRun, NotebookNotRun, run_notebook

async def never_ready(self, timeout=None):
    raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")

AsyncKernelClient.wait_for_ready = never_ready
with GradingRun() as run:
    for _ in range(2):
        try:
            run_notebook(SOLVED, run=run)
        except NotebookNotRun as exc:
            print(exc)
"""


def test_a_kernel_that_does_not_start_in_time_is_one_clear_error(monkeypatch):
    # On a busy machine a kernel may start late (the limit is 180 s, or
    # SQLACOURSE_KERNEL_STARTUP_TIMEOUT); one that misses it gives one clear error and leaves
    # no exit hook of nbclient's behind (it printed an AssertionError traceback at exit).
    from sqlacourse.submission import _startup_timeout

    assert _startup_timeout() == 180
    monkeypatch.setenv("SQLACOURSE_KERNEL_STARTUP_TIMEOUT", "7")
    assert _startup_timeout() == 7
    done = subprocess.run([sys.executable, "-c", KERNEL_NEVER_READY.replace("SOLVED", repr(str(SOLVED)))],
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.count("could not be run: RuntimeError: Kernel didn't respond in 7 seconds") == 2, done
    assert "Exception ignored" not in done.stderr and "AssertionError" not in done.stderr, done.stderr


def test_an_unusable_database_exits_2_with_the_rows(tmp_path):
    env = dict(os.environ, SQLACOURSE_DATABASE_URL="postgresql://u:s3cret@127.0.0.1:9/none")
    done = _grade_cli(SOLVED, "--json", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert "Could not connect" in report["error"] and "s3cret" not in done.stdout + done.stderr
    assert report["exercises"][0]["passed"] is False


def _private_course(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the course (package, data, exercises) that a test may let a submission damage."""
    root = tmp_path / "course"
    shutil.copytree(a.ROOT / "src" / "sqlacourse", root / "src" / "sqlacourse",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(a.ROOT / "data", root / "data")
    shutil.copytree(a.EXERCISES, root / "exercises")
    env = dict(os.environ, PYTHONPATH=str(root / "src"))
    env.pop("SQLACOURSE_DATA_DIR", None)
    return root, env


def test_editing_the_installed_course_from_a_cell_fails_and_is_undone(tmp_path):
    root, env = _private_course(tmp_path)
    grader = root / "src" / "sqlacourse" / "graders" / "lesson00.py"
    original = grader.read_bytes()
    path = submission(tmp_path, f"""
        path = {str(grader)!r}
        text = open(path).read()
        text = text.replace("def count_customers(candidate, g: Grading) -> str:",
                            "def count_customers(candidate, g: Grading) -> str:\\n    return 'forged'")
        open(path, "w").write(text)
        import os
        os.makedirs({str(root / "src" / "sqlacourse" / "evil")!r}, exist_ok=True)
        open({str(root / "src" / "sqlacourse" / "evil" / "__init__.py")!r}, "w").write("x = 1")
    """)
    done = _grade_cli(path, "--json", env=env, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    row = json.loads(done.stdout)["exercises"][0]
    assert row["passed"] is False and "changed the course's own files" in row["message"], row
    assert "graders/lesson00.py" in row["message"]
    assert grader.read_bytes() == original
    assert not (root / "src" / "sqlacourse" / "evil" / "__init__.py").exists()
    kept = grader.with_name(".lesson00.py.changed-during-grading")
    assert "return 'forged'" in kept.read_text()  # nothing is lost, even the forgery

    untouched = submission(tmp_path / "next")
    done = _grade_cli(untouched, "--json", env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "customers, your function returned 0" in json.loads(done.stdout)["exercises"][0]["message"]
