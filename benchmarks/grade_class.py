"""How much faster a class is graded in parallel than one submission after another.

    .venv/bin/python benchmarks/grade_class.py [--lesson 03-querying] [--count 30] [--repeats 3]

Makes a class in a temporary folder: ``--count`` submissions of one lesson, each in a folder
of its own (``learner-NN/LESSON.ipynb``): copies of ``solutions/LESSON.ipynb`` and a few
wrong or broken ones (the untouched exercise notebook, a notebook whose kernel dies, one
with a cell that raises, a file that is not a notebook).  In one run, alternating, each
repeated, it grades the class with ``python -m sqlacourse grade CLASS --json`` twice: with
``--jobs 1`` (one after another) and with the default number of jobs (one per core).
It checks that both give the same grades, prints the median and spread of each, the ratio
of the medians (target: parallel at most 0.6 x one after another on 2 cores) and the load
of the machine during the run.  Timings are never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = ROOT / ".venv" / "bin" / "python"


def make_class(folder: Path, lesson: str, count: int) -> None:
    import nbformat

    solution = ROOT / "solutions" / f"{lesson}.ipynb"
    exercise = ROOT / "exercises" / f"{lesson}.ipynb"
    for i in range(count):
        target = folder / f"learner-{i:02d}" / f"{lesson}.ipynb"
        target.parent.mkdir(parents=True)
        kind = i % 10
        if kind == 3:  # nothing answered
            shutil.copy(exercise, target)
        elif kind == 6 and i < 10:  # not a notebook
            target.write_text("this is not a notebook")
        elif kind == 6:  # the kernel dies half-way
            nb = nbformat.read(solution, as_version=4)
            nb.cells.insert(len(nb.cells) // 2, nbformat.v4.new_code_cell("import os\nos._exit(1)"))
            nbformat.write(nb, target)
        elif kind == 9:  # a cell that raises, the rest right
            nb = nbformat.read(solution, as_version=4)
            nb.cells.insert(2, nbformat.v4.new_code_cell("1 / 0"))
            nbformat.write(nb, target)
        else:
            shutil.copy(solution, target)


def grade(folder: Path, jobs: int | None) -> tuple[float, dict]:
    cmd = [str(PY), "-m", "sqlacourse", "grade", str(folder), "--json", "--no-progress"]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=folder)
    secs = time.perf_counter() - t0
    if done.returncode not in (1, 2):  # the class has wrong and broken submissions
        raise SystemExit(f"unexpected exit status {done.returncode}: {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    grades = {r["notebook"]: (r["passed"], r["failed"], bool(r["error"])) for r in report["submissions"]}
    return secs, grades


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesson", default="03-querying")
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not PY.exists():
        subprocess.run([sys.executable, str(ROOT / "course.py"), "setup"], check=True)
    cores = len(os.sched_getaffinity(0))
    names = {"one after another (--jobs 1)": 1, f"parallel (default: {cores} jobs)": None}
    results: dict[str, list[float]] = {k: [] for k in names}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="grade-class-") as tmp:
        folder = Path(tmp) / "class"
        make_class(folder, args.lesson, args.count)
        reference = None
        for i in range(args.repeats):
            order = list(names.items()) if i % 2 == 0 else list(reversed(names.items()))
            for name, jobs in order:
                secs, grades = grade(folder, jobs)
                if reference is None:
                    reference = grades
                elif grades != reference:
                    raise SystemExit(f"{name} gave other grades than the first run: {grades}")
                results[name].append(secs)
                loads.append(os.getloadavg()[0])
                print(f"  run {i + 1}: {name}: {secs:.1f} s", flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"{args.count} submissions of {args.lesson}, {cores} cores, {args.repeats} repeats")
    for name, values in results.items():
        print(f"{name:>32}: median {med[name]:.1f} s (min {min(values):.1f}, max {max(values):.1f}); "
              f"{med[name] / args.count:.2f} s per submission")
    seq, par = (med[k] for k in names)
    print(f"ratio parallel / one after another: {par / seq:.2f} (target: at most 0.6)")
    print(f"load average (1 min) during the run: min {min(loads):.1f}, max {max(loads):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
