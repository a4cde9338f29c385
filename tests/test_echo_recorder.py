"""Readable SQL echo and the query recorder."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from sqlacourse import record_queries, setup
from sqlacourse.echo import stable_stats
from sqlacourse.shop import Customer


@pytest.mark.parametrize("raw, stable", [
    ("generated in 0.00108s", "generated"),
    ("cached since 2.198s ago", "cached"),
    ("cached since 1.5e-05s ago", "cached"),
    ("no key 0.00012s", "no key"),
    ("generated in 0.00020s (insertmanyvalues) 1/3 (ordered)", "generated (insertmanyvalues) 1/3 (ordered)"),
    ("raw sql", "raw sql"),
    ("insertmanyvalues 2/3 (ordered)", "insertmanyvalues 2/3 (ordered)"),
])
def test_stable_stats(raw, stable):
    assert stable_stats(raw) == stable


def test_echo_has_no_timestamps_or_timings(capsys):
    lesson = setup("test-echo", data=False, quiet=True)
    with lesson.engine.connect() as conn:
        for _ in range(2):
            conn.execute(select(text("1 AS one")).where(text(":x = :x")), {"x": 5})
    out = capsys.readouterr().out
    assert "BEGIN (implicit)" in out
    assert "[generated] {'x': 5}" in out or "[generated] (5, 5)" in out
    assert "[cached]" in out
    assert not re.search(r"\d{4}-\d\d-\d\d \d\d:|INFO sqlalchemy|\d\.\d+s", out), out


def test_echo_off_prints_nothing(capsys):
    lesson = setup("test-echo-off", data=False, echo=False, quiet=True)
    with lesson.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert capsys.readouterr().out == ""


def test_recorder_sees_n_plus_one_and_commits():
    lesson = setup("test-recorder", echo=False, quiet=True)
    with record_queries(lesson.engine) as rec, Session(lesson.engine) as session:
        customers = session.scalars(select(Customer).order_by(Customer.id).limit(5)).all()
        for c in customers:
            c.orders  # noqa: B018 - lazy load, one SELECT each
    assert rec.count == 6 and rec.kinds == {"SELECT": 6}
    assert not rec.committed
    assert "6 statements (6 SELECT)" in str(rec)
    with record_queries(lesson.engine) as rec2, Session(lesson.engine) as session:
        session.get(Customer, 1).name = "Renamed"
        session.commit()
    assert rec2.committed and [s.kind for s in rec2] == ["SELECT", "UPDATE"]


def test_recorder_stops_listening_after_the_block():
    engine = create_engine("sqlite://")
    with record_queries(engine) as rec:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    with engine.connect() as conn:
        conn.execute(text("SELECT 2"))
    assert rec.count == 1


def test_recorder_rejects_wrong_type():
    with pytest.raises(TypeError, match="Engine"):
        with record_queries("sqlite://"):
            pass
