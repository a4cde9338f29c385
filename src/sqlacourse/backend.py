"""Which database the course uses, and the course's own corner of it.

``SQLACOURSE_DATABASE_URL`` picks the backend for the whole course:

* unset (or ``sqlite``): SQLite files in a private temporary folder, sync
  through ``sqlite3`` and async through ``aiosqlite``.  Nothing to install.
* ``embedded``: a private PostgreSQL started from pip (see ``embedded.py``).
* ``postgresql://user:password@host:5432/dbname``: that server.  Sync code
  uses psycopg 3 and async code asyncpg, both derived from the one URL.

Every notebook, and every graded check, gets a database of its own: a file on
SQLite, a schema on PostgreSQL, reached through ``search_path`` so the SQL a
learner reads has no schema prefix.  A schema is named
``sqlacourse_<learner>_<notebook>_<hash>`` (see ``schema_name``), the learner
being ``$SQLACOURSE_USER``, else ``$JUPYTERHUB_USER``, else the OS user; a check
adds a random part, so two kernels checking at once never meet.

The course drops only what it can prove it created: every schema it creates
carries a comment signed with a key of this installation (kept in the
learner's data folder), and a schema with one of its names but without that
signature is refused, not dropped.  Pointed at a PostgreSQL database that holds
any table outside the course's signed schemas, it refuses before changing
anything.  Every connection has a connect timeout and a statement timeout, and
no form of password is ever printed.
"""

from __future__ import annotations

import atexit
import contextlib
import getpass
import hashlib
import hmac
import os
import re
import secrets
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

ENV_URL = "SQLACOURSE_DATABASE_URL"
ENV_USER = "SQLACOURSE_USER"
EMBEDDED_WORDS = {"embedded", "pgserver", "embedded-postgresql"}
SCHEMA_PREFIX = "sqlacourse_"
MARKER_PREFIX = "sqlacourse schema "
# Milliseconds: the longest a lesson's statement may run, and the course's own DDL.
STATEMENT_TIMEOUT_MS = int(os.environ.get("SQLACOURSE_STATEMENT_TIMEOUT_MS", "300000") or 300000)
ADMIN_STATEMENT_TIMEOUT_MS = 60_000
ADMIN_LOCK_TIMEOUT_MS = 10_000


def connect_timeout() -> int:
    """Seconds to wait for a server to answer a connection (``$SQLACOURSE_CONNECT_TIMEOUT``,
    default 10): a server that accepts connections and never answers must not hang a notebook."""
    try:
        return max(2, int(os.environ.get("SQLACOURSE_CONNECT_TIMEOUT", "10")))
    except ValueError:
        return 10


_SENSITIVE_QUERY = re.compile(r"pass|secret|token|key", re.IGNORECASE)


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


# --------------------------------------------------------------------------
# URLs: parsed so that no form of password is ever shown
# --------------------------------------------------------------------------
def parse_url(value: str) -> URL:
    """``make_url`` that also accepts an unencoded ``@``, ``:`` or ``/`` in the password
    (the credentials end at the last ``@``), and moves ``?password=`` into the URL's
    password, where SQLAlchemy hides it in every repr.  Raises ``ValueError``."""
    m = re.match(r"^([A-Za-z][\w+.-]*)://(.*)$", value, re.DOTALL)
    if m and "@" in m.group(2):
        scheme, rest = m.groups()
        userinfo, hostpart = rest.rsplit("@", 1)
        user, colon, password = userinfo.partition(":")
        value = f"{scheme}://{quote(unquote(user), safe='')}"
        if colon:
            value += ":" + quote(unquote(password), safe="")
        value += "@" + hostpart
    try:
        url = make_url(value)
    except Exception:  # ArgumentError, ValueError (a bad port), ...: never echo the value
        raise ValueError("not a database URL") from None
    query = dict(url.query)
    if "password" in query and not url.password:
        pw = query.pop("password")
        url = url.set(password=pw if isinstance(pw, str) else pw[-1], query=query)
    return url


