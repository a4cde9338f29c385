"""Grade a whole notebook: ``python -m sqlacourse grade PATH.ipynb [--json]``.

The notebook runs top to bottom in a fresh kernel (cells that raise do not
stop it; a cell that never returns is interrupted after ``--cell-timeout``
seconds).  Every ``check()`` it makes is collected; an exercise of the
notebook's lesson that was never checked counts as not passed.

Exit status: 0 all passed, 1 any failed, 2 the notebook could not be run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .grading import REPORT_ENV
from .registry import exercises_for


class NotebookNotRun(Exception):
    pass


@dataclass
class NotebookResult:
    notebook: str
    exercises: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(1 for e in self.exercises if e["passed"])

    @property
    def failed(self) -> int:
        return len(self.exercises) - self.passed

    def as_dict(self) -> dict[str, Any]:
        return {"notebook": self.notebook, "exercises": self.exercises,
                "passed": self.passed, "failed": self.failed}


def _cell_errors(nb) -> list[str]:
    errors = []
    n = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        n += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append(f"code cell {n} raised {out.get('ename')}: {out.get('evalue')}")
    return errors


def run_notebook(path: Path, *, cell_timeout: int = 120) -> NotebookResult:
    """Execute ``path`` in a fresh kernel and collect its check() results."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    from .authoring import course_kernel_name

    try:
        nb = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise NotebookNotRun(f"no such notebook: {path}") from None
    except Exception as exc:
        raise NotebookNotRun(f"{path} is not a readable notebook: {exc}") from None

    lesson = path.stem
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.jsonl"
        report.touch()
        saved = dict(os.environ)
        os.environ[REPORT_ENV] = str(report)
        os.environ["SQLACOURSE_PROGRESS_FILE"] = str(Path(tmp) / "progress.json")
        try:
            client = NotebookClient(
                nb, timeout=cell_timeout, kernel_name=course_kernel_name(),
                allow_errors=True, interrupt_on_timeout=True,
                resources={"metadata": {"path": str(path.resolve().parent)}},
            )
            from .backend import private_namespace

            with private_namespace():  # parallel grade runs never share a schema
                client.execute()
        except DeadKernelError as exc:
            raise NotebookNotRun(f"the kernel died while running {path}: {exc}") from None
        except Exception as exc:  # kernel could not start, timeouts past interruption ...
            raise NotebookNotRun(f"{path} could not be run: {type(exc).__name__}: {exc}") from None
        finally:
            os.environ.clear()
            os.environ.update(saved)
        seen: dict[str, dict[str, Any]] = {}
        for line in report.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            seen[item["id"]] = item  # the last check of an exercise counts

    result = NotebookResult(str(path), errors=_cell_errors(nb))
    expected = [ex.id for ex in exercises_for(lesson)]
    for ex_id in expected + [i for i in seen if i not in expected]:
        if ex_id in seen:
            result.exercises.append(seen[ex_id])
        else:
            why = "check() for this exercise never ran"
            if result.errors:
                why += " (" + "; ".join(result.errors[:3]) + ")"
            result.exercises.append({"id": ex_id, "passed": False, "message": why + "."})
    return result


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m sqlacourse grade",
                                     description="Run a notebook in a fresh kernel and grade its exercises.")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--cell-timeout", type=int, default=120,
                        help="seconds before a cell is interrupted (default 120)")
    args = parser.parse_args(argv)
    try:
        result = run_notebook(args.notebook, cell_timeout=args.cell_timeout)
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
    return 0 if result.failed == 0 else 1
