"""Grade a class: ``python -m sqlacourse grade SUBMISSIONS... [--jobs N] [--csv FILE]
[--json-file FILE] [--feedback DIR]``.

SUBMISSIONS are notebook paths, folders (every ``.ipynb`` inside, recursively, Jupyter's
``.ipynb_checkpoints`` skipped) or globs (quoted, so that the command expands them, ``**``
included).  Each submission is graded exactly as ``submission.run_notebook`` grades one
(the course's check cells, an isolated kernel on the run's private snapshot of the course
package, signed results: every guarantee of ``submission.py`` holds), ``--jobs`` of them at
a time (default: one per core).

How submissions are kept apart:

* **Worker processes**, forked from the command once everything the grading side runs is
  imported and the run's snapshot (package, data, check cells) is in memory: no worker reads
  the course's code from disk after a submission has started.  ``os.environ`` (each
  submission's own database namespace, ``backend.private_namespace``), the current event
  loop and the kernel manager belong to one worker and one submission at a time; each
  submission gets its own ``mkdtemp`` folder (key file, snapshot, data, progress file).
* **Course files changed on disk.**  Side by side, the worker that notices a change cannot
  tell whose submission made it.  So each worker records when its submission started and
  when it compared the files (and put them back); after the parallel phase, the command
  works out every submission whose run overlaps the time in which the change was made, and
  grades each of them again *alone*, where a change is attributed exactly (the submission
  that made it fails, the others get their normal grade).  When only one submission can
  have done it, it fails straight away.
* **A worker that dies** (a submission that kills its parent process): the submissions it
  may have been running are graded again alone, each in a worker of its own; the one that
  kills its worker alone gets an error in its row.

A submission that is not a notebook, cannot be read, has no lesson in its name (or in its
check() lines), hangs past
``--timeout`` (the whole submission; ``--cell-timeout`` for one cell) or crashes its kernel
is reported in its row; the run goes on.  Exit status: 0 all passed, 1 any exercise not
passed, 2 any submission could not be run (or the course's database could not be used).
"""

from __future__ import annotations

import csv
import glob
import io
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from .submission import (
    GradingRun,
    NotebookNotRun,
    course_lessons,
    find_lesson,
    grade_submission,
    mark_changed,
)

_GLOB_CHARS = set("*?[")
_RUN: GradingRun | None = None  # the run of this process (inherited by the forked workers)


# --------------------------------------------------------------------------
# Which notebooks
# --------------------------------------------------------------------------
def _walk(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.relative_to(folder).parts and p.is_file())


def collect(args: list[str]) -> tuple[list[Path], list[str]]:
    """The notebooks named by ``args`` (in order, each once) and the problems found
    (an argument that names nothing: a glob without match, a folder without notebooks)."""
    found: list[Path] = []
    problems: list[str] = []
    for arg in args:
        path = Path(arg)
        if _GLOB_CHARS & set(arg) and not path.exists():
            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True))
            files = []
            for m in matches:
                if m.is_dir():
                    files += _walk(m)
                elif ".ipynb_checkpoints" not in m.parts:
                    files.append(m)
            if not files:
                problems.append(f"{arg}: matches no notebook")
            found += files
        elif path.is_dir():
            files = _walk(path)
            if not files:
                problems.append(f"{arg}: a folder without any .ipynb file")
            found += files
        else:
            found.append(path)  # a missing or broken file gets its own row
    seen: set[Path] = set()
    unique = []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique, problems


def lesson_of(path: Path, lessons: set[str]) -> str | None:
    """The lesson in a submission's file name (the worker also reads its check() lines)."""
    return find_lesson(path, lessons)


