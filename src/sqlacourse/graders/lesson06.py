"""Lesson 06 (async sessions): graders of `async def` answers.

Every grader is an ``async def`` registered with ``expects="async function"``: ``grade()``
runs it on an event loop of its own, so that it works from a notebook cell, under nbval
and in ``python -m sqlacourse grade``.  Each one gets a fresh database with an
``AsyncEngine`` of the course backend (``g.async_database()``: aiosqlite, or asyncpg on
PostgreSQL), records the SQL with ``record_queries(async_engine)``, awaits the answer with
``g.acall`` and judges what came back *before* touching it: ``inspect(obj).unloaded`` and
``expired_attributes`` say what reading an attribute would load (a lazy load, which async
code cannot do).  Values are checked on the ORM objects (session events), not on driver
parameters, whose types differ between aiosqlite and asyncpg.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import re
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import event, func, inspect, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..grading import Grading, LearnerError
from ..recorder import record_queries
from ..registry import Fail, exercise
from ..shop import Customer, Order, OrderItem
from ._common import instances_of, safe_repr, sql_listing

LESSON = "06-async"

LAZY = ("was read without being loaded: a lazy load, which is IO, and async code cannot do IO "
        "when an attribute is read (SQLAlchemy raises MissingGreenlet).")


def _async_exercise(exercise_id: str, *, read: Callable[[Any], Any], title: str, hints: list[str],
                    engine_kwargs: dict[str, Any] | None = None):
    """Register an ``async def`` grader of this lesson; it is called as
    ``grader(candidate, g, fresh, *facts)``: ``fresh`` is the check's fresh database with an
    AsyncEngine on it (``g.async_database()``), open for the whole grading, and ``facts`` the
    tuple ``read(conn)`` found in it (on a sync connection closed before the answer runs);
    ``engine_kwargs`` go to the AsyncEngine."""
    def register(grader):
        @functools.wraps(grader)
        async def run(candidate, g: Grading) -> str:
            async with g.async_database(**(engine_kwargs or {})) as fresh:
                with fresh.engine.connect() as conn:
                    facts = read(conn)
                return await grader(candidate, g, fresh, *facts)

        return exercise(exercise_id, lesson=LESSON, title=title, expects="async function", hints=hints)(run)

    return register


def _is_lazy_load(exc: LearnerError) -> bool:
    text = f"{exc.message}\n{exc.details}"
    return "MissingGreenlet" in text or "greenlet_spawn has not been called" in text


def _frames_only(details: str) -> str:
    """The learner's traceback lines without the error message (which holds per-run names)."""
    lines = details.splitlines()
    return "\n".join(line for line in lines if line.startswith(("Traceback", "  ")))


async def _acall(g: Grading, fn: Any, *args: Any, what: str = "An attribute") -> Any:
    """``g.acall`` with the course's sentence for a lazy load and for a shared session."""
    try:
        return await g.acall(fn, *args)
    except LearnerError as exc:
        if _is_lazy_load(exc):
            raise Fail(f"{what} {LAZY} Load it in the query (a loader option), or await "
                       "session.refresh(obj, [...]) before reading it.", _frames_only(exc.details)) from None
        if "unique() method must be invoked" in exc.details:
            raise Fail("Your code raised InvalidRequestError: a joinedload of a collection returns one row per "
                       "child, so the result needs .unique() before .all(): "
                       "(await session.scalars(stmt)).unique().all().", _frames_only(exc.details)) from None
        if ("invalid input for query argument" in exc.details
                or re.search(r"operator does not exist: \w+( \w+)* [<>=!]+ (character varying|text)", exc.details)):
            raise Fail("asyncpg (PostgreSQL) refused a value of the wrong Python type: a str compared with, or "
                       "stored in, a column of another type (aiosqlite lets it through, so this passes on "
                       "SQLite). Use the column's type: int(...) for an Integer, a datetime for a DateTime.",
                       exc.details) from None
        if "AsyncMethodRequired" in exc.message:
            raise Fail("Your code raised AsyncMethodRequired: a statement with yield_per is not streamed by "
                       "session.scalars()/execute(), which buffer the whole result. Stream it: "
                       "await session.stream_scalars(stmt), then async for.", _frames_only(exc.details)) from None
        raise


