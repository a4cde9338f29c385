"""exercises/ is generated from solutions/ and must not drift; every exercise has a grader and hints."""

from __future__ import annotations

import pytest

from sqlacourse import authoring as a
from sqlacourse.registry import load_all

SOLUTIONS = a.notebooks(a.SOLUTIONS)


def test_every_solution_has_an_exercise_twin_and_back():
    sol = {p.name for p in a.notebooks(a.SOLUTIONS)}
    exe = {p.name for p in a.notebooks(a.EXERCISES)}
    assert sol, "solutions/ holds no notebooks"
    assert sol - exe == set(), f"solutions without an exercise twin: {sorted(sol - exe)}"
    assert exe - sol == set(), f"exercises without a solution twin: {sorted(exe - sol)}"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_exercise_notebook_is_generated_from_its_solution(solution):
    expected = a.dumps(a.make_exercise(a.read(solution), solution.name))
    actual = (a.EXERCISES / solution.name).read_text(encoding="utf-8")
    assert actual == expected, (
        f"exercises/{solution.name} is stale or was edited by hand: "
        "run `python3 course.py exercises`")


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_every_checked_exercise_has_a_grader_with_hints_of_this_lesson(solution):
    registry = load_all()
    ids = a.exercise_ids(a.read(solution))
    assert ids, f"{solution.name} checks no exercise"
    for ex_id in ids:
        assert ex_id in registry, f"{solution.name} checks {ex_id!r}, which has no grader"
        assert registry[ex_id].hints, f"{ex_id} has no hints"
        assert registry[ex_id].lesson == solution.stem, (
            f"{ex_id} is registered for lesson {registry[ex_id].lesson!r}, "
            f"but checked in {solution.name}")


def test_every_grader_is_used_by_its_lesson_notebook():
    registry = load_all()
    used: dict[str, str] = {}
    for sol in SOLUTIONS:
        for ex_id in a.exercise_ids(a.read(sol)):
            used[ex_id] = sol.stem
    unused = sorted(set(registry) - set(used))
    assert not unused, f"graders that no solution notebook checks: {unused}"


@pytest.mark.parametrize("exercise", a.notebooks(a.EXERCISES), ids=lambda p: p.name)
def test_exercise_notebooks_hold_no_answers(exercise):
    text = exercise.read_text(encoding="utf-8")
    assert a.BEGIN not in text and a.END not in text


# -- the generator itself -----------------------------------------------------
def test_stub_inside_a_function_raises_not_implemented():
    src = ("def f(session):\n"
           "    ### BEGIN SOLUTION\n"
           "    # TODO: count the customers\n"
           "    return 42\n"
           "    ### END SOLUTION\n"
           "check('x', f)")
    assert a.stub_source(src) == ("def f(session):\n"
                                  "    # TODO: count the customers\n"
                                  "    raise NotImplementedError\n"
                                  "check('x', f)")


def test_top_level_stub_uses_the_stub_line():
    src = "### BEGIN SOLUTION\n# TODO: define Product\n# STUB: Product = None\nclass Product: pass\n### END SOLUTION"
    assert a.stub_source(src) == "# TODO: define Product\nProduct = None"


@pytest.mark.parametrize("src, message", [
    ("### BEGIN SOLUTION\n# TODO: x\nx = 1", "without"),
    ("x = 1\n### END SOLUTION", "without"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", "TODO"),
    ("### BEGIN SOLUTION\n# TODO: x\nx = 1\n### END SOLUTION", "STUB"),
])
def test_malformed_regions_are_reported(src, message):
    with pytest.raises(a.AuthoringError, match=message):
        a.stub_source(src)
