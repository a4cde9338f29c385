"""Whole notebooks, each in a fresh kernel: every solution passes, every untouched exercise
notebook runs to the end with nothing passed, and the grade command reports both."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest

from sqlacourse import authoring as a
from sqlacourse.registry import exercises_for
from sqlacourse.submission import run_notebook

SOLUTIONS = a.notebooks(a.SOLUTIONS)
EXERCISES = a.notebooks(a.EXERCISES)


@pytest.mark.solutions
@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_solution_passes(path):
    result = run_notebook(path)
    assert result.errors == []
    ids = {e["id"] for e in result.exercises}
    assert ids == {ex.id for ex in exercises_for(path.stem)}
    failed = [e for e in result.exercises if not e["passed"]]
    assert not failed, failed


@pytest.mark.notebooks
@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_untouched_exercise_notebook_runs_to_the_end_and_passes_nothing(path):
    result = run_notebook(path)
    assert result.errors == [], "an untouched exercise notebook must run without errors"
    assert {e["id"] for e in result.exercises} == {ex.id for ex in exercises_for(path.stem)}
    assert all(not e["passed"] for e in result.exercises), result.exercises
    assert all("never ran" not in e["message"] for e in result.exercises), result.exercises


def _grade(*args):
    return subprocess.run([sys.executable, "-m", "sqlacourse", "grade", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.notebooks
def test_grade_command_json_and_exit_codes(tmp_path):
    solved = _grade(a.SOLUTIONS / "00-orientation.ipynb", "--json")
    assert solved.returncode == 0, solved.stderr
    report = json.loads(solved.stdout)
    assert report == {"notebook": str(a.SOLUTIONS / "00-orientation.ipynb"),
                      "exercises": [{"id": "00-count-customers", "passed": True,
                                     "message": report["exercises"][0]["message"]}],
                      "passed": 1, "failed": 0}

    untouched = _grade(a.EXERCISES / "00-orientation.ipynb", "--json")
    assert untouched.returncode == 1
    assert json.loads(untouched.stdout)["failed"] == 1

    assert _grade(tmp_path / "missing.ipynb").returncode == 2
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    assert _grade(broken, "--json").returncode == 2
    assert "error" in json.loads(_grade(broken, "--json").stdout)


@pytest.mark.notebooks
def test_a_submission_with_a_hanging_cell_and_an_error_is_still_graded(tmp_path):
    nb = a.read(a.SOLUTIONS / "00-orientation.ipynb")
    nb.cells.insert(2, nbformat.v4.new_code_cell("import time\nwhile True:\n    time.sleep(0.1)"))
    nb.cells.insert(3, nbformat.v4.new_code_cell("1 / 0"))
    path = tmp_path / "00-orientation.ipynb"
    a.write(nb, path)
    result = _grade(path, "--json", "--cell-timeout", "5")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["passed"] == 1
