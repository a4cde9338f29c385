"""Lesson 02 (sessions and the unit of work): graders.

Each grader looks at what reached the database: the statements the learner's
code sent (recorded on the grading engine), the commits, and what a *new*
session sees afterwards.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.engine.row import Row
from sqlalchemy.exc import InvalidRequestError, MultipleResultsFound, NoResultFound
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import DetachedInstanceError

from ..grading import Grading, LearnerError
from ..recorder import record_queries
from ..registry import Fail, exercise
from ..shop import Customer, CustomerProfile, Order, Review
from ._common import safe_repr, sql_listing

LESSON = "02-sessions"

STATUSES = ["pending", "paid", "shipped", "cancelled"]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _attempt(g: Grading, fn: Any, *args: Any) -> dict[str, Any]:
    """Call learner code and keep its exception instead of reporting it:
    ``{"result": ...}`` or ``{"error": exc}``."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = fn(*args)
        except Exception as exc:  # the grader judges the exception itself
            box["error"] = exc

    g.call(run)
    return box


def _real_savepoints(engine: Engine) -> None:
    """SQLite only: let SQLAlchemy emit BEGIN itself (the recipe from the SQLite
    dialect docs), so that a SAVEPOINT is always nested in a real transaction,
    as on PostgreSQL.  Python's sqlite3 driver otherwise starts the transaction
    lazily, and releasing a first SAVEPOINT would commit at once."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _driver_autocommit(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # straight to the driver: not an ORM statement, not recorded
        conn.connection.driver_connection.execute("BEGIN")


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def _offset(delta: dt.timedelta) -> str:
    """``+02:00`` / ``-05:30`` for a UTC offset."""
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _error_name(exc: BaseException) -> str:
    return type(exc).__name__


# --------------------------------------------------------------------------
# 02-add-customer
# --------------------------------------------------------------------------
NEW_EMAIL = "new.customer@example.com"


@exercise(
    "02-add-customer",
    lesson=LESSON,
    title="Add a customer and their profile in one unit of work",
    hints=[
        "Open the unit of work with the sessionmaker you receive: `with Session.begin() as session:` "
        "commits when the block ends and rolls back if it raises.",
        "Give the customer a profile through the relationship (`customer.profile = "
        "CustomerProfile(newsletter=True)`) so that one add() saves both, or flush first and use "
        "`CustomerProfile(customer_id=customer.id, newsletter=True)`; one commit makes both "
        "permanent. created_at is `dt.datetime.now(dt.timezone.utc)` (aware, UTC).",
        "The id is assigned by the INSERT. Call `session.flush()` inside the block and read "
        "`customer.id` there: after the block the session is closed and the object expired, so "
        "reading it then raises DetachedInstanceError.",
    ],
)
def grade_add_customer(candidate, g: Grading) -> str:
    with g.database() as fresh:
        factory = sessionmaker(fresh.engine)
        created: list[Any] = []

        @event.listens_for(factory, "before_flush")
        def _watch_created_at(session, _context, _instances):
            created.extend(o.created_at for o in session.new
                           if isinstance(o, Customer) and o.email == NEW_EMAIL)

        with record_queries(fresh.engine) as rec:
            outcome = _attempt(g, candidate, factory, NEW_EMAIL, "New Customer", "NZ")
        error = outcome.get("error")
        if (isinstance(error, InvalidRequestError)
                and "closed transaction inside context manager" in str(error)):
            raise Fail(
                "Your code raised InvalidRequestError (\"Can't operate on closed transaction inside "
                "context manager\"): it called session.commit() (or rollback()) inside `with "
                "Session.begin() as session:` and then used the session again (reading customer.id "
                "after a commit needs a new SELECT). That block commits by itself when it ends; don't "
                "call commit() inside it: flush(), read customer.id, and let the block commit. (Or "
                "open the session with `with Session() as session:` and call session.commit() "
                "yourself, once.)", sql=sql_listing(rec))
        if isinstance(error, DetachedInstanceError):
            raise Fail(
                "Your code raised DetachedInstanceError: it read an attribute of the customer after "
                "the unit of work had ended. The commit expired the object (even its id) and the "
                "closed session can no longer reload it. Read customer.id inside the block, after "
                "session.flush().", sql=sql_listing(rec))
        if error is not None:
            g.learner_error(error)
        result = outcome["result"]
        with Session(fresh.engine) as s:
            row = s.scalars(select(Customer).where(Customer.email == NEW_EMAIL)).one_or_none()
            profile = s.get(CustomerProfile, row.id) if row is not None else None
            found = None if row is None else (row.id, row.name, row.country, _aware(row.created_at))
            newsletter = None if profile is None else profile.newsletter
    sql = sql_listing(rec)
    inserts = rec.of_kind("INSERT")
    if found is None:
        if inserts:
            raise Fail(
                "Your code sent the INSERT, but a new session does not see the customer: the "
                "transaction was never committed, so it was rolled back when the session closed. "
                "A flush is not a commit.", sql=sql)
        raise Fail(f"No customer with the email {NEW_EMAIL!r} was saved: your code sent no INSERT.",
                   sql=sql)
    cid, name, country, created_at = found
    if isinstance(result, bool) or not isinstance(result, int):
        raise Fail(
            f"The customer was saved, but the function should return the new id (an int), and it "
            f"returned {type(result).__name__}.",
            "Read customer.id inside the unit of work, after session.flush().")
    if result != cid:
        raise Fail(f"The function returned {result}, but the new customer's id is {cid}.", sql=sql)
    if (name, country) != ("New Customer", "NZ"):
        raise Fail(f"The customer was saved with name {name!r} and country {country!r}; expected "
                   "'New Customer' and 'NZ' (the arguments).")
    if any(isinstance(v, dt.datetime) and v.tzinfo is None for v in created):
        raise Fail(
            "created_at was a naive datetime (no time zone), e.g. dt.datetime.now() or "
            "dt.datetime.utcnow(). The column is DateTime(timezone=True): store an aware UTC "
            "time, dt.datetime.now(dt.timezone.utc). Neither database refuses a naive time, and it "
            "is ambiguous: SQLite stores it as it is, PostgreSQL reads it in the connection's time "
            "zone.")
    offsets = {v.utcoffset() for v in created if isinstance(v, dt.datetime)} - {dt.timedelta(0)}
    if offsets:
        raise Fail(
            f"created_at was an aware datetime, but not in UTC (offset {_offset(min(offsets))}). "
            "Convert it before storing: dt.datetime.now(dt.timezone.utc), or "
            "value.astimezone(dt.timezone.utc). On SQLite the offset is dropped: 12:00+02:00 "
            "would be stored, and read back, as 12:00.")
    if abs(_aware(dt.datetime.now(dt.timezone.utc)) - created_at) > dt.timedelta(hours=26):
        raise Fail("created_at should be the current time (datetime.now(timezone.utc)); it was "
                   f"{created_at.date().isoformat()}.")
    if newsletter is None:
        raise Fail("The customer was saved without a profile: add a CustomerProfile(newsletter=True) "
                   "in the same unit of work.", sql=sql)
    if newsletter is not True:
        raise Fail("The profile was saved with newsletter=False; it should be True.")
    if rec.commits > 1:
        raise Fail(
            f"{_plural(rec.commits, 'commit')} for one customer: the customer and the profile must be "
            "saved in one unit of work, committed once. If the program stopped between two "
            "commits, a customer without a profile would stay in the database.", sql=sql)
    return (f"customer {cid} and its profile saved by {_plural(len(inserts), 'INSERT')} and one "
            "COMMIT, and a new session sees them.")


# --------------------------------------------------------------------------
# 02-set-statuses
# --------------------------------------------------------------------------
def _statuses(engine: Engine, ids: list[int]) -> dict[int, str]:
    with Session(engine) as s:
        rows = s.execute(select(Order.id, Order.status).where(Order.id.in_(ids)))
        return {oid: status for oid, status in rows}


def _other_status(status: str) -> str:
    return STATUSES[(STATUSES.index(status) + 1) % len(STATUSES)]


@exercise(
    "02-set-statuses",
    lesson=LESSON,
    title="Change several order statuses: all or nothing",
    hints=[
        "Do the whole batch inside one `with Session.begin() as session:` block: it commits once "
        "at the end, and if anything in it raises, it rolls back every change and lets the "
        "exception through.",
        "`session.get_one(Order, order_id)` raises NoResultFound for an id that does not exist; "
        "`session.get()` would return None. Don't catch the exception: the caller must learn that "
        "the batch failed.",
        "Don't call session.commit() inside the loop: each commit makes the changes before it "
        "permanent, whatever happens next.",
    ],
)
def grade_set_statuses(candidate, g: Grading) -> str:
    with g.database() as fresh:
        engine = fresh.engine
        before = _statuses(engine, list(range(1, 9)))
        good = {oid: _other_status(before[oid]) for oid in (1, 2, 3)}
        with record_queries(engine) as rec:
            try:
                returned = g.call(candidate, sessionmaker(engine), dict(good))
            except LearnerError as err:
                if "closed transaction inside context manager" in err.details:
                    raise Fail("Your code raised InvalidRequestError (\"Can't operate on closed transaction "
                               "inside context manager\"): it called session.commit() inside `with "
                               "Session.begin() as session:` and then used the session again. The block "
                               "commits once by itself when it ends: don't commit inside it.",
                               err.details, sql=sql_listing(rec)) from None
                raise
        after_good = _statuses(engine, [1, 2, 3])

        bad_status = {4: _other_status(before[4]), 5: _other_status(before[5]), 6: "lost"}
        with record_queries(engine) as rec_bad:
            outcome_bad = _attempt(g, candidate, sessionmaker(engine), dict(bad_status))
        after_bad = _statuses(engine, [4, 5, 6])

        missing = {7: _other_status(before[7]), 999_999: "paid", 8: _other_status(before[8])}
        with record_queries(engine) as rec_missing:
            outcome_missing = _attempt(g, candidate, sessionmaker(engine), dict(missing))
        after_missing = _statuses(engine, [7, 8])

    if after_good != good:
        wrong = sorted(oid for oid in good if after_good[oid] != good[oid])
        if all(after_good[oid] == before[oid] for oid in good) and rec.of_kind("UPDATE"):
            raise Fail("Your code sent the UPDATEs, but a new session still sees the old statuses: "
                       "the changes were never committed.", sql=sql_listing(rec))
        raise Fail(f"After set_statuses({good}), orders {wrong} do not have the new status.",
                   sql=sql_listing(rec))

    for label, changes, outcome, after, recb in (
        ("an invalid status ('lost', refused by the CHECK constraint)", bad_status, outcome_bad,
         after_bad, rec_bad),
        ("an order id that does not exist (999999)", missing, outcome_missing, after_missing,
         rec_missing),
    ):
        changed = sorted(oid for oid in after if after[oid] != before[oid])
        if changed and "error" not in outcome and recb.commits <= 1:
            if 999_999 in changes:
                raise Fail(
                    f"Order 999999 does not exist, and your function skipped it: it committed the "
                    f"other changes (orders {changed}) and returned normally. A missing id must make "
                    "the whole batch fail: raise for it (session.get_one(Order, id) raises "
                    "NoResultFound; session.get() returns None, and checking for None then going "
                    "on hides the failure). The exception then rolls back every change.",
                    f"called with {changes}", sql=sql_listing(recb))
            raise Fail(
                f"A batch with {label} must change nothing and raise, but your function skipped "
                f"the failing change, committed the others (orders {changed}) and returned "
                "normally. Let the exception roll back the whole transaction and reach the caller.",
                f"called with {changes}", sql=sql_listing(recb))
        if changed:
            raise Fail(
                f"A batch with {label} must change nothing, but orders {changed} were changed "
                "anyway: a partial commit. Commit once, at the end of one transaction.",
                f"called with {changes}", sql=sql_listing(recb))
        if "error" not in outcome:
            raise Fail(
                f"A batch with {label} changed nothing (good), but your function returned normally: "
                "the caller cannot tell that the batch failed. Let the exception propagate.",
                f"called with {changes}", sql=sql_listing(recb))
    if rec.commits != 1:
        raise Fail(f"{_plural(rec.commits, 'commit')} for one batch of 3 changes: commit once, at "
                   "the end.", sql=sql_listing(rec))
    if returned is not None:
        raise Fail(f"The statuses were changed correctly, but the function returned a {type(returned).__name__}; "
                   "the task says it returns nothing (None): the caller learns of a failure from the "
                   "exception, not from a return value.")
    n_upd = len(rec.of_kind("UPDATE"))
    return (f"3 statuses changed with {_plural(n_upd, 'UPDATE')} and one COMMIT; both failing "
            f"batches raised ({_error_name(outcome_bad['error'])}, "
            f"{_error_name(outcome_missing['error'])}) and changed nothing.")


# --------------------------------------------------------------------------
# 02-find-customer
# --------------------------------------------------------------------------
def _describe(value: Any) -> str:
    if isinstance(value, Row):
        return "a Row (a tuple of columns), not the Customer object"
    if value is None:
        return "None"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__}"
    if hasattr(value, "all") and callable(value.all):
        return f"a {type(value).__name__} (a result not yet read)"
    return f"a {type(value).__name__}"


@exercise(
    "02-find-customer",
    lesson=LESSON,
    title="Fetch a customer by primary key, using the identity map",
    hints=[
        "Fetching by primary key has its own method on the session.",
        "`session.get(Customer, customer_id)` returns the object or None, and looks in the "
        "session's identity map before it asks the database.",
        "A select(...).where(Customer.id == ...) runs a SELECT every time, even when the session "
        "already holds that customer.",
    ],
)
def grade_find_customer(candidate, g: Grading) -> str:
    with g.database() as fresh:
        engine = fresh.engine
        with Session(engine) as s:
            with record_queries(engine) as rec1:
                first = g.call(candidate, s, 7)
            if not isinstance(first, Customer) or first.id != 7:
                raise Fail(f"find_customer(session, 7) should return the Customer with id 7; it "
                           f"returned {_describe(first)}"
                           + (f" with id {first.id}." if isinstance(first, Customer) else "."),
                           sql=sql_listing(rec1))
            if rec1.count > 1:
                raise Fail(f"1 SELECT expected to load customer 7, {rec1.count} statements sent.",
                           sql=sql_listing(rec1))

            with record_queries(engine) as rec2:
                again = g.call(candidate, s, 7)
            if rec2.count:
                raise Fail(
                    f"The second call for customer 7, in the same session, sent "
                    f"{_plural(rec2.count, 'statement')} again. The session already holds that "
                    "customer in its identity map: session.get() would answer without SQL.",
                    sql=sql_listing(rec2))
            if again is not first:
                raise Fail("The second call returned a different object for the same row; within "
                           "one session it should be the very same object.")

            held = s.scalars(select(Customer).where(Customer.email.like("%@example.org"))
                             .order_by(Customer.id).limit(1)).one()
            held_id = held.id
            with record_queries(engine) as rec3:
                third = g.call(candidate, s, held_id)
            if rec3.count or third is not held:
                raise Fail(
                    f"Customer {held_id} was already loaded in the session (by another query), yet "
                    f"your function sent {_plural(rec3.count, 'statement')}"
                    + ("" if third is held else " and returned another object")
                    + ". The identity map holds every object the session loaded, whatever the "
                    "query.", sql=sql_listing(rec3))

            with record_queries(engine) as rec4:
                outcome = _attempt(g, candidate, s, 1_000_000)
        if "error" in outcome:
            raise Fail(f"For an id that does not exist your function raised "
                       f"{_error_name(outcome['error'])}; it should return None.",
                       sql=sql_listing(rec4))
        if outcome["result"] is not None:
            raise Fail(f"For an id that does not exist your function returned "
                       f"{_describe(outcome['result'])}; it should return None.")
    return ("1 SELECT the first time, no SQL for a customer the session already holds "
            "(the identity map), None for a missing id.")


# --------------------------------------------------------------------------
# 02-import-reviews
# --------------------------------------------------------------------------
def _review_rows(engine: Engine) -> tuple[list[dict[str, Any]], list[tuple[int, int]], tuple[int, int]]:
    """Six rows: three valid and three the database refuses (rating 6, a second
    review of the same product by the same customer, an unknown product)."""
    with Session(engine) as s:
        existing = {(p, c) for p, c in s.execute(select(Review.product_id, Review.customer_id))}
        taken = min(existing)
    free = [(p, c) for c in range(1, 40) for p in range(1, 40) if (p, c) not in existing][:4]
    (p1, c1), (p2, c2), (p3, c3), (p4, c4) = free
    rows = [
        {"product_id": p1, "customer_id": c1, "rating": 5, "body": "Great."},
        {"product_id": p2, "customer_id": c2, "rating": 6, "body": "Off the scale!"},
        {"product_id": p3, "customer_id": c3, "rating": 4, "body": None},
        {"product_id": taken[0], "customer_id": taken[1], "rating": 3, "body": "Again."},
        {"product_id": 99_999, "customer_id": c1, "rating": 4, "body": "No such product."},
        {"product_id": p4, "customer_id": c4, "rating": 2, "body": "Meh."},
    ]
    return rows, [(p1, c1), (p3, c3), (p4, c4)], (p2, c2)


def _review_inserts(rec) -> list[tuple[Any, Any, Any]]:
    """(product_id, customer_id, rating) of every row the code sent in an INSERT INTO reviews, in order
    (one row per INSERT, executemany batches, or several rows in one INSERT ... VALUES (...), (...))."""
    import re

    sent: list[tuple[Any, Any, Any]] = []
    for st in rec.of_kind("INSERT"):
        head = st.one_line.split("(", 1)
        if len(head) < 2 or "reviews" not in head[0].lower():
            continue
        cols = [c.strip().strip('"') for c in head[1].split(")", 1)[0].split(",")]
        batches = st.parameters if st.executemany else [st.parameters]
        for params in batches or []:
            rows: dict[int, dict[str, Any]] = {}
            if isinstance(params, dict):
                for key, value in params.items():
                    m = re.fullmatch(r"(.+?)__(\d+)", key)
                    name, n = (m.group(1), int(m.group(2))) if m else (key, 0)
                    rows.setdefault(n, {})[name] = value
            elif isinstance(params, (list, tuple)) and cols:
                for n in range(len(params) // len(cols)):
                    rows[n] = dict(zip(cols, params[n * len(cols):(n + 1) * len(cols)]))
            sent += [(r.get("product_id"), r.get("customer_id"), r.get("rating")) for _, r in sorted(rows.items())]
    return sent


@exercise(
    "02-import-reviews",
    lesson=LESSON,
    title="Import reviews, skipping the rows the database refuses (savepoints)",
    hints=[
        "Use one transaction for the whole batch, and inside it one savepoint per row: "
        "`with session.begin_nested(): session.add(Review(...))`.",
        "Leaving the begin_nested() block flushes the row; if the database refuses it, only that "
        "savepoint is rolled back and an IntegrityError comes out of the block: catch it there "
        "and go on with the next row.",
        "session.rollback() after a failed row rolls back the whole transaction, with every good "
        "row flushed before it. Commit once, after the loop.",
    ],
)
def grade_import_reviews(candidate, g: Grading) -> str:
    with g.database() as fresh:
        engine = fresh.engine
        _real_savepoints(engine)
        rows, good, bad_rating = _review_rows(engine)
        with Session(engine) as s:
            before = s.scalar(select(func.count()).select_from(Review))
        factory = sessionmaker(engine)
        stamps: list[Any] = []

        @event.listens_for(factory, "before_flush")
        def _watch_created_at(session, _context, _instances):
            stamps.extend(o.created_at for o in session.new if isinstance(o, Review))

        with record_queries(engine) as rec:
            outcome = _attempt(g, candidate, factory, [dict(r) for r in rows])
        with Session(engine) as s:
            after = s.scalar(select(func.count()).select_from(Review))
            pairs = {(p, c) for p, c in s.execute(select(Review.product_id, Review.customer_id))}
            saved = pairs & (set(good) | {bad_rating})
    sql = sql_listing(rec, limit=12)
    n_good = len(saved & set(good))
    if "error" in outcome:
        error = outcome["error"]
        if isinstance(error, NotImplementedError):
            g.learner_error(error)
        lost = "and nothing was saved" if after == before else f"after saving {after - before} rows"
        if isinstance(error, InvalidRequestError) and "closed transaction inside context manager" in str(error):
            raise Fail(
                f"Your function raised InvalidRequestError (\"Can't operate on closed transaction inside "
                f"context manager\") {lost}: it called session.commit() inside `with Session.begin() as "
                "session:` and then used the session again. Commit once: the block commits by itself "
                "when it ends.", sql=sql)
        raise Fail(
            f"Your function raised {_error_name(error)} {lost}. A row the database refuses should "
            "be skipped: run each row in its own savepoint (session.begin_nested()) and catch "
            "the IntegrityError there.", sql=sql)
    if bad_rating in saved:
        raise Fail("The review with rating 6 was saved: the CHECK constraint should refuse it.")
    if n_good < len(good):
        found = (f"{n_good} of the {len(good)} valid reviews "
                 f"{'is' if n_good == 1 else 'are'} in the database after the import.")
        if not rec.commits:
            raise Fail(f"{found} No COMMIT was sent: the transaction was rolled back when the "
                       "session closed. Commit once, after the loop.", sql=sql)
        raise Fail(
            f"{found} A session.rollback() after a failed row throws away the whole transaction, "
            "including the good rows flushed before it; a savepoint (begin_nested) rolls back "
            "only the failed row.", sql=sql)
    if after - before != len(good):
        raise Fail(f"{after - before} reviews were added; exactly the {len(good)} valid ones were "
                   "expected.", sql=sql)
    if rec.commits != 1:
        raise Fail(
            f"{_plural(rec.commits, 'commit')} for one import: the batch should be one transaction "
            "committed once, with a savepoint per row to skip the refused ones.", sql=sql)
    result = outcome["result"]
    if isinstance(result, bool) or result != len(good):
        raise Fail(f"The rows were imported correctly, but the function returned {safe_repr(result)}; it "
                   f"should return the number of reviews saved ({len(good)}).")
    if any(not isinstance(v, dt.datetime) or v.tzinfo is None for v in stamps):
        raise Fail("created_at was not an aware UTC datetime (a naive dt.datetime.now(), or no value): "
                   "the column is DateTime(timezone=True); use dt.datetime.now(dt.timezone.utc).")
    sent = _review_inserts(rec)
    skipped = [r for r in rows if (r["product_id"], r["customer_id"], r["rating"]) not in sent]
    if skipped:
        r = skipped[0]
        raise Fail(
            f"The right reviews were saved, but {_plural(len(skipped), 'row')} never reached the database "
            f"(e.g. product {r['product_id']}, customer {r['customer_id']}, rating {r['rating']}): your "
            "code checked the rules in Python. The task is to let the database refuse the bad rows: "
            "send every row in its own savepoint (session.begin_nested()) and catch the IntegrityError.",
            sql=sql)
    given = [(r["product_id"], r["customer_id"], r["rating"]) for r in rows]
    if [t for t in sent if t in given] != given:
        raise Fail("Every row reached the database, but not in the order given: the task asks to "
                   "keep the valid rows in the order of `rows` (loop over them as they come).", sql=sql)
    savepoints = sum(1 for st in rec if st.kind == "SAVEPOINT")
    rolled_back_to = sum(1 for st in rec if st.one_line.upper().startswith("ROLLBACK TO"))
    if not savepoints:
        raise Fail(
            "The right reviews were saved, but your code sent no SAVEPOINT: it checked the rules in "
            "Python instead of letting the database refuse the bad rows. This exercise is about "
            "savepoints: give each row its own session.begin_nested() and, when the database "
            "refuses the row (IntegrityError), roll back to that savepoint only.", sql=sql)
    if not rolled_back_to:
        raise Fail(
            f"Your code sent {_plural(savepoints, 'SAVEPOINT')} but never a ROLLBACK TO SAVEPOINT: "
            "the bad rows were filtered out in Python before the database saw them. Send every "
            "row to the database in its own savepoint (session.begin_nested()) and let the "
            "database refuse the bad ones.", sql=sql)
    return (f"3 valid reviews kept, 3 refused rows skipped ({_plural(savepoints, 'SAVEPOINT')}), "
            "one COMMIT.")


# --------------------------------------------------------------------------
# 02-customer-by-name
# --------------------------------------------------------------------------
@exercise(
    "02-customer-by-name",
    lesson=LESSON,
    title="One customer or None, and an error when the name is ambiguous",
    hints=[
        "Let the database filter: select(Customer).where(Customer.name == name).",
        "Pick the result method by what you expect: no row → None, one row → the object, "
        "several rows → an error.",
        "`session.scalars(stmt).one_or_none()` (or `session.execute(stmt).scalar_one_or_none()`) "
        "raises MultipleResultsFound for several rows; `.first()` and `session.scalar()` quietly "
        "return one of them.",
    ],
)
def grade_customer_by_name(candidate, g: Grading) -> str:
    with g.database() as fresh:
        engine = fresh.engine
        with Session(engine) as s:
            counts = s.execute(select(Customer.name, func.count()).group_by(Customer.name)).all()
            unique_name = min(n for n, c in counts if c == 1)
            unique_id = s.scalars(select(Customer.id).where(Customer.name == unique_name)).one()
            dup_name, dup_count = max(((n, c) for n, c in counts if c > 1), key=lambda t: (t[1], t[0]))

        with Session(engine) as s, record_queries(engine) as rec1:
            outcome1 = _attempt(g, candidate, s, unique_name)
            found = outcome1.get("result")
            found_id = found.id if isinstance(found, Customer) else None
        if "error" in outcome1:
            if isinstance(outcome1["error"], NotImplementedError):
                g.learner_error(outcome1["error"])
            raise Fail(f"customer_by_name(session, {unique_name!r}) raised "
                       f"{_error_name(outcome1['error'])}; exactly one customer has that name.",
                       sql=sql_listing(rec1))
        if found_id != unique_id:
            raise Fail(f"customer_by_name(session, {unique_name!r}) should return the Customer with id "
                       f"{unique_id}; it returned {_describe(found)}"
                       + (f" with id {found_id}." if found_id is not None else "."),
                       sql=sql_listing(rec1))
        if rec1.count != 1:
            raise Fail(f"1 statement expected, {rec1.count} sent.", sql=sql_listing(rec1))
        if " WHERE " not in rec1.statements[0].one_line.upper():
            raise Fail("The answer is right, but the database did not filter: your SELECT has no "
                       "WHERE, so every customer was loaded and searched in Python.",
                       sql=sql_listing(rec1))

        with Session(engine) as s, record_queries(engine) as rec2:
            outcome2 = _attempt(g, candidate, s, "Nobody Here")
        if "error" in outcome2:
            hint = (" (.one() / scalar_one() raise it for no row; one_or_none() returns None)"
                    if isinstance(outcome2["error"], NoResultFound) else "")
            raise Fail(f"For a name nobody has, your function raised {_error_name(outcome2['error'])}"
                       f"{hint}; it should return None.", sql=sql_listing(rec2))
        if outcome2["result"] is not None:
            raise Fail(f"For a name nobody has, your function returned {_describe(outcome2['result'])}; "
                       "it should return None.", sql=sql_listing(rec2))

        first_name = dup_name.split()[0]
        for probe, why in ((first_name, "only part of a name (contains / startswith / LIKE '%...%' "
                                        "match it)"),
                           (dup_name[:-1] + "_", "a LIKE wildcard ('_' matches any one character)")):
            if probe in {n for n, _ in counts}:
                continue
            with Session(engine) as s, record_queries(engine) as recp:
                outcome_p = _attempt(g, candidate, s, probe)
            if "error" in outcome_p or outcome_p["result"] is not None:
                got = (f"raised {_error_name(outcome_p['error'])}" if "error" in outcome_p
                       else f"returned {_describe(outcome_p['result'])}")
                raise Fail(f"customer_by_name(session, {probe!r}) {got}, but nobody is called exactly "
                           f"{probe!r}: it is {why}. Compare the whole name with ==, not a partial "
                           "match: select(Customer).where(Customer.name == name).",
                           sql=sql_listing(recp))

        with Session(engine) as s, record_queries(engine) as rec3:
            outcome3 = _attempt(g, candidate, s, dup_name)
            picked = outcome3.get("result")
            picked_id = picked.id if isinstance(picked, Customer) else None
    if "error" not in outcome3:
        which = f" (id {picked_id})" if picked_id is not None else ""
        raise Fail(
            f"{dup_count} customers are called {dup_name!r}, and your function returned "
            f"{_describe(picked)}{which} without complaint. .first() and session.scalar() silently "
            "discard the other rows; the caller asked for *the* customer, so an ambiguous name must "
            "raise MultipleResultsFound (one_or_none / scalar_one_or_none).", sql=sql_listing(rec3))
    if not isinstance(outcome3["error"], MultipleResultsFound):
        raise Fail(f"For a name {dup_count} customers share, your function raised "
                   f"{_error_name(outcome3['error'])}; MultipleResultsFound was expected.",
                   sql=sql_listing(rec3))
    return (f"one SELECT with WHERE; the customer for a unique name, None for an unknown one, and "
            f"MultipleResultsFound for {dup_name!r} ({dup_count} customers).")