def _objects(result: Any, cls: type, what: str) -> list[Any]:
    if isinstance(result, (str, bytes, dict)) or not isinstance(result, (list, tuple)) and not hasattr(result, "__len__"):
        hint = (" It looks like a result object: call .all() on it inside your function."
                if hasattr(result, "all") else "")
        raise Fail(f"The function should return a list of {cls.__name__} objects ({what}), and it "
                   f"returned {type(result).__name__}.{hint}")
    return instances_of(list(result), cls, what)


# --------------------------------------------------------------------------
def _country_and_orders(conn) -> tuple[str, list[int], dict[int, list[int]]]:
    """The country with the most customers, their ids, and each one's order ids."""
    country = conn.execute(select(Customer.country).group_by(Customer.country)
                           .order_by(func.count().desc(), Customer.country).limit(1)).scalar_one()
    ids = list(conn.scalars(select(Customer.id).where(Customer.country == country).order_by(Customer.id)))
    expected: dict[int, list[int]] = {cid: [] for cid in ids}
    for cid, oid in conn.execute(select(Order.customer_id, Order.id)
                                 .where(Order.customer_id.in_(ids)).order_by(Order.id)):
        expected[cid].append(oid)
    return country, ids, expected


@_async_exercise(
    "06-orders-no-io",
    read=_country_and_orders,
    title="Customers with their orders, no implicit IO",
    hints=[
        "In async code, reading customer.orders after the query is a lazy load, which fails. The "
        "orders must be loaded by the query itself: a loader option, as in lesson 05.",
        "selectinload(Customer.orders) works the same in async: .options(selectinload(Customer.orders)), "
        "then (await session.scalars(stmt)).all().",
        "select(Customer).where(Customer.country == country).order_by(Customer.id)"
        ".options(selectinload(Customer.orders)). joinedload also works, with .unique() before .all().",
    ],
)
async def grade_orders_no_io(candidate, g: Grading, fresh: Any, country: str, ids: list[int],
                             expected: dict[int, list[int]]) -> str:
    factory = async_sessionmaker(fresh.async_engine, expire_on_commit=False)
    with record_queries(fresh.async_engine) as rec:
        async with factory() as session:
            result = await _acall(g, candidate, session, country, what="customer.orders")
            customers = _objects(result, Customer, f"the customers of {country}")
            unloaded = [c for c in customers if "orders" in inspect(c).unloaded]
    sql = sql_listing(rec)
    if unloaded:
        raise Fail(f"customer.orders is not loaded ({len(unloaded)} of {len(customers)} customers): reading "
                   "it after your function returns would be a lazy load, which async code cannot do. "
                   "Load it in the query (a loader option: selectinload(Customer.orders)).", sql=sql)
    got_ids = [c.id for c in customers]
    if sorted(got_ids) != ids:
        other = len(got_ids) - sum(1 for i in set(got_ids) if i in ids)
        missing = set(ids) - set(got_ids)
        first_sql = rec.selects[0].one_line.upper() if rec.selects else ""
        said = (f"Expected the {len(ids)} customers whose country is {country!r}, and the function returned "
                f"{len(got_ids)} customers ({other} of another country or repeated, {len(missing)} missing)")
        if not other and missing and all(not expected[c] for c in missing) and re.search(r"\bJOIN ORDERS\b", first_sql) \
                and not re.search(r"\bOUTER JOIN ORDERS\b", first_sql):
            raise Fail(f"{said}: the missing ones are exactly the customers with no orders, which the inner join "
                       "with orders dropped (JOIN keeps only customers that have a matching order). Use "
                       ".outerjoin(Customer.orders) with contains_eager, or no join and a loader option "
                       "(selectinload(Customer.orders)).", sql=sql)
        if not other and got_ids == ids[:len(got_ids)] and re.search(r"\bLIMIT\b", first_sql):
            raise Fail(f"{said}: your query has a LIMIT, which cut the list. The task asks for every customer "
                       "of that country: remove .limit(...).", sql=sql)
        raise Fail(f"{said}. Filter in the query: .where(Customer.country == country).", sql=sql)
    if got_ids != ids:
        raise Fail("The customers are right but not sorted by id: add .order_by(Customer.id).", sql=sql)
    first = rec.selects[0] if rec.selects else None
    where = first.clause("WHERE") if first is not None else ""
    if not re.search(r"\bCUSTOMERS\.COUNTRY\s*=", where):
        wrapped = re.search(r"\b(\w+)\(CUSTOMERS\.COUNTRY\)\s*=", where)
        if not where:
            how = "no WHERE: you filtered in Python"
        elif wrapped:
            name = wrapped.group(1).lower()
            how = f"{name}(customers.country) = ...: a test on a function of the column" + (
                ", case-insensitive, which would also match other spellings of the country"
                if name in ("upper", "lower") else ", not of the column itself")
        else:
            how = "a LIKE or another test instead of equality"
        raise Fail("The right customers came back, but your query does not filter them with "
                   f"customers.country = ... ({how}). Let the database filter: "
                   ".where(Customer.country == country).", sql=sql)
    if first is None or "CUSTOMERS.ID" not in first.clause("ORDER BY"):
        raise Fail("The customers came back in id order, but your query does not sort them by id (no "
                   "ORDER BY customers.id), so that order is an accident. Add .order_by(Customer.id).", sql=sql)
    wrong = [c.id for c in customers if sorted(o.id for o in c.orders) != expected[c.id]]
    if wrong:
        cid = wrong[0]
        raise Fail(f"customer.orders is wrong for {len(wrong)} customers, e.g. customer {cid}: expected orders "
                   f"{expected[cid]}, got {sorted(o.id for o in customers[got_ids.index(cid)].orders)}.", sql=sql)
    second = rec.selects[1].one_line.upper() if len(rec.selects) > 1 else ""
    if "FROM (SELECT" in second and " IN (" not in second:
        raise Fail("The result is right, but the orders came from subqueryload, which the task excludes: its "
                   "second SELECT repeats your whole customers query as a subquery. Use "
                   "selectinload(Customer.orders), which sends only the customer ids.", sql=sql)
    if rec.count > 2:
        raise Fail(f"At most 2 statements expected, {rec.count} emitted: one query per customer for its "
                   "orders (N+1). Load them all at once with a loader option in the query.", sql=sql)
    others = sorted(k for k in rec.kinds if k != "SELECT")
    if others or rec.commits:
        raise Fail(f"The function should only read (SELECT), and it sent {', '.join(others) or 'a COMMIT'}.",
                   sql=sql)
    return (f"{len(ids)} customers of {country} with their orders in {rec.count} statement(s), "
            "no lazy load.")


