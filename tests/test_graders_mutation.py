"""Mutation testing of the graders (tests/mutation/): every grader must reject the mutants of its
reference answer that break a requirement of the task, accept the equivalent ones, and never crash.

Runs on both backends (conftest marks every test_graders_* file); the score table is printed at the
end of the pytest run (conftest's terminal summary) and written to mutation-<backend>.txt in a
temporary folder. The same harness on its own: .venv/bin/python -m tests.mutation --help
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from mutation import harness, spec

from sqlacourse.registry import load_all

ANSWERS = harness.answers()
REPORTS: dict[str, harness.Report] = {}
MIN_SCORE = 0.95


def _backend() -> str:
    return "postgresql" if os.environ.get("SQLACOURSE_DATABASE_URL") else "sqlite"


def test_every_exercise_has_an_answer_and_requirements():
    registered = set(load_all())
    assert registered == set(ANSWERS), (
        f"exercises without a reference answer in solutions/: {sorted(registered - set(ANSWERS))}; "
        f"answers without a grader: {sorted(set(ANSWERS) - registered)}")
    missing = sorted(ex for ex in registered if not spec.REQUIREMENTS.get(ex))
    assert not missing, f"no requirements listed in tests/mutation/spec.py for {missing}"
    unknown = sorted((set(spec.REQUIREMENTS) | set(spec.TEXT_MUTANTS) | set(spec.EQUIVALENT)) - registered)
    assert not unknown, f"spec.py names exercises that do not exist: {unknown}"


@pytest.mark.parametrize("exercise", sorted(ANSWERS))
def test_grader_kills_its_mutants(exercise):
    report = harness.run_exercise(exercise)
    REPORTS[exercise] = report
    _write_table()
    problems = []
    if report.baseline.status != "survived":
        problems.append(f"the reference answer is not accepted: {report.baseline.message}")
    for o in report.outcomes:
        if o.status == "crash":
            problems.append(f"grader crash on mutant {o.mutant!r}: {o.message}")
        if o.status == "equivalent-rejected":
            problems.append(f"equivalent (correct) mutant rejected: {o.mutant!r}: {o.message}")
        if o.warnings:
            problems.append(f"warnings reached the learner's output on {o.mutant!r}: {o.warnings}")
    ids = {o.mutant: o for o in report.outcomes}
    requirements = spec.REQUIREMENTS.get(exercise, {}) | spec.REQUIREMENTS_ON.get(_backend(), {}).get(exercise, {})
    for name, (text, killers) in requirements.items():
        linked = [o for o in report.outcomes if any(spec.matches(k, o.mutant) for k in killers)]
        if not linked:
            problems.append(f"requirement {name!r} ({text}) has no mutant: {killers}")
        for o in linked:
            if o.status != "killed":
                problems.append(f"requirement {name!r} ({text}): mutant {o.mutant!r} {o.status}: {o.message[:200]}")
    for mutant, says in spec.CAUSES.get(exercise, {}).items():
        o = ids.get(mutant)
        if o is not None and says not in o.message:
            problems.append(f"feedback for {mutant!r} should name the cause ({says!r}): {o.message[:200]}")
    survivors = [o.mutant for o in report.outcomes if o.status == "survived"]
    if report.score < MIN_SCORE:
        problems.append(f"mutation score {report.score:.1%} < {MIN_SCORE:.0%}; survivors: {survivors}")
    # Stale entries (a text mutant whose text left the answer, an id no mutant has any more) do not
    # fail on their own: the solution changed, and the requirement checks above still hold. They
    # are listed under the score table so that spec.py gets updated.
    assert not problems, f"{exercise}:\n  " + "\n  ".join(problems)


def _write_table() -> None:
    text = harness.table([REPORTS[k] for k in sorted(REPORTS)], _backend())
    path = Path(tempfile.gettempdir()) / f"sqlacourse-mutation-{_backend()}.txt"
    path.write_text(text + "\n", encoding="utf-8")
    os.environ["SQLACOURSE_MUTATION_TABLE"] = str(path)


# -- the harness itself can fail ---------------------------------------------------
def test_harness_reports_an_accept_everything_grader_and_a_crashing_one(monkeypatch):
    exercise = load_all()["03-page-after"]

    monkeypatch.setattr(exercise, "grader", lambda candidate, g: "accepted")
    lenient = harness.run_exercise("03-page-after")
    assert lenient.score < MIN_SCORE and lenient.of("survived"), harness.table([lenient], _backend())

    def crashing(candidate, g):
        raise RuntimeError("a bug in the grader")

    monkeypatch.setattr(exercise, "grader", crashing)
    crashed = harness.run_exercise("03-page-after")
    assert crashed.baseline.status == "crash"
    assert len(crashed.of("crash")) == crashed.total - crashed.equivalent
