"""How long the README's first set-up takes, as a ratio to uv's own install of the lock.

    python3 benchmarks/setup_time.py [--repeats 3]

In one run, alternating, each repeated:

* uv alone: ``uv venv`` and ``uv pip install -r requirements.lock`` into a new folder
  (the fastest way to install exactly these packages here);
* the course: a fresh ``git clone`` of this repository and ``python3 course.py setup``
  (what ``python3 course.py lab`` does before it starts JupyterLab: the venv, uv from the
  package index, the locked packages, the course package, the kernel).

Both use the machine's warm caches (pip's and uv's), as a learner's second course would;
the first repeat of each warms them. It prints the median and spread of each and the ratio
of the medians; the target is at most 3. Timings are never part of the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list, **kw) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(c) for c in cmd], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t0


def find_uv() -> Path:
    uv = ROOT / ".venv" / "bin" / "uv"
    if not uv.exists():
        subprocess.run([sys.executable, str(ROOT / "course.py"), "setup"], check=True)
    return uv


def uv_alone(uv: Path, tmp: Path) -> float:
    venv = tmp / "uv-venv"
    t0 = time.perf_counter()
    timed([uv, "venv", "--quiet", "--python", sys.executable, venv])
    timed([uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python",
           "--require-hashes", "-r", ROOT / "requirements.lock"])
    return time.perf_counter() - t0


def course_setup(tmp: Path) -> float:
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    return timed([sys.executable, clone / "course.py", "setup"], cwd=clone)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    uv = find_uv()
    results: dict[str, list[float]] = {"uv alone": [], "course.py setup": []}
    for i in range(args.repeats + 1):  # the first round warms the caches and is not counted
        for name, fn in (("uv alone", lambda t: uv_alone(uv, t)), ("course.py setup", course_setup)):
            with tempfile.TemporaryDirectory() as tmp:
                secs = fn(Path(tmp))
            if i:
                results[name].append(secs)
            print(f"  {'warm-up' if not i else f'run {i}'}: {name} {secs:.1f} s", flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    for name, values in results.items():
        print(f"{name:>16}: median {med[name]:.1f} s (min {min(values):.1f}, max {max(values):.1f}, "
              f"{len(values)} runs)")
    ratio = med["course.py setup"] / med["uv alone"]
    print(f"ratio course.py setup / uv alone: {ratio:.2f} (target: at most 3)")
    size = sum(f.stat().st_size for f in (ROOT / ".venv").rglob("*") if f.is_file())
    print(f"size of .venv: {size / 2**20:.0f} MiB")
    return 0 if ratio <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