# --------------------------------------------------------------------------
# One submission, in a worker
# --------------------------------------------------------------------------
def _row(path: Path, lesson: str | None, result=None, error: str | None = None) -> dict[str, Any]:
    if result is None:
        return {"notebook": str(path), "lesson": lesson, "exercises": [], "passed": 0, "failed": 0,
                "error": error, "cell_errors": []}
    row = result.as_dict()
    row["notebook"] = str(path)
    row["lesson"] = result.lesson
    row["error"] = (f"the course's database could not be used: {result.database_error}"
                    if result.database_error else None)
    row["cell_errors"] = list(result.errors)
    return row


def _task(path: Path, lesson: str | None, cell_timeout: int, total_timeout: float | None,
          alone: bool) -> dict[str, Any]:
    """Grade one submission in this worker; the row, when it ran, and what changed."""
    run = _RUN
    assert run is not None
    started = time.monotonic()
    changed: list[str] = []
    try:
        result, changed = grade_submission(path, run=run, cell_timeout=cell_timeout, lesson=lesson,
                                           total_timeout=total_timeout,
                                           before=run.package if alone else None)
        if changed:
            mark_changed(result, changed)
        row = _row(path, lesson, result)
    except NotebookNotRun as exc:
        row = _row(path, lesson, error=str(exc))
    except Exception as exc:  # never stop the run for one submission
        row = _row(path, lesson, error=f"{path} could not be graded: {type(exc).__name__}: {exc}")
    checked = time.monotonic()  # taken before the comparison: a clean result holds from here
    if not alone:
        changed = GradingRun.put_back(run.package)
    return {"row": row, "started": started, "checked": checked, "changed": changed}


# --------------------------------------------------------------------------
# The class
# --------------------------------------------------------------------------
def _suspects(windows: dict[int, dict[str, Any]], final: float | None) -> set[int]:
    """Submissions whose run overlaps a time in which the course's files were changed."""
    clean = sorted(w["checked"] for w in windows.values())
    detections = sorted([w["checked"] for w in windows.values() if w["changed"]]
                        + ([final] if final is not None else []))
    out: set[int] = set()
    for seen_at in detections:
        earlier = [t for t in clean if t < seen_at]
        since = earlier[-1] if earlier else float("-inf")
        out |= {i for i, w in windows.items() if w["started"] < seen_at and w["checked"] > since}
    return out


def _pool(jobs: int) -> ProcessPoolExecutor:
    # fork: the workers get this process's imported grading code and the run's snapshot, and
    # never read the course from disk; all of them start before any submission runs.
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"))


