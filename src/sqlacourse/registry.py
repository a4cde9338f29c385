"""The exercise registry: every graded exercise's id, lesson, title, hints and grader.

This module is at the bottom of the package: it imports nothing of the course's,
and everything else (the runner ``grading``, the graders in ``graders/``,
``hints``, ``progress_store``, ``submission``) imports it.

An exercise is a grader function registered with ``@exercise``.  It receives
the learner's candidate and a ``Grading`` helper (see ``grading.py``), and
either returns a short "why it passed" sentence or raises ``Fail`` with what
was expected and what the code did.

To find everything about an exercise by its id, e.g. ``03-safe-search``:
its task is in ``solutions/03-querying.ipynb``, its grader and hints in
``graders/lesson03.py`` (search for the id), its tests in
``tests/test_graders_03.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class Fail(Exception):
    """Raised by a grader: the candidate does not meet the exercise."""

    def __init__(self, message: str, details: str = "", sql: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.sql = list(sql or [])


Grader = Callable[[Any, Any], str]


@dataclass
class Exercise:
    id: str
    lesson: str
    title: str
    hints: list[str]
    grader: Grader
    expects: str = "function"  # "function", "async function" (an async def grader), "class" or "any"
    timeout: float | None = None


REGISTRY: dict[str, Exercise] = {}


def exercise(
    id: str,
    *,
    lesson: str,
    title: str,
    hints: list[str],
    expects: str = "function",
    timeout: float | None = None,
) -> Callable[[Grader], Grader]:
    """Register a grader for exercise ``id`` (decorator)."""

    def register(fn: Grader) -> Grader:
        if id in REGISTRY:
            raise ValueError(f"exercise {id!r} is registered twice")
        if not hints:
            raise ValueError(f"exercise {id!r} has no hints")
        REGISTRY[id] = Exercise(id, lesson, title, list(hints), fn, expects, timeout)
        return fn

    return register


def load_all() -> dict[str, Exercise]:
    """Import every lesson's graders (which registers them) and return the registry."""
    from . import graders  # noqa: F401

    return REGISTRY


def exercises_for(lesson: str) -> list[Exercise]:
    """The exercises of one lesson (``"02-sessions"``), in the order they are registered."""
    return [ex for ex in load_all().values() if ex.lesson == lesson]
