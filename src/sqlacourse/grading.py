"""Grading one answer: the safe runner and the feedback.

The exercises and their graders are registered in ``registry.py``.
``grade()`` (the notebook's ``check()``) runs a grader so that nothing escapes:

* Any exception the learner's code raises, ``SystemExit`` and other
  ``BaseException`` subclasses included, becomes feedback with a traceback
  trimmed to the learner's own frames; so does one raised by the learner's
  objects while the grader looks at them (``__repr__``, ``__eq__``, ``.all()``,
  a metaclass).  Only Ctrl-C (``KeyboardInterrupt``) stops a check early, and
  it too ends in feedback.
* The time limit: at the deadline a watchdog thread raises
  ``CandidateTimeout`` into the grading thread (``PyThreadState_SetAsyncExc``)
  every few milliseconds for as long as learner code runs there, so a bare
  ``except:``, even nested, gives up within a few rounds.  Learner code is any
  frame above ``grade()`` that is not the grader's, the course's, SQLAlchemy's
  or the standard library's, wherever the grader called it from
  (``__repr__``, ``__ne__``, ``.all()``, a metaclass's ``__mapper__``,
  ``exec``); grader code (creating and dropping databases) is never
  interrupted.  On the main thread a ``SIGALRM`` (handled in C by
  ``default_int_handler``) also wakes a call blocked in the kernel
  (``time.sleep``, a socket); the handler is put back after each call into
  learner code.  Nothing here depends on a signal handler the learner could
  replace, ignore or cancel, and it works the same for a check run in another
  thread or from code running inside an event loop.
* A ``check()`` called from inside an answer being checked is refused.
* On PostgreSQL every connection of the grading database carries the check's
  tag as ``application_name``; engines the learner makes during the check get
  it (and a ``statement_timeout``) from ``PGAPPNAME``/``PGOPTIONS`` (psycopg through
  libpq; asyncpg, which ignores both, through a ``do_connect`` hook).  When the
  check ends, every server backend with that tag is terminated, so an open
  transaction kept in a thread or a stashed connection neither blocks dropping
  the grading schema nor keeps running on the server.
* A database the course cannot use (refused, wrong password, unreachable) is
  reported as that (``Feedback.database_error``), not as the learner's fault.

What in-process grading cannot do: stop C code that never returns to Python
(a watchdog sentence tells the learner to interrupt the kernel), or survive
``os._exit()`` or a crash.  For those a marker file is written before each
check and removed after it; the next import of the course in a notebook, or
the next check, in a new kernel says that the last check did not finish.
"""

from __future__ import annotations

import contextlib
import ctypes
import html
import inspect
import itertools
import json
import os
import re
import secrets
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
STUCK_NOTICE_AFTER = 5.0  # seconds past the limit before saying that C code holds the kernel
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
    database_error: bool = False  # the course's database failed, not the answer

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


_LEARNER_PSEUDO_FILES = ("<string>", "<stdin>", "<ipython-input-")
_library_cache: dict[str, bool] = {}


def _is_library(filename: str) -> bool:
    """Code of the course, of an installed package or of the standard library
    (``<string>``, code given to ``exec``, counts as the learner's)."""
    known = _library_cache.get(filename)
    if known is not None:
        return known
    if filename.startswith(_PACKAGE_DIR):
        result = True
    elif filename.startswith("<"):
        # e.g. "<sqlalchemy generated _go() wrapper>", "<frozen importlib._bootstrap>"
        result = not filename.startswith(_LEARNER_PSEUDO_FILES)
    else:
        prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
        result = (any(filename.startswith(p + os.sep + "lib") for p in prefixes)
                  or "site-packages" in filename)
    if len(_library_cache) < 10_000:
        _library_cache[filename] = result
    return result


def _learner_frames(tb, grader_file: str = "") -> bool:
    return any(fr.filename != grader_file and not _is_library(fr.filename)
               for fr in traceback.extract_tb(tb))


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
    try:
        message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    except BaseException:  # noqa: B036 - the learner's __str__ may raise anything
        message = type(exc).__name__
    message = re.sub(r" at 0x[0-9a-f]+", "", message)  # object addresses change every run
    out = (["Traceback (your code only):"] + lines) if lines else []
    return "\n".join(out + [message])


# Gradings running now, by thread id: a check() inside a check is refused, and
# CandidateTimeout finds its grading here.
_ACTIVE: dict[int, Grading] = {}


