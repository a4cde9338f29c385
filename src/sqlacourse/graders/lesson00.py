"""Lesson 00 (orientation): a first graded exercise."""

from __future__ import annotations

from sqlalchemy import func, select

from ..grading import Grading
from ..registry import Fail, exercise
from ..shop import Customer
from ._common import run_with_session, sql_listing

LESSON = "00-orientation"


@exercise(
    "00-count-customers",
    lesson=LESSON,
    title="Count the customers in the database",
    hints=[
        "The function receives a Session. Build a SELECT with select(...) and run it with "
        "session.scalar(...), which returns the first column of the first row.",
        "func.count() renders COUNT(*): select(func.count()).select_from(Customer).",
        "Loading every customer and calling len() gives the right number, but it moves every "
        "row into Python; the check wants the database to do the counting.",
    ],
)
def count_customers(candidate, g: Grading) -> str:
    with g.database() as fresh:
        with fresh.Session() as s:
            expected = s.scalar(select(func.count()).select_from(Customer))
        result, rec = run_with_session(g, candidate, fresh.engine)
    if isinstance(result, bool) or not isinstance(result, int):
        raise Fail(
            f"The function should return a number (an int), and it returned "
            f"{type(result).__name__} {result!r:.80}.",
            "session.scalar(...) returns the value itself; session.execute(...) returns rows.",
        )
    if rec.count == 0:
        raise Fail("Your function sent no SQL at all: the number has to come from the database "
                   "(it changes when customers are added), not be written into the code.")
    if result != expected:
        raise Fail(f"Expected {expected} customers, your function returned {result}.",
                   sql=sql_listing(rec))
    counting = [s for s in rec.selects if "count(" in s.one_line.lower()]
    if not counting:
        raise Fail(
            "The number is right, but the database did not count: your code fetched rows "
            "and counted them in Python. Ask for COUNT(*) instead.",
            sql=sql_listing(rec),
        )
    if rec.count != 1:
        raise Fail(f"1 statement expected, {rec.count} emitted.", sql=sql_listing(rec))
    return f"{result} customers, counted by the database in 1 statement: {counting[0].one_line}"
