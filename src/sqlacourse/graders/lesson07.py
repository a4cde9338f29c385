"""Lesson 07 (bulk operations): graded by the driver calls, the statements and the rows.

Every grader calls the learner's function in a new Session while recording what
reaches the driver (``before_cursor_execute``: one entry per execute or
executemany, one per insertmanyvalues batch), with the execution options of each
call, then checks the rows in a separate session.  No grader measures time.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from ..grading import Grading, LearnerError
from ..recorder import QueryRecorder, record_queries
from ..registry import Fail, exercise
from ..shop import Customer, Order, OrderItem, Product
from ._common import short_sql, sql_listing

LESSON = "07-bulk"
PAGE_SIZE = 1000  # insertmanyvalues_page_size, SQLAlchemy's default


@dataclass
class _Calls:
    """What the driver received, with each call's execution options and cursor class."""

    rec: QueryRecorder
    options: list[dict[str, Any]] = field(default_factory=list)
    cursors: list[str] = field(default_factory=list)
    classes: list[type] = field(default_factory=list)  # each call's compiled statement's class

    def of_kind(self, kind: str) -> list[int]:
        return [i for i, s in enumerate(self.rec.statements) if s.kind == kind]


@contextmanager
def _recorded(engine) -> Iterator[tuple[Session, _Calls]]:
    with Session(engine) as session, record_queries(engine) as rec:
        calls = _Calls(rec)

        def on_execute(conn, cursor, statement, parameters, context, executemany):
            calls.options.append(dict(context.execution_options) if context is not None else {})
            calls.cursors.append(type(cursor).__name__)
            calls.classes.append(type(getattr(getattr(context, "compiled", None), "statement", None)))

        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            yield session, calls
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)


def _objects_made(session: Session, cls: type) -> tuple[list[int], Any]:
    """Count the ``cls`` objects the session takes in (added or loaded); returns the counter
    and a function that stops counting."""
    seen = [0]
    ids: set[int] = set()

    def count(obj) -> None:
        if id(obj) not in ids:  # an object built and then added counts once
            ids.add(id(obj))
            seen[0] += 1

    def added(sess, obj):
        if isinstance(obj, cls):
            count(obj)

    def built(target, args, kwargs):
        count(target)

    # "init": objects built and never added (bulk_save_objects takes them without the session's events)
    event.listen(session, "transient_to_pending", added)
    event.listen(session, "loaded_as_persistent", added)
    event.listen(cls, "init", built)

    def stop() -> None:
        event.remove(session, "transient_to_pending", added)
        event.remove(session, "loaded_as_persistent", added)
        event.remove(cls, "init", built)
    return seen, stop


def _shown(value: Any) -> str:
    """A value for a message: repr of plain values, the type of anything else (no addresses)."""
    if value is None or isinstance(value, (bool, int, float, str, Decimal)):
        return repr(value)
    return f"a {type(value).__name__}"


def _row(values: tuple[Any, ...]) -> str:
    return "(" + ", ".join(map(_shown, values)) + ")"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --------------------------------------------------------------------------
N_LINES = 5000
LINES_PER_ORDER = 5


