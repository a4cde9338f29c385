"""course.py passes `progress` and `grade` through to the course's own Python, so the
commands the README and lesson 00 print work from any Python 3.11+ (not only from .venv)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _course(args: list[str], cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SQLACOURSE_PROGRESS_FILE": str(tmp_path / "progress.json")}
    return subprocess.run([sys.executable, str(ROOT / "course.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_progress_runs_from_another_folder(tmp_path):
    out = _course(["progress"], tmp_path, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "00-orientation" in out.stdout and "0/1" in out.stdout
    assert str(tmp_path / "progress.json") in out.stdout


def test_grade_reads_a_relative_path_from_the_callers_folder(tmp_path):
    missing = _course(["grade", "no-such.ipynb"], tmp_path, tmp_path)
    assert missing.returncode == 2 and "no-such.ipynb" in missing.stderr

    shutil.copy(ROOT / "exercises" / "00-orientation.ipynb", tmp_path / "mine.ipynb")
    out = _course(["grade", "mine.ipynb", "--json"], tmp_path, tmp_path)
    assert out.returncode == 1, out.stderr  # the untouched warm-up does not pass
    report = json.loads(out.stdout)
    assert [e["id"] for e in report["exercises"]] == ["00-count-customers"]
    assert report["passed"] == 0 and report["failed"] == 1


def test_a_notebook_of_no_lesson_is_not_graded_as_an_empty_pass(tmp_path):
    """Renamed, with its check(...) lines gone: which lesson it is cannot be told, and a
    submission with no exercises to grade must never come out as passed (exit status 2)."""
    import nbformat

    nb = nbformat.read(ROOT / "exercises" / "00-orientation.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = "\n".join(line for line in cell.source.splitlines() if "check(" not in line)
    nbformat.write(nb, tmp_path / "mine.ipynb")
    out = _course(["grade", "mine.ipynb", "--json"], tmp_path, tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "no lesson of the course" in out.stdout + out.stderr