class _CallersFactory:
    """The caller's ``async_sessionmaker`` as the answer sees it.  Sessions come from the real
    factory (a fresh one for each check) and are counted; ``configure()`` and changes to ``.kw``
    are recorded and, unless ``apply``, not passed on: an answer cannot change the factory the
    grader judges it with, and the grader can name the change."""

    def __init__(self, real: async_sessionmaker, *, apply: bool = True) -> None:
        self._real = real
        self._apply = apply
        self._given = dict(real.kw)
        self.kw = dict(real.kw)
        self.class_ = real.class_
        self.calls = 0
        self.configured: list[dict[str, Any]] = []
        self.sessions: list[Any] = []  # the sessions session_factory() made (begin() closes its own)

    def __call__(self, **local_kw: Any):
        self.calls += 1
        session = self._real(**local_kw)
        self.sessions.append(session)
        return session

    def still_open(self) -> list[Any]:
        """The sessions made by calling the factory that still hold a transaction (never closed)."""
        return [s for s in self.sessions if s.in_transaction()]

    def begin(self):
        self.calls += 1
        return self._real.begin()

    def configure(self, **new_kw: Any) -> None:
        self.configured.append(dict(new_kw))
        self.kw.update(new_kw)
        if self._apply:
            self._real.configure(**new_kw)

    def change(self) -> str | None:
        """How the answer changed the factory, in code; None if it did not."""
        if self.configured:
            args = ", ".join(f"{k}={safe_repr(v)}" for k, v in self.configured[0].items())
            return f"session_factory.configure({args})"
        if self.kw != self._given:
            return "session_factory.kw[...] = ..."
        return None

    def put_back(self) -> bool:
        """Whether the factory's settings are as given again (changed, then restored)."""
        return self.kw == self._given

    def __repr__(self) -> str:
        return repr(self._real)


# --------------------------------------------------------------------------
COLUMNS = ("id", "name", "email", "country", "created_at")


def _a_customer_and_all_names(conn) -> tuple[int, str, dict[int, str]]:
    customer_id, old_name = conn.execute(
        select(Customer.id, Customer.name).order_by(Customer.id).offset(6).limit(1)).one()
    return customer_id, old_name, dict(conn.execute(select(Customer.id, Customer.name)).all())