def _secrets_of(url: URL) -> list[str]:
    found = []
    if url.password:
        found.append(str(url.password))
    for key, value in url.query.items():
        if _SENSITIVE_QUERY.search(key):
            found += [value] if isinstance(value, str) else list(value)
    out = []
    for s in found:
        if s:
            out += [s, quote(s, safe=""), quote(s)]
    return sorted(set(out), key=len, reverse=True)


def scrub(message: str, url: URL | None) -> str:
    """``message`` with every form of ``url``'s password replaced by ``***``."""
    if url is None:
        return message
    for s in _secrets_of(url):
        message = message.replace(s, "***")
    return message


def safe_url(url: URL | str) -> str:
    """The URL as text with any password (also in the query string) replaced by ``***``."""
    if isinstance(url, str):
        try:
            url = parse_url(url)
        except ValueError:
            return "<a value that is not a database URL>"
    query = {k: ("***" if _SENSITIVE_QUERY.search(k) else v) for k, v in url.query.items()}
    return scrub(url.set(query=query).render_as_string(hide_password=True), url)


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
        url = parse_url(value)
    except ValueError:
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


# --------------------------------------------------------------------------
# Names: one namespace per learner, per notebook and per check
# --------------------------------------------------------------------------
def learner() -> str:
    """Who the learner is: ``$SQLACOURSE_USER``, else ``$JUPYTERHUB_USER`` (set by
    JupyterHub, where every learner's OS user may be ``jovyan``), else the OS user."""
    for var in (ENV_USER, "JUPYTERHUB_USER"):
        value = os.environ.get(var, "").strip()
        if value:
            return value
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "learner"


def _slug(text_: str, limit: int = 63) -> str:
    folded = unicodedata.normalize("NFKD", text_).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", folded.lower()).strip("_")
    return slug[:limit].strip("_") or "x"


def _digest(*parts: str, n: int = 10) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:n]


def schema_name(name: str, user: str | None = None) -> str:
    """``sqlacourse_<user>_<name>_<hash>``: readable, at most 63 characters (PostgreSQL's
    limit), and different for any two (user, name) pairs that differ at all (the hash is
    of the exact original texts: ``jane.doe``/``jane-doe``, non-ASCII names and long
    names that the readable part cuts to the same text stay apart)."""
    user = user if user is not None else learner()
    return f"{SCHEMA_PREFIX}{_slug(user, 16)}_{_slug(name, 24)}_{_digest(user, name)}"


def _data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sqlacourse"


@cache
def _installation_key() -> bytes:
    """A secret of this installation (this learner's home), made on first use: the course
    signs each schema it creates with it, and drops only schemas that carry its signature."""
    candidates = [_data_dir() / "installation-key"]
    if hasattr(os, "getuid"):
        candidates.append(Path(tempfile.gettempdir()) / f"sqlacourse-{os.getuid()}" / "installation-key")
    for path in candidates:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                key = path.read_text(encoding="ascii").strip()
                if len(key) >= 32:
                    return key.encode()
                continue
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32) + "\n")
            return path.read_text(encoding="ascii").strip().encode()
        except (OSError, UnicodeDecodeError):
            continue
    return secrets.token_hex(32).encode()  # nowhere to keep it: this process only


