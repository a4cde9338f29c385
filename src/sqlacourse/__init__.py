"""SQLAlchemy Patterns: the course's helper package.

What a notebook uses:

* ``setup(name)``: a fresh database for the notebook, with readable SQL echo.
* ``record_queries(engine)``: count and list the SQL a block of code emits.
* ``check(exercise_id, answer)`` and ``hint(exercise_id)``: graded exercises.
* ``progress()``: which exercises are done.
* ``er_diagram(metadata)``: an ER diagram that JupyterLab draws.
"""

from __future__ import annotations

import os

# JupySQL (the %sql magic) depends on ploomber-core, which would send usage
# statistics and check for new versions over the network: not from a course.
os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
os.environ.setdefault("PLOOMBER_VERSION_CHECK_DISABLED", "true")

from .diagram import er_diagram
from .grading import Feedback
from .grading import grade as check
from .hints import hint
from .lesson import fresh_database, setup
from .recorder import record_queries

__version__ = "0.1.0"


class _ProgressTable(str):
    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def __repr__(self) -> str:
        return str(self)


def progress(lesson: str | None = None) -> _ProgressTable:
    """A table of done and not-done exercises per lesson (``lesson="02"``: that lesson only)."""
    from .progress_store import table

    return _ProgressTable(table(show_path=False, lesson=lesson))


__all__ = [
    "Feedback",
    "check",
    "er_diagram",
    "fresh_database",
    "hint",
    "progress",
    "record_queries",
    "setup",
]
