"""Readable, stable SQL echo.

``create_engine(..., echo=True)`` logs through the ``sqlalchemy.engine.Engine``
logger.  SQLAlchemy's default handler prefixes each line with a timestamp and
the logger name, and the parameter line carries timings such as
``[generated in 0.00108s]`` that change on every run.  This module installs one
handler on that logger (so SQLAlchemy does not add its own) that prints only
the message, and a filter that rewrites the cache statistics to a stable form
(``[generated]``, ``[cached]``) in the log record itself, before any output
exists.  Nothing is masked afterwards.
"""

from __future__ import annotations

import logging
import re
import sys

ENGINE_LOGGER = "sqlalchemy.engine.Engine"

_TIMING = re.compile(
    r"^(?P<what>generated|cached since|no key|caching disabled(?: \([^)]*\))?|"
    r"dialect \S+ does not support caching)"
    r"(?: in)? ?[-+0-9.e]+s(?: ago)?\s*(?P<rest>.*)$"
)
_WORDS = {"cached since": "cached"}


def stable_stats(stats: str) -> str:
    """``'generated in 0.00012s'`` -> ``'generated'``; other text unchanged."""
    match = _TIMING.match(stats)
    if not match:
        return stats
    what = _WORDS.get(match["what"], match["what"])
    return f"{what}{match['rest'] and ' ' + match['rest']}"


class StableStatsFilter(logging.Filter):
    """Rewrites the cache-statistics argument of SQLAlchemy's parameter line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("[%s]") and record.args:
            args = list(record.args)  # type: ignore[arg-type]
            if isinstance(args[0], str):
                args[0] = stable_stats(args[0])
                record.args = tuple(args)
        return True


class _CurrentStdout(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time (Jupyter swaps it per cell)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self):  # noqa: D401 - property
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # logging.StreamHandler assigns it once
        pass


_handler: logging.Handler | None = None


def install() -> logging.Handler:
    """Install the readable echo handler once; later calls return the same one."""
    global _handler
    if _handler is None:
        handler = _CurrentStdout()
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(StableStatsFilter())
        logger = logging.getLogger(ENGINE_LOGGER)
        logger.addHandler(handler)
        logger.propagate = False
        _handler = handler
    return _handler