@exercise(
    "07-import-lines",
    lesson=LESSON,
    title="Import 5,000 order lines in bulk",
    hints=[
        "Creating 5,000 OrderItem objects and flushing them is the slow path: the task wants the rows "
        "sent from the dicts as they are, with no ORM objects.",
        "session.execute(insert(OrderItem), lines) is the ORM bulk INSERT: one executemany (or one "
        "batch per 1,000 rows) for the whole list.",
        "def import_lines(session, lines):\n    session.execute(insert(OrderItem), lines)\n"
        "    session.commit()",
    ],
)
def grade_import_lines(candidate, g: Grading) -> str:
    with g.database() as fresh:
        with fresh.Session() as s:
            first = s.scalar(select(func.max(Order.id))) + 1
            n_orders = N_LINES // LINES_PER_ORDER
            stamp = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
            s.execute(insert(Order), [{"id": first + i, "customer_id": 1 + i % 200, "status": "pending",
                                       "created_at": stamp} for i in range(n_orders)])
            s.commit()
            existing = s.execute(select(OrderItem.order_id, OrderItem.product_id, OrderItem.quantity,
                                        OrderItem.unit_price).where(OrderItem.order_id < first)).all()
            existing = {tuple(r) for r in existing}
        lines = [{"order_id": first + i // LINES_PER_ORDER, "product_id": 1 + i % LINES_PER_ORDER,
                  "quantity": 1 + i % 3, "unit_price": Decimal(f"{1 + i % 50}.{i % 100:02d}")}
                 for i in range(N_LINES)]
        expected = {(r["order_id"], r["product_id"], r["quantity"], r["unit_price"]) for r in lines}
        with _recorded(fresh.engine) as (session, calls):
            made, stop = _objects_made(session, OrderItem)
            try:
                g.call(candidate, session, [dict(r) for r in lines])
            finally:
                stop()
        with fresh.Session() as s:
            got = {tuple(r) for r in s.execute(
                select(OrderItem.order_id, OrderItem.product_id, OrderItem.quantity, OrderItem.unit_price)
                .where(OrderItem.order_id >= first))}
            kept = {tuple(r) for r in s.execute(
                select(OrderItem.order_id, OrderItem.product_id, OrderItem.quantity, OrderItem.unit_price)
                .where(OrderItem.order_id < first))}
    rec = calls.rec
    sql = sql_listing(rec, 5)
    inserts = rec.of_kind("INSERT")
    limit = math.ceil(N_LINES / PAGE_SIZE)
    if len(inserts) > limit:
        per_row = sum(not s.executemany or _rows_in(s) == 1 for s in inserts)
        why = ("one INSERT per line: a loop of session.execute(insert(...).values(...)), or objects "
               "whose INSERTs could not be batched" if per_row > limit else "too many batches")
        raise Fail(f"{_plural(len(inserts), 'INSERT')} reached the driver for {N_LINES:,} lines; at most "
                   f"{limit} are allowed (ceil({N_LINES:,} / {PAGE_SIZE})): {why}. Send the whole list "
                   "at once: session.execute(insert(OrderItem), lines).", sql=sql)
    if made[0]:
        raise Fail(f"The rows were sent in {_plural(len(inserts), 'driver call')}, but your code made "
                   f"{made[0]:,} OrderItem objects (session.add/add_all, bulk_save_objects, or "
                   ".returning(OrderItem) loading them back). The task asks for a bulk INSERT from the "
                   "dicts without ORM objects: session.execute(insert(OrderItem), lines).", sql=sql)
    if kept != existing or rec.of_kind("DELETE"):
        raise Fail(f"The {len(existing):,} order lines already in the database were not left alone: "
                   f"{len(existing - kept):,} of them are gone or changed"
                   + (" (your code sent a DELETE)" if rec.of_kind("DELETE") else "") +
                   ". The import adds the new lines and touches nothing else.", sql=sql)
    if not inserts:
        raise Fail("No INSERT reached the database: pass the list of dicts to "
                   "session.execute(insert(OrderItem), lines).", sql=sql)
    if not got and not rec.committed:
        raise Fail(f"The INSERT ran ({_plural(len(inserts), 'driver call')}) but nothing was committed: "
                   "the session was closed and the rows rolled back. End with session.commit().", sql=sql)
    if got != expected:
        missing, extra = len(expected - got), len(got - expected)
        raise Fail(f"The order lines in the database are not the {N_LINES:,} given: {missing:,} missing "
                   f"or different, {extra:,} unexpected. Insert the dicts as they are.", sql=sql)
    how = "one executemany" if len(inserts) == 1 else f"{len(inserts)} batches"
    return (f"{N_LINES:,} order lines in {how} (at most {limit} allowed), no ORM objects, committed.")


def _rows_in(stmt) -> int:
    p = stmt.parameters
    if stmt.executemany and isinstance(p, (list, tuple)):
        return len(p)
    return 1


