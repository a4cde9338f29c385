"""Grade a whole notebook: ``python -m sqlacourse grade PATH.ipynb [--json]``.

(Several notebooks, folders or globs: a class, graded in parallel into a gradebook by
``gradebook.py`` with this module's ``grade_submission``, every guarantee below kept.)

The notebook runs top to bottom in a fresh kernel (cells that raise do not
stop it; a cell that never returns is interrupted after ``--cell-timeout``
seconds), and each exercise of the notebook's lesson is graded once.

A grade that cannot be forged, as far as Python allows (the way nbgrader
does it, and more):

* **The check cells are the course's.**  Each ``check(...)`` line of the
  submission is removed; in its place (or at the end, when the learner
  deleted it) goes the check of the course's own exercise notebook
  (``exercises/NN-*.ipynb``, matched by exercise id, read once per run).
  Extra ids, edited check cells and checks of other lessons count for nothing.
* **The course's code comes from a private snapshot.**  ``GradingRun`` reads
  the package's files into memory once per run; each submission's kernel
  imports a fresh copy written from memory into a private temporary folder,
  started isolated (``python -I``: no current folder, PYTHONPATH or user site
  on ``sys.path``; the editable install's ``src/`` is dropped), so a fake
  ``sqlacourse/`` next to the notebook or an edited install is never
  imported.  The package's files on disk are compared before and after each
  submission; a submission during which they changed fails, and they are put
  back (the changed version kept as ``.NAME.changed-during-grading``), so the
  next grade command also runs the real course.  Caveat for developers: an
  edit of the package saved while a submission runs is put aside the same way.
* **Results are authenticated.**  The kernel gets a random key per
  submission through a file it deletes before any learner code runs (never
  an environment variable); each course check publishes its result signed
  with it (HMAC-SHA256) together with a nonce of that cell.  Anything else is
  an error in that exercise's row, never a pass, never a crash: no result,
  two results, a bad signature, a wrong nonce or id, a non-boolean
  ``passed``.  The kernel's stdout and stderr go nowhere near the command's
  own output.
* **The grading code is fingerprinted** in the kernel before learner code
  runs and compared before and after each check (``_gradekernel.py``):
  patching ``Feedback``, a grader, the registry or a helper from a cell or
  from inside the candidate fails the check.

What this does not stop is said in ``_gradekernel.py``: code that reads the
key out of the interpreter's memory (gc, ctypes), or an attack on the grading
process through the operating system (the kernel runs as the same user: it can
kill the command, which then exits non-zero).  For hostile classes, run grading
as a user of its own or in a container.

Exit status: 0 all passed, 1 any failed, 2 the notebook could not be run or
the course's database could not be used.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._gradekernel import BOOT, ENTRY, MIME
from .registry import exercises_for

PACKAGE_DIR = Path(__file__).resolve().parent


def _startup_timeout() -> int:
    """Whole seconds a grading kernel may take to start: 180, or SQLACOURSE_KERNEL_STARTUP_TIMEOUT."""
    try:
        value = int(os.environ.get("SQLACOURSE_KERNEL_STARTUP_TIMEOUT", "180"))
    except ValueError:
        return 180
    return value if value >= 0 else 180


_CHECK_LINE = re.compile(r"""^(?:[A-Za-z_]\w*\s*=\s*)?check\(\s*(['"])(?P<id>[^'"]+)\1""")
_INJECTED = "sqlacourse_injected_check"


class NotebookNotRun(Exception):
    pass


@dataclass
class NotebookResult:
    notebook: str
    exercises: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    database_error: str | None = None
    lesson: str | None = None  # not part of as_dict(): the JSON of one notebook keeps its form

    @property
    def passed(self) -> int:
        return sum(1 for e in self.exercises if e["passed"] is True)

    @property
    def failed(self) -> int:
        return len(self.exercises) - self.passed

    def as_dict(self) -> dict[str, Any]:
        out = {"notebook": self.notebook, "exercises": self.exercises,
               "passed": self.passed, "failed": self.failed}
        if self.database_error:
            out["error"] = self.database_error
        return out


# --------------------------------------------------------------------------
# What a run holds before any submission runs
# --------------------------------------------------------------------------
def _read_tree(root: Path) -> dict[str, bytes]:
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".typed"):
            files[str(path.relative_to(root))] = path.read_bytes()
    return files


def _digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()


def _check_cells(exercises_dir: Path) -> dict[str, dict[str, str]]:
    """``{lesson: {exercise id: candidate name}}`` from the course's exercise notebooks."""
    import nbformat

    found: dict[str, dict[str, str]] = {}
    for path in sorted(exercises_dir.glob("[0-9][0-9]-*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        checks: dict[str, str] = {}
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for line in cell.source.splitlines():
                m = re.fullmatch(r"""check\(\s*"([\w-]+)"\s*,\s*([A-Za-z_]\w*)\s*\)\s*""", line)
                if m:
                    checks.setdefault(m.group(1), m.group(2))
        found[path.stem] = checks
    return found


def _kernel_python() -> str:
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        from .authoring import course_kernel_name

        argv0 = KernelSpecManager().get_kernel_spec(course_kernel_name()).argv[0]
        if Path(argv0).exists():
            return argv0
    except Exception:  # noqa: S110 - fall back to this interpreter
        pass
    return sys.executable


class GradingRun:
    """Everything a grade run fixes before it runs any submission: the course package's
    files and the shop data (in memory), the course's check cells, and a private folder."""

    def __init__(self, exercises_dir: Path | None = None) -> None:
        from .authoring import EXERCISES
        from .data import DATA_DIR

        self.package = _read_tree(PACKAGE_DIR)
        self.digest = _digest(self.package)
        self.data = {p.name: p.read_bytes() for p in sorted(DATA_DIR.glob("*.csv"))}
        self.checks = _check_cells(exercises_dir or EXERCISES)
        self.tmp = Path(tempfile.mkdtemp(prefix="sqlacourse-grade-"))
        os.chmod(self.tmp, 0o700)
        self.python = _kernel_python()
        self.count = 0

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> GradingRun:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def snapshot(self, folder: Path) -> Path:
        """Write the package as read at the start of the run; return the folder for sys.path."""
        root = folder / "snapshot"
        for name, data in self.package.items():
            target = root / "sqlacourse" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if _digest(_read_tree(root / "sqlacourse")) != self.digest:  # pragma: no cover
            raise NotebookNotRun("the course snapshot could not be written faithfully")
        (folder / "data").mkdir()
        for name, data in self.data.items():
            (folder / "data" / name).write_bytes(data)
        return root

    @staticmethod
    def package_state() -> dict[str, bytes]:
        """The package's files on disk now (to compare before and after a submission)."""
        return _read_tree(PACKAGE_DIR)

    @staticmethod
    def put_back(before: dict[str, bytes]) -> list[str]:
        """Undo what changed in the package on disk since ``before`` (taken just before a
        submission ran): changed files get their content back, added ones are removed.
        Nothing is lost: the version found is kept next to it as
        ``.NAME.changed-during-grading``.  Returns the names of the changed files."""
        changed = []
        now = _read_tree(PACKAGE_DIR)
        for name in sorted(set(now) | set(before)):
            if now.get(name) == before.get(name):
                continue
            changed.append(name)
            target = PACKAGE_DIR / name
            try:
                if name in now:
                    target.with_name(f".{target.name}.changed-during-grading").write_bytes(now[name])
                if name in before:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(before[name])
                else:
                    target.unlink()
            except OSError:
                pass
        if changed:
            for cache in PACKAGE_DIR.rglob("__pycache__"):
                shutil.rmtree(cache, ignore_errors=True)
        return changed


def course_lessons(run: GradingRun) -> set[str]:
    from .registry import load_all

    return set(run.checks) | {ex.lesson for ex in load_all().values()}


def find_lesson(path: Path, lessons: set[str], nb=None) -> str | None:
    """The lesson a submission belongs to: its file name (``03-querying.ipynb``), else the one
    lesson name inside it (``03-querying-alice.ipynb``), else the one lesson its ``check()``
    lines name (a renamed exercise notebook).  None: no lesson, or more than one."""
    if path.stem in lessons:
        return path.stem
    inside = [name for name in lessons if name in path.stem]
    if len(inside) == 1:
        return inside[0]
    if nb is None:
        return None
    from .registry import load_all

    registry = load_all()
    named = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            for line in cell.source.splitlines():
                m = _CHECK_LINE.match(line)
                if m and m.group("id") in registry:
                    named.add(registry[m.group("id")].lesson)
    return named.pop() if len(named) == 1 else None


# --------------------------------------------------------------------------
# Preparing and reading one submission
# --------------------------------------------------------------------------
def _prepare(nb, expected: list[str], names: dict[str, str]) -> dict[str, tuple[Any, str]]:
    """Take the submission's check lines out, put the course's checks in; returns
    ``{exercise id: (injected cell, nonce)}``."""
    import nbformat

    first_cell: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        kept = []
        for line in cell.source.splitlines():
            m = _CHECK_LINE.match(line)
            if m:
                first_cell.setdefault(m.group("id"), i)
                kept.append("pass  # check() line replaced by the course's check")
            else:
                kept.append(line)
        cell.source = "\n".join(kept)
    injected: dict[str, tuple[Any, str]] = {}
    placed: list[tuple[int, int, Any]] = []
    for order, ex_id in enumerate(expected):
        name = names.get(ex_id)
        if name is None:
            continue
        nonce = secrets.token_hex(16)
        cell = nbformat.v4.new_code_cell(
            f"{ENTRY}({json.dumps(ex_id)}, {json.dumps(name)}, lambda: {name}, {json.dumps(nonce)})")
        cell.metadata[_INJECTED] = ex_id
        injected[ex_id] = (cell, nonce)
        placed.append((first_cell.get(ex_id, len(nb.cells)), order, cell))
    for index, _order, cell in sorted(placed, key=lambda t: (t[0], t[1]), reverse=True):
        nb.cells.insert(index + 1, cell)
    return injected


def _read_result(cell, ex_id: str, nonce: str, key: bytes) -> tuple[dict[str, Any], bool]:
    """The row of one exercise from its course check cell's outputs."""
    reports, errors = [], []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            errors.append(f"{out.get('ename')}: {out.get('evalue')}")
        data = out.get("data") or {}
        if MIME in data:
            reports.append(data[MIME])

    def row(passed: bool, message: str) -> dict[str, Any]:
        return {"id": ex_id, "passed": passed, "message": message}

    if not reports:
        if errors:
            return row(False, f"The course's check could not run: {errors[0]}."), False
        if cell.get("execution_count") is None:
            return row(False, "check() for this exercise never ran."), False
        return row(False, "The check ran but reported no result (the notebook interfered "
                          "with the course's reporting)."), False
    if len(reports) > 1:
        return row(False, f"The check produced {len(reports)} reports instead of one: "
                          "not graded."), False
    report = reports[0]
    try:
        payload, mac = report["payload"], report["mac"]
        if type(payload) is not str or type(mac) is not str:
            raise TypeError
        good = hmac.new(key, payload.encode("utf-8"), "sha256").hexdigest()
        if not hmac.compare_digest(good, mac):
            return row(False, "The check's report is not authentic (bad signature): not graded."), False
        data = json.loads(payload)
        if (set(data) != {"v", "nonce", "id", "passed", "message", "database_error"}
                or data["nonce"] != nonce or data["id"] != ex_id or type(data["passed"]) is not bool
                or type(data["message"]) is not str or type(data["database_error"]) is not bool):
            return row(False, "The check's report does not belong to this check: not graded."), False
    except (KeyError, TypeError, ValueError, AttributeError):
        return row(False, "The check's report is malformed: not graded."), False
    return row(data["passed"], data["message"]), data["database_error"]


def _cell_errors(nb) -> list[str]:
    errors = []
    n = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or _INJECTED in cell.metadata:
            continue
        n += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append(f"code cell {n} raised {out.get('ename')}: {out.get('evalue')}")
    return errors


def _cell_number(nb, index: int) -> int:
    return sum(1 for c in nb.cells[: index + 1] if c.cell_type == "code" and _INJECTED not in c.metadata)


def run_notebook(path: Path, *, cell_timeout: int = 120, run: GradingRun | None = None,
                 lesson: str | None = None, total_timeout: float | None = None) -> NotebookResult:
    """Execute ``path`` in a fresh, isolated kernel and grade its exercises with the
    course's own check cells (``run``: one ``GradingRun`` shared by several submissions;
    ``lesson``: the lesson to grade it as, by default the file's name without ``.ipynb``;
    ``total_timeout``: seconds after which the whole submission is stopped)."""
    if run is None:
        with GradingRun() as own:
            return run_notebook(path, cell_timeout=cell_timeout, run=own, lesson=lesson,
                                total_timeout=total_timeout)
    result, changed = grade_submission(path, run=run, cell_timeout=cell_timeout, lesson=lesson,
                                       total_timeout=total_timeout, before=run.package_state())
    if changed:
        mark_changed(result, changed)
    return result


def mark_changed(result: NotebookResult, changed: list[str]) -> None:
    """Fail every exercise of a submission during which the course's own files changed."""
    shown = ", ".join(changed[:3]) + (", ..." if len(changed) > 3 else "")
    print(f"warning: the course's own files changed while {result.notebook} ran ({shown}); they were "
          f"put back, the version found is kept as .NAME.changed-during-grading in {PACKAGE_DIR}.",
          file=sys.stderr)
    for row in result.exercises:
        row["passed"] = False
        row["message"] = (f"Not graded: the submission changed the course's own files ({shown}). "
                          + row["message"])


def grade_submission(path: Path, *, run: GradingRun, cell_timeout: int = 120,
                     lesson: str | None = None, total_timeout: float | None = None,
                     before: dict[str, bytes] | None = None) -> tuple[NotebookResult, list[str]]:
    """Grade one submission; returns the result and the course files that changed on disk
    while it ran (compared with ``before``, and put back).  With ``before=None`` nothing is
    compared: the caller does it (``gradebook.py``, where submissions run side by side)."""
    import nbformat

    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise NotebookNotRun(f"no such notebook: {path}") from None
    except Exception as exc:
        raise NotebookNotRun(f"{path} is not a readable notebook: {exc}") from None

    lessons = course_lessons(run)
    lesson = lesson or find_lesson(path, lessons, nb)
    if lesson is None:
        raise NotebookNotRun(
            f"{path}: no lesson of the course in its name or in its check() lines: name it like "
            f"the exercise notebook (one of {', '.join(sorted(lessons))}), as NN-name.ipynb")
    expected = [ex.id for ex in exercises_for(lesson)]
    names = run.checks.get(lesson, {})
    injected = _prepare(nb, expected, names)

    run.count += 1
    # mkdtemp: unique also when worker processes share the run's folder
    folder = Path(tempfile.mkdtemp(prefix=f"submission-{run.count}-", dir=run.tmp))
    key = secrets.token_bytes(32)
    keyfile = folder / "key"
    fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    dead_at: int | None = None
    overall = False
    changed: list[str] = []
    from .backend import private_namespace

    try:
        with private_namespace():  # parallel grade runs never share a schema
            dead_at, overall = _execute(nb, path, run, folder, keyfile, cell_timeout, total_timeout)
    finally:
        if before is not None:
            changed = run.put_back(before)
        shutil.rmtree(folder, ignore_errors=True)

    result = NotebookResult(str(path), errors=_cell_errors(nb), lesson=lesson)
    database_errors = []
    for ex_id in expected:
        if ex_id not in injected:
            result.exercises.append({"id": ex_id, "passed": False, "message":
                                     "The course has no check cell for this exercise (a bug in "
                                     "the course: please report it)."})
            continue
        cell, nonce = injected[ex_id]
        row, db_error = _read_result(cell, ex_id, nonce, key)
        index = next(i for i, c in enumerate(nb.cells) if c is cell)
        if dead_at is not None and index >= dead_at and not row["passed"]:
            if overall:
                row["message"] = (f"Not graded: the submission ran past the overall limit of "
                                  f"{total_timeout:g} s (stopped while running code cell "
                                  f"{_cell_number(nb, dead_at)}).")
            elif index == dead_at:
                row["message"] = ("The kernel stopped during this check (os._exit(), a crash, "
                                  "or code that never returned): not graded.")
            elif index > dead_at:
                row["message"] = (f"Not graded: the kernel stopped while running code cell "
                                  f"{_cell_number(nb, dead_at)} (os._exit(), a crash, or code that "
                                  "never returned), before this check.")
        elif row["message"] == "check() for this exercise never ran." and result.errors:
            row["message"] = ("check() for this exercise never ran ("
                              + "; ".join(result.errors[:3]) + ").")
        if db_error:
            database_errors.append(row["message"])
        result.exercises.append(row)
    if database_errors:
        result.database_error = database_errors[0]
    return result, changed


def _execute(nb, path: Path, run: GradingRun, folder: Path, keyfile: Path, cell_timeout: int,
             total_timeout: float | None = None) -> tuple[int | None, bool]:
    """Run the prepared notebook; the index of the cell during which the kernel died (or None),
    and whether it was stopped for running past ``total_timeout``."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    snapshot = run.snapshot(folder)
    kernels = folder / "kernels" / "sqlacourse-grade"
    kernels.mkdir(parents=True)
    spec = {"argv": [run.python, "-I", "-B", "-c", BOOT, str(snapshot), str(keyfile),
                     "-f", "{connection_file}"],
            "display_name": "SQLAlchemy Patterns (grading)", "language": "python"}
    (kernels / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    km = AsyncKernelManager(kernel_name="sqlacourse-grade",
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels.parent)]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLACOURSE_GRADE")}
    env["SQLACOURSE_PROGRESS_FILE"] = str(folder / "progress.json")
    env["SQLACOURSE_DATA_DIR"] = str(folder / "data")
    current = {"index": None}

    def on_cell_start(cell, cell_index):
        current["index"] = cell_index

    stopped = threading.Event()

    def stop() -> None:  # the overall limit: the kernel's process group is killed
        stopped.set()
        pid = getattr(km.provisioner, "pid", None)
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)  # the kernel leads its own session
            except OSError:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    timer = threading.Timer(total_timeout, stop) if total_timeout else None
    if timer:
        timer.daemon = True
        timer.start()

    client = NotebookClient(
        nb, km=km, timeout=cell_timeout, allow_errors=True, interrupt_on_timeout=True,
        # a class graded in parallel on a busy machine can take longer than nbclient's 60 s to
        # start a kernel; the overall limit (total_timeout) still applies
        startup_timeout=_startup_timeout(),
        resources={"metadata": {"path": str(path.resolve().parent)}},
        on_cell_start=on_cell_start,
    )
    try:
        client.execute(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL)
    except DeadKernelError:
        return (current["index"] if current["index"] is not None else 0), stopped.is_set()
    except Exception as exc:  # the kernel could not start, a timeout past interruption ...
        if stopped.is_set():
            return (current["index"] if current["index"] is not None else 0), True
        raise NotebookNotRun(f"{path} could not be run: {type(exc).__name__}: {exc}") from None
    finally:
        if timer:
            timer.cancel()
        # a kernel that never came up leaves nbclient's exit hook behind, which would print an
        # AssertionError traceback when this process ends
        atexit.unregister(client._cleanup_kernel)
        _stop_kernel(km)
    return None, False


def _stop_kernel(km) -> None:
    """Shut the submission's kernel down (nbclient leaves a kernel manager it was given
    running) and kill what is left of its process group: nothing of a submission outlives
    its grade, to slow down the next ones or to change files later."""
    from jupyter_core.utils import run_sync

    pid = getattr(km.provisioner, "pid", None) if km.provisioner else None
    with contextlib.suppress(Exception):
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    if pid:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m sqlacourse grade",
        description="Run notebooks in fresh kernels and grade their exercises: one notebook, or a "
                    "class (several paths, folders, quoted globs) graded in parallel.")
    parser.add_argument("notebook", nargs="+", help="notebooks, folders (every .ipynb inside) or "
                        "quoted globs such as 'class/*/03-*.ipynb'")
    parser.add_argument("--json", action="store_true",
                        help="print JSON: one object for one notebook path, {\"submissions\": [...]} "
                             "for several notebooks, a folder or a glob")
    parser.add_argument("--cell-timeout", type=int, default=120,
                        help="seconds before a cell is interrupted (default 120)")
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds one submission may take in all before its kernel is stopped "
                             "(default 900; 0: no limit)")
    parser.add_argument("--jobs", "-j", type=int, default=None,
                        help="submissions graded at once (default: one per core)")
    parser.add_argument("--csv", type=Path, help="write the gradebook as CSV (one row per submission)")
    parser.add_argument("--json-file", type=Path, help="write the gradebook as JSON")
    parser.add_argument("--feedback", type=Path, metavar="DIR",
                        help="write one Markdown file of feedback per submission into DIR")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be at least 1")
    single = (len(args.notebook) == 1 and not Path(args.notebook[0]).is_dir()
              and (Path(args.notebook[0]).exists() or not set("*?[") & set(args.notebook[0])))
    if not single or args.csv or args.json_file or args.feedback:
        from .gradebook import main as class_main

        return class_main(args)
    args.notebook = Path(args.notebook[0])
    try:
        result = run_notebook(args.notebook, cell_timeout=args.cell_timeout,
                              total_timeout=args.timeout or None)
    except NotebookNotRun as exc:
        if args.json:
            print(json.dumps({"notebook": str(args.notebook), "error": str(exc),
                              "exercises": [], "passed": 0, "failed": 0}))
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print(f"{result.notebook}")
        for ex in result.exercises:
            mark = "passed    " if ex["passed"] else "NOT PASSED"
            first, *rest = ex["message"].splitlines() or [""]
            print(f"  {mark} {ex['id']}: {first}")
            for line in rest:
                print(f"             {line}")
        print(f"{result.passed} passed, {result.failed} failed")
        if result.database_error:
            print(f"error: the course's database could not be used: {result.database_error}",
                  file=sys.stderr)
    if result.database_error:
        return 2
    return 0 if result.failed == 0 else 1
