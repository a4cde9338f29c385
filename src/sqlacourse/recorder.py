"""Record the SQL that a block of code emits.

    with record_queries(engine) as rec:
        for customer in session.scalars(select(Customer)):
            customer.orders            # lazy load
    rec.count          # 1 + N
    print(rec)         # a numbered list of the statements

It listens to the engine's ``before_cursor_execute`` event, so it sees exactly
what reaches the database driver (one entry per DBAPI call: an executemany or
one insertmanyvalues batch counts once), and to ``commit`` / ``rollback`` to
tell whether the block ended its transaction.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Statement:
    """One statement sent to the driver."""

    sql: str
    parameters: Any
    executemany: bool

    @property
    def kind(self) -> str:
        """The first keyword: SELECT, INSERT, UPDATE, DELETE, CREATE, WITH, PRAGMA ..."""
        word = self.sql.lstrip().split(None, 1)
        return word[0].upper() if word else ""

    @property
    def one_line(self) -> str:
        return _WS.sub(" ", self.sql).strip()

    def has(self, *keywords: str) -> bool:
        """Whether any of the SQL keywords (``"ORDER BY"``, ``"WHERE"`` ...) occurs as whole words."""
        text = self.one_line.upper()
        return any(re.search(r"\b" + k.upper().replace(" ", r"\s+") + r"\b", text) for k in keywords)

    def clause(self, keyword: str) -> str:
        """The statement from the last ``keyword`` on, upper-cased ('' without it)."""
        text = self.one_line.upper()
        at = text.rfind(keyword.upper())
        return text[at:] if at >= 0 else ""

    def __str__(self) -> str:
        return self.one_line


@dataclass
class QueryRecorder:
    """What one ``record_queries`` block saw."""

    statements: list[Statement] = field(default_factory=list)
    commits: int = 0
    rollbacks: int = 0

    @property
    def count(self) -> int:
        return len(self.statements)

    def __len__(self) -> int:
        return len(self.statements)

    def __iter__(self) -> Iterator[Statement]:
        return iter(self.statements)

    @property
    def kinds(self) -> Counter[str]:
        """How many statements of each kind, e.g. ``Counter({'SELECT': 3})``."""
        return Counter(s.kind for s in self.statements)

    def of_kind(self, kind: str) -> list[Statement]:
        return [s for s in self.statements if s.kind == kind.upper()]

    @property
    def selects(self) -> list[Statement]:
        return self.of_kind("SELECT")

    @property
    def committed(self) -> bool:
        return self.commits > 0

    def summary(self) -> str:
        if not self.statements:
            return "no statements"
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.kinds.items()))
        noun = "statement" if self.count == 1 else "statements"
        return f"{self.count} {noun} ({parts})"

    def listing(self, limit: int = 10, width: int = 160) -> str:
        lines = []
        for i, stmt in enumerate(self.statements[:limit], 1):
            text = stmt.one_line
            if len(text) > width:
                text = text[: width - 3] + "..."
            lines.append(f"{i:>3}. {text}")
        if self.count > limit:
            lines.append(f"     ... and {self.count - limit} more")
        return "\n".join(lines)

    def __str__(self) -> str:
        return f"{self.summary()}\n{self.listing()}" if self.statements else self.summary()

    def __repr__(self) -> str:
        return f"<QueryRecorder: {self.summary()}>"

    def _repr_pretty_(self, p, cycle) -> None:  # IPython display
        p.text(str(self))


def _sync_target(bind: Engine | Connection | AsyncEngine) -> Engine | Connection:
    if isinstance(bind, AsyncEngine):
        return bind.sync_engine
    if isinstance(bind, (Engine, Connection)):
        return bind
    sync = getattr(bind, "sync_engine", None)  # AsyncConnection
    if sync is not None:
        return sync
    raise TypeError(
        f"record_queries() needs an Engine, Connection or AsyncEngine, got {type(bind).__name__}"
    )


@contextmanager
def record_queries(bind: Engine | Connection | AsyncEngine) -> Iterator[QueryRecorder]:
    """Collect every statement that ``bind`` sends to the database inside the block."""
    target = _sync_target(bind)
    rec = QueryRecorder()

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        rec.statements.append(Statement(statement, parameters, executemany))

    def on_commit(conn):
        rec.commits += 1

    def on_rollback(conn):
        rec.rollbacks += 1

    listeners = [
        ("before_cursor_execute", on_execute),
        ("commit", on_commit),
        ("rollback", on_rollback),
    ]
    for name, fn in listeners:
        event.listen(target, name, fn)
    try:
        yield rec
    finally:
        for name, fn in listeners:
            event.remove(target, name, fn)