@_async_exercise(
    "06-after-commit",
    read=_a_customer_and_all_names,
    title="Fix a function that fails after commit",
    hints=[
        "By default a session expires every object when it commits: the next read of customer.name "
        "would load it again, a lazy load, which async code cannot do after the session is gone.",
        "A session made with expire_on_commit=False keeps the values: session_factory(expire_on_commit=False) "
        "overrides the factory's setting for that one session.",
        "async with session_factory(expire_on_commit=False) as session: ... await session.commit(); "
        "return customer. (Or await session.refresh(customer) after the commit.)",
    ],
)
async def grade_after_commit(candidate, g: Grading, fresh: Any, customer_id: int, old_name: str,
                             before: dict[int, str]) -> str:
    new_name = old_name + " (renamed)"
    # the default (expire_on_commit=True), and the answer cannot change it
    factory = _CallersFactory(async_sessionmaker(fresh.async_engine), apply=False)
    with record_queries(fresh.async_engine) as rec:
        obj = await _acall(g, candidate, factory, customer_id, new_name, what="An attribute of the customer")
    sql = sql_listing(rec)
    change = factory.change()
    if change:
        if factory.put_back():  # changed, then put back (in a finally, say)
            effect = ("Even if it put the old value back in the end, while it was changed every session the "
                      "factory made had that setting, in other tasks running at the same time too")
        else:
            effect = "That changes every session the factory makes from then on, elsewhere in the program too"
        raise Fail(f"Your code changed the caller's factory ({change}). {effect}, and the task says not to "
                   "rely on or change it. Override the setting for your own session only: "
                   "session_factory(expire_on_commit=False).", sql=sql)
    if not isinstance(obj, Customer):
        raise Fail(f"The function should return the Customer, and it returned {safe_repr(obj)}.", sql=sql)
    state = inspect(obj)
    stale = [c for c in COLUMNS if c in state.expired_attributes or c in state.unloaded]
    if stale:
        raise Fail(f"The returned customer's {', '.join(stale)} cannot be read without IO: the session "
                   "expired the object when it committed (expire_on_commit=True), so reading them "
                   "would be a lazy load, which fails once the session is gone. Use a session made "
                   "with expire_on_commit=False (or refresh the object after the commit).", sql=sql)
    with fresh.engine.connect() as conn:
        after = dict(conn.execute(select(Customer.id, Customer.name)).all())
    if obj.id != customer_id or obj.name != new_name:
        raise Fail(f"Expected customer {customer_id} named {new_name!r}, the function returned customer "
                   f"{obj.id} named {obj.name!r}.", sql=sql)
    if after[customer_id] != new_name:
        why = ("nothing was committed: a flush sends the UPDATE, but the session rolls it back when it "
               "closes" if rec.kinds.get("UPDATE") else "no UPDATE was sent")
        raise Fail(f"The returned object has the new name, but the database still has {after[customer_id]!r}, "
                   f"and {why}. The new name must be committed (await session.commit()).", sql=sql)
    changed = sorted(k for k in before if k != customer_id and after[k] != before[k])
    if changed:
        raise Fail(f"Other customers were renamed too: {len(changed)}, e.g. customer {changed[0]}. Change only "
                   "the customer with the given id.", sql=sql)
    updates = rec.kinds.get("UPDATE", 0)
    if updates != 1 or rec.commits != 1:
        raise Fail(f"One UPDATE and one commit expected; your code sent {updates} UPDATE(s) and "
                   f"committed {rec.commits} time(s).", sql=sql)
    return f"customer {customer_id} renamed and committed, its columns readable after the function returned."


# --------------------------------------------------------------------------
SHARED = ("one AsyncSession was used by several tasks at once, which it does not allow (a session is "
          "one connection, used by one task at a time). Give each task its own session: "
          "`async with session_factory() as session:` inside the task's function.")
LIMIT = 5
POOL_TIMEOUT = 3


def _order_counts(conn) -> tuple[dict[int, int]]:
    return (dict(conn.execute(select(Customer.id, func.count(Order.id)).outerjoin(Customer.orders)
                             .group_by(Customer.id).order_by(Customer.id)).all()),)