def _async_raise(thread_id: int, exc_type: type[BaseException]) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_type))


class _Deadline:
    """The time limit of one grading (see the module docstring)."""

    POLL = 0.005  # seconds between the watchdog's looks at the grading thread, past the limit

    def __init__(self, g: Grading, grade_frame) -> None:
        self.g = g
        self.grade_frame = grade_frame
        self.thread_id = threading.get_ident()
        self.use_signal = (threading.current_thread() is threading.main_thread()
                           and hasattr(signal, "pthread_kill") and hasattr(signal, "SIGALRM"))
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.previous_handler: Any = None
        self.out = sys.stdout

    # -- where is the grading thread? ----------------------------------------
    def learner_running(self, frame) -> bool:
        """True when a frame between ``frame`` and ``grade()`` is learner code."""
        f = frame
        while f is not None and f is not self.grade_frame:
            if self.g.is_learner(f.f_code.co_filename):
                return True
            f = f.f_back
        return False

    def should_stop(self, frame) -> bool:
        return self.g.expired and (self.g.in_candidate > 0 or self.learner_running(frame))

    def signal_ours(self) -> bool:
        try:
            return self.use_signal and signal.getsignal(signal.SIGALRM) is signal.default_int_handler
        except Exception:
            return False

    def rearm(self) -> None:
        """Put the timer signal's handler back if learner code changed it."""
        if self.use_signal and not self.stop.is_set() and not self.signal_ours():
            with contextlib.suppress(Exception):
                signal.signal(signal.SIGALRM, signal.default_int_handler)

    # -- the watchdog thread -------------------------------------------------
    def watch(self) -> None:
        g = self.g
        if self.stop.wait(max(0.0, g._deadline_at - time.monotonic())):
            return
        g.expired = True
        told = False
        next_signal = 0.0
        while not self.stop.wait(self.POLL):
            with self.lock:  # never raise into the thread once the check has ended
                if self.stop.is_set():
                    return
                frame = sys._current_frames().get(self.thread_id)
                if frame is None:
                    return
                if self.should_stop(frame):
                    # Raised at the thread's next Python instruction, again and again, so
                    # that even nested bare excepts give up within a few rounds.
                    _async_raise(self.thread_id, CandidateTimeout)
                    now = time.monotonic()
                    if now >= next_signal and self.signal_ours():
                        # A C call blocked in the kernel (time.sleep, a socket) only returns
                        # to Python on a signal; its handler raises KeyboardInterrupt.
                        next_signal = now + 0.2
                        with contextlib.suppress(Exception):
                            signal.pthread_kill(self.thread_id, signal.SIGALRM)
                del frame
            if not told and time.monotonic() > g._deadline_at + STUCK_NOTICE_AFTER:
                told = True
                with contextlib.suppress(Exception):
                    print(f"[sqlacourse] The check of {g.exercise.id} passed its {g.timeout:g} s limit "
                          f"{STUCK_NOTICE_AFTER:g} s ago and your code has not returned to Python "
                          "since (a call into C code that never ends?). The course cannot stop it: "
                          "interrupt the kernel (the stop button), or restart it.",
                          file=self.out, flush=True)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        g = self.g
        if g.timeout <= 0:
            yield
            return
        if self.use_signal:
            self.previous_handler = signal.signal(signal.SIGALRM, signal.default_int_handler)
        watchdog = threading.Thread(target=self.watch, name="sqlacourse-check-watchdog", daemon=True)
        watchdog.start()
        try:
            yield
        finally:
            with self.lock:
                self.stop.set()
            # A timeout raised just before the end must not escape the check.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.thread_id), None)
            if self.use_signal:
                with contextlib.suppress(Exception):
                    signal.signal(signal.SIGALRM, self.previous_handler or signal.SIG_DFL)
            watchdog.join()


class LearnerError(Fail):
    """The learner's code raised an exception."""


def _learner_error_for(exc: BaseException) -> LearnerError:
    if isinstance(exc, NotImplementedError):
        return LearnerError(
            "Not implemented yet: replace `raise NotImplementedError` with your answer, "
            "run that cell, then run this check again."
        )
    name = type(exc).__name__
    if isinstance(exc, SystemExit):
        what = "Your code called sys.exit() (it raised SystemExit), which a check cannot accept."
    elif not isinstance(exc, Exception):
        what = f"Your code raised {name}, a BaseException that is not an Exception."
    else:
        what = f"Your code raised {name}."
    return LearnerError(what, learner_traceback(exc))


