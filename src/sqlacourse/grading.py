"""Grading one answer: the safe runner and the feedback.

The exercises and their graders are registered in ``registry.py``.
``grade()`` runs a grader so that nothing escapes: the learner's
exceptions become feedback (traceback trimmed to their own cells), a run past
the time limit is stopped, and a wrong kind of candidate gets a plain
sentence.  Each grading works on a fresh database of its own, so a learner's
database is never touched.
"""

from __future__ import annotations

import contextlib
import html
import inspect
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .registry import Exercise, Fail, load_all

DEFAULT_TIMEOUT = float(os.environ.get("SQLACOURSE_CHECK_TIMEOUT", "10"))
REPORT_ENV = "SQLACOURSE_GRADE_REPORT"
_PACKAGE_DIR = str(Path(__file__).resolve().parent)


# --------------------------------------------------------------------------
# Feedback
# --------------------------------------------------------------------------
@dataclass
class Feedback:
    """The result of grading one exercise: ``passed`` and a ``message``."""

    exercise: str
    passed: bool
    message: str
    details: str = ""
    sql: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.exercise, "passed": self.passed, "message": self.message}

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = "PASSED" if self.passed else "NOT PASSED"
        lines = [f"[{mark}] {self.exercise}: {self.message}"]
        if self.details:
            lines += ["    " + line if line else "" for line in self.details.splitlines()]
        if self.sql:
            lines.append("    SQL your code emitted:")
            lines += [f"    {i:>3}. {s}" for i, s in enumerate(self.sql, 1)]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        color, mark = ("#1a7f37", "&#10004; passed") if self.passed else ("#b35900", "&#10008; not passed")
        parts = [
            f'<div style="border-left:4px solid {color};padding:4px 10px;margin:4px 0">',
            f'<b style="color:{color}">{mark}</b> <code>{html.escape(self.exercise)}</code>: ',
            html.escape(self.message),
        ]
        if self.details:
            parts.append(f"<pre style='margin:6px 0 0 0'>{html.escape(self.details)}</pre>")
        if self.sql:
            items = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in self.sql)
            parts.append(f"<div>SQL your code emitted:</div><ol style='margin:2px 0'>{items}</ol>")
        parts.append("</div>")
        return "".join(parts)


class CandidateTimeout(BaseException):
    """The learner's code ran past the time limit (a BaseException, so that
    ``except Exception`` in learner code cannot swallow it)."""


# --------------------------------------------------------------------------
# Running learner code safely
# --------------------------------------------------------------------------
def _cell_label(filename: str) -> str | None:
    """``Cell In[7]`` for code typed in a notebook cell, None for library code."""
    try:
        ip = get_ipython()  # type: ignore[name-defined]  # noqa: F821
        count = ip.compile._filename_map.get(filename)
        if count is not None:
            return f"Cell In[{count}]"
    except Exception:
        pass
    if re.search(r"ipykernel_\d+|<ipython-input-", filename):
        return "a notebook cell"
    return None


def _is_library(filename: str) -> bool:
    if filename.startswith(_PACKAGE_DIR):
        return True
    if filename.startswith("<") and not filename.startswith("<ipython-input-"):
        return True  # code generated at run time, e.g. "<sqlalchemy generated _go() wrapper>"
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return any(filename.startswith(p + os.sep + "lib") for p in prefixes) or "site-packages" in filename