@_async_exercise(
    "06-concurrent-counts",
    read=_order_counts,
    title="Independent queries concurrently, one session per task",
    # Correct answers hold at most 5 connections of the pool's 15 and never wait for one; an answer
    # that never closes its sessions runs out of them and gets the pool's TimeoutError well before
    # the check's time limit, which the grader names.
    engine_kwargs={"pool_timeout": POOL_TIMEOUT},
    hints=[
        "An AsyncSession must not be used by two tasks at once: each task makes its own with "
        "`async with session_factory() as session:`.",
        "asyncio.gather(*(one(c) for c in customer_ids)) runs one coroutine per id at the same time; "
        "an asyncio.Semaphore(5) shared by them keeps at most 5 inside `async with gate:`.",
        "async def one(cid): async with gate, session_factory() as session: return cid, await "
        "session.scalar(select(func.count()).select_from(Order).where(Order.customer_id == cid)); "
        "then dict(await asyncio.gather(...)).",
    ],
)
async def grade_concurrent_counts(candidate, g: Grading, fresh: Any, counts: dict[int, int]) -> str:
    with_orders = [c for c, n in counts.items() if n][:15]
    without = [c for c, n in counts.items() if not n][:5]
    ids = sorted(with_orders + without)
    ids = ids[::2] + ids[1::2]  # not sorted: the answer must not rely on the order
    expected = {c: counts[c] for c in ids}
    engine = fresh.async_engine
    inflight = [0, 0]  # now, peak

    def before(conn, cursor, statement, parameters, context, executemany):
        inflight[0] += 1
        inflight[1] = max(inflight[1], inflight[0])
        # a round trip that takes time, so that statements running at once overlap
        conn.connection.dbapi_connection.run_async(lambda _c: asyncio.sleep(0.02))

    def after(conn, cursor, statement, parameters, context, executemany):
        inflight[0] -= 1

    def failed(context):
        inflight[0] -= 1

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    event.listen(engine.sync_engine, "handle_error", failed)
    factory = _CallersFactory(async_sessionmaker(engine, expire_on_commit=False))
    with record_queries(engine) as rec:
        try:
            result = await _acall(g, candidate, factory, list(ids))
        except LearnerError as exc:
            text = f"{exc.message}\n{exc.details}"
            if any(k in text for k in ("IllegalStateChangeError", "concurrent operations are not permitted",
                                       "another operation is in progress", "isce")):
                raise Fail(f"Your code raised an error because {SHARED}", _frames_only(exc.details)) from None
            if "TimeoutError" in exc.message and "connection timed out" in text:
                pool = engine.pool
                size = pool.size() + max(0, getattr(pool, "_max_overflow", 0))
                unclosed = len(factory.still_open())
                closed = (f"the {factory.calls} sessions your code made were never closed" if unclosed == factory.calls
                          else f"{unclosed} of the {factory.calls} sessions your code made were never closed")
                cause = (f"{closed}: a session keeps its connection until it is closed, so"
                         if unclosed >= size else f"more than {size} sessions held a connection at once, so")
                raise Fail(f"Your code raised sqlalchemy.exc.TimeoutError: {cause} all {size} connections of "
                           f"the engine's pool were checked out and the next session waited {POOL_TIMEOUT} s "
                           "for one in vain. Close each session when its task is done: "
                           "`async with session_factory() as session:` inside the task's function.",
                           _frames_only(exc.details)) from None
            raise
        finally:
            for session in factory.still_open():  # the answer's sessions that hold a connection
                with contextlib.suppress(Exception):
                    await session.close()
    sql = sql_listing(rec)
    if not isinstance(result, dict):
        raise Fail(f"The function should return a dict {{customer_id: number of orders}}, and it returned "
                   f"{safe_repr(result)}.", sql=sql)
    if result != expected:
        if result and all(isinstance(k, str) for k in result) and set(result) == {str(c) for c in ids}:
            raise Fail(f"The dict's keys are str ({safe_repr(next(iter(result)))}), and the customer ids "
                       "given are int: use each id as it was given as the key (no str()).", sql=sql)
        wrong = [c for c in ids if result.get(c) != expected[c]]
        extra = sorted(set(result) - set(ids), key=repr)
        if wrong:
            c = wrong[0]
            got = f"got {safe_repr(result[c])}" if c in result else "the dict has no entry for it"
            raise Fail(f"Wrong counts for {len(wrong)} of the {len(ids)} ids, e.g. customer {c}: expected "
                       f"{expected[c]}, {got}.", sql=sql)
        raise Fail(f"The dict has keys that were not asked for: {safe_repr(extra)}.", sql=sql)
    if factory.calls < len(ids):
        raise Fail(f"{len(ids)} ids, and your code made {factory.calls} session(s): one session per task is "
                   "required (a session must not be shared by tasks running at once).", sql=sql)
    peak = inflight[1]
    if peak < 2:
        raise Fail("The counts are right, but the queries ran one after the other (never two at once): run "
                   "them concurrently, e.g. with asyncio.gather over one coroutine per id.", sql=sql)
    if peak > LIMIT:
        raise Fail(f"{peak} queries ran at the same time; at most {LIMIT} are allowed. Share one "
                   f"asyncio.Semaphore({LIMIT}) between the tasks and hold it while the session works.", sql=sql)
    return f"{len(ids)} counts, {factory.calls} sessions, at most {peak} queries at a time."