_counter = itertools.count(1)


class Grading:
    """What a grader gets besides the candidate: safe calls, fresh databases."""

    def __init__(self, exercise: Exercise, timeout: float) -> None:
        self.exercise = exercise
        self.timeout = timeout
        self._deadline_at: float = time.monotonic() + timeout
        self._clock: _Deadline | None = None
        self.in_candidate = 0
        self.expired = False
        # Marks every server-side connection this check makes (PostgreSQL application_name).
        self.tag = f"sqlacourse-check-{os.getpid()}-{next(_counter)}-{secrets.token_hex(4)}"
        code = getattr(exercise.grader, "__code__", None)
        self.grader_file = code.co_filename if code is not None else ""

    def is_learner(self, filename: str) -> bool:
        """Is code from ``filename`` the learner's (not the grader's or a library's)?"""
        return filename != self.grader_file and not _is_library(filename)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call learner code; its exceptions become a ``LearnerError`` with a trimmed traceback."""
        if self.expired:
            raise CandidateTimeout()
        self.in_candidate += 1
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            if self.expired:  # the timer signal that breaks a blocking call
                raise CandidateTimeout() from None
            raise
        except (Fail, CandidateTimeout):
            raise
        except BaseException as exc:  # noqa: B036 - SystemExit & co. are the learner's too
            if self.expired or time.monotonic() > self._deadline_at:
                raise CandidateTimeout() from None  # e.g. a query interrupted at the deadline
            raise _learner_error_for(exc) from None
        finally:
            self.in_candidate -= 1
            if self._clock is not None:
                self._clock.rearm()

    async def acall(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call and await learner async code (in the check's event loop); its exceptions
        become a ``LearnerError`` with a trimmed traceback, as with ``call()``."""
        import asyncio

        if self.expired:
            raise CandidateTimeout()
        try:
            result = fn(*args, **kwargs)
            if not inspect.isawaitable(result):
                raise Fail(
                    f"Your function returned {_describe(result)} instead of a coroutine: this "
                    "exercise needs an `async def` function, whose result check() awaits.")
            return await result
        except (Fail, CandidateTimeout):
            raise
        except asyncio.CancelledError:
            if self.expired or time.monotonic() >= self._deadline_at:
                raise  # the time limit cancelled the check
            task = asyncio.current_task()
            if task is not None:
                while task.cancelling():
                    task.uncancel()
            raise LearnerError(
                "Your code raised asyncio.CancelledError (a task it awaited was cancelled, or "
                "it cancelled itself), so it did not return a result.") from None
        except KeyboardInterrupt:
            if self.expired:
                raise CandidateTimeout() from None
            raise
        except BaseException as exc:  # noqa: B036 - SystemExit & co. are the learner's too
            if self.expired or time.monotonic() > self._deadline_at:
                raise CandidateTimeout() from None
            raise _learner_error_for(exc) from None

    def learner_error(self, exc: BaseException) -> None:
        """Raise the feedback for an exception the learner's code raised (for graders
        that catch learner exceptions themselves)."""
        raise _learner_error_for(exc) from None

    _learner_error = learner_error

    @contextlib.contextmanager
    def database(self, *, data: bool = True, metadata=None):
        """A fresh database for this grading (see ``sqlacourse.fresh_database``); on
        PostgreSQL its connections carry this check's tag and are ended with it."""
        from sqlalchemy import event

        from .lesson import fresh_database

        with fresh_database(
            f"check_{self.exercise.id}", data=data, metadata=metadata, deadline=self._deadline_at
        ) as fresh:
            server_url = fresh.db.target.server_url if fresh.db.target.is_postgresql else None
            if server_url is not None:
                tag = self.tag

                @event.listens_for(fresh.engine, "connect")
                def _tag(dbapi_connection, _record):
                    with dbapi_connection.cursor() as cur:
                        cur.execute("SELECT set_config('application_name', %s, false)", (tag,))
                    dbapi_connection.commit()

            try:
                yield fresh
            finally:
                if server_url is not None:
                    terminate_tagged(server_url, self.tag)


    @contextlib.asynccontextmanager
    async def async_database(self, *, data: bool = True, metadata=None, **engine_kwargs: Any):
        """A fresh database for this grading with an ``AsyncEngine`` on it (aiosqlite, or
        asyncpg on PostgreSQL): ``fresh.async_engine`` next to ``fresh.engine``.  Queries
        stop at the check's deadline (SQLite progress handler on the driver's connection,
        PostgreSQL statement_timeout); on PostgreSQL its connections carry this check's tag
        (asyncpg ignores PGAPPNAME: it is set in ``server_settings``) and are ended with it."""
        from sqlalchemy import event

        with self.database(data=data, metadata=metadata) as fresh:
            db = fresh.db
            deadline = self._deadline_at
            kwargs = dict(engine_kwargs)
            if db.path is None:
                course = db.engine_kwargs(is_async=True)["connect_args"]
                given = dict(kwargs.pop("connect_args", {}))
                settings = dict(course.get("server_settings", {}))
                settings.update(given.pop("server_settings", {}))
                settings["application_name"] = self.tag
                ms = max(100, int((deadline - time.monotonic()) * 1000) + 500)
                settings["statement_timeout"] = str(ms)
                kwargs["connect_args"] = {**course, **given, "server_settings": settings}
            engine = db.create_async_engine(**kwargs)
            if db.path is not None:
                def handler() -> int:
                    return 1 if time.monotonic() > deadline else 0

                @event.listens_for(engine.sync_engine, "connect")
                def _progress(dbapi_connection, _record):
                    dbapi_connection.run_async(lambda conn: conn.set_progress_handler(handler, 10_000))

            fresh.async_engine = engine
            try:
                yield fresh
            finally:
                with contextlib.suppress(BaseException):
                    await engine.dispose()