def grade_class(paths: list[Path], *, jobs: int | None = None, cell_timeout: int = 120,
                total_timeout: float | None = 900, progress: bool | None = None,
                run: GradingRun | None = None) -> list[dict[str, Any]]:
    """Grade every notebook of ``paths``; one row per notebook, in the same order."""
    global _RUN
    own = run is None
    run = run or GradingRun()
    jobs = max(1, jobs or len(os.sched_getaffinity(0)))
    # Everything the workers run, imported before they are forked.
    import jupyter_client.kernelspec  # noqa: F401
    import jupyter_client.manager  # noqa: F401
    import nbclient  # noqa: F401
    import nbclient.exceptions  # noqa: F401
    import nbformat  # noqa: F401
    from tqdm import tqdm

    from . import authoring, backend  # noqa: F401

    tqdm.monitor_interval = 0  # no monitor thread in a process that forks
    lessons = course_lessons(run)
    rows: dict[int, dict[str, Any]] = {}
    todo: list[tuple[int, Path, str]] = []
    for i, path in enumerate(paths):
        lesson = lesson_of(path, lessons)
        if not path.is_file():
            rows[i] = _row(path, lesson, error=f"no such notebook: {path}" if not path.exists()
                           else f"{path} is not a file")
        else:  # the lesson: from the name, else (in the worker) from the check() lines
            todo.append((i, path, lesson))
    _RUN = run
    bar = tqdm(total=len(paths), initial=len(rows), unit="notebook", file=sys.stderr,
               disable=(None if progress is None else not progress), dynamic_ncols=True)
    try:
        windows: dict[int, dict[str, Any]] = {}
        again: list[tuple[int, Path, str]] = []
        if jobs == 1:
            again_alone = todo
        else:
            again_alone = []
            pool = _pool(max(1, min(jobs, len(todo))))
            futures = {pool.submit(_task, p, lesson, cell_timeout, total_timeout, False): (i, p, lesson)
                       for i, p, lesson in todo}
            broken = False
            remaining = set(futures)
            while remaining:
                done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for f in done:
                    i, p, lesson = futures[f]
                    try:
                        out = f.result()
                    except BrokenProcessPool:
                        broken = True
                        again.append((i, p, lesson))
                        continue
                    windows[i] = out
                    rows[i] = out["row"]
                    bar.update(1)
            pool.shutdown(wait=True)
            final_changed = GradingRun.put_back(run.package)
            suspects = _suspects(windows, time.monotonic() if final_changed else None)
            if len(suspects) == 1 and not broken:  # only one can have done it: exact
                (i,) = suspects
                from .submission import NotebookResult

                result = NotebookResult(rows[i]["notebook"], exercises=rows[i]["exercises"])
                mark_changed(result, sorted({n for w in windows.values() for n in w["changed"]}
                                            | set(final_changed)))
                rows[i]["passed"], rows[i]["failed"] = result.passed, result.failed
            elif suspects:
                again += [t for t in todo if t[0] in suspects]
                bar.total += len(suspects)
                bar.refresh()
            again_alone = sorted(again)
        for i, p, lesson in again_alone:  # one at a time, each in a worker of its own
            pool = _pool(1)
            try:
                out = pool.submit(_task, p, lesson, cell_timeout, total_timeout, True).result()
                rows[i] = out["row"]
            except BrokenProcessPool:
                rows[i] = _row(p, lesson, error=(
                    f"{p}: the grading process was killed while this submission ran alone "
                    "(by the submission?): not graded"))
            finally:
                pool.shutdown(wait=True)
            bar.update(1)
        changed = GradingRun.put_back(run.package)
        if changed:  # after the last submission: nobody left to blame, but put back
            print(f"warning: the course's own files changed at the end of the run ({', '.join(changed)});"
                  " they were put back.", file=sys.stderr)
    finally:
        bar.close()
        _RUN = None
        if own:
            run.close()
    return [rows[i] for i in range(len(paths))]


# --------------------------------------------------------------------------
# The gradebook
# --------------------------------------------------------------------------
def status(rows: list[dict[str, Any]]) -> int:
    if any(r["error"] for r in rows):
        return 2
    return 0 if all(r["failed"] == 0 for r in rows) else 1


def exercise_columns(rows: list[dict[str, Any]]) -> list[str]:
    from .registry import load_all

    order = list(load_all())
    ids = {e["id"] for r in rows for e in r["exercises"]}
    return sorted(ids, key=lambda x: (order.index(x) if x in order else len(order), x))


def as_json(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"submissions": rows,
            "summary": {"submissions": len(rows),
                        "all_passed": sum(1 for r in rows if not r["error"] and r["failed"] == 0),
                        "some_failed": sum(1 for r in rows if not r["error"] and r["failed"] > 0),
                        "not_graded": sum(1 for r in rows if r["error"])},
            "exit_status": status(rows)}


def as_csv(rows: list[dict[str, Any]]) -> str:
    columns = exercise_columns(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["submission", "lesson", *columns, "passed", "failed", "total", "error"])
    for r in rows:
        marks = {e["id"]: int(e["passed"] is True) for e in r["exercises"]}
        writer.writerow([r["notebook"], r["lesson"] or "", *[marks.get(c, "") for c in columns],
                         r["passed"], r["failed"], r["passed"] + r["failed"], r["error"] or ""])
    return out.getvalue()