# --------------------------------------------------------------------------
MAX_OBJECTS = 1000
SINK_PARAMETERS = ("order_id", "product_id", "amount")


def _export_lines(conn) -> tuple[list[tuple[int, int, Decimal]]]:
    return ([(o, p, q * u) for o, p, q, u in conn.execute(
        select(OrderItem.order_id, OrderItem.product_id, OrderItem.quantity, OrderItem.unit_price)
        .order_by(OrderItem.order_id, OrderItem.product_id))],)


@_async_exercise(
    "06-stream-items",
    read=_export_lines,
    title="Stream a large result without loading it whole",
    hints=[
        "(await session.scalars(stmt)).all() loads every row into memory. await session.stream_scalars(stmt) "
        "returns an async result you iterate with `async for`.",
        "Streaming alone is not enough for the ORM: add .execution_options(yield_per=200) to the statement, "
        "so that it builds 200 objects at a time.",
        "stmt = select(OrderItem).order_by(OrderItem.order_id, OrderItem.product_id)"
        ".execution_options(yield_per=200); async for item in await session.stream_scalars(stmt): "
        "sink(item.order_id, item.product_id, item.quantity * item.unit_price).",
    ],
)
async def grade_stream_items(candidate, g: Grading, fresh: Any, expected: list[tuple]) -> str:
    engine = fresh.async_engine
    options: list[dict] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        options.append(dict(context.execution_options) if context is not None else {})

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    got: list[tuple] = []
    peak = [0]
    unknown: list[str] = []  # keyword arguments sink() does not take
    with record_queries(engine) as rec:
        async with factory() as session:
            def sink(*args: Any, **kwargs: Any) -> None:
                # the task names the parameters: sink(order_id, product_id, amount) by keyword is correct
                names = SINK_PARAMETERS[len(args):]
                unknown.extend(k for k in kwargs if k not in names)
                got.append(args + tuple(kwargs[k] for k in names if k in kwargs))
                peak[0] = max(peak[0], len(session.identity_map))

            try:
                await _acall(g, candidate, session, sink)
            except LearnerError as exc:
                if "identity map is no longer valid" in exc.details:
                    raise Fail("Your code raised InvalidRequestError: session.expunge_all() inside the stream "
                               "replaces the session's identity map while the stream is still loading objects "
                               "into the old one, so the next batch cannot be added to it. Nothing is needed "
                               "between batches: the session holds an object only while your code references "
                               "it. To drop one object, session.expunge(item).",
                               _frames_only(exc.details)) from None
                raise
    sql = sql_listing(rec)
    if unknown:
        raise Fail(f"sink() was called with the keyword {unknown[0]!r}; its parameters are "
                   "sink(order_id, product_id, amount).", sql=sql)
    if [len(a) for a in got[:1]] not in ([], [3]):
        raise Fail(f"sink() takes 3 arguments (order_id, product_id, amount); your code passed {len(got[0])}.")
    shown_got = [safe_repr(a) for a in got]
    shown_expected = [safe_repr(a) for a in expected]
    if Counter(shown_got) != Counter(shown_expected):
        missing = Counter(shown_expected) - Counter(shown_got)
        extra = Counter(shown_got) - Counter(shown_expected)
        first_missing = next((a for a in shown_expected if a in missing), None)
        first_extra = next((a for a in shown_got if a in extra), None)
        example = ", ".join(
            part for part in (
                f"e.g. expected {first_missing}, which your code did not pass" if first_missing else "",
                f"{'and your code' if first_missing else 'e.g. your code'} passed {first_extra}, which was not "
                "expected"
                if first_extra else "") if part)
        raise Fail(f"Expected {len(expected)} calls of sink() with (order_id, product_id, quantity * "
                   f"unit_price), got {len(got)}, {sum(extra.values())} of them not expected; {example}.",
                   sql=sql)
    if got != expected:
        raise Fail("The lines are right but not in order of order_id, then product_id.", sql=sql)
    if not all(type(a) is Decimal for _, _, a in got):
        bad = next(a for _, _, a in got if type(a) is not Decimal)
        raise Fail(f"amount should be a Decimal (quantity * unit_price), got {type(bad).__name__}.", sql=sql)
    if rec.count != 1 or rec.commits:
        what = f"{rec.count} statements" + (f" and {rec.commits} commit(s)" if rec.commits else "")
        raise Fail(f"One statement (a SELECT) and no commit expected: the export only reads; your code sent "
                   f"{what}.", sql=sql)
    order_by = rec.statements[0].clause("ORDER BY")
    o_at, p_at = order_by.find("ORDER_ID"), order_by.find("PRODUCT_ID")
    if o_at < 0 or p_at < 0 or p_at < o_at or " DESC" in order_by:
        raise Fail("The lines came in the right order, but your query does not ask for it (ORDER BY "
                   "order_id, product_id), so that order is an accident. Add "
                   ".order_by(OrderItem.order_id, OrderItem.product_id).", sql=sql)
    opts = options[0] if options else {}
    if not opts.get("stream_results"):
        raise Fail("The rows were not streamed: your query loaded the whole result at once. Use "
                   "await session.stream_scalars(stmt) (or session.stream(stmt)) and iterate with async for.",
                   sql=sql)
    if not opts.get("yield_per"):
        raise Fail("The rows were streamed from the database, but without yield_per the ORM buffers the "
                   "whole result before giving you the first object. Add "
                   ".execution_options(yield_per=200) to the statement.", sql=sql)
    if peak[0] > MAX_OBJECTS:
        per = opts.get("yield_per")
        if isinstance(per, int) and per > MAX_OBJECTS // 2:
            why = (f"With yield_per={per} each batch builds {per} objects, too many; a few hundred "
                   "(yield_per=200) keep memory small")
        else:
            why = (f"Each batch holds only {per} objects (yield_per={per}), so your code keeps references "
                   "to the objects it has seen (a list it appends to, a comprehension over the whole "
                   "stream) and they stay in memory. Pass each object on to sink() as it arrives and keep "
                   "no reference to it")
        raise Fail(f"Up to {peak[0]} objects were in the session at once; a streamed export should hold at "
                   f"most {MAX_OBJECTS:,}. {why}.", sql=sql)
    return (f"{len(got)} lines streamed in 1 statement (yield_per={opts['yield_per']}), at most "
            f"{peak[0]} objects in the session at a time.")


