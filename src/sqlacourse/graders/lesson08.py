"""Lesson 08 (migrations with Alembic): graded by what a migration does to a live database.

A candidate is a migration: its ``upgrade`` and ``downgrade`` functions, written with
``from alembic import op``.  ``check()`` accepts them as a pair ``(upgrade, downgrade)`` or as
any object with ``upgrade`` and ``downgrade`` attributes (a module, a class, a namespace).

Each grader runs the migration through Alembic's own machinery, as ``alembic upgrade head``
would: a script directory in a temporary folder (``env.py`` and one revision file that calls
the candidate's functions), ``command.upgrade`` / ``command.downgrade`` on a connection to a
fresh course database (``cfg.attributes["connection"]``), ``transaction_per_migration=True``.
Then it inspects the schema (``sqlalchemy.inspect``), every row's values, and the statements
sent (the recorder), downgrades back to the start (schema and rows must be as before) and
upgrades again (a round trip).  On SQLite the migration runs with ``PRAGMA foreign_keys=OFF``,
as Alembic's batch mode requires, and ``PRAGMA foreign_key_check`` must find nothing after.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..grading import Grading, LearnerError
from ..recorder import QueryRecorder, record_queries
from ..registry import Fail, exercise

LESSON = "08-migrations"

# --------------------------------------------------------------------------
# Running a candidate migration through Alembic
# --------------------------------------------------------------------------
_ENV_PY = '''\
from alembic import context

if context.is_offline_mode():  # the grader renders the PostgreSQL SQL of the migration
    context.configure(dialect_name="postgresql", as_sql=True, literal_binds=True,
                      output_buffer=context.config.attributes["buffer"], transaction_per_migration=True)
else:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
'''

_REVISION_PY = '''\
"""the learner's migration (written by the lesson 08 grader)"""
revision = "0001_candidate"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    from sqlacourse.graders.lesson08 import _run_candidate
    _run_candidate("upgrade")


def downgrade():
    from sqlacourse.graders.lesson08 import _run_candidate
    _run_candidate("downgrade")