def feedback_name(path: Path, root: Path) -> str:
    """``alice/03-querying.ipynb`` -> ``alice__03-querying.md`` (relative to ``root``)."""
    try:
        rel = path.resolve().relative_to(root)
    except ValueError:
        rel = Path(path.name)
    return "__".join(rel.with_suffix("").parts) + ".md"


def feedback_text(row: dict[str, Any]) -> str:
    name = Path(row["notebook"]).name
    lines = [f"# Feedback on {name}", ""]
    if row["lesson"]:
        lines += [f"Lesson: {row['lesson']}", ""]
    if row["error"]:
        lines += [f"**Your notebook could not be graded:** {row['error']}", ""]
    if row["exercises"]:
        lines += [f"{row['passed']} of {row['passed'] + row['failed']} exercises passed.", ""]
    for e in row["exercises"]:
        mark = "passed" if e["passed"] is True else "not passed"
        lines += [f"## {e['id']}: {mark}", ""]
        if e["message"]:
            lines += ["```text", e["message"].rstrip(), "```", ""]
    if row["cell_errors"]:
        lines += ["## Cells that raised an error", ""] + [f"- {m}" for m in row["cell_errors"]] + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_feedback(rows: list[dict[str, Any]], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    parents = [Path(r["notebook"]).resolve().parent for r in rows]
    root = Path(os.path.commonpath(parents)) if parents else Path.cwd()
    written = []
    for r in rows:
        target = folder / feedback_name(Path(r["notebook"]), root)
        target.write_text(feedback_text(r), encoding="utf-8")
        written.append(target)
    return written


def print_table(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        if r["error"]:
            print(f"{r['notebook']}: NOT GRADED: {r['error']}")
        else:
            print(f"{r['notebook']}: {r['passed']} of {r['passed'] + r['failed']} passed")
            for e in r["exercises"]:
                if e["passed"] is not True:
                    first = (e["message"].splitlines() or [""])[0]
                    print(f"  NOT PASSED {e['id']}: {first}")
    s = as_json(rows)["summary"]
    print(f"{s['submissions']} submissions: {s['all_passed']} all passed, {s['some_failed']} with "
          f"exercises not passed, {s['not_graded']} not graded")


def main(args) -> int:
    """The class form of the grade command (``args`` parsed by ``submission.main``)."""
    paths, problems = collect([str(n) for n in args.notebook])
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not paths:
        print("error: no notebook to grade", file=sys.stderr)
        if args.json:
            print(json.dumps(as_json([])))
        return 2
    # Wrong output places are found before any grading, not after it.
    for option, value in (("--csv", args.csv), ("--json-file", args.json_file)):
        if value is None:
            continue
        if value.is_dir():
            print(f"error: {option} {value} is a folder: give a file name", file=sys.stderr)
            return 2
        try:
            value.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"error: {option} {value}: {exc}", file=sys.stderr)
            return 2
    if args.feedback is not None:
        try:
            args.feedback.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"error: --feedback {args.feedback}: {exc}", file=sys.stderr)
            return 2
    rows = grade_class(paths, jobs=args.jobs, cell_timeout=args.cell_timeout,
                       total_timeout=args.timeout or None,
                       progress=False if args.no_progress else None)
    not_written = False
    for what, write in ((args.csv, lambda: args.csv.write_text(as_csv(rows), encoding="utf-8")),
                        (args.json_file, lambda: args.json_file.write_text(
                            json.dumps(as_json(rows), indent=1) + "\n", encoding="utf-8")),
                        (args.feedback, lambda: print(
                            f"feedback: {len(write_feedback(rows, args.feedback))} files in "
                            f"{args.feedback}", file=sys.stderr))):
        if what is None:
            continue
        try:
            write()
        except OSError as exc:  # the grades are still printed below
            print(f"error: could not write {what}: {exc}", file=sys.stderr)
            not_written = True
    if args.json:
        print(json.dumps(as_json(rows)))
    else:
        print_table(rows)
    code = status(rows)
    return 2 if (problems or not_written) and code < 2 else code
