"""Pieces the lesson graders share."""

from __future__ import annotations

import inspect
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.orm import Session

from ..grading import Fail, Grading
from ..recorder import QueryRecorder, record_queries


def run_with_session(
    g: Grading, fn: Any, engine, *args: Any, **kwargs: Any
) -> tuple[Any, QueryRecorder]:
    """Call ``fn(session, *args)`` on a new Session over ``engine``, recording its SQL.

    Lazy results (a ScalarResult, a generator) are consumed inside the
    session, so the SQL they cause counts.
    """
    with Session(engine) as session, record_queries(engine) as rec:
        result = g.call(fn, session, *args, **kwargs)
        if hasattr(result, "all") and callable(result.all) and not isinstance(result, (list, tuple)):
            result = g.call(result.all)
        elif inspect.isgenerator(result):
            result = g.call(list, result)
    return result, rec


def sql_listing(rec: QueryRecorder, limit: int = 8) -> list[str]:
    lines = [s.one_line for s in rec.statements[:limit]]
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