def schema_marker(schema: str, user: str | None = None, *, tag: str | None = None) -> str:
    """The comment the course writes on a schema it creates: proof that it did (an HMAC of
    the schema's name with this installation's key), and the learner namespace it was made
    for (``tag``, a hash of the learner's name)."""
    if tag is None:
        tag = _digest(user if user is not None else learner(), n=12)
    mac = hmac.new(_installation_key(), f"{schema}\0{tag}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{MARKER_PREFIX}{mac} ns {tag}"


def is_own_schema(schema: str, comment: str | None) -> bool:
    """Whether ``comment`` (a schema's) proves that this installation created ``schema``."""
    if not comment or " ns " not in comment:
        return False
    tag = comment.rsplit(" ns ", 1)[1]
    return hmac.compare_digest(comment, schema_marker(schema, tag=tag))


# --------------------------------------------------------------------------
# Connecting: timeouts everywhere, passwords never shown
# --------------------------------------------------------------------------
def _psycopg_args(schema: str | None, statement_ms: int, lock_ms: int | None = None) -> dict[str, Any]:
    options = [f"-c statement_timeout={statement_ms}"]
    if lock_ms is not None:
        options.append(f"-c lock_timeout={lock_ms}")
    args: dict[str, Any] = {"connect_timeout": connect_timeout()}
    if schema is not None:
        options.append(f"-c search_path={schema}")
        # The course finds (and, on a re-run of setup(), ends) its own connections by this name.
        args["application_name"] = schema
    else:
        args["application_name"] = "sqlacourse"
    args["options"] = " ".join(options)
    return args


def _connect_error(url: URL, exc: BaseException) -> CourseDatabaseError:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    reason = lines[0] if lines else type(orig).__name__
    if "timeout" in reason.lower():
        reason += (f" (the server did not answer within {connect_timeout()} s; "
                   "SQLACOURSE_CONNECT_TIMEOUT sets the limit)")
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate and not sqlstate.startswith(("08", "28", "3D", "53", "57P")):
        # connected, but a statement of the course's was refused (say, no right to create schemas)
        return CourseDatabaseError(
            f"The course database {safe_url(url)} refused to prepare the course's schema: "
            f"{scrub(reason, url)}. Nothing else was changed."
        )
    return CourseDatabaseError(
        f"Could not connect to the course database {safe_url(url)}: {scrub(reason, url)}"
    )


def _admin_engine(server_url: URL) -> Engine:
    return create_engine(
        server_url, poolclass=NullPool,
        connect_args=_psycopg_args(None, ADMIN_STATEMENT_TIMEOUT_MS, ADMIN_LOCK_TIMEOUT_MS),
    )


_FOREIGN_TABLES = text(
    r"""
    SELECT n.nspname || '.' || c.relname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_%'
      AND coalesce(obj_description(n.oid, 'pg_namespace'), '') NOT LIKE :marker
    ORDER BY 1
    LIMIT 6
    """
)

# Objects outside a schema that DROP SCHEMA ... CASCADE would drop with it (a view or a
# foreign key elsewhere that uses the schema's tables or types).
_DEPENDENTS_OUTSIDE = text(
    """
    WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = :schema),
    inside AS (
        SELECT 'pg_class'::regclass AS cls, c.oid FROM pg_class c JOIN ns ON c.relnamespace = ns.oid
        UNION ALL
        SELECT 'pg_type'::regclass, t.oid FROM pg_type t JOIN ns ON t.typnamespace = ns.oid
        UNION ALL
        SELECT 'pg_proc'::regclass, p.oid FROM pg_proc p JOIN ns ON p.pronamespace = ns.oid
    ),
    dependents AS (
        SELECT d.classid, d.objid,
               coalesce(o.schema, rn.nspname) AS schema
        FROM pg_depend d
        JOIN inside i ON d.refclassid = i.cls AND d.refobjid = i.oid
        CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, 0) o
        LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
        LEFT JOIN pg_class rc ON rc.oid = r.ev_class
        LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
        WHERE d.deptype IN ('n', 'a')
    )
    SELECT DISTINCT pg_describe_object(classid, objid, 0)
    FROM dependents
    WHERE schema IS NOT NULL AND schema <> :schema
    ORDER BY 1
    LIMIT 6
    """
)


def _refuse_foreign(conn: Connection, server_url: URL) -> None:
    foreign = conn.scalars(_FOREIGN_TABLES, {"marker": MARKER_PREFIX + "%"}).all()
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        old = ""
        if any(name.startswith(SCHEMA_PREFIX) for name in foreign):
            old = (f" A schema named {SCHEMA_PREFIX}... without the course's signature is not the "
                   "course's (an older version of the course made such schemas unsigned: if they "
                   "are yours, drop them with DROP SCHEMA name CASCADE).")
        raise CourseDatabaseError(
            f"The database {safe_url(server_url)} holds tables that are not the "
            f"course's ({shown}). The course refuses to use it and changed nothing. "
            "Create an empty database for the course (for example "
            "CREATE DATABASE sqlacourse) and point SQLACOURSE_DATABASE_URL at it." + old
        )


def assert_course_database(server_url: URL) -> None:
    """Refuse a PostgreSQL database that holds tables that are not the course's: tables
    outside the schemas the course created and signed (a schema merely *named* like the
    course's, ``sqlacourse_payroll``, is not the course's)."""
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as conn:
            _refuse_foreign(conn, server_url)
    except DBAPIError as exc:
        raise _connect_error(server_url, exc) from None
    finally:
        engine.dispose()


def _ensure_own_schema(conn: Connection, schema: str, server_url: URL) -> bool:
    """True if ``schema`` exists and this installation created it; False if it does not
    exist; refuses (``CourseDatabaseError``) if it exists and is not provably ours, or if
    dropping it would drop objects outside it."""
    row = conn.execute(
        text("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = :s"),
        {"s": schema},
    ).first()
    if row is None:
        return False
    if not is_own_schema(schema, row[0]):
        raise CourseDatabaseError(
            f"The database {safe_url(server_url)} already has a schema named {schema} that this "
            "course installation did not create (it does not carry the course's signature). The "
            "course refuses to touch it and changed nothing. If it is yours, left by an earlier "
            "installation of the course, drop it yourself (DROP SCHEMA \"" + schema + "\" CASCADE); "
            "otherwise set SQLACOURSE_USER to a name of your own."
        )
    outside = conn.scalars(_DEPENDENTS_OUTSIDE, {"schema": schema}).all()
    if outside:
        raise CourseDatabaseError(
            f"The course's schema {schema} is used by objects outside it ({', '.join(outside[:5])}), "
            "which dropping it would drop too. The course refuses and changed nothing: remove "
            "those objects first."
        )
    return True


def _end_own_connections(conn: Connection, schema: str) -> int:
    """End the course's connections to ``schema`` (a notebook's open session that would
    make DROP SCHEMA wait forever), only this role's and only those named after it."""
    ended = conn.scalars(
        text(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = :s "
            "AND usename = current_user AND pid <> pg_backend_pid()"
        ),
        {"s": schema},
    ).all()
    return len(ended)


def _in_use_error(schema: str) -> CourseDatabaseError:
    return CourseDatabaseError(
        f"The course's schema {schema} is locked by another connection that the course "
        f"could not end (waited {ADMIN_LOCK_TIMEOUT_MS // 1000} s; another kernel or a "
        "database tool using it?). Close that connection or restart that kernel, then run "
        "this cell again. Nothing was changed."
    )


def drop_namespace(user: str, server_url: URL | None = None) -> list[str]:
    """Drop every schema this installation created for ``user`` (say, a grade run's
    namespace); returns their names.  Schemas it cannot prove it created are left alone."""
    if server_url is None:
        target = current_target()
        if not target.is_postgresql:
            return []
        server_url = target.server_url
    assert server_url is not None
    tag = _digest(user, n=12)
    engine = _admin_engine(server_url)
    dropped = []
    try:
        with engine.begin() as conn:
            names = conn.scalars(
                text("SELECT nspname FROM pg_namespace "
                     "WHERE obj_description(oid, 'pg_namespace') LIKE :m ORDER BY 1"),
                {"m": MARKER_PREFIX + "% ns " + tag},
            ).all()
            for schema in names:
                comment = conn.scalar(text("SELECT obj_description(oid, 'pg_namespace') "
                                           "FROM pg_namespace WHERE nspname = :s"), {"s": schema})
                if comment != schema_marker(schema, tag=tag):
                    continue
                if conn.scalars(_DEPENDENTS_OUTSIDE, {"schema": schema}).all():
                    continue
                _end_own_connections(conn, schema)
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                dropped.append(schema)
    except DBAPIError as exc:
        raise _connect_error(server_url, exc) from None
    finally:
        engine.dispose()
    return dropped


@contextlib.contextmanager
def private_namespace(label: str = "grade") -> Iterator[str]:
    """Give the code run inside (a graded notebook's kernel inherits the environment) a
    learner namespace of its own, and drop the schemas made in it afterwards: parallel
    grade runs of one notebook never share a schema."""
    namespace = f"{learner()}~{label}~{secrets.token_hex(4)}"
    saved = os.environ.get(ENV_USER)
    os.environ[ENV_USER] = namespace
    try:
        yield namespace
    finally:
        if saved is None:
            os.environ.pop(ENV_USER, None)
        else:
            os.environ[ENV_USER] = saved
        with contextlib.suppress(Exception):
            drop_namespace(namespace)


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
    """One isolated database: a SQLite file, or a PostgreSQL schema.

    ``unique=True`` (graded checks): a name of its own for this one use, so that two
    kernels checking the same exercise at once never share a database."""

    def __init__(self, name: str, target: Target | None = None, *, unique: bool = False) -> None:
        self.name = name
        self.target = resolve(target) if target is not None else current_target()
        key = f"{name}~{secrets.token_hex(6)}" if unique else name
        self.unique = unique
        if self.target.is_postgresql:
            self.schema: str | None = schema_name(key)
            self.path: Path | None = None
        else:
            self.schema = None
            self.path = workdir() / f"{_slug(name, 40)}_{_digest(key, n=8)}.db"

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
            return {"connect_args": {
                "timeout": connect_timeout(),
                "server_settings": {"search_path": self.schema, "application_name": self.schema,
                                    "statement_timeout": str(STATEMENT_TIMEOUT_MS)},
            }}
        return {"connect_args": _psycopg_args(self.schema, STATEMENT_TIMEOUT_MS)}

    def create_engine(self, **kwargs: Any) -> Engine:
        """A sync engine on this database (SQLite: foreign keys enforced)."""
        engine = create_engine(self.url, **_merged(self.engine_kwargs(), kwargs))
        if self.path is not None:
            event.listen(engine, "connect", _sqlite_foreign_keys)
        return engine

    def create_async_engine(self, **kwargs: Any):
        """An AsyncEngine on this database (aiosqlite / asyncpg)."""
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(self.async_url, **_merged(self.engine_kwargs(is_async=True), kwargs))
        if self.path is not None:
            event.listen(engine.sync_engine, "connect", _sqlite_foreign_keys)
        return engine

    # -- life cycle -------------------------------------------------------
    def reset(self) -> None:
        """Make the database exist and be empty.  On PostgreSQL it drops only a schema
        that this installation created (signed with its key), first ending the course's
        own connections to it; it refuses, changing nothing, when the database holds
        tables that are not the course's or the schema is someone else's."""
        if self.path is not None:
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            return
        server_url, schema = self.target.server_url, self.schema
        assert server_url is not None and schema is not None
        engine = _admin_engine(server_url)
        try:
            with engine.begin() as conn:
                _refuse_foreign(conn, server_url)
                exists = _ensure_own_schema(conn, schema, server_url)
            if exists:
                with engine.begin() as conn:
                    _end_own_connections(conn, schema)
            with engine.begin() as conn:
                # Checked again in the transaction that drops: nothing changed in between.
                if _ensure_own_schema(conn, schema, server_url):
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
                conn.execute(text(f'COMMENT ON SCHEMA "{schema}" IS ' + _literal(schema_marker(schema))))
        except DBAPIError as exc:
            if "lock timeout" in str(exc.orig):
                raise _in_use_error(schema) from None
            raise _connect_error(server_url, exc) from None
        finally:
            engine.dispose()

    def drop(self) -> None:
        """Remove the database (file or schema) entirely; on PostgreSQL only a schema this
        installation created."""
        if self.path is not None:
            self.reset()
            return
        server_url, schema = self.target.server_url, self.schema
        assert server_url is not None and schema is not None
        engine = _admin_engine(server_url)
        try:
            with engine.begin() as conn:
                if _ensure_own_schema(conn, schema, server_url):
                    if not self.unique:
                        _end_own_connections(conn, schema)
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        except DBAPIError as exc:
            if "lock timeout" in str(exc.orig):
                raise _in_use_error(schema) from None
            raise _connect_error(server_url, exc) from None
        finally:
            engine.dispose()


def _merged(course: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Engine arguments: ``given`` ones win, but extra ``connect_args`` never drop the
    course's own (search_path, timeouts)."""
    params = course | given
    if "connect_args" in course and "connect_args" in given:
        params["connect_args"] = course["connect_args"] | given["connect_args"]
    return params


def _literal(value: str) -> str:
    """A SQL string literal (COMMENT ON takes no bound parameters)."""
    assert re.fullmatch(r"[A-Za-z0-9 ]*", value)
    return "'" + value + "'"
