"""Which database the course uses, and the course's own corner of it.

``SQLACOURSE_DATABASE_URL`` picks the backend for the whole course:

* unset (or ``sqlite``): SQLite files in a private temporary folder, sync
  through ``sqlite3`` and async through ``aiosqlite``.  Nothing to install.
* ``embedded``: a private PostgreSQL started from pip (see ``embedded.py``).
* ``postgresql://user:password@host:5432/dbname``: that server.  Sync code
  uses psycopg 3 and async code asyncpg, both derived from the one URL.

Every notebook (and every graded check) gets a database of its own: a file on
SQLite, a schema named ``sqlacourse_<user>_<name>`` on PostgreSQL, reached
through ``search_path`` so the SQL a learner reads has no schema prefix.  The
course creates and drops only those.  Pointed at a PostgreSQL database that
holds any table outside such schemas, it refuses before changing anything.
Passwords are never printed.
"""

from __future__ import annotations

import atexit
import getpass
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

ENV_URL = "SQLACOURSE_DATABASE_URL"
EMBEDDED_WORDS = {"embedded", "pgserver", "embedded-postgresql"}
SCHEMA_PREFIX = "sqlacourse_"


class CourseDatabaseError(RuntimeError):
    """The course cannot (or must not) use the configured database."""


@dataclass(frozen=True)
class Target:
    """The backend chosen by ``SQLACOURSE_DATABASE_URL``."""

    kind: str  # "sqlite" or "postgresql"
    server_url: URL | None = None  # PostgreSQL, sync driver, without schema
    embedded: bool = False

    @property
    def is_postgresql(self) -> bool:
        return self.kind == "postgresql"

    @property
    def label(self) -> str:
        if self.kind == "sqlite":
            return "SQLite (embedded, a file of its own per notebook)"
        if self.embedded:
            return "PostgreSQL (embedded server started from pip)"
        assert self.server_url is not None
        return f"PostgreSQL at {safe_url(self.server_url)}"


