"""Pieces the lesson graders share."""

from __future__ import annotations

import datetime as _dt
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.orm import Session

from ..grading import Grading, LearnerError
from ..recorder import QueryRecorder, record_queries
from ..registry import Fail


@contextmanager
def recorded_session(engine) -> Iterator[tuple[Session, QueryRecorder]]:
    """A new Session over ``engine`` and the recorder of the SQL sent inside the block."""
    with Session(engine) as session, record_queries(engine) as rec:
        yield session, rec


def plain(value: Any, _depth: int = 0) -> Any:
    """``value`` with every built-in scalar and container turned into its exact built-in type,
    so that a learner's subclass (an ``int`` whose ``__ne__`` always says equal, a ``list``
    whose ``__iter__`` lies) cannot change how the grader compares it.  The conversions call
    the built-in types' own methods (``int.__int__(x)``, ``list.__iter__(x)``), never the
    learner's overrides.  Other objects (ORM instances, rows) are returned as they are."""
    t = type(value)
    if value is None or t in (bool, int, float, str, bytes, Decimal, _dt.date, _dt.datetime):
        return value
    if _depth > 20:
        return value
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes):
        return bytes(memoryview(value))
    if isinstance(value, Decimal):
        return Decimal(Decimal.__str__(value))
    if isinstance(value, list):
        return [plain(v, _depth + 1) for v in list.__iter__(value)]
    if isinstance(value, tuple) and (t is tuple or not hasattr(t, "_fields")):
        return tuple(plain(v, _depth + 1) for v in tuple.__iter__(value))
    if isinstance(value, dict):
        return {plain(k, _depth + 1): plain(v, _depth + 1) for k, v in dict.items(value)}
    if isinstance(value, frozenset):
        return frozenset(plain(v, _depth + 1) for v in frozenset.__iter__(value))
    if isinstance(value, set):
        return {plain(v, _depth + 1) for v in set.__iter__(value)}
    return value


def instances_of(items: list[Any], cls: type, what: str) -> list[Any]:
    """``items`` if every one is a ``cls``; else a Fail naming the first other type (rows
    from ``execute()`` are recognised, and the fix said)."""
    for item in items:
        if not isinstance(item, cls):
            extra = (" These look like rows: session.scalars(...) returns the objects themselves."
                     if hasattr(item, "_mapping") else "")
            raise Fail(f"The function should return {cls.__name__} objects ({what}); one element is "
                       f"{type(item).__name__}.{extra}")
    return items


def run_recorded(
    g: Grading, fn: Any, engine, *args: Any, **kwargs: Any
) -> tuple[Any, QueryRecorder, LearnerError | None]:
    """Call ``fn(session, *args)`` on a new Session over ``engine``, recording its SQL, and
    return ``(result, recorder, error)``: the learner's exception is kept, not raised, so a
    grader can judge the SQL sent before it.

    Lazy results (a ScalarResult, a generator) are consumed inside the
    session, so the SQL they cause counts; the result is then ``plain()``.
    """
    result, error = None, None
    with recorded_session(engine) as (session, rec):
        try:
            result = g.call(fn, session, *args, **kwargs)
            if hasattr(result, "all") and callable(result.all) and not isinstance(result, (list, tuple)):
                result = g.call(result.all)
            elif inspect.isgenerator(result):
                result = g.call(list, result)
            result = g.call(plain, result)
        except LearnerError as exc:
            error = exc
    return result, rec, error


def run_with_session(
    g: Grading, fn: Any, engine, *args: Any, **kwargs: Any
) -> tuple[Any, QueryRecorder]:
    """Like ``run_recorded``, but the learner's exception is raised as feedback."""
    result, rec, error = run_recorded(g, fn, engine, *args, **kwargs)
    if error is not None:
        raise error
    return result, rec


SQL_WIDTH = 300  # a statement longer than this is cut in feedback (an INSERT of 1,000 rows is ~20 KB)


def short_sql(line: str, width: int = SQL_WIDTH) -> str:
    """One statement for feedback, cut to ``width`` characters with the length it had."""
    if len(line) <= width:
        return line
    return f"{line[:width]}... ({len(line):,} characters in all)"


def sql_listing(rec: QueryRecorder, limit: int = 8) -> list[str]:
    lines = [short_sql(s.one_line) for s in rec.statements[:limit]]
    if rec.count > limit:
        lines.append(f"... and {rec.count - limit} more")
    return lines


def expect_mapped_class(candidate: Any, what: str) -> None:
    """Fail with a plain sentence unless ``candidate`` is a mapped ORM class."""
    if getattr(candidate, "__mapper__", None) is None or getattr(candidate, "__table__", None) is None:
        raise Fail(
            f"{what} should be a mapped class: a subclass of your DeclarativeBase with a "
            f"__tablename__ and at least a primary key. {candidate.__name__} is not mapped."
        )


def copy_tables(*tables) -> MetaData:
    """Copies of ``tables`` in a new MetaData, to create them in a grading database."""
    md = MetaData()
    for table in tables:
        table.to_metadata(md)
    return md


def create_sql(rec: QueryRecorder) -> list[str]:
    return [s.sql.strip() for s in rec.statements if s.kind == "CREATE"]


@contextmanager
def mapping_errors(what: str) -> Iterator[None]:
    """Errors SQLAlchemy raises while the grader uses the learner's classes (a flush their
    mapping makes impossible, a constraint refusing the grader's valid rows) become feedback
    that names them, not a crash of the grader."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise Fail(f"{what} failed with your classes: {type(exc).__name__}: {first[:300]}",
                   "Compare each column and relationship with the task: its type, NULL or NOT "
                   "NULL, unique or not, and the cascade.") from None


def expect_string(table, name: str, length: int | None, *, nullable: bool | None = None) -> None:
    """Fail unless ``table.name`` is a String(length) (Text when length is None)."""
    from sqlalchemy import String, Text

    if name not in table.c:
        have = ", ".join(table.c.keys())
        raise Fail(f"The table {table.name!r} needs a column {name!r}; it has: {have}.")
    col = table.c[name]
    if length is None:
        if not isinstance(col.type, Text):
            raise Fail(f"{table.name}.{name} should be Text (any length), it is {col.type!r}.")
    elif isinstance(col.type, Text) or not isinstance(col.type, String) or col.type.length != length:
        raise Fail(f"{table.name}.{name} should be String({length}), it is {col.type!r}.")
    if nullable is not None and col.nullable != nullable:
        want = "optional (NULL allowed): Mapped[str | None]" if nullable else \
            "required (NOT NULL): Mapped[str], without None"
        raise Fail(f"{table.name}.{name} should be {want}.")


def safe_repr(value: Any, width: int = 60) -> str:
    """``repr(value)`` cut to ``width``; an ORM object whose repr cannot load its attributes
    (expired, its session closed) is shown by its type instead of crashing the grader."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= width else text[: width - 3] + "..."
