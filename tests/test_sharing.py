"""Learners sharing one database, kernels checking at once, grade runs in parallel.

Marked ``both_backends``: the suite runs these on SQLite and on the embedded PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from sqlacourse import authoring as a
from sqlacourse.backend import parse_target

pytestmark = pytest.mark.both_backends

CHECKER = """
import sys
from sqlalchemy import func, select
from sqlacourse import check
from sqlacourse.shop import Customer

def count(session):
    return session.scalar(select(func.count()).select_from(Customer))

results = [check("00-count-customers", count) for _ in range(int(sys.argv[1]))]
print(sum(r.passed for r in results), flush=True)
for r in results:
    if not r.passed:
        print(r, flush=True)
"""


def test_two_kernels_checking_the_same_exercise_at_once_both_pass():
    runs = 4
    procs = [subprocess.Popen([sys.executable, "-c", CHECKER, str(runs)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=dict(os.environ, JUPYTERHUB_USER="jovyan"))
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.splitlines()[0] == str(runs), out + err


def _course_schemas() -> set[str]:
    target = parse_target(None)
    if not target.is_postgresql:
        return set()
    engine = create_engine(target.server_url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'sqlacourse%'")))
    finally:
        engine.dispose()


def test_three_parallel_grade_runs_of_a_correct_solution_all_pass():
    before = _course_schemas()
    path = a.SOLUTIONS / "00-orientation.ipynb"
    procs = [subprocess.Popen([sys.executable, "-m", "sqlacourse", "grade", str(path), "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, out + err
        report = json.loads(out)
        assert report["failed"] == 0 and report["passed"] == 1, report
    assert _course_schemas() - before == set(), "a grade run left its schemas behind"