def safe_url(url: URL | str) -> str:
    """The URL as text with any password replaced by ``***``."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except ArgumentError:
            return "<a value that is not a database URL>"
    return url.render_as_string(hide_password=True)


def parse_target(value: str | None) -> Target:
    """Interpret a ``SQLACOURSE_DATABASE_URL`` value (``None``: the environment)."""
    if value is None:
        value = os.environ.get(ENV_URL, "")
    value = value.strip()
    if not value or value.lower() == "sqlite":
        return Target("sqlite")
    if value.lower() in EMBEDDED_WORDS:
        return Target("postgresql", embedded=True)
    try:
        url = make_url(value)
    except ArgumentError:
        raise CourseDatabaseError(
            f"{ENV_URL} is not a database URL (its value is not shown, in case it "
            "holds a password). Use postgresql://user:password@host:5432/dbname, "
            "'embedded' for a private PostgreSQL, or unset it for SQLite."
        ) from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        return Target("postgresql", server_url=url.set(drivername="postgresql+psycopg"))
    if backend == "sqlite":
        raise CourseDatabaseError(
            f"{ENV_URL} points at SQLite ({safe_url(url)}). The course manages its "
            "SQLite files itself: unset the variable to use SQLite."
        )
    raise CourseDatabaseError(
        f"{ENV_URL} points at a {backend!r} database ({safe_url(url)}). "
        "The course runs on SQLite and PostgreSQL only."
    )


@cache
def _embedded_url() -> URL:
    from . import embedded

    return make_url(embedded.start()).set(drivername="postgresql+psycopg")


def resolve(target: Target) -> Target:
    """Start the embedded server if the target needs it; return a target with a URL."""
    if target.embedded and target.server_url is None:
        try:
            url = _embedded_url()
        except RuntimeError as exc:
            raise CourseDatabaseError(str(exc)) from None
        return Target("postgresql", server_url=url, embedded=True)
    return target


def current_target() -> Target:
    return resolve(parse_target(None))


def _slug(text_: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text_.lower()).strip("_")
    return slug or "x"


def schema_name(name: str, user: str | None = None) -> str:
    """``sqlacourse_<user>_<name>``, at most 63 characters (PostgreSQL's limit)."""
    user = user if user is not None else os.environ.get("SQLACOURSE_USER") or getpass.getuser()
    return (SCHEMA_PREFIX + _slug(user) + "_" + _slug(name))[:63]


_FOREIGN_TABLES = text(
    """
    SELECT n.nspname || '.' || c.relname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_%'
      AND n.nspname NOT LIKE :prefix
    ORDER BY 1
    LIMIT 6
    """
)


def _connect_error(url: URL, exc: DBAPIError) -> CourseDatabaseError:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
    return CourseDatabaseError(
        f"Could not connect to the course database {safe_url(url)}: {reason}"
    )


def assert_course_database(server_url: URL) -> None:
    """Refuse a PostgreSQL database that holds tables that are not the course's."""
    engine = create_engine(server_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            foreign = conn.scalars(
                _FOREIGN_TABLES, {"prefix": SCHEMA_PREFIX.replace("_", "\\_") + "%"}
            ).all()
    except DBAPIError as exc:
        raise _connect_error(server_url, exc) from None
    finally:
        engine.dispose()
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise CourseDatabaseError(
            f"The database {safe_url(server_url)} holds tables that are not the "
            f"course's ({shown}). The course refuses to use it and changed nothing. "
            "Create an empty database for the course (for example "
            "CREATE DATABASE sqlacourse) and point SQLACOURSE_DATABASE_URL at it."
        )


_workdir: Path | None = None


def workdir() -> Path:
    """A private folder for SQLite files, removed when the process exits."""
    global _workdir
    if _workdir is None:
        _workdir = Path(tempfile.mkdtemp(prefix="sqlacourse-"))
        atexit.register(shutil.rmtree, _workdir, True)
    return _workdir


def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class CourseDatabase:
    """One isolated database: a SQLite file, or a PostgreSQL schema."""

    def __init__(self, name: str, target: Target | None = None) -> None:
        self.name = name
        self.target = resolve(target) if target is not None else current_target()
        if self.target.is_postgresql:
            self.schema: str | None = schema_name(name)
            self.path: Path | None = None
        else:
            self.schema = None
            self.path = workdir() / f"{_slug(name)}.db"

    # -- URLs and engines -------------------------------------------------
    @property
    def url(self) -> URL:
        """Sync URL (sqlite / postgresql+psycopg)."""
        if self.path is not None:
            return URL.create("sqlite", database=str(self.path))
        assert self.target.server_url is not None
        return self.target.server_url

    @property
    def async_url(self) -> URL:
        """Async URL (sqlite+aiosqlite / postgresql+asyncpg)."""
        if self.path is not None:
            return URL.create("sqlite+aiosqlite", database=str(self.path))
        return self.url.set(drivername="postgresql+asyncpg")

    @property
    def label(self) -> str:
        if self.schema:
            return f"{self.target.label}, schema {self.schema}"
        return self.target.label

    def engine_kwargs(self, is_async: bool = False) -> dict[str, Any]:
        if self.schema is None:
            return {}
        if is_async:
            return {"connect_args": {"server_settings": {"search_path": self.schema}}}
        return {"connect_args": {"options": f"-c search_path={self.schema}"}}

    def create_engine(self, **kwargs: Any) -> Engine:
        """A sync engine on this database (SQLite: foreign keys enforced)."""
        params = self.engine_kwargs() | kwargs
        engine = create_engine(self.url, **params)
        if self.path is not None:
            event.listen(engine, "connect", _sqlite_foreign_keys)
        return engine

    def create_async_engine(self, **kwargs: Any):
        """An AsyncEngine on this database (aiosqlite / asyncpg)."""
        from sqlalchemy.ext.asyncio import create_async_engine

        params = self.engine_kwargs(is_async=True) | kwargs
        engine = create_async_engine(self.async_url, **params)
        if self.path is not None:
            event.listen(engine.sync_engine, "connect", _sqlite_foreign_keys)
        return engine

    # -- life cycle -------------------------------------------------------
    def reset(self) -> None:
        """Make the database exist and be empty (drop what the course made before)."""
        if self.path is not None:
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            return
        assert self.target.server_url is not None and self.schema is not None
        assert_course_database(self.target.server_url)
        engine = create_engine(self.target.server_url, poolclass=NullPool)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
                conn.exec_driver_sql(f'CREATE SCHEMA "{self.schema}"')
        except DBAPIError as exc:
            raise _connect_error(self.target.server_url, exc) from None
        finally:
            engine.dispose()

    def drop(self) -> None:
        """Remove the database (file or schema) entirely."""
        if self.path is not None:
            self.reset()
            return
        assert self.target.server_url is not None and self.schema is not None
        engine = create_engine(self.target.server_url, poolclass=NullPool)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        finally:
            engine.dispose()
