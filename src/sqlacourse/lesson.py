"""Setting up a notebook's database in one call.

    from sqlacourse import setup
    course = setup("02-sessions")      # fresh database, shop tables and data, SQL echo on
    course.engine, course.Session, course.async_engine

``setup`` always starts from nothing: it drops what the notebook made before,
so "Restart kernel and run all" gives the same result every time.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from . import echo as _echo
from .backend import CourseDatabase, workdir


def _row_total(counts: dict[str, int]) -> int:
    return sum(counts.values())


def _create_and_load(engine: Engine, metadata: MetaData | None, data: bool) -> int:
    from . import shop

    metadata = metadata if metadata is not None else shop.Base.metadata
    metadata.create_all(engine)
    if data:
        from . import data as shop_data

        return _row_total(shop_data.load(engine))
    return 0


_template: dict[str, Any] = {}


def _sqlite_from_template(db: CourseDatabase) -> int:
    """Copy a once-built SQLite file with the shop schema and data (fast)."""
    if "path" not in _template:
        template = CourseDatabase("_template_shop_data")
        template.reset()
        engine = template.create_engine()
        try:
            _template["rows"] = _create_and_load(engine, None, True)
        finally:
            engine.dispose()
        _template["path"] = template.path
    assert db.path is not None
    shutil.copyfile(_template["path"], db.path)
    return _template["rows"]


def prepare(db: CourseDatabase, *, data: bool, metadata: MetaData | None = None) -> int:
    """Reset ``db``; then create ``metadata``'s tables, or with ``data=True`` (and no
    metadata) the shop's tables filled with the course data.  ``data=False`` and no
    metadata leave the database empty."""
    db.reset()
    if metadata is None and not data:
        return 0
    if db.path is not None and metadata is None and data:
        return _sqlite_from_template(db)
    engine = db.create_engine()
    try:
        return _create_and_load(engine, metadata, data)
    finally:
        engine.dispose()


def _install_deadline(engine: Engine, db: CourseDatabase, deadline: float) -> None:
    """Make long-running SQL stop at the deadline (SQLite progress handler /
    PostgreSQL statement_timeout)."""
    if db.path is not None:

        @event.listens_for(engine, "connect")
        def _progress(dbapi_connection, _record):
            dbapi_connection.set_progress_handler(
                lambda: 1 if time.monotonic() > deadline else 0, 10_000
            )
    else:

        @event.listens_for(engine, "connect")
        def _timeout(dbapi_connection, _record):
            ms = max(100, int((deadline - time.monotonic()) * 1000) + 500)
            with dbapi_connection.cursor() as cur:
                cur.execute(f"SET statement_timeout = {ms}")
            dbapi_connection.commit()


@dataclass
class FreshDatabase:
    db: CourseDatabase
    engine: Engine
    rows: int

    @property
    def Session(self) -> sessionmaker:
        return sessionmaker(self.engine)


@contextlib.contextmanager
def fresh_database(
    name: str,
    *,
    data: bool = True,
    metadata: MetaData | None = None,
    deadline: float | None = None,
    **engine_kwargs: Any,
) -> Iterator[FreshDatabase]:
    """A throw-away database, dropped at the end of the block."""
    db = CourseDatabase(name, unique=True)  # a name of its own: concurrent checks never meet
    engine = None
    try:
        rows = prepare(db, data=data, metadata=metadata)
        engine = db.create_engine(**engine_kwargs)
        if deadline is not None:
            _install_deadline(engine, db, deadline)
        yield FreshDatabase(db, engine, rows)
    finally:
        if engine is not None:
            engine.dispose()
        with contextlib.suppress(Exception):
            db.drop()


class Lesson:
    """A notebook's own database with a ready engine and session factory."""

    def __init__(self, name: str, db: CourseDatabase, rows: int, echo: bool) -> None:
        self.name = name
        self.db = db
        self.rows = rows
        self.engine: Engine = db.create_engine(echo=echo)
        self.Session = sessionmaker(self.engine)
        self._async_engine = None
        self._echo = echo

    @property
    def async_engine(self):
        """An AsyncEngine on the same database (aiosqlite or asyncpg), made on first use."""
        if self._async_engine is None:
            self._async_engine = self.db.create_async_engine(echo=self._echo)
        return self._async_engine

    @property
    def backend(self) -> str:
        """``'sqlite'`` or ``'postgresql'``."""
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()
        engine, self._async_engine = self._async_engine, None
        if engine is not None:
            _dispose_async(engine)

    def __repr__(self) -> str:
        return f"<Lesson {self.name!r} on {self.db.label}>"


_open: dict[str, Lesson] = {}


def _dispose_async(engine) -> None:
    """End an AsyncEngine's idle connections now, from sync code.  Closing them politely is IO
    that must be awaited on the loop that made them (``sync_engine.dispose()`` fails with a
    MissingGreenlet per connection), and the setup that calls this goes on to reset the
    database at once (on PostgreSQL ending the notebook's backends).  So each one is
    invalidated, which outside a greenlet makes the async dialect hard-close it without
    awaiting (asyncpg's ``terminate()``, aiosqlite's ``stop()``)."""
    sync_engine = engine.sync_engine
    pool = sync_engine.pool
    sync_engine.dispose(close=False)  # the engine gets a fresh pool: the old one is ours to empty
    idle = getattr(pool, "_pool", None)  # the QueuePool's idle connections
    while idle is not None:
        try:
            record = idle.get(False)
        except Exception:  # empty
            break
        record.invalidate()


def setup(name: str, *, data: bool = True, echo: bool = True, quiet: bool = False) -> Lesson:
    """Give this notebook a fresh database: the shop tables and data (``data=True``)
    or nothing at all (``data=False``), and an engine whose SQL echo is readable."""
    _echo.install()
    if name in _open:
        _open.pop(name).close()
    db = CourseDatabase(name)
    rows = prepare(db, data=data)
    lesson = Lesson(name, db, rows, echo)
    _open[name] = lesson
    if not quiet:
        what = f"shop data loaded ({rows:,} rows)" if data else "empty database"
        print(f"{db.target.label}: {what}. SQL echo {'on' if echo else 'off'}.")
    return lesson


__all__ = ["setup", "fresh_database", "prepare", "Lesson", "FreshDatabase", "workdir"]