# --------------------------------------------------------------------------
@exercise(
    "07-update-prices",
    lesson=LESSON,
    title="New prices by primary key, in one executemany",
    hints=[
        "Loading each product to set its price costs a SELECT per product; an UPDATE per product "
        "costs a driver call each. The ORM can send all of them as one executemany.",
        "session.execute(update(Product), [{\"id\": 1, \"price\": ...}, ...]) is the ORM bulk UPDATE "
        "by primary key: each dict names the primary key and the new values.",
        "session.execute(update(Product), [{\"id\": pid, \"price\": price} for pid, price in "
        "new_prices.items()]), then session.commit().",
    ],
)
def grade_update_prices(candidate, g: Grading) -> str:
    with g.database() as fresh:
        with fresh.Session() as s:
            before = dict(s.execute(select(Product.id, Product.price).order_by(Product.id)).all())
            rest_before = {r[0]: tuple(r[1:]) for r in s.execute(
                select(Product.id, Product.sku, Product.name, Product.category_id, Product.created_at))}
        new_prices = {pid: (price * Decimal("1.10")).quantize(Decimal("0.01")) + Decimal("0.01")
                      for pid, price in before.items() if pid % 3 == 1}
        with _recorded(fresh.engine) as (session, calls):
            made, stop = _objects_made(session, Product)
            try:
                g.call(candidate, session, dict(new_prices))
            finally:
                stop()
        with fresh.Session() as s:
            after = dict(s.execute(select(Product.id, Product.price)).all())
            rest_after = {r[0]: tuple(r[1:]) for r in s.execute(
                select(Product.id, Product.sku, Product.name, Product.category_id, Product.created_at))}
    rec = calls.rec
    sql = sql_listing(rec, 5)
    updates = rec.of_kind("UPDATE")
    n = len(new_prices)
    if made[0] or rec.selects:
        raise Fail(f"Your code loaded the products first ({_plural(len(rec.selects), 'SELECT')}, "
                   f"{made[0]} Product objects) to change their prices. The task asks to update them by "
                   "primary key without reading them: session.execute(update(Product), [{\"id\": ..., "
                   "\"price\": ...}, ...]).", sql=sql)
    if len(updates) > 1:
        raise Fail(f"{_plural(len(updates), 'UPDATE')} reached the driver for {n} products, one per "
                   "product: 1 expected. Pass all the rows to one call: session.execute(update(Product), "
                   "list_of_dicts) sends one executemany.", sql=sql)
    if not updates:
        raise Fail("No UPDATE reached the database.", sql=sql)
    if not rec.committed:
        raise Fail("The UPDATE ran, but nothing was committed: the session was closed and the change "
                   "rolled back. End with session.commit().", sql=sql)
    if not updates[0].executemany and not updates[0].has("WHERE"):
        raise Fail(f"Your UPDATE has no WHERE clause: it rewrites all {len(before)} products (each row "
                   f"written and locked, even where the price stays the same) to change {n}. Update only "
                   "the ids in new_prices: the bulk UPDATE by primary key, or a WHERE id IN (...).", sql=sql)
    changed = {pid for pid in before if after[pid] != before[pid]}
    touched = sorted(pid for pid in rest_before if rest_after.get(pid) != rest_before[pid])
    if touched:
        pid = touched[0]
        cols = ("sku", "name", "category_id", "created_at")
        what = [c for c, x, y in zip(cols, rest_before[pid], rest_after.get(pid, ()) or (None,) * 4,
                                     strict=True) if x != y]
        raise Fail(f"{_plural(len(touched), 'product')} changed more than the price (e.g. product {pid}: "
                   f"{', '.join(what)}): the dicts name the primary key and the new price only, "
                   "{\"id\": pid, \"price\": price}.", sql=sql)
    wrong = sorted(pid for pid in new_prices if after[pid] != new_prices[pid])
    if wrong:
        pid = wrong[0]
        raise Fail(f"{_plural(len(wrong), 'product')} did not get the new price, e.g. product {pid}: "
                   f"expected {new_prices[pid]}, found {after[pid]}.", sql=sql)
    others = sorted(changed - set(new_prices))
    if others:
        raise Fail(f"{_plural(len(others), 'other product')} changed too (e.g. product {others[0]}): "
                   "update only the ids in new_prices.", sql=sql)
    how = "one executemany" if updates[0].executemany else "one statement"
    return f"{n} prices updated by primary key in {how}, no SELECT, committed."


# --------------------------------------------------------------------------
_NAIVE_AWARE = "can't compare offset-naive and offset-aware"