# --------------------------------------------------------------------------
FORM_TIME = "2026-03-01T09:30:00+01:00"
WANT_TIME = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.timezone.utc)


def _a_customer_and_order_ids(conn) -> tuple[int, set[int]]:
    return (conn.scalar(select(Customer.id).order_by(Customer.id).offset(41).limit(1)),
            set(conn.scalars(select(Order.id))))


@_async_exercise(
    "06-strict-insert",
    read=_a_customer_and_order_ids,
    title="Form data into the database, on aiosqlite and asyncpg",
    hints=[
        "The form's values are strings. aiosqlite stores '42' in an Integer column without a word; "
        "asyncpg (PostgreSQL) refuses it. Convert each value to the column's Python type.",
        "int(form['customer_id']); dt.datetime.fromisoformat(form['created_at']) keeps the +01:00 "
        "offset, so the datetime is aware and means the right instant.",
        "order = Order(customer_id=int(...), status='pending', created_at=dt.datetime.fromisoformat(...)); "
        "session.add(order); await session.commit(); return order.id.",
    ],
)
async def grade_strict_insert(candidate, g: Grading, fresh: Any, customer_id: int, before_ids: set[int]) -> str:
    form = {"customer_id": str(customer_id), "created_at": FORM_TIME}
    factory = async_sessionmaker(fresh.async_engine, expire_on_commit=False)
    seen: list[Any] = []  # the new orders: ORM objects, or the values of a Core insert
    problems: list[str] = []

    def before_flush(session, flush_context, instances):
        for obj in session.new:
            if isinstance(obj, Order):
                seen.append(obj)
                customer = obj.__dict__.get("customer")  # set through the relationship
                problems.extend(_order_problems(obj.customer_id, customer, obj.created_at))

    def before_execute(conn, clause, multiparams, params, execution_options):
        # insert(Order).values(...) or session.execute(insert(Order), {...}): the values as given
        # (a flush's own INSERT is judged on its objects, in before_flush)
        if (getattr(clause, "is_insert", False) and getattr(getattr(clause, "table", None), "name", None) == Order.__tablename__
                and not session.sync_session._flushing):
            try:
                given = {k: v for k, v in clause.compile().params.items() if v is not None}
            except Exception:  # a statement that does not compile fails when it runs: the learner's error
                return
            for row in multiparams or [params or {}]:
                values = {**given, **(row if isinstance(row, dict) else {})}
                seen.append(values)
                problems.extend(_order_problems(values.get("customer_id"), None, values.get("created_at")))

    with record_queries(fresh.async_engine) as rec:
        async with factory() as session:
            event.listen(session.sync_session, "before_flush", before_flush)
            event.listen(fresh.async_engine.sync_engine, "before_execute", before_execute)
            try:
                result = await _acall(g, candidate, session, dict(form))
            except (LearnerError, Fail):
                if problems:  # asyncpg refused what aiosqlite would have stored: the same sentence
                    raise Fail(problems[0], sql=sql_listing(rec)) from None
                raise
    sql = sql_listing(rec)
    if problems:
        raise Fail(problems[0], sql=sql)
    with fresh.engine.connect() as conn:
        new = conn.execute(select(Order.id, Order.customer_id, Order.status)
                           .where(Order.id.not_in(before_ids))).all()
    if not seen:
        raise Fail("No order was inserted: create an Order and session.add() it.", sql=sql)
    if len(new) != 1:
        raise Fail(f"One new order expected in the database (committed), found {len(new)}: "
                   + ("commit it with await session.commit()." if not new else "insert exactly one."), sql=sql)
    oid, cid, status = new[0]
    if cid != customer_id or status != "pending":
        raise Fail(f"The new order should belong to customer {customer_id} with status 'pending'; it has "
                   f"customer {cid!r} and status {status!r}.", sql=sql)
    if type(result) is not int or result != oid:
        raise Fail(f"The function should return the new order's id ({oid}), and it returned {safe_repr(result)}.",
                   sql=sql)
    inserts = rec.kinds.get("INSERT", 0)
    if inserts != 1 or rec.commits != 1:
        raise Fail(f"One INSERT and one commit expected; your code sent {inserts} INSERT(s) and committed "
                   f"{rec.commits} time(s).", sql=sql)
    return f"order {oid} inserted with an int customer id and an aware created_at ({WANT_TIME:%H:%M} UTC)."


