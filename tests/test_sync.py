"""exercises/ is generated from solutions/ and must not drift; every exercise has a grader and hints."""

from __future__ import annotations

import functools

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
        f"exercises/{solution.name} differs from the notebook generated from solutions/"
        f"{solution.name}. If you are a learner and wrote your answers in it, that is expected "
        "and your work is safe: nothing here overwrites it. If you are an author: run "
        "`python3 course.py exercises`, which regenerates only the notebooks it wrote itself "
        "and keeps an edited one (with --force it first copies it to backups/exercises/).")


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


# -- regeneration never loses a learner's answers ------------------------------
@pytest.fixture
def course_copy(tmp_path):
    sol, exe = tmp_path / "solutions", tmp_path / "exercises"
    sol.mkdir(), exe.mkdir()
    src = SOLUTIONS[0]
    (sol / src.name).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    kw = {"backups": tmp_path / "backups", "manifest": tmp_path / "state" / "generated.json"}
    result = a.sync_exercises(sol, exe, **kw)
    assert result.written == [exe / src.name]
    return sol / src.name, exe / src.name, kw


def _change_solution(solution):
    nb = a.read(solution)
    nb.cells[0].source += "\n\nA sentence the author added."
    a.write(nb, solution)


def _answer(exercise):
    nb = a.read(exercise)
    nb.cells[-1].source += "\n# my answer: 42"
    a.write(nb, exercise)
    return exercise.read_text(encoding="utf-8")


def test_a_learners_edited_exercise_is_kept_not_overwritten(course_copy):
    solution, exercise, kw = course_copy
    mine = _answer(exercise)
    _change_solution(solution)
    result = a.sync_exercises(solution.parent, exercise.parent, **kw)
    assert result.kept == [exercise] and result.written == []
    assert exercise.read_text(encoding="utf-8") == mine


def test_force_copies_the_learners_version_before_regenerating(course_copy):
    solution, exercise, kw = course_copy
    mine = _answer(exercise)
    result = a.sync_exercises(solution.parent, exercise.parent, force=True, **kw)
    assert result.written == [exercise]
    backup = result.backups[exercise]
    assert backup.read_text(encoding="utf-8") == mine and backup.suffix == ".ipynb"
    assert exercise.read_text(encoding="utf-8") == a.dumps(a.make_exercise(a.read(solution), solution.name))


def test_an_untouched_generated_exercise_is_regenerated_without_a_backup(course_copy):
    solution, exercise, kw = course_copy
    _change_solution(solution)
    result = a.sync_exercises(solution.parent, exercise.parent, **kw)
    assert result.written == [exercise] and result.kept == [] and result.backups == {}
    assert "A sentence the author added." in exercise.read_text(encoding="utf-8")


def test_the_exercises_command_says_how_to_keep_the_work(course_copy, monkeypatch, capsys):
    from sqlacourse import __main__ as cli

    solution, exercise, kw = course_copy
    mine = _answer(exercise)
    monkeypatch.setattr(a, "sync_exercises",
                        functools.partial(a.sync_exercises, solution.parent, exercise.parent, **kw))
    assert cli.main(["exercises"]) == 1
    err = capsys.readouterr().err
    assert "kept" in err and "--force" in err and "backups" in err
    assert exercise.read_text(encoding="utf-8") == mine
    assert cli.main(["exercises", "--force"]) == 0
    assert "your version was copied to" in capsys.readouterr().out
    assert list((kw["backups"] / "exercises").glob("*.ipynb"))[0].read_text(encoding="utf-8") == mine


def test_outputs_never_runs_or_rewrites_an_exercise_notebook(capsys):
    from sqlacourse import __main__ as cli

    target = a.EXERCISES / SOLUTIONS[0].name
    before = target.read_text(encoding="utf-8")
    assert cli.main(["outputs", str(target)]) == 2
    assert "not run or changed" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == before