'''

_current: dict[str, Any] = {}


class AlembicNotSupported(Exception):
    """Alembic refused an operation on this backend (its NotImplementedError, renamed so that
    it is not mistaken for the exercise's ``raise NotImplementedError`` stub)."""


def _run_candidate(step: str) -> None:
    """Called by the revision file: the candidate's step, through ``g.call``."""
    g: Grading = _current["g"]
    fn = _current[step]

    def guarded() -> None:
        try:
            fn()
        except NotImplementedError as exc:
            if str(exc):  # Alembic's, with a message; the stub's is bare
                raise AlembicNotSupported(str(exc)) from None
            raise

    guarded.__name__ = step
    g.call(guarded)


def migration_functions(candidate: Any) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """``(upgrade, downgrade)`` from a pair or from an object with those attributes."""
    if isinstance(candidate, (tuple, list)):
        if len(candidate) != 2:
            raise Fail(f"check() needs the pair (upgrade, downgrade): two functions, and you passed "
                       f"a {type(candidate).__name__} of {len(candidate)}.")
        up, down = candidate
    else:
        up, down = getattr(candidate, "upgrade", None), getattr(candidate, "downgrade", None)
        if up is None or down is None:
            raise Fail("check() needs your migration: the pair (upgrade, downgrade) of functions "
                       f"without parentheses, or an object with upgrade and downgrade; you passed "
                       f"{type(candidate).__name__}.")
    for name, fn in (("upgrade", up), ("downgrade", down)):
        if not callable(fn) or isinstance(fn, type):
            raise Fail(f"The {name} part of your migration should be a function, and it is "
                       f"{type(fn).__name__}. Pass the functions themselves, without parentheses.")
    return up, down


class Migration:
    """A script directory in a temporary folder, bound to one database connection."""

    def __init__(self, g: Grading, up: Callable[[], Any], down: Callable[[], Any], engine: sa.Engine,
                 folder: Path) -> None:
        from alembic.config import Config

        self.g, self.up, self.down, self.engine = g, up, down, engine
        (folder / "versions").mkdir()
        (folder / "env.py").write_text(_ENV_PY, encoding="utf-8")
        (folder / "versions" / "0001_candidate.py").write_text(_REVISION_PY, encoding="utf-8")
        self.cfg = Config()
        self.cfg.set_main_option("script_location", str(folder))

    def run(self, step: str) -> tuple[QueryRecorder, LearnerError | None]:
        """``alembic upgrade head`` or ``downgrade base``; returns the statements and the
        learner's exception (kept, so that the grader can explain it with the SQL sent)."""
        _current.update(g=self.g, upgrade=self.up, downgrade=self.down)
        # psycopg logs "error ignored terminating <Pipeline>" when a failed executemany is cleaned up:
        # a warning on stderr, about the learner's error that the feedback already explains.
        psycopg_log = logging.getLogger("psycopg")
        level = psycopg_log.level
        psycopg_log.setLevel(logging.ERROR)
        try:
            return self._run(step)
        finally:
            psycopg_log.setLevel(level)
            _current.clear()

    def _run(self, step: str) -> tuple[QueryRecorder, LearnerError | None]:
        from alembic import command

        error = None
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # batch mode needs it (outside a transaction)
                conn.commit()
            self.cfg.attributes["connection"] = conn
            with record_queries(conn) as rec, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. SQLAlchemy's deprecation warnings: never in learner output
                try:
                    if step == "upgrade":
                        command.upgrade(self.cfg, "head")
                    else:
                        command.downgrade(self.cfg, "base")
                except LearnerError as exc:
                    error = exc
                except sa.exc.DBAPIError as exc:  # raised by Alembic's own statements
                    error = LearnerError(f"Your code raised {type(exc).__name__}.", str(exc.orig))
                except Exception as exc:  # Alembic refused what the migration left behind
                    error = LearnerError(f"Alembic failed after your code ran: {type(exc).__name__}.",
                                         str(exc).splitlines()[0] if str(exc) else "")
                finally:
                    if conn.in_transaction():
                        conn.rollback()
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            self.cfg.attributes.pop("connection", None)
        return rec, error


    def render_postgresql(self, step: str) -> tuple[list[str] | None, str]:
        """The SQL the migration's ``step`` renders for PostgreSQL in Alembic's offline mode
        (``alembic upgrade --sql``: ``as_sql=True``, no database): its statements upper-case on
        one line (BEGIN/COMMIT kept, bookkeeping left out), or None and the reason it could not."""
        import io

        from alembic import command

        buf = io.StringIO()
        self.cfg.attributes["buffer"] = buf
        _current.update(g=self.g, upgrade=self.up, downgrade=self.down)
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                if step == "upgrade":
                    command.upgrade(self.cfg, "head", sql=True)
                else:
                    command.downgrade(self.cfg, "0001_candidate:base", sql=True)
        except LearnerError as exc:
            first = (exc.details or exc.message).strip().splitlines()
            return None, f"your {step}() raised an error there ({first[-1][:160] if first else exc.message})"
        except Exception as exc:
            return None, f"Alembic could not render it ({type(exc).__name__}: {str(exc)[:160]})"
        finally:
            _current.clear()
            self.cfg.attributes.pop("buffer", None)
        stmts, self.rendered = [], []
        for chunk in re.split(r";\s*\n", buf.getvalue()):
            text = "\n".join(line for line in chunk.splitlines() if not line.strip().startswith("--"))
            one = " ".join(text.split())
            if one and not _CATALOG.search(one):
                stmts.append(one.upper())
                self.rendered.append(one)
        return stmts, ""


def judge_postgresql_offline(m: Migration, what: str,
                             checks: dict[str, Callable[[list[str], list[str]], None]]) -> str:
    """On SQLite: run ``checks`` (step -> check of the statements) on the SQL the migration renders
    for PostgreSQL offline; returns the sentence for the pass message.  A failed check is
    raised as feedback that says it judged the rendered SQL."""
    for step, check_step in checks.items():
        stmts, why = m.render_postgresql(step)
        if stmts is None:
            return (f" Not checked here: {what}, because the migration could not be rendered for PostgreSQL "
                    f"offline: {why}. The check on PostgreSQL (SQLACOURSE_DATABASE_URL=embedded) checks it.")
        shown = [x if len(x) <= 220 else x[:217] + "..." for x in m.rendered[:12]]
        try:
            check_step(stmts, shown)
        except Fail as exc:
            raise Fail("Checked on the SQL your migration renders for PostgreSQL (Alembic's offline mode, "
                       f"as `alembic {step} --sql` prints it; your {step}() ran with "
                       f"op.get_bind().dialect.name == 'postgresql'): {exc.message}", exc.details,
                       exc.sql) from None
    return (f" Checked on the SQL your migration renders for PostgreSQL (Alembic's offline mode): {what}.")


def outside_transaction(stmts: list[str], pattern: str) -> bool | None:
    """In rendered offline SQL: whether every statement matching ``pattern`` runs outside a
    BEGIN ... COMMIT block (None when there is none)."""
    in_tx, found, ok = False, False, True
    for s in stmts:
        if s == "BEGIN":
            in_tx = True
        elif s == "COMMIT":
            in_tx = False
        elif re.search(pattern, s):
            found = True
            ok = ok and not in_tx
    return ok if found else None


@contextlib.contextmanager
def migration(g: Grading, candidate: Any, engine: sa.Engine) -> Iterator[Migration]:
    up, down = migration_functions(candidate)
    folder = Path(tempfile.mkdtemp(prefix="sqlacourse-alembic-"))
    try:
        yield Migration(g, up, down, engine, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_CATALOG = re.compile(r"^PRAGMA\b|sqlite_master|\bpg_catalog\.|information_schema\.|\bpg_\w+\b|"
                      r"^SELECT (current_schema|pg_catalog)|alembic_version|^show\b", re.I)


def sql_of(rec: QueryRecorder, limit: int = 12) -> list[str]:
    """The statements the migration sent, without Alembic's bookkeeping and catalog reads."""
    lines = [s.one_line for s in rec.statements if not _CATALOG.search(s.one_line)]
    if len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more"]
    return [line if len(line) <= 220 else line[:217] + "..." for line in lines]


def own(rec: QueryRecorder) -> list[str]:
    """The migration's own statements (bookkeeping and catalog reads left out), upper-case, one line."""
    return [s.one_line.upper() for s in rec.statements if not _CATALOG.search(s.one_line)]


def _explain(error: LearnerError, step: str, rec: QueryRecorder, backend: str) -> Fail:
    """The learner's exception, with the classic causes named."""
    if error.message.startswith("Not implemented yet"):
        return Fail(error.message.replace("your answer", f"your {step}()"))
    text = error.details or error.message
    hint = ""
    if backend == "sqlite" and ("No support for ALTER" in text or (
            re.search(r'near "ALTER"|syntax error', text) and "ALTER" in text.upper())):
        hint = (" SQLite's ALTER TABLE cannot change a column or add a constraint: do it inside "
                "`with op.batch_alter_table(\"table\") as batch:` (batch mode copies the table).")
    elif re.search(r"NOT NULL|null value in column|contains null values", text, re.I):
        hint = (" Some rows still have NULL in a column you made NOT NULL: fill every row before "
                "the constraint (coalesce(..., 0) for rows with nothing to sum).")
    elif "cannot run inside a transaction block" in text:
        hint = (" PostgreSQL runs CREATE/DROP INDEX CONCURRENTLY only outside a transaction: put "
                "it in `with op.get_context().autocommit_block():`.")
    elif "_alembic_tmp_" in text:
        hint = " A batch migration that failed earlier left its _alembic_tmp_ table behind."
    return Fail(f"Your {step}() failed: {error.message}{hint}", error.details, sql_of(rec))


def run_step(m: Migration, step: str) -> QueryRecorder:
    rec, error = m.run(step)
    if error is not None:
        raise _explain(error, step, rec, m.engine.dialect.name)
    return rec


# --------------------------------------------------------------------------
# Looking at the database
# --------------------------------------------------------------------------
def columns(engine: sa.Engine, table: str) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {c["name"]: c for c in sa.inspect(conn).get_columns(table)}


def rows(engine: sa.Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]


def foreign_keys(engine: sa.Engine, table: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return sa.inspect(conn).get_foreign_keys(table)


def indexes(engine: sa.Engine, table: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return sa.inspect(conn).get_indexes(table)


def fk_check(engine: sa.Engine) -> list[tuple]:
    """SQLite: rows that break a foreign key (after a batch copy with foreign_keys=OFF)."""
    if engine.dialect.name != "sqlite":
        return []
    return rows(engine, "PRAGMA foreign_key_check")


def schema_of(engine: sa.Engine, table: str) -> dict[str, tuple]:
    return {name: (str(c["type"]), c["nullable"]) for name, c in columns(engine, table).items()}


def is_varchar(type_: Any, length: int) -> bool:
    """A reflected VARCHAR(length): not TEXT, not another length."""
    return isinstance(type_, sa.String) and not isinstance(type_, sa.Text) and type_.length == length


def relfilenode(engine: sa.Engine, table: str) -> int:
    """PostgreSQL: the table's storage file; a table rewrite gives it a new one."""
    return rows(engine, f"SELECT relfilenode FROM pg_class WHERE oid = '{table}'::regclass")[0][0]


def cents(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def expect_round_trip(m: Migration, engine: sa.Engine, before_schema: dict[str, dict], before_rows: dict,
                      snapshot: Callable[[], dict], schema_tables: list[str],
                      after_down: Callable[[QueryRecorder], None] | None = None) -> QueryRecorder:
    """Downgrade to the start (schema and rows as before), then upgrade again; returns the
    second upgrade's statements."""
    rec_down = run_step(m, "downgrade")
    after = {t: schema_of(engine, t) for t in schema_tables}
    for t in schema_tables:
        if after[t] != before_schema[t]:
            extra = sorted(set(after[t]) - set(before_schema[t]))
            missing = sorted(set(before_schema[t]) - set(after[t]))
            changed = [c for c in before_schema[t] if c in after[t] and after[t][c] != before_schema[t][c]]

            def shown(typ_null: tuple) -> str:
                return f"{typ_null[0]} {'NULL' if typ_null[1] else 'NOT NULL'}"
            what = (f"it left the column(s) {', '.join(extra)} behind" if extra else
                    f"the column(s) {', '.join(missing)} are missing" if missing else
                    "; ".join(f"{t}.{c} is {shown(after[t][c])}, it was {shown(before_schema[t][c])}"
                              for c in changed) or "its columns are not as before")
            raise Fail(f"After downgrade() the table {t} is not as it was before the upgrade: {what}. "
                       "downgrade() must undo exactly what upgrade() did.", sql=sql_of(rec_down))
    now = snapshot()
    if now != before_rows:
        raise Fail("After downgrade() the data is not as before the upgrade: "
                   f"{_first_difference(before_rows, now)}. downgrade() must put the old values back.",
                   sql=sql_of(rec_down))
    if after_down is not None:
        after_down(rec_down)
    problems = fk_check(engine)
    if problems:
        raise Fail(f"After downgrade() {len(problems)} rows break a foreign key (PRAGMA foreign_key_check).",
                   sql=sql_of(rec_down))
    return run_step(m, "upgrade")


def _first_difference(expected: dict, got: dict) -> str:
    if set(expected) != set(got):
        missing = sorted(set(expected) - set(got))[:3]
        extra = sorted(set(got) - set(expected))[:3]
        return (f"{len(expected)} rows expected, {len(got)} found"
                + (f" (missing: {missing})" if missing else "") + (f" (unexpected: {extra})" if extra else ""))
    for key in sorted(expected):
        if expected[key] != got[key]:
            return f"row {key} should be {expected[key]!r}, it is {got[key]!r}"
    return "no difference"


def lock_timeout_before_alter(stmts: list[str], sql: list[str] | None = None) -> tuple[bool, str]:
    """Whether ``SET LOCAL lock_timeout`` (or ``set_config('lock_timeout', ..., true)``) precedes the
    first ALTER TABLE; and that ALTER.  A plain SET (or SESSION) raises ``Fail``: it stays on the
    connection after the migration."""
    seen = False
    for s in stmts:
        m = re.match(r"SET\s+(LOCAL\s+|SESSION\s+)?LOCK_TIMEOUT\b", s)
        c = re.search(r"SET_CONFIG\(\s*'LOCK_TIMEOUT'\s*,[^,]*,\s*(\w+)", s)
        if (m or c) and not re.search(r"(=|TO)\s*'?0'?\s*;?$", s):
            local = (m is not None and (m.group(1) or "").strip() == "LOCAL") or (
                c is not None and c.group(1) == "TRUE")
            if not local:
                raise Fail(f"Your migration sets the lock timeout for the whole connection ({s[:80]}): it "
                           "stays set after the migration's transaction, for whatever runs on that "
                           "connection next. Use SET LOCAL lock_timeout = '2s' (it ends with the "
                           "transaction).", sql=sql or [])
            seen = True
        if s.startswith("ALTER TABLE"):
            return seen, s
    return seen, ""


def _many_rows(st: Any) -> bool:
    """An executemany of more than one parameter set."""
    return bool(st.executemany and isinstance(st.parameters, (list, tuple)) and len(st.parameters) > 1)


def is_rewrite(s: str) -> bool:
    """A statement that copies a table (batch mode's copy, or a CREATE TABLE ... AS)."""
    return bool(re.search(r"_ALEMBIC_TMP_|^CREATE TABLE|^INSERT INTO \S+ \(.*\) SELECT", s))


# --------------------------------------------------------------------------
@exercise(
    "08-order-total",
    lesson=LESSON,
    title="A NOT NULL column on a table with rows: add, backfill, constrain",
    expects="any",
    timeout=20,
    hints=[
        "Three steps: op.add_column(...) with nullable=True (the rows have no value yet), an UPDATE that "
        "fills every row, then make the column NOT NULL.",
        "Describe the tables in the migration with sa.table('orders', sa.column('id'), sa.column('total')) "
        "(and order_items likewise), not with the application's models; the UPDATE sets total to a "
        "correlated subquery: coalesce(sum(quantity * unit_price), 0) of that order's items.",
        "SQLite cannot ALTER a column: `with op.batch_alter_table('orders') as batch: "
        "batch.alter_column('total', existing_type=sa.Numeric(10, 2), nullable=False)` works on both "
        "backends. downgrade(): op.drop_column('orders', 'total') (also in a batch on SQLite).",
    ],
)
def grade_order_total(candidate, g: Grading) -> str:
    with g.database() as fresh, migration(g, candidate, fresh.engine) as m:
        engine = fresh.engine
        with engine.begin() as conn:  # an order without items: its total is 0 (coalesce), not NULL
            conn.execute(sa.text("INSERT INTO orders (id, customer_id, status, created_at) "
                                 "SELECT max(id) + 1, 1, 'pending', max(created_at) FROM orders"))
        before_schema = {"orders": schema_of(engine, "orders")}
        snap = lambda: {r[0]: r[1:] for r in rows(engine, "SELECT id, customer_id, status, created_at FROM orders")}  # noqa: E731
        before = snap()
        sums: dict[int, Decimal] = {oid: Decimal("0.00") for oid in before}
        for oid, qty, price in rows(engine, "SELECT order_id, quantity, unit_price FROM order_items"):
            sums[oid] += qty * cents(price)

        def judge(rec: QueryRecorder, when: str) -> None:
            cols = columns(engine, "orders")
            if "total" not in cols:
                raise Fail(f"After {when} the table orders has no column total.", sql=sql_of(rec))
            col = cols["total"]
            if not isinstance(col["type"], sa.Numeric) or isinstance(col["type"], sa.Float):
                raise Fail(f"orders.total should be Numeric(10, 2); it is {col['type']}.", sql=sql_of(rec))
            if (col["type"].precision, col["type"].scale) != (10, 2):
                raise Fail(f"orders.total should be Numeric(10, 2); it is {col['type']}.", sql=sql_of(rec))
            got = {r[0]: cents(r[1]) for r in rows(engine, "SELECT id, total FROM orders")}
            empty = sorted(k for k, v in got.items() if v is None)
            if empty:
                raise Fail(f"After {when} {len(empty)} orders have no total (e.g. order {empty[0]}): the "
                           "backfill must fill every row.", sql=sql_of(rec))
            updates = [st for st in rec.statements if re.match(r"\s*UPDATE\s+\"?orders\b", st.sql, re.I)]
            if len(updates) > 1 or any(_many_rows(st) for st in updates):
                n_rows = sum(len(st.parameters) if _many_rows(st) else 1 for st in updates)
                raise Fail(f"Your backfill sent {len(updates)} UPDATE statement(s) for {n_rows} rows of orders, "
                           "computing the totals in Python: the task asks for one UPDATE that lets the "
                           "database sum each order's items (a correlated subquery).", sql=sql_of(rec))
            wrong = sorted(k for k in got if got[k] != sums.get(k))
            if wrong:
                k = wrong[0]
                raise Fail(f"After {when} {len(wrong)} orders have a wrong total, e.g. order {k}: expected "
                           f"{sums[k]} (the sum of quantity * unit_price of its items, 0 without items), "
                           f"got {got[k]}.", sql=sql_of(rec))
            if col["nullable"]:
                raise Fail("orders.total is filled but still nullable: the last step makes it NOT NULL "
                           "(alter_column(..., nullable=False), in a batch on SQLite).", sql=sql_of(rec))
            if col.get("default") is not None:
                raise Fail(f"orders.total keeps a server default ({col['default']}): the task asks for "
                           "none, so that a new order without a total is an error, not a silent 0.",
                           sql=sql_of(rec))
            if snap() != before:
                raise Fail(f"The other columns of orders changed: {_first_difference(before, snap())}.",
                           sql=sql_of(rec))
            if fk_check(engine):
                raise Fail("After the migration some rows break a foreign key.", sql=sql_of(rec))

        rec = run_step(m, "upgrade")
        judge(rec, "upgrade()")
        rec2 = expect_round_trip(m, engine, before_schema, before, snap, ["orders"])
        judge(rec2, "downgrade() and upgrade() again")
    return (f"orders.total NOT NULL with the right sum for all {len(before)} orders; downgrade and "
            "upgrade again leave the same data.")


# --------------------------------------------------------------------------
def _split(name: str) -> tuple[str, str]:
    first, _, last = name.partition(" ")
    return first, last


@exercise(
    "08-split-name",
    lesson=LESSON,
    title="Split customers.name into first_name and last_name without losing data",
    expects="any",
    timeout=20,
    hints=[
        "Add first_name and last_name (nullable first), fill them from name, make them NOT NULL, then drop "
        "name. downgrade() does the reverse: add name back, fill it from the two, drop them.",
        "The rule: first_name is the text before the FIRST space, last_name everything after it "
        "('Daan de Vries' -> 'Daan', 'de Vries'): name.partition(' ') in Python, or read the rows with "
        "op.get_bind().execute(sa.select(...)) and write them with one executemany UPDATE.",
        "customers = sa.table('customers', sa.column('id', sa.Integer), sa.column('name', sa.String), "
        "...); op.get_bind().execute(customers.update().where(customers.c.id == sa.bindparam('cid'))"
        ".values(first_name=sa.bindparam('f'), last_name=sa.bindparam('l')), [{...}, ...]). On SQLite "
        "change nullability inside op.batch_alter_table('customers').",
    ],
)
def grade_split_name(candidate, g: Grading) -> str:
    with g.database() as fresh, migration(g, candidate, fresh.engine) as m:
        engine = fresh.engine
        before_schema = {"customers": schema_of(engine, "customers")}
        full = lambda: {r[0]: r[1:] for r in rows(engine, "SELECT id, email, name, country, created_at FROM customers")}  # noqa: E731
        before = full()
        names = {cid: r[1] for cid, r in before.items()}
        others = {cid: (r[0], r[2], r[3]) for cid, r in before.items()}

        def judge(rec: QueryRecorder, when: str) -> None:
            cols = columns(engine, "customers")
            for c in ("first_name", "last_name"):
                if c not in cols:
                    raise Fail(f"After {when} customers has no column {c}.", sql=sql_of(rec))
            if "name" in cols:
                raise Fail(f"After {when} customers still has the column name: the task splits it and "
                           "drops it (the expand/contract way would keep it for a while; this exercise "
                           "is the one-step split).", sql=sql_of(rec))
            got = {r[0]: (r[1], r[2]) for r in rows(engine, "SELECT id, first_name, last_name FROM customers")}
            if set(got) != set(names):
                raise Fail(f"After {when} customers has {len(got)} rows, {len(names)} expected.", sql=sql_of(rec))
            wrong = sorted(cid for cid in names if got[cid] != _split(names[cid]))
            if wrong:
                cid = wrong[0]
                raise Fail(f"After {when} {len(wrong)} customers are split wrongly, e.g. {names[cid]!r} became "
                           f"{got[cid]!r}, expected {_split(names[cid])!r} (first_name before the first "
                           "space, last_name all the rest).", sql=sql_of(rec))
            for c in ("first_name", "last_name"):
                if cols[c]["nullable"]:
                    raise Fail(f"customers.{c} is filled but nullable: make both NOT NULL after the backfill.",
                               sql=sql_of(rec))
                if not is_varchar(cols[c]["type"], 100):
                    raise Fail(f"customers.{c} should be String(100) (VARCHAR(100)); it is {cols[c]['type']}.",
                               sql=sql_of(rec))
            now = {r[0]: r[1:] for r in rows(engine, "SELECT id, email, country, created_at FROM customers")}
            if now != others:
                raise Fail(f"The other columns of customers changed: {_first_difference(others, now)}.",
                           sql=sql_of(rec))
            if fk_check(engine):
                raise Fail("After the migration some rows break a foreign key (orders, reviews and profiles "
                           "point at customers).", sql=sql_of(rec))

        rec = run_step(m, "upgrade")
        judge(rec, "upgrade()")
        rec2 = expect_round_trip(m, engine, before_schema, before, full, ["customers"])
        judge(rec2, "downgrade() and upgrade() again")
    return (f"all {len(names)} names split at the first space into NOT NULL first_name/last_name, "
            "and downgrade() gives every name back unchanged.")


# --------------------------------------------------------------------------
@exercise(
    "08-expand-title",
    lesson=LESSON,
    title="Rename products.name to title, step 1 (expand): no rename, no rewrite, lock_timeout",
    expects="any",
    timeout=20,
    hints=[
        "Expand means: the old column stays (the running release still reads and writes name), the new "
        "one is added next to it. No rename, no drop, no batch mode: a plain op.add_column with a "
        "nullable column is instant on both backends.",
        "Then copy the values: op.execute(products.update().values(title=products.c.name)) with "
        "products = sa.table('products', sa.column('name', sa.String), sa.column('title', sa.String)).",
        "On PostgreSQL first op.execute(\"SET LOCAL lock_timeout = '2s'\") so that the ALTER gives up "
        "instead of queueing every query behind it (test op.get_bind().dialect.name == 'postgresql'). "
        "downgrade(): op.drop_column('products', 'title').",
    ],
)
def grade_expand_title(candidate, g: Grading) -> str:
    with g.database() as fresh, migration(g, candidate, fresh.engine) as m:
        engine = fresh.engine
        pg = engine.dialect.name == "postgresql"
        before_schema = {"products": schema_of(engine, "products")}
        snap = lambda: {r[0]: r[1:] for r in rows(engine, "SELECT id, sku, name, price, category_id, created_at FROM products")}  # noqa: E731
        before = snap()
        filenode = relfilenode(engine, "products") if pg else None

        def judge(rec: QueryRecorder, when: str) -> None:
            stmts = own(rec)
            rewrites = [s for s in stmts if is_rewrite(s)]
            if rewrites:
                raise Fail("Your upgrade() copies the whole products table (batch mode: CREATE TABLE "
                           "_alembic_tmp_products, INSERT ... SELECT, DROP): a table rewrite is exactly what "
                           "an expand step avoids. A plain op.add_column of a nullable column is enough.",
                           sql=sql_of(rec))
            renames = [s for s in stmts if re.search(r"\bRENAME\b", s)]
            if renames:
                raise Fail("Your upgrade() renames a column: the running release still reads products.name "
                           "and breaks the moment it is gone. The expand step adds title next to name.",
                           sql=sql_of(rec))
            cols = columns(engine, "products")
            if "name" not in cols:
                raise Fail(f"After {when} products.name is gone: the expand step keeps it for the release "
                           "that still uses it (it is dropped in the contract step, later).", sql=sql_of(rec))
            if "title" not in cols:
                raise Fail(f"After {when} products has no column title.", sql=sql_of(rec))
            if not cols["title"]["nullable"]:
                raise Fail("products.title is NOT NULL: the old release inserts products without a title, "
                           "so in the expand step the new column must be nullable.", sql=sql_of(rec))
            if not is_varchar(cols["title"]["type"], 200):
                raise Fail(f"products.title should be String(200) (VARCHAR(200)) like name; it is "
                           f"{cols['title']['type']}.", sql=sql_of(rec))
            got = {r[0]: r[1] for r in rows(engine, "SELECT id, title FROM products")}
            wrong = sorted(k for k in before if got.get(k) != before[k][1])
            if wrong:
                k = wrong[0]
                raise Fail(f"After {when} {len(wrong)} products have a wrong title, e.g. product {k}: expected "
                           f"{before[k][1]!r} (its name), got {got.get(k)!r}. Copy name into title.",
                           sql=sql_of(rec))
            if snap() != before:
                raise Fail(f"The other columns of products changed: {_first_difference(before, snap())}.",
                           sql=sql_of(rec))
            if pg:
                _expand_pg(stmts, sql_of(rec))

        rec = run_step(m, "upgrade")
        if pg and relfilenode(engine, "products") != filenode:
            raise Fail("Your upgrade() rewrote the whole products table (its storage file changed, "
                       "pg_class.relfilenode): a volatile default or a type change makes PostgreSQL copy "
                       "every row under an exclusive lock, exactly what an expand step avoids. Add a "
                       "nullable column without a default, then copy the values with an UPDATE.",
                       sql=sql_of(rec))
        judge(rec, "upgrade()")
        rec2 = expect_round_trip(m, engine, before_schema, before, snap, ["products"])
        judge(rec2, "downgrade() and upgrade() again")
        note = "" if pg else judge_postgresql_offline(
            m, "the lock timeout before the ALTER on PostgreSQL", {"upgrade": _expand_pg})
    extra = ", lock_timeout set before the ALTER" if pg else ""
    return (f"title added next to name and filled for all {len(before)} products, no rename and no table "
            f"rewrite{extra}; downgrade leaves products as it was." + note
            + ("" if pg else " (PostgreSQL's table-rewrite check, relfilenode, needs PostgreSQL.)"))


def _expand_pg(stmts: list[str], sql: list[str]) -> None:
    ok, _ = lock_timeout_before_alter(stmts, sql)
    if not ok:
        raise Fail("On PostgreSQL set a lock timeout before the ALTER TABLE (op.execute(\"SET "
                   "LOCAL lock_timeout = '2s'\")): without it, an ALTER waiting behind a long "
                   "transaction makes every new query on products queue behind it.", sql=sql)


# --------------------------------------------------------------------------
SHIPMENTS = sa.Table(
    "shipments", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("order_id", sa.Integer, nullable=False),
    sa.Column("carrier", sa.String(20), nullable=False),
)
FK_NAME = "fk_shipments_order_id_orders"


def make_shipments(engine: sa.Engine) -> int:
    """The exercise's starting point: a shipments table with no foreign key, one row per shipped order."""
    with engine.begin() as conn:
        SHIPMENTS.create(conn)
        ids = list(conn.scalars(sa.text("SELECT id FROM orders WHERE status = 'shipped' ORDER BY id")))
        carriers = ("DHL", "UPS", "FedEx", "GLS")
        conn.execute(SHIPMENTS.insert(), [{"id": i + 1, "order_id": oid, "carrier": carriers[oid % 4]}
                                          for i, oid in enumerate(ids)])
    return len(ids)


@exercise(
    "08-fk-not-valid",
    lesson=LESSON,
    title="A foreign key on a big table without a long lock",
    expects="any",
    timeout=20,
    hints=[
        "The constraint: op.create_foreign_key('fk_shipments_order_id_orders', 'shipments', 'orders', "
        "['order_id'], ['id']). Adding it checks every row while holding a lock that blocks writes: on "
        "PostgreSQL split it in two.",
        "PostgreSQL: SET LOCAL lock_timeout first, then create_foreign_key(..., postgresql_not_valid=True) "
        "(instant: old rows are not checked), then op.execute('ALTER TABLE shipments VALIDATE CONSTRAINT "
        "fk_shipments_order_id_orders') (checks the rows with a lock that lets reads and writes go on).",
        "SQLite cannot add a constraint with ALTER TABLE: there, `with op.batch_alter_table('shipments') as "
        "batch: batch.create_foreign_key(...)` (a copy of the table). Branch on "
        "op.get_bind().dialect.name. downgrade(): drop_constraint(name, 'shipments', type_='foreignkey') "
        "(in a batch on SQLite).",
    ],
)
def grade_fk_not_valid(candidate, g: Grading) -> str:
    with g.database() as fresh:
        engine = fresh.engine
        n = make_shipments(engine)
        with migration(g, candidate, engine) as m:
            pg = engine.dialect.name == "postgresql"
            before_schema = {"shipments": schema_of(engine, "shipments")}
            snap = lambda: {r[0]: r[1:] for r in rows(engine, "SELECT id, order_id, carrier FROM shipments")}  # noqa: E731
            before = snap()

            def judge(rec: QueryRecorder, when: str) -> None:
                fks = foreign_keys(engine, "shipments")
                if not fks:
                    raise Fail(f"After {when} shipments has no foreign key.", sql=sql_of(rec))
                fk = fks[0]
                if (fk["constrained_columns"], fk["referred_table"], fk["referred_columns"]) != (
                        ["order_id"], "orders", ["id"]):
                    raise Fail(f"The foreign key should be shipments.order_id -> orders.id; it is "
                               f"{fk['constrained_columns']} -> {fk['referred_table']}.{fk['referred_columns']}.",
                               sql=sql_of(rec))
                if fk.get("name") != FK_NAME:
                    raise Fail(f"The foreign key is named {fk.get('name')!r}; the task names it {FK_NAME!r} "
                               "(the naming convention's name, so that a later migration can drop it).",
                               sql=sql_of(rec))
                actions = {k: v for k, v in (fk.get("options") or {}).items()
                           if k in ("ondelete", "onupdate") and v and v.upper() not in ("NO ACTION", "RESTRICT")}
                if actions:
                    what = ", ".join(f"ON {k[2:].upper()} {v.upper()}" for k, v in sorted(actions.items()))
                    raise Fail(f"The foreign key has {what}: the task asks for a plain foreign key. With ON "
                               "DELETE CASCADE, deleting an order would silently delete its shipments; "
                               "without it, the delete fails while shipments point at the order. Leave "
                               "ondelete/onupdate out.", sql=sql_of(rec))
                if snap() != before:
                    raise Fail(f"The rows of shipments changed: {_first_difference(before, snap())}.",
                               sql=sql_of(rec))
                if fk_check(engine):
                    raise Fail("After the migration some shipments point at no order.", sql=sql_of(rec))
                if pg:
                    _fk_pg(own(rec), sql_of(rec))
                    valid = rows(engine, f"SELECT convalidated FROM pg_constraint WHERE conname = '{FK_NAME}'")
                    if valid != [(True,)]:
                        raise Fail("The constraint is not validated after the upgrade.", sql=sql_of(rec))

            rec = run_step(m, "upgrade")
            judge(rec, "upgrade()")
            def no_fk(rec_down: QueryRecorder) -> None:
                if foreign_keys(engine, "shipments"):
                    raise Fail("After downgrade() shipments still has its foreign key: drop it "
                               "(op.drop_constraint(..., type_='foreignkey'), in a batch on SQLite).",
                               sql=sql_of(rec_down))

            rec2 = expect_round_trip(m, engine, before_schema, before, snap, ["shipments"], no_fk)
            judge(rec2, "downgrade() and upgrade() again")
            note = "" if pg else judge_postgresql_offline(
                m, "lock_timeout, NOT VALID and VALIDATE CONSTRAINT on PostgreSQL", {"upgrade": _fk_pg})
    how = "added NOT VALID after SET lock_timeout, then validated" if pg else "added by a batch copy"
    return f"{FK_NAME} on {n} shipments, {how}; downgrade removes it and keeps every row." + note


def _fk_pg(stmts: list[str], sql: list[str]) -> None:
    adds = [s for s in stmts if "ADD CONSTRAINT" in s]
    if not adds or not adds[0].rstrip().endswith("NOT VALID"):
        raise Fail("On PostgreSQL add the foreign key NOT VALID (postgresql_not_valid=True): "
                   "a plain ADD CONSTRAINT ... FOREIGN KEY checks every row while it blocks "
                   "writes to shipments (and orders).", sql=sql)
    ok, _ = lock_timeout_before_alter(stmts, sql)
    if not ok:
        raise Fail("On PostgreSQL set a lock timeout before the ALTER TABLE (SET LOCAL "
                   "lock_timeout): even a NOT VALID constraint needs a brief lock on both "
                   "tables, and waiting for it blocks every query behind it.", sql=sql)
    if not any(re.search(r"VALIDATE CONSTRAINT\s+\"?" + FK_NAME.upper(), s) for s in stmts):
        raise Fail("The constraint was added NOT VALID and never validated: run ALTER TABLE "
                   f"shipments VALIDATE CONSTRAINT {FK_NAME} after it.", sql=sql)


# --------------------------------------------------------------------------
IX_NAME = "ix_orders_status"


@exercise(
    "08-index-concurrently",
    lesson=LESSON,
    title="An index built without blocking writes: CREATE INDEX CONCURRENTLY",
    expects="any",
    timeout=20,
    hints=[
        "op.create_index('ix_orders_status', 'orders', ['status'], postgresql_concurrently=True): on "
        "PostgreSQL the index is built while writes go on; other databases ignore the option.",
        "PostgreSQL refuses CONCURRENTLY inside a transaction block, and Alembic runs a migration in "
        "one: wrap the call in `with op.get_context().autocommit_block():`.",
        "downgrade(): the same block around op.drop_index('ix_orders_status', table_name='orders', "
        "postgresql_concurrently=True).",
    ],
)
def grade_index_concurrently(candidate, g: Grading) -> str:
    with g.database() as fresh, migration(g, candidate, fresh.engine) as m:
        engine = fresh.engine
        pg = engine.dialect.name == "postgresql"
        before_ix = sorted(ix["name"] for ix in indexes(engine, "orders"))
        snap = lambda: {r[0]: r[1:] for r in rows(engine, "SELECT id, customer_id, status, created_at FROM orders")}  # noqa: E731
        before = snap()

        def judge(rec: QueryRecorder, when: str) -> None:
            found = {ix["name"]: ix for ix in indexes(engine, "orders")}
            if IX_NAME not in found:
                other = sorted(set(found) - set(before_ix))
                extra = f" (there is a new index {other[0]!r}: the task names it {IX_NAME!r})" if other else ""
                raise Fail(f"After {when} orders has no index {IX_NAME}{extra}.", sql=sql_of(rec))
            if found[IX_NAME]["column_names"] != ["status"]:
                raise Fail(f"{IX_NAME} should index (status); it indexes {tuple(found[IX_NAME]['column_names'])}.",
                           sql=sql_of(rec))
            if found[IX_NAME].get("unique"):
                raise Fail(f"{IX_NAME} is UNIQUE: many orders share a status, it must be a plain index.",
                           sql=sql_of(rec))
            where = {k: v for k, v in (found[IX_NAME].get("dialect_options") or {}).items()
                     if k.endswith("_where") and v is not None}
            creates = [s for s in own(rec) if s.startswith("CREATE") and "INDEX" in s]
            if where or any(re.search(r"\)\s*WHERE\b", s) for s in creates):
                cond = next(iter(where.values()), None)
                raise Fail(f"{IX_NAME} is a partial index (WHERE {cond if cond is not None else '...'}): the task "
                           "asks for a plain index on orders (status), covering every row. Leave "
                           "postgresql_where / sqlite_where out.", sql=sql_of(rec))
            if snap() != before:
                raise Fail("The rows of orders changed.", sql=sql_of(rec))
            if pg:
                _ix_create_pg(own(rec), sql_of(rec))

        rec = run_step(m, "upgrade")
        judge(rec, "upgrade()")
        rec_down = run_step(m, "downgrade")
        now_ix = sorted(ix["name"] for ix in indexes(engine, "orders"))
        if now_ix != before_ix:
            raise Fail(f"After downgrade() the indexes of orders are {now_ix}, expected {before_ix} as before.",
                       sql=sql_of(rec_down))
        if pg:
            _ix_drop_pg(own(rec_down), sql_of(rec_down))
        rec2 = run_step(m, "upgrade")
        judge(rec2, "downgrade() and upgrade() again")
        note = "" if pg else judge_postgresql_offline(
            m, "CREATE and DROP INDEX CONCURRENTLY outside a transaction on PostgreSQL",
            {"upgrade": _ix_create_pg, "downgrade": _ix_drop_pg})
    how = "CONCURRENTLY, outside a transaction" if pg else "(SQLite ignores CONCURRENTLY)"
    return f"{IX_NAME} on orders(status) built {how}; dropped by downgrade and built again." + note


_AUTOCOMMIT = ("PostgreSQL refuses CONCURRENTLY inside a transaction block, and Alembic runs the migration "
               "in one: put the call in `with op.get_context().autocommit_block():`.")


def _ix_create_pg(stmts: list[str], sql: list[str]) -> None:
    creates = [s for s in stmts if s.startswith("CREATE") and "INDEX" in s]
    if not creates or "CONCURRENTLY" not in creates[0]:
        raise Fail("On PostgreSQL build the index CONCURRENTLY (postgresql_concurrently=True): a "
                   "plain CREATE INDEX blocks every write to orders until it is built.", sql=sql)
    if any(re.search(r"\)\s*WHERE\b", c) for c in creates):
        raise Fail(f"{IX_NAME} is a partial index on PostgreSQL (CREATE INDEX ... WHERE): the task asks for "
                   "a plain index on orders (status), covering every row. Leave postgresql_where out.",
                   sql=sql)
    if outside_transaction(stmts, r"^CREATE .*INDEX CONCURRENTLY") is False:
        raise Fail("Your CREATE INDEX CONCURRENTLY runs inside the migration's transaction: " + _AUTOCOMMIT,
                   sql=sql)


def _ix_drop_pg(stmts: list[str], sql: list[str]) -> None:
    drops = [s for s in stmts if s.startswith("DROP INDEX")]
    if not drops or "CONCURRENTLY" not in drops[0]:
        raise Fail("On PostgreSQL drop the index CONCURRENTLY too (a plain DROP INDEX takes a lock "
                   "that blocks every query on orders).", sql=sql)
    if outside_transaction(stmts, r"^DROP INDEX CONCURRENTLY") is False:
        raise Fail("Your DROP INDEX CONCURRENTLY runs inside the migration's transaction: " + _AUTOCOMMIT,
                   sql=sql)
