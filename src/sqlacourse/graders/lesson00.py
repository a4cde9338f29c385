"""Lesson 00 (orientation): a first graded exercise."""

from __future__ import annotations

import re

from sqlalchemy import delete, func, select

from ..grading import Grading
from ..registry import Fail, exercise
from ..shop import Customer, CustomerProfile
from ._common import run_with_session, safe_repr, sql_listing

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
            # a gap in the ids, so that the highest id is not the number of customers
            gone = s.scalars(select(Customer.id).where(~Customer.orders.any(), ~Customer.reviews.any())
                             .order_by(Customer.id).limit(1)).first()
            if gone is not None:
                s.execute(delete(CustomerProfile).where(CustomerProfile.customer_id == gone))
                s.execute(delete(Customer).where(Customer.id == gone))
                s.commit()
            expected = s.scalar(select(func.count()).select_from(Customer))
        result, rec = run_with_session(g, candidate, fresh.engine)
    if isinstance(result, bool) or not isinstance(result, int):
        raise Fail(
            f"The function should return a number (an int), and it returned "
            f"{type(result).__name__} {safe_repr(result, 80)}.",
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
        rows = any(re.search(r"^SELECT\s+customers\.\w+\s*,", s.one_line, re.I) for s in rec.selects)
        how = ("your code fetched the customers and counted them in Python" if rows else
               "your SQL has no COUNT(...), so the number is not a count of the rows")
        raise Fail(f"The number is right, but the database did not count: {how}. Ask for COUNT(*) "
                   "instead: select(func.count()).select_from(Customer).", sql=sql_listing(rec))
    if rec.count != 1:
        raise Fail(f"1 statement expected, {rec.count} emitted.", sql=sql_listing(rec))
    return f"{result} customers, counted by the database in 1 statement: {counting[0].one_line}"
