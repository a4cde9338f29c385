"""check(), hint() and progress: bad input gets a plain sentence, nothing escapes, nothing is lost."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from sqlalchemy import delete, func, select

from sqlacourse import check, hint, progress, setup
from sqlacourse.registry import REGISTRY, Fail, exercise, load_all
from sqlacourse.shop import Customer

load_all()


def count_ok(session):
    return session.scalar(select(func.count()).select_from(Customer))


def test_a_correct_answer_passes_and_says_why():
    fb = check("00-count-customers", count_ok)
    assert fb.passed, fb
    assert "counted by the database in 1 statement" in fb.message
    assert "PASSED" in str(fb) and "passed" in fb._repr_html_()


def test_not_callable_gets_a_plain_sentence():
    fb = check("00-count-customers", 42)
    assert not fb.passed
    assert "needs a function" in fb.message and "int" in fb.message


def test_calling_the_function_instead_of_passing_it():
    async def coro_fn(session):
        return 1

    fb = check("00-count-customers", coro_fn(None))
    assert not fb.passed and "without parentheses" in fb.message


def test_learner_exception_is_feedback_with_a_trimmed_traceback():
    def broken(session):
        rows = session.scalars(select(Customer)).all()
        return rows[0].no_such_attribute

    fb = check("00-count-customers", broken)
    assert not fb.passed
    assert "raised AttributeError" in fb.message
    assert "in broken" in fb.details and "no_such_attribute" in fb.details
    assert "sqlalchemy" not in fb.details.split("AttributeError")[0].lower(), fb.details


def test_sqlalchemy_error_shows_the_message():
    def bad_sql(session):
        return session.scalar(select(func.count()).select_from(Customer).where(Customer.id == "x'"))  # noqa

    def raw(session):
        from sqlalchemy import text
        return session.scalar(text("SELEC count(*) FROM customers"))

    fb = check("00-count-customers", raw)
    # SQLite raises OperationalError, PostgreSQL ProgrammingError
    assert not fb.passed and ("OperationalError" in fb.message or "ProgrammingError" in fb.message)
    assert "syntax error" in fb.details


@pytest.mark.parametrize("swallow", [False, True])
def test_a_never_ending_loop_is_stopped(swallow):
    def forever(session):
        while True:
            if swallow:
                try:
                    time.sleep(0.01)
                except BaseException:  # noqa: B036 - what a careless learner writes
                    pass

    t0 = time.monotonic()
    fb = check("00-count-customers", forever, timeout=0.5)
    elapsed = time.monotonic() - t0
    assert not fb.passed and "Stopped after 0.5 s" in fb.message
    assert elapsed < 5


def test_a_never_ending_query_is_stopped():
    def endless_sql(session):
        from sqlalchemy import text
        return session.scalar(text(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"))

    fb = check("00-count-customers", endless_sql, timeout=0.5)
    assert not fb.passed and "Stopped after" in fb.message


def test_wrong_return_type():
    fb = check("00-count-customers", lambda session: session.execute(select(func.count()).select_from(Customer)))
    assert not fb.passed
    assert "should return a number" in fb.message


def test_not_implemented_stub_is_reported_as_not_done():
    def stub(session):
        raise NotImplementedError

    fb = check("00-count-customers", stub)
    assert not fb.passed and fb.message.startswith("Not implemented yet")


def test_unknown_exercise_and_wrong_id_type():
    assert "no exercise called" in check("nope", count_ok).message
    assert not check(None, count_ok).passed  # type: ignore[arg-type]


def test_a_grader_bug_is_reported_not_raised():
    @exercise("zz-buggy", lesson="zz", title="t", hints=["h"])
    def buggy(candidate, g):
        raise KeyError("grader bug")

    try:
        fb = check("zz-buggy", count_ok)
        assert not fb.passed and "grader itself failed" in fb.message
    finally:
        REGISTRY.pop("zz-buggy")


def test_check_never_touches_the_learners_database():
    lesson = setup("test-isolation", echo=False, quiet=True)

    def destructive(session):
        session.execute(delete(Customer))
        session.commit()
        return 0

    fb = check("00-count-customers", destructive)
    assert not fb.passed
    with lesson.Session() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) > 0


def test_check_runs_even_inside_a_running_event_loop():
    async def inside():
        return check("00-count-customers", count_ok)

    assert asyncio.run(inside()).passed


def test_hints_one_at_a_time_then_a_pointer_to_the_solution():
    ex = load_all()["01-product-model"]
    shown = [str(hint(ex.id)) for _ in range(len(ex.hints) + 1)]
    assert shown[0].startswith(f"Hint 1 of {len(ex.hints)}")
    assert shown[1].startswith(f"Hint 2 of {len(ex.hints)}")
    assert "No more hints" in shown[-1] and "solutions/01-models.ipynb" in shown[-1]
    assert "no exercise called" in str(hint("nope"))


def test_progress_is_saved_outside_the_repo_and_listed(tmp_path, monkeypatch):
    path = tmp_path / "p.json"
    monkeypatch.setenv("SQLACOURSE_PROGRESS_FILE", str(path))
    check("00-count-customers", count_ok)
    check("00-count-customers", 1)
    data = json.loads(path.read_text())
    assert data["00-count-customers"]["passed"] is True  # a later failure does not undo a pass
    assert data["00-count-customers"]["attempts"] == 2
    table = str(progress())
    assert "00-orientation" in table and "1/1" in table
    assert "01-models" in table and "01-product-model" in table
    assert "01-models" not in str(progress("00"))


def test_unwritable_progress_file_does_not_break_check(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("SQLACOURSE_PROGRESS_FILE", str(blocker / "sub" / "p.json"))
    assert check("00-count-customers", count_ok).passed


def test_fail_carries_sql():
    f = Fail("m", "d", ["SELECT 1"])
    assert f.sql == ["SELECT 1"] and f.details == "d"