def _order_problems(cid: Any, customer: Any, when: Any) -> list[str]:
    """What asyncpg would refuse, or what would be stored wrong, in a new order's values
    (``customer``: a Customer set through the relationship, whose id the flush copies)."""
    out = []
    if cid is None and customer is not None:
        cid = customer.__dict__.get("id")
    if cid is None:
        out.append("The new order has no customer: set customer_id=int(form['customer_id']) (or the "
                   "customer relationship to the Customer with that id).")
    elif type(cid) is not int:
        out.append(f"customer_id is a {type(cid).__name__} ({safe_repr(cid)}): asyncpg (PostgreSQL) rejects "
                   f"a {type(cid).__name__} for an Integer column (aiosqlite silently accepts it). "
                   "Convert with int().")
    if not isinstance(when, dt.datetime):
        out.append(f"created_at is a {type(when).__name__} ({safe_repr(when)}), not a datetime: convert the "
                   "form's text with dt.datetime.fromisoformat().")
    elif when.tzinfo is None or when.utcoffset() is None:
        shown = when.isoformat(sep=" ", timespec="minutes" if not when.second and not when.microsecond else "auto")
        local_wall = dt.datetime.fromisoformat(FORM_TIME).replace(tzinfo=None)  # the form's wall-clock time
        if when == local_wall:
            why = ("the form's +01:00 was dropped, so asyncpg would read it in the Python process's local "
                   "time zone, not at +01:00 (on a machine set to UTC, an hour off)")
        elif when == WANT_TIME.replace(tzinfo=None):
            why = ("you converted to UTC and then dropped the offset, so asyncpg would read it in the Python "
                   "process's local time zone, not as UTC (right only on a machine set to UTC)")
        else:
            why = ("asyncpg would read it in the Python process's local time zone, and it is not the "
                   f"form's time either ({FORM_TIME})")
        out.append(f"created_at is a naive datetime (no time zone), {shown}: {why}. Keep the offset: "
                   "dt.datetime.fromisoformat(form['created_at']) without .replace(tzinfo=None).")
    elif when != WANT_TIME:
        out.append(f"created_at is {when.isoformat()}, which is not the form's instant ({FORM_TIME}).")
    return out