@exercise(
    "07-cancel-stale-orders",
    lesson=LESSON,
    title="Cancel stale pending orders with one UPDATE",
    hints=[
        "Loading the pending orders and setting their status one by one costs a SELECT and an UPDATE "
        "per order. One UPDATE ... WHERE does it in the database.",
        "update(Order).where(Order.status == \"pending\", Order.created_at < cutoff)"
        ".values(status=\"cancelled\"); the result's .rowcount says how many rows matched.",
        "Objects already in the session: synchronize_session=\"fetch\" updates exactly the rows the "
        "database matched (RETURNING); \"auto\" tries evaluating the WHERE in Python first, which on "
        "SQLite compares a naive created_at with an aware cutoff and raises TypeError. "
        "session.execute(stmt.execution_options(synchronize_session=\"fetch\")).rowcount",
    ],
)
def grade_cancel_stale_orders(candidate, g: Grading) -> str:
    with g.database() as fresh:
        with fresh.Session() as s:
            pending = s.execute(select(Order.id, Order.created_at).where(Order.status == "pending")
                                .order_by(Order.created_at, Order.id)).all()
            statuses = dict(s.execute(select(Order.id, Order.status)).all())
        when = pending[len(pending) // 2][1]
        cutoff = (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)
        expected = {oid for oid, created in pending
                    if (created if created.tzinfo else created.replace(tzinfo=dt.timezone.utc)) < cutoff}
        with _recorded(fresh.engine) as (session, calls):
            loaded = session.scalars(select(Order).order_by(Order.id)).all()
            start = calls.rec.count
            try:
                result = g.call(candidate, session, cutoff)
            except LearnerError as exc:
                if _NAIVE_AWARE in exc.details:
                    raise Fail("Your code raised TypeError (can't compare offset-naive and offset-aware "
                               "datetimes): synchronize_session \"auto\" (the default) or \"evaluate\" "
                               "evaluated your WHERE clause in Python on the orders in the session, and "
                               "SQLite returns created_at without a time zone. Let the database say "
                               "which rows matched: .execution_options(synchronize_session=\"fetch\").",
                               exc.details) from None
                raise
            mine = calls.rec.statements[start:]
            opts = calls.options[start:]
            committed = calls.rec.committed
            with record_queries(fresh.engine) as reread:
                seen = {o.id: o.status for o in loaded}
            session.commit()
        with fresh.Session() as s:
            after = dict(s.execute(select(Order.id, Order.status)).all())
    sql = [short_sql(st.one_line) for st in mine[:5]]
    updates = [(st, op) for st, op in zip(mine, opts, strict=True) if st.kind == "UPDATE"]
    if len(updates) != 1 or updates[0][0].executemany:
        calls_ = sum(_rows_in(st) for st, _ in updates)
        raise Fail(f"1 UPDATE with a WHERE clause expected; your code sent {_plural(len(updates), 'UPDATE')} "
                   f"({calls_} rows' worth of parameters), so it changed the orders one by one. Let the "
                   "database find them: update(Order).where(...).values(status=\"cancelled\").", sql=sql)
    stmt, opt = updates[0]
    if not stmt.has("WHERE"):
        raise Fail("Your UPDATE has no WHERE clause.", sql=sql)
    if committed:
        raise Fail("Your function committed: the task says the caller commits (a commit also expires "
                   "every object, which hides whether the session was synchronized).", sql=sql)
    changed = {oid for oid in statuses if after[oid] != statuses[oid]}
    if changed != expected or any(after[oid] != "cancelled" for oid in expected):
        raise Fail(f"Expected the {len(expected)} pending orders created before the cutoff to become "
                   f"'cancelled' and nothing else to change; in the database {len(changed)} orders "
                   f"changed ({len(changed & expected)} of the expected ones).", sql=sql)
    if isinstance(result, bool) or not isinstance(result, int) or result != len(expected):
        raise Fail(f"The function should return the number of orders cancelled ({len(expected)}): "
                   f"the UPDATE's result.rowcount. It returned {_shown(result)}.", sql=sql)
    stale = sorted(oid for oid in expected if seen.get(oid) != "cancelled")
    if reread.count:
        raise Fail(f"The database is right, but reading the orders already in the session sent "
                   f"{_plural(reread.count, 'SELECT')}: they were expired or refreshed instead of being "
                   "synchronized. synchronize_session=\"fetch\" updates them in place.",
                   sql=sql + [short_sql(s.one_line) for s in reread.statements[:2]])
    if stale:
        raise Fail(f"The database is right, but {_plural(len(stale), 'order')} already loaded in the "
                   f"session still say 'pending' (e.g. order {stale[0]}): synchronize_session=False "
                   "leaves the objects as they were. Use synchronize_session=\"fetch\".", sql=sql)
    mode = opt.get("synchronize_session", "auto")
    if mode != "fetch":
        raise Fail(f"Right result on {fresh.engine.dialect.name}, but not portable: "
                   f"synchronize_session={mode!r} evaluates your WHERE in Python on the loaded orders, and "
                   "on SQLite, where created_at comes back without a time zone, comparing it with the aware "
                   "cutoff raises TypeError. The task asks for code that runs on both databases: "
                   "synchronize_session=\"fetch\".", sql=sql)
    return (f"{len(expected)} orders cancelled by one UPDATE ... WHERE; the orders in the session were "
            "synchronized from the rows the database matched, with no extra SELECT.")


def _is_from(value: Any, word: str) -> bool:
    """Whether ``value`` (or an item of a dict, list or tuple) comes from sqlalchemy.dialects.<word>."""
    items = list(dict.values(value)) if type(value) is dict else \
        list(value) if type(value) in (list, tuple) else [value]
    where = f"sqlalchemy.dialects.{word}"
    for v in items[:20]:
        name = v.__name__ if isinstance(v, type(re)) else getattr(v, "__module__", None)
        if isinstance(name, str) and name.startswith(where):
            return True
    return False


def _names_in(source: str) -> set[str]:
    """The names a piece of code uses (variables, attributes, imported modules), read from its
    syntax tree: comments and strings do not count."""
    import ast
    import textwrap

    names: set[str] = set()
    for node in ast.walk(ast.parse(textwrap.dedent(source))):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.update(node.name.split("."))
            if node.asname:
                names.add(node.asname)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update(node.module.split("."))
    return names


def _mentions(fn: Any, word: str, depth: int = 3) -> bool | None:
    """Whether the code of ``fn``, or of a function of its module it names (a helper that picks
    the insert), uses the name ``word`` (a comment or a string does not count); None when no
    source can be read (then nothing is judged)."""
    import inspect

    seen: set[int] = set()
    found_any = False

    def visit(f: Any, level: int) -> bool:
        nonlocal found_any
        f = inspect.unwrap(f) if callable(f) else f
        if id(f) in seen or level > depth or not (inspect.isfunction(f) or inspect.ismethod(f)):
            return False
        seen.add(id(f))
        try:
            names = _names_in(inspect.getsource(f))
        except (OSError, TypeError, SyntaxError, ValueError):
            return False
        found_any = True
        if word in names:
            return True
        glob = getattr(f, "__globals__", {})
        used = [n for n in f.__code__.co_names if n in glob]
        # a name bound to the dialect's module or insert (`from ...postgresql import insert as pg_insert`,
        # a dict of inserts by dialect name)
        if any(_is_from(glob[n], word) for n in used):
            return True
        return any(visit(glob[n], level + 1) for n in used)

    try:
        hit = visit(fn, 0)
    except Exception:  # a learner's object whose source cannot be walked: not judged
        return None
    return hit if found_any else None


def _refuse_to_connect():
    raise RuntimeError("this session is not connected to a database")


class _DryResult:
    """What the dry run's execute() returns: no rows."""

    def __init__(self, params: Any) -> None:
        self.rowcount = len(params) if isinstance(params, (list, tuple)) else 1

    def __iter__(self):
        return iter(())

    def all(self) -> list:
        return []

    fetchall = all

    def scalars(self, *_a: Any, **_k: Any) -> _DryResult:
        return self

    def first(self) -> None:
        return None

    scalar = one_or_none = scalar_one_or_none = first

    def close(self) -> None:
        pass


class _DryConnection:
    """session.connection() in a dry run: the other dialect, statements recorded, nothing sent."""

    def __init__(self, session: _DrySession) -> None:
        self._session = session
        self.engine = session.bind
        self.dialect = session.bind.dialect

    def execute(self, statement: Any, parameters: Any = None, **_kw: Any) -> _DryResult:
        self._session.sent.append(statement)
        return _DryResult(parameters)

    def exec_driver_sql(self, statement: Any, parameters: Any = None, **_kw: Any) -> _DryResult:
        return self.execute(statement, parameters)

    def commit(self) -> None:
        pass

    rollback = close = commit


class _DrySession(Session):
    """A Session bound to an engine of another dialect that never connects: execute() records
    the statement the answer built and sends nothing, so the grader sees which insert() the
    answer picks for that dialect."""

    def __init__(self, engine) -> None:
        super().__init__(bind=engine)
        self.sent: list[Any] = []

    def execute(self, statement: Any, params: Any = None, **_kw: Any) -> Any:
        self.sent.append(statement)
        return _DryResult(params)

    def scalars(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self.execute(statement, params, **kw)

    def scalar(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        self.execute(statement, params, **kw)
        return None

    def connection(self, *_a: Any, **_kw: Any) -> Any:
        return _DryConnection(self)

    def commit(self) -> None:
        pass

    def flush(self, objects: Any = None) -> None:
        pass

    def rollback(self) -> None:
        pass


_DRY_URLS = {"postgresql": "postgresql+psycopg://dry-run@localhost/none", "sqlite": "sqlite://"}


def _built_for(candidate: Any, g: Grading, rows: list[dict[str, Any]], dialect: str) -> tuple[str, Any] | None:
    """Call the answer once more with a session bound to ``dialect`` (an engine that never
    connects) and judge the INSERT statements it builds: ("ok", classes), ("broken", (stmt class,
    error)) when one does not compile for that dialect, or None when nothing could be judged
    (the answer raised there, or built no INSERT)."""
    import contextlib
    import io

    from sqlalchemy import create_engine
    from sqlalchemy.sql.dml import Insert

    try:
        engine = create_engine(_DRY_URLS[dialect], creator=_refuse_to_connect)
    except Exception:  # the driver of the other dialect is not installed: not judged
        return None
    session = _DrySession(engine)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            g.call(candidate, session, [dict(r) for r in rows])
    except LearnerError:
        return None
    finally:
        with contextlib.suppress(Exception):
            Session.close(session)
    inserts = [s for s in session.sent if isinstance(s, Insert)]
    if not inserts:
        return None
    for stmt in inserts:
        try:
            stmt.compile(dialect=engine.dialect)
        except Exception as exc:  # noqa: BLE001 - the dialect's own refusal is the finding
            return "broken", (type(stmt), f"{type(exc).__name__}: {exc}")
    return "ok", [type(s) for s in inserts]


def _module_of(cls: type) -> str:
    module = getattr(cls, "__module__", "") or ""
    return ".".join(module.split(".")[:3]) if module.startswith("sqlalchemy.dialects.") else module


# --------------------------------------------------------------------------
N_EXISTING = 30
N_NEW = 20
_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@exercise(
    "07-upsert-customers",
    lesson=LESSON,
    title="Upsert customers by email, keeping their ids",
    hints=[
        "Looking each email up first costs a SELECT per customer, and deleting and re-inserting changes "
        "the ids that orders point to. An INSERT ... ON CONFLICT does both cases in the database.",
        "The upsert is dialect-specific: sqlalchemy.dialects.sqlite.insert or "
        "sqlalchemy.dialects.postgresql.insert; pick by session.get_bind().dialect.name. "
        ".on_conflict_do_update(index_elements=[Customer.email], set_={...}) with stmt.excluded for "
        "the new values.",
        "stmt = dialect_insert(Customer); stmt = stmt.on_conflict_do_update(index_elements=[Customer.email], "
        "set_={\"name\": stmt.excluded.name, \"country\": stmt.excluded.country}); "
        "session.execute(stmt, rows); session.commit()",
    ],
)
def grade_upsert_customers(candidate, g: Grading) -> str:
    with g.database() as fresh:
        with fresh.Session() as s:
            before = {c.email: (c.id, c.name, c.country, c.created_at)
                      for c in s.scalars(select(Customer).order_by(Customer.id))}
        stamp = dt.datetime(2026, 2, 1, 12, 0, tzinfo=dt.timezone.utc)
        existing = list(before)[5:5 + N_EXISTING]
        rows = [{"email": e, "name": f"Renamed {i}", "country": "IS", "created_at": stamp}
                for i, e in enumerate(existing)]
        rows += [{"email": f"new{i}@example.com", "name": f"New {i}", "country": "NO", "created_at": stamp}
                 for i in range(N_NEW)]
        with _recorded(fresh.engine) as (session, calls):
            g.call(candidate, session, [dict(r) for r in rows])
        with fresh.Session() as s:
            after = {c.email: (c.id, c.name, c.country, c.created_at)
                     for c in s.scalars(select(Customer).order_by(Customer.id))}
    rec = calls.rec
    sql = sql_listing(rec, 5)
    inserts = rec.of_kind("INSERT")
    if rec.selects:
        raise Fail(f"Your code sent {_plural(len(rec.selects), 'SELECT')} to find out which customers "
                   "exist (session.merge or a lookup does that per row). Let the database decide: "
                   "INSERT ... ON CONFLICT (email) DO UPDATE, one statement for all rows.", sql=sql)
    if rec.of_kind("DELETE"):
        raise Fail("Your code deleted rows: a delete and re-insert gives existing customers new ids "
                   "(and orders point to the old ones). Update them in place with ON CONFLICT DO UPDATE.",
                   sql=sql)
    if len(inserts) > math.ceil(len(rows) / PAGE_SIZE) or rec.of_kind("UPDATE"):
        raise Fail(f"{_plural(rec.count, 'statement')} for {len(rows)} rows "
                   f"({_plural(len(inserts), 'INSERT')}, {_plural(len(rec.of_kind('UPDATE')), 'UPDATE')}): "
                   "one INSERT ... ON CONFLICT for the whole list is expected: session.execute(stmt, rows).",
                   sql=sql)
    if not inserts:
        raise Fail("No INSERT reached the database.", sql=sql)
    here = fresh.engine.dialect.name
    other = "postgresql" if here == "sqlite" else "sqlite"
    verdict = _built_for(candidate, g, rows, other)
    if verdict is not None and verdict[0] == "broken":
        cls, error = verdict[1]
        raise Fail(f"Given a session bound to {_NAMES[other]}, your code still uses {_module_of(cls)}.insert: "
                   f"it works here, on {_NAMES[here]}, but {_NAMES[other]} cannot run that statement "
                   f"({short_sql(error)}). The task asks for code that runs on both: pick sqlite.insert or "
                   "postgresql.insert by session.get_bind().dialect.name.", sql=sql)
    from sqlalchemy.dialects import sqlite as _sqlite

    if (verdict is None and here == "sqlite"
            and any(isinstance(c, type) and issubclass(c, _sqlite.Insert) for c in calls.classes)
            and _mentions(candidate, "postgresql") is False):
        raise Fail("Your code always uses sqlalchemy.dialects.sqlite.insert: it works here, on SQLite, but "
                   "on PostgreSQL that statement fails (AttributeError: 'OnConflictDoUpdate' object has no "
                   "attribute 'constraint_target'). The task asks for code that runs on both: pick "
                   "sqlite.insert or postgresql.insert by session.get_bind().dialect.name.", sql=sql)
    if not rec.committed and all(r["email"] not in after for r in rows[N_EXISTING:]):
        raise Fail("The upsert ran but nothing was committed: end with session.commit().", sql=sql)
    moved = [e for e in existing if e in after and after[e][0] != before[e][0]]
    if moved:
        raise Fail(f"{_plural(len(moved), 'existing customer')} got a new id (e.g. {moved[0]}: "
                   f"{before[moved[0]][0]} -> {after[moved[0]][0]}): the old row was replaced by a new one "
                   "(INSERT OR REPLACE does that). Use ON CONFLICT DO UPDATE to keep the row.", sql=sql)
    gone = [e for e in existing if e not in after]
    if gone:
        raise Fail(f"{_plural(len(gone), 'existing customer')} disappeared (e.g. {gone[0]}): update them in place "
                   "with ON CONFLICT DO UPDATE.", sql=sql)
    stale = [i for i, e in enumerate(existing) if after[e][1:3] != (rows[i]["name"], rows[i]["country"])]
    if stale:
        e = existing[stale[0]]
        name_ok = all(after[x][1] == rows[i]["name"] for i, x in enumerate(existing))
        country_ok = all(after[x][2] == rows[i]["country"] for i, x in enumerate(existing))
        if name_ok or country_ok:
            kept, given = ("country", "name") if name_ok else ("name", "country")
            why = (f"your set_ updates the {given} but not the {kept}: set_ must name both name and "
                   "country (from stmt.excluded)")
        else:
            why = ("the conflicting rows were skipped (on_conflict_do_nothing does that) or set_ names "
                   "neither: on_conflict_do_update with set_ naming both name and country (from stmt.excluded)")
        raise Fail(f"{_plural(len(stale), 'existing customer')} kept the old name or country (e.g. {e}: "
                   f"{after[e][1]!r}, {after[e][2]!r}): {why}.", sql=sql)
    kept_date = [e for e in existing if after[e][3] != before[e][3]]
    if kept_date:
        raise Fail(f"created_at of {_plural(len(kept_date), 'existing customer')} changed: the task says "
                   "update name and country only; leave created_at out of set_.", sql=sql)
    missing = [r["email"] for r in rows[N_EXISTING:] if r["email"] not in after
               or after[r["email"]][1:3] != (r["name"], r["country"])]
    if missing:
        raise Fail(f"{_plural(len(missing), 'new customer')} missing or wrong in the database (e.g. "
                   f"{missing[0]}).", sql=sql)
    others = [e for e in before if e not in existing and after.get(e) != before[e]]
    if others or len(after) != len(before) + N_NEW:
        raise Fail(f"Other customers changed too ({len(others)}), or the count is wrong: {len(after)} "
                   f"customers, expected {len(before) + N_NEW}.", sql=sql)
    return (f"{N_EXISTING} customers updated in place (same ids) and {N_NEW} inserted by one "
            f"INSERT ... ON CONFLICT ({_plural(len(inserts), 'driver call')}), no SELECT, committed.")


# --------------------------------------------------------------------------
MAX_BATCH = 500
_BY_ORDER_PRODUCT = re.compile(r"\bORDER_ID\b(?!\s+DESC)[^,]*,\s*[\w.]*\bPRODUCT_ID\b(?!\s+DESC)")


@exercise(
    "07-export-lines",
    lesson=LESSON,
    title="Export all order lines, streamed with yield_per",
    hints=[
        "session.scalars(stmt).all() builds every object before the first one is written: memory grows "
        "with the table. yield_per makes the result arrive in batches (a server-side cursor on "
        "PostgreSQL).",
        "Put the option on the statement: select(OrderItem).order_by(OrderItem.order_id, "
        "OrderItem.product_id).execution_options(yield_per=500), and loop over the result "
        "(or its .partitions()) without calling .all().",
        "for item in session.scalars(stmt):\n    write(item.order_id, item.product_id, item.quantity, "
        "item.unit_price)\n    n += 1\nreturn n",
    ],
)
def grade_export_lines(candidate, g: Grading) -> str:
    with g.database() as fresh:
        with fresh.Session() as s:
            expected = [tuple(r) for r in s.execute(
                select(OrderItem.order_id, OrderItem.product_id, OrderItem.quantity, OrderItem.unit_price)
                .order_by(OrderItem.order_id, OrderItem.product_id))]
        written: list[tuple[Any, ...]] = []
        held_at_first: list[int] = []
        with _recorded(fresh.engine) as (session, calls):

            def write(*row: Any) -> None:
                if not held_at_first:
                    held_at_first.append(sum(isinstance(o, OrderItem) for o in session.identity_map.values()))
                written.append(tuple(row))

            result = g.call(candidate, session, write)
    rec = calls.rec
    sql = sql_listing(rec, 5)
    if written != expected:
        if sorted(written, key=repr) == sorted(expected, key=repr):
            raise Fail("All order lines were written, but not in (order_id, product_id) order: add "
                       ".order_by(OrderItem.order_id, OrderItem.product_id) to the query.", sql=sql)
        raise Fail(f"Expected {len(expected):,} calls write(order_id, product_id, quantity, unit_price) "
                   f"in (order_id, product_id) order; got {len(written):,}"
                   + (f", the first {_row(written[0])} instead of {_row(expected[0])}" if written else "") + ".",
                   sql=sql)
    if rec.count != 1 or rec.statements[0].kind != "SELECT":
        raise Fail(f"1 SELECT expected, {rec.summary()} sent: one query, streamed, not a query per "
                   "order or per page.", sql=sql)
    if not rec.statements[0].has("ORDER BY"):
        raise Fail("The lines came out in order, but your query has no ORDER BY: that order is an accident "
                   "of the storage. Sort in the query.", sql=sql)
    if not _BY_ORDER_PRODUCT.search(rec.statements[0].clause("ORDER BY")):
        raise Fail("The lines came out in order, but your ORDER BY does not sort by order_id and then "
                   "product_id, so the order of the lines within an order is an accident of the storage: "
                   ".order_by(OrderItem.order_id, OrderItem.product_id).", sql=sql)
    opts = calls.options[0]
    batch = opts.get("yield_per") or (opts.get("max_row_buffer") if opts.get("stream_results") else None)
    if (held_at_first and held_at_first[0] > MAX_BATCH and opts.get("stream_results")
            and not opts.get("yield_per")):
        raise Fail(f"The driver streams (stream_results=True), but without yield_per the ORM still builds "
                   f"every object before returning the first: {held_at_first[0]:,} OrderItem objects "
                   "existed when the first line was written. Use "
                   f".execution_options(yield_per={MAX_BATCH}) on the statement: it streams and builds the "
                   "objects one batch at a time.", sql=sql)
    if not batch:
        raise Fail("The query was not streamed: the whole result was fetched at once. Run it with "
                   f".execution_options(yield_per={MAX_BATCH}) on the statement (Result.yield_per() "
                   "after the query has run does not make the driver stream).", sql=sql)
    if batch > MAX_BATCH:
        raise Fail(f"yield_per={batch}: batches of at most {MAX_BATCH} rows are asked for.", sql=sql)
    if held_at_first and held_at_first[0] > MAX_BATCH:
        raise Fail(f"The query streams, but {held_at_first[0]:,} OrderItem objects were already built when "
                   "the first line was written: .all() (or list()) collects every row before your loop. "
                   "Iterate over the result itself (or .partitions()).", sql=sql)
    if isinstance(result, bool) or result != len(expected):
        raise Fail(f"The function should return the number of lines written ({len(expected):,}), and it "
                   f"returned {_shown(result)}.", sql=sql)
    where = "a server-side cursor" if calls.cursors[0] == "ServerCursor" else "the driver's cursor"
    return (f"{len(expected):,} order lines written in order by one streamed SELECT (batches of {batch}, "
            f"{where}).")