def learner_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` with only the learner's own frames, then the error line."""
    frames = traceback.extract_tb(exc.__traceback__)
    lines = []
    for fr in frames:
        if _is_library(fr.filename):
            continue
        where = _cell_label(fr.filename) or Path(fr.filename).name
        lines.append(f"  {where}, line {fr.lineno}, in {fr.name}")
        if fr.line:
            lines.append(f"    {fr.line.strip()}")
    message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    message = re.sub(r" at 0x[0-9a-f]+", "", message)  # object addresses change every run
    out = (["Traceback (your code only):"] + lines) if lines else []
    return "\n".join(out + [message])


@contextlib.contextmanager
def _deadline(g: Grading) -> Iterator[None]:
    """Stop learner code that runs past ``g.timeout`` seconds.

    In the main thread a timer signal raises ``CandidateTimeout`` while learner
    code runs (``Grading.call``); it re-fires every 0.2 s, so code that swallows
    the first one with a bare ``except:`` is interrupted again.  Grader code
    (setting up and dropping databases) is never interrupted: an expiry there
    is only noted, and the next call into learner code stops at once.
    """
    usable = (threading.current_thread() is threading.main_thread()
              and hasattr(signal, "setitimer") and g.timeout > 0)
    if not usable:
        yield
        return

    def tracer(frame, event, arg):
        # Raised on every line of learner code: it escapes even `except: pass`.
        if event == "line" and g.in_candidate and not _is_library(frame.f_code.co_filename):
            raise CandidateTimeout()
        return tracer

    previous_trace = sys.gettrace()
    swallowed = [0]

    def on_alarm(signum, frame):
        g.expired = True
        if not g.in_candidate:
            return
        swallowed[0] += 1
        if swallowed[0] == 2:  # the first one was caught by the learner's code
            sys.settrace(tracer)
            f = frame
            while f is not None:
                f.f_trace_lines = True
                f.f_trace = tracer
                f = f.f_back
        raise CandidateTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, g.timeout, 0.2)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, previous)
        if swallowed[0] >= 2:
            sys.settrace(previous_trace)
            f = sys._getframe()
            while f is not None:
                if f.f_trace is tracer:
                    f.f_trace = None
                f = f.f_back


class LearnerError(Fail):
    """The learner's code raised an exception."""


class Grading:
    """What a grader gets besides the candidate: safe calls, fresh databases."""

    def __init__(self, exercise: Exercise, timeout: float) -> None:
        self.exercise = exercise
        self.timeout = timeout
        self._deadline_at: float | None = None
        self.in_candidate = 0
        self.expired = False

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call learner code; its exceptions become a ``LearnerError`` with a trimmed traceback."""
        if self.expired:
            raise CandidateTimeout()
        self.in_candidate += 1
        try:
            return fn(*args, **kwargs)
        except (Fail, CandidateTimeout, KeyboardInterrupt):
            raise
        except Exception as exc:
            if self.expired or (self._deadline_at and time.monotonic() > self._deadline_at):
                raise CandidateTimeout() from None  # e.g. a query interrupted at the deadline
            self._learner_error(exc)
        finally:
            self.in_candidate -= 1

    def learner_error(self, exc: Exception) -> None:
        """Raise the feedback for an exception the learner's code raised (for graders
        that catch learner exceptions themselves)."""
        self._learner_error(exc)

    def _learner_error(self, exc: Exception) -> None:
        if isinstance(exc, NotImplementedError):
            raise LearnerError(
                "Not implemented yet: replace `raise NotImplementedError` with your answer, "
                "run that cell, then run this check again."
            ) from None
        raise LearnerError(
            f"Your code raised {type(exc).__name__}.", learner_traceback(exc)
        ) from None

    def database(self, *, data: bool = True, metadata=None):
        """A fresh database for this grading (see ``sqlacourse.fresh_database``)."""
        from .lesson import fresh_database

        return fresh_database(
            f"check_{self.exercise.id}", data=data, metadata=metadata, deadline=self._deadline_at
        )


def _describe(obj: Any) -> str:
    if obj is None:
        return "None"
    if inspect.isclass(obj):
        return f"the class {obj.__name__}"
    if inspect.iscoroutine(obj):
        return "a coroutine (the result of calling an async function)"
    if callable(obj):
        return f"the function {getattr(obj, '__name__', obj)!r}"
    if isinstance(obj, (int, float, str, bytes, list, tuple, dict, set)):
        return f"a value of type {type(obj).__name__} ({obj!r:.60})"
    return f"an instance of {type(obj).__name__}, not the class itself"


def _check_kind(ex: Exercise, candidate: Any) -> str | None:
    if candidate is None:
        return ("Nothing to check yet: your answer is still None. Write it in the cell above, "
                "run that cell, then run this check again.")
    if ex.expects == "function":
        if inspect.iscoroutine(candidate):
            candidate.close()
            return ("check() needs the function itself, and you passed what calling it returned. "
                    f"Pass the name without parentheses: check(\"{ex.id}\", my_function).")
        if inspect.isclass(candidate) or not callable(candidate):
            return (f"check() needs a function for this exercise, and you passed {_describe(candidate)}. "
                    f"Pass the function's name without parentheses: check(\"{ex.id}\", my_function).")
    if ex.expects == "class" and not inspect.isclass(candidate):
        return (f"check() needs a class for this exercise, and you passed {_describe(candidate)}. "
                "Run the cell that defines the class, then pass the class itself.")
    return None


def _record(feedback: Feedback) -> None:
    from . import progress_store as progress

    progress.record_check(feedback.exercise, feedback.passed)
    report = os.environ.get(REPORT_ENV)
    if report:
        with open(report, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(feedback.as_dict()) + "\n")


def grade(exercise_id: str, candidate: Any, *, timeout: float | None = None) -> Feedback:
    """Grade ``candidate`` for ``exercise_id``; never raises (but lets Ctrl-C through)."""
    registry = load_all()
    ex = registry.get(exercise_id) if isinstance(exercise_id, str) else None
    if ex is None:
        known = ", ".join(sorted(registry)) or "none"
        return Feedback(str(exercise_id), False,
                        f"There is no exercise called {exercise_id!r}. Known exercises: {known}.")
    problem = _check_kind(ex, candidate)
    if problem:
        fb = Feedback(ex.id, False, problem)
        _record(fb)
        return fb

    limit = timeout if timeout is not None else (ex.timeout or DEFAULT_TIMEOUT)
    g = Grading(ex, limit)
    g._deadline_at = time.monotonic() + limit
    try:
        # A grader never prints warnings into the learner's output (SAWarnings about their
        # mapping or query, deprecations): they are caught here and dropped.
        with _deadline(g), warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            why = ex.grader(candidate, g)
        fb = Feedback(ex.id, True, why or "all checks passed.")
    except CandidateTimeout:
        fb = Feedback(ex.id, False,
                      f"Stopped after {limit:g} s: your code did not finish in time. "
                      "Look for a loop that never ends or a query that never returns.")
    except Fail as f:
        fb = Feedback(ex.id, False, f.message, f.details, f.sql)
    except KeyboardInterrupt:
        fb = Feedback(ex.id, False, "Interrupted before the check finished.")
    except Exception as exc:  # a bug in the grader itself
        fb = Feedback(ex.id, False,
                      "The grader itself failed (a bug in the course, not in your answer: "
                      "please report it).",
                      "".join(traceback.format_exception_only(type(exc), exc)).strip())
    _record(fb)
    return fb