def terminate_tagged(server_url, tag: str) -> int:
    """End every PostgreSQL backend whose application_name is ``tag`` (but this one)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(server_url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.begin() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :tag AND pid <> pg_backend_pid()"), {"tag": tag}).all())
    except Exception:
        return 0
    finally:
        engine.dispose()


_asyncpg_hook_installed = False


def _asyncpg_reads_the_environment(dialect, _conn_rec, _cargs, cparams) -> None:
    """What libpq does for psycopg, done for asyncpg (which ignores PGAPPNAME and PGOPTIONS):
    while a check runs, an asyncpg connection that names no application_name (or no
    statement_timeout) of its own gets the check's, so that the check's end finds and ends it."""
    tag = os.environ.get("PGAPPNAME", "")
    if getattr(dialect, "driver", None) != "asyncpg" or not tag.startswith("sqlacourse-check-"):
        return
    settings = dict(cparams.get("server_settings") or {})
    settings.setdefault("application_name", tag)
    timeout = re.search(r"-c\s*statement_timeout=(\d+)", os.environ.get("PGOPTIONS", ""))
    if timeout:
        settings.setdefault("statement_timeout", timeout.group(1))
    cparams["server_settings"] = settings


def _install_asyncpg_hook() -> None:
    global _asyncpg_hook_installed
    if _asyncpg_hook_installed:
        return
    with contextlib.suppress(Exception):
        from sqlalchemy import event
        from sqlalchemy.engine import Dialect

        event.listen(Dialect, "do_connect", _asyncpg_reads_the_environment)
        _asyncpg_hook_installed = True


# Installed when the course is imported, not at the first check: ``python -m sqlacourse grade``
# fingerprints SQLAlchemy's classes before learner code runs, and a listener added later would
# read as a change to them (Dialect._has_events).
_install_asyncpg_hook()


@contextlib.contextmanager
def _tagged_environment(g: Grading, limit: float) -> Iterator[None]:
    """During the check, engines the learner makes on PostgreSQL carry the check's tag and a
    statement timeout (libpq reads PGAPPNAME and PGOPTIONS; for asyncpg, which reads neither,
    a ``do_connect`` hook adds them to ``server_settings``; the course's own engines set their
    options explicitly)."""
    saved = {k: os.environ.get(k) for k in ("PGAPPNAME", "PGOPTIONS")}
    os.environ["PGAPPNAME"] = g.tag
    os.environ["PGOPTIONS"] = f"-c statement_timeout={int(limit * 1000) + 1000}"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _postgres_server_url():
    from .backend import CourseDatabaseError, current_target, parse_target

    try:
        if parse_target(None).is_postgresql:
            return current_target().server_url
    except CourseDatabaseError:
        return None
    return None


# --------------------------------------------------------------------------
# Checks that never finished (os._exit, a crash, a kernel restarted mid-check)
# --------------------------------------------------------------------------
def _marker_dir() -> Path:
    from .progress_store import progress_file

    return progress_file().parent / "running-checks"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _write_marker(exercise_id: str) -> Path | None:
    try:
        folder = _marker_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{os.getpid()}-{threading.get_ident()}.json"
        path.write_text(json.dumps({"exercise": exercise_id, "pid": os.getpid(),
                                    "started": time.strftime("%H:%M:%S")}), encoding="utf-8")
        return path
    except Exception:
        return None


def unfinished_checks() -> list[str]:
    """Sentences about checks whose kernel stopped before they finished (each said once)."""
    try:
        markers = sorted(_marker_dir().glob("*.json"))
    except Exception:
        return []
    notes = []
    for path in markers:
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
            pid = int(info["pid"])
            if pid == os.getpid() or _alive(pid):
                continue
            path.unlink()
            notes.append(
                f"[sqlacourse] Your last check of {info['exercise']} (started {info['started']}) did "
                "not finish: the kernel stopped while your code ran (os._exit(), a crash, code that "
                "never returned to Python, or a restart). It was not graded: run the check again.")
        except Exception:
            with contextlib.suppress(Exception):
                path.unlink()
    return notes


def _say_unfinished() -> None:
    for note in unfinished_checks():
        print(note, flush=True)


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
    if ex.expects == "async function":
        if inspect.iscoroutine(candidate):
            candidate.close()
            return ("check() needs the async function itself, and you passed the coroutine that calling "
                    f"it returned. Pass the name without parentheses: check(\"{ex.id}\", my_function).")
        if inspect.isclass(candidate) or not callable(candidate):
            return (f"check() needs an `async def` function for this exercise, and you passed "
                    f"{_describe(candidate)}. Pass the function's name without parentheses.")
        if not (inspect.iscoroutinefunction(candidate)
                or inspect.iscoroutinefunction(type(candidate).__call__)):
            return ("This exercise needs an `async def` function (its queries are awaited), and "
                    f"{_describe(candidate)} is a plain `def` function. Define it with `async def` "
                    "and `await` the session's calls.")
        return None
    if ex.expects == "function":
        if inspect.iscoroutinefunction(candidate):
            return ("This exercise needs a plain `def` function, and you passed an `async def` one "
                    "(calling it only makes a coroutine). Define it with `def`, using a sync Session.")
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

    with contextlib.suppress(Exception):
        progress.record_check(feedback.exercise, feedback.passed)


def _database_problem(exc: BaseException) -> str | None:
    """The sentence for a database the course cannot reach or use, else None."""
    from .backend import CourseDatabaseError

    if isinstance(exc, CourseDatabaseError):
        return str(exc)
    try:
        from sqlalchemy.exc import DBAPIError
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or "connect" in str(exc.orig).lower()):
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        return f"The course database stopped answering during the check: {first}"
    return None


def grade(exercise_id: str, candidate: Any, *, timeout: float | None = None) -> Feedback:
    """Grade ``candidate`` for ``exercise_id``; never raises (Ctrl-C ends it with feedback)."""
    _say_unfinished()
    registry = load_all()
    ex = registry.get(exercise_id) if type(exercise_id) is str else None
    if ex is None:
        known = ", ".join(sorted(registry)) or "none"
        shown = exercise_id if type(exercise_id) in (str, int, float, type(None)) else type(exercise_id).__name__
        return Feedback(str(shown), False,
                        f"There is no exercise called {shown!r}. Known exercises: {known}.")
    me = threading.get_ident()
    if me in _ACTIVE:
        return Feedback(ex.id, False,
                        f"check() was called while {_ACTIVE[me].exercise.id} was being checked (from "
                        "inside the answer): a check cannot run inside another. Call check() from a "
                        "notebook cell only.")
    problem = _check_kind(ex, candidate)
    if problem:
        fb = Feedback(ex.id, False, problem)
        _record(fb)
        return fb

    limit = timeout if timeout is not None else (ex.timeout or DEFAULT_TIMEOUT)
    g = Grading(ex, limit)
    clock = _Deadline(g, sys._getframe())
    g._clock = clock
    marker = _write_marker(ex.id)
    server_url = _postgres_server_url()
    _ACTIVE[me] = g
    fb: Feedback | None = None
    try:
        try:
            # A grader never prints warnings into the learner's output (SAWarnings about their
            # mapping or query, deprecations): they are caught here and dropped.
            with _tagged_environment(g, limit), clock.running(), warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                if ex.expects == "async function":
                    why = _run_async_grader(ex, candidate, g)
                else:
                    why = ex.grader(candidate, g)
            fb = Feedback(ex.id, True, why if type(why) is str and why else "all checks passed.")
        except CandidateTimeout:
            fb = _timeout_feedback(ex, limit)
        except Fail as f:
            fb = Feedback(ex.id, False, str(f.message), str(f.details), [str(s) for s in f.sql])
        except KeyboardInterrupt:
            fb = (_timeout_feedback(ex, limit) if g.expired
                  else Feedback(ex.id, False, "Interrupted before the check finished."))
        except BaseException as exc:  # noqa: B036 - nothing escapes a check
            fb = _unexpected(ex, g, exc, limit)
    except CandidateTimeout:  # delivered late, while leaving the block above
        fb = _timeout_feedback(ex, limit)
    finally:
        _ACTIVE.pop(me, None)
        if server_url is not None:
            terminate_tagged(server_url, g.tag)
        if marker is not None:
            with contextlib.suppress(Exception):
                marker.unlink()
    if fb is None:  # pragma: no cover - every path above sets it
        fb = Feedback(ex.id, False, "The check did not finish.")
    _record(fb)
    return fb


def _learner_in_thread(g: Grading, thread: threading.Thread) -> bool:
    """Is learner code running in ``thread`` now (anywhere in its stack)?"""
    frame = sys._current_frames().get(thread.ident)
    try:
        while frame is not None:
            if g.is_learner(frame.f_code.co_filename):
                return True
            frame = frame.f_back
        return False
    finally:
        del frame


def collect_leftovers() -> None:
    """Collect garbage with warnings and unraisable exceptions kept out of the learner's
    output (an aiosqlite coroutine never awaited, a connection the answer left checked out)."""
    import gc

    hook = sys.unraisablehook
    sys.unraisablehook = lambda _unraisable: None
    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            for _ in range(2):
                gc.collect()
    finally:
        sys.unraisablehook = hook


def _run_async_grader(ex: Exercise, candidate: Any, g: Grading) -> Any:
    """Run an ``async def`` grader on an event loop of its own (a ``LoopThread``): this
    works from a notebook cell whose kernel loop is running, under nbval and in scripts.
    At the deadline the grader's task is cancelled (an await that never returns, a sleep,
    a query) and learner code running synchronously in the loop thread gets
    ``CandidateTimeout`` injected; tasks the answer left running are cancelled at the end."""
    import logging

    from .async_runner import LoopThread, LoopTimeout

    # The pool logs "Exception during reset or similar" (to stderr, by logging's last resort)
    # when a connection the answer left in a broken state is cleaned up: not the learner's output.
    logging_was = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    runner = LoopThread(name=f"sqlacourse-check-{ex.id}")
    try:
        coro = ex.grader(candidate, g)
        remaining = max(0.05, g._deadline_at - time.monotonic())
        try:
            return runner.run(coro, remaining, exc_type=CandidateTimeout,
                              keep_stopping=lambda: _learner_in_thread(g, runner.thread),
                              learner_frame=lambda frame: g.is_learner(frame.f_code.co_filename))
        except LoopTimeout:
            g.expired = True
            raise CandidateTimeout() from None
    finally:
        try:
            runner.close(exc_type=CandidateTimeout, keep_stopping=lambda: _learner_in_thread(g, runner.thread),
                         learner_frame=lambda frame: g.is_learner(frame.f_code.co_filename))
            collect_leftovers()
        finally:
            logging.disable(logging_was)


def _timeout_feedback(ex: Exercise, limit: float) -> Feedback:
    return Feedback(ex.id, False,
                    f"Stopped after {limit:g} s: your code did not finish in time. "
                    "Look for a loop that never ends or a query that never returns.")


def _unexpected(ex: Exercise, g: Grading, exc: BaseException, limit: float) -> Feedback:
    db = _database_problem(exc)
    if db is not None:
        return Feedback(ex.id, False, db, database_error=True)
    if exc.__traceback__ is not None and _learner_frames(exc.__traceback__, g.grader_file):
        if g.expired:
            return _timeout_feedback(ex, limit)
        err = _learner_error_for(exc)
        return Feedback(ex.id, False, err.message, err.details)
    try:
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    except BaseException:  # noqa: B036
        text = type(exc).__name__
    return Feedback(ex.id, False,
                    "The grader itself failed (a bug in the course, not in your answer: "
                    "please report it).", text)


if "IPython" in sys.modules:  # a notebook kernel starting again: say it at once (not in scripts,
    _say_unfinished()          # e.g. the grade command's JSON output); check() says it too
