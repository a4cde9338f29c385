"""Issue 7, "check() keeps its promise": each test performs one hostile or clumsy answer and
asserts that check() returns feedback, within its time limit, without touching later checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from sqlalchemy import func, select, text

from sqlacourse import check
from sqlacourse import grading as grading_module
from sqlacourse.registry import REGISTRY, exercise, load_all
from sqlacourse.shop import Customer

load_all()
EX = "00-count-customers"
LIMIT = 0.5


def count_ok(session):
    return session.scalar(select(func.count()).select_from(Customer))


def assert_next_check_passes():
    fb = check(EX, count_ok)
    assert fb.passed, fb
    assert grading_module._ACTIVE == {}


def timed(answer, limit=LIMIT, ex=EX):
    t0 = time.monotonic()
    fb = check(ex, answer, timeout=limit)
    return fb, time.monotonic() - t0


# --------------------------------------------------------------------------
# BaseException subclasses become feedback
# --------------------------------------------------------------------------
class Custom(BaseException):
    pass


@pytest.mark.parametrize("raiser", [
    lambda: sys.exit(), lambda: sys.exit(3), lambda: (_ for _ in ()).throw(GeneratorExit),
    lambda: exec("raise SystemExit('bye')"), lambda: (_ for _ in ()).throw(Custom("mine")),
], ids=["sys.exit()", "sys.exit(3)", "GeneratorExit", "SystemExit-in-exec", "custom-BaseException"])
def test_base_exceptions_from_the_answer_become_feedback(raiser):
    def answer(session):
        raiser()

    fb = check(EX, answer)
    assert not fb.passed
    assert "Your code" in fb.message and "grader itself" not in fb.message, fb
    assert_next_check_passes()


def test_ctrl_c_ends_the_check_with_feedback():
    def answer(session):
        raise KeyboardInterrupt

    fb = check(EX, answer)
    assert not fb.passed and "Interrupted" in fb.message
    assert_next_check_passes()


# --------------------------------------------------------------------------
# Hangs are stopped at the time limit
# --------------------------------------------------------------------------
class LoopingNe(int):
    def __ne__(self, other):
        while True:
            pass


class LoopingRepr(int):
    def __repr__(self):
        while True:
            try:
                pass
            except BaseException:  # noqa: B036
                pass


class LoopingAll:
    def all(self):
        while True:
            pass


HANGS = {
    "__ne__ loops": lambda session: LoopingNe(5),
    "__repr__ loops (swallowing)": lambda session: [LoopingRepr(1)] and LoopingRepr(1).__class__.mro()
    and "not a number",
    ".all() loops": lambda session: LoopingAll(),
    "tight loop in exec": lambda session: exec("while True:\n    pass"),
    "swallowing loop in exec": lambda session: exec(
        "while True:\n    try:\n        pass\n    except BaseException:\n        pass"),
    "nested bare excepts": lambda session: exec(textwrap.dedent("""
        while True:
            try:
                while True:
                    try:
                        x = 1
                    except BaseException:
                        pass
            except BaseException:
                pass
        """)),
}


@pytest.mark.parametrize("answer", list(HANGS.values()), ids=list(HANGS))
def test_hangs_in_learner_objects_are_stopped(answer):
    fb, elapsed = timed(answer)
    assert not fb.passed
    assert elapsed < LIMIT + 3, elapsed
    assert_next_check_passes()


def test_repr_that_loops_when_the_grader_formats_the_result():
    class Weird:
        def __repr__(self):
            while True:
                pass

    fb, elapsed = timed(lambda session: Weird())
    assert not fb.passed and "Stopped after" in fb.message, fb
    assert elapsed < LIMIT + 3


def test_ne_that_loops_is_never_called_the_value_is_compared_as_a_plain_int():
    fb, elapsed = timed(lambda session: LoopingNe(count_ok(session) + 1))
    assert not fb.passed and "your function returned" in fb.message, fb
    assert elapsed < LIMIT + 3


def test_a_class_whose_mapper_loops_is_stopped():
    class Meta(type):
        @property
        def __mapper__(cls):
            while True:
                pass

    class Product(metaclass=Meta):
        pass

    fb, elapsed = timed(Product, ex="01-product-model")
    assert not fb.passed and "Stopped after" in fb.message, fb
    assert elapsed < LIMIT + 3
    assert_next_check_passes()


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no SIGALRM on this platform")
@pytest.mark.parametrize("how", ["ignore", "own-handler", "cancel-timer", "default-then-loop"])
def test_an_answer_that_disables_the_timer_signal_is_still_stopped(how):
    def answer(session):
        if how == "ignore":
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
        elif how == "own-handler":
            signal.signal(signal.SIGALRM, lambda *a: None)
        elif how == "cancel-timer":
            signal.setitimer(signal.ITIMER_REAL, 0)
        else:
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            signal.setitimer(signal.ITIMER_REAL, 0)
        while True:
            try:
                pass
            except BaseException:  # noqa: B036
                pass

    before = signal.getsignal(signal.SIGALRM)
    fb, elapsed = timed(answer)
    assert not fb.passed and "Stopped after" in fb.message, fb
    assert elapsed < LIMIT + 3, elapsed
    assert signal.getsignal(signal.SIGALRM) == before
    assert_next_check_passes()


def test_a_blocking_sleep_is_woken_at_the_limit():
    fb, elapsed = timed(lambda session: time.sleep(30))
    assert not fb.passed and "Stopped after" in fb.message, fb
    assert elapsed < LIMIT + 3, elapsed


def test_a_check_run_in_another_thread_keeps_its_limit():
    box = []

    def answer(session):
        while True:
            try:
                pass
            except BaseException:  # noqa: B036
                pass

    t0 = time.monotonic()
    worker = threading.Thread(target=lambda: box.append(check(EX, answer, timeout=LIMIT)))
    worker.start()
    worker.join(10)
    assert box and "Stopped after" in box[0].message, box
    assert time.monotonic() - t0 < LIMIT + 3


def test_check_inside_the_answer_is_refused_and_keeps_the_outer_limit():
    inner = []

    def answer(session):
        inner.append(check(EX, count_ok))
        while True:
            pass

    fb, elapsed = timed(answer)
    assert "cannot run inside another" in inner[0].message and not inner[0].passed
    assert not fb.passed and "Stopped after" in fb.message
    assert elapsed < LIMIT + 3
    assert_next_check_passes()


def test_the_grader_is_not_interrupted_while_it_sets_up_and_drops_its_database(monkeypatch):
    """An expiry while grader code runs (here: a slow database set-up) is only noted."""
    from sqlacourse import lesson

    real = lesson.prepare

    def slow_prepare(*args, **kwargs):
        time.sleep(LIMIT + 0.5)  # grader code, past the limit
        return real(*args, **kwargs)

    monkeypatch.setattr(lesson, "prepare", slow_prepare)
    fb = check(EX, count_ok, timeout=LIMIT)
    assert not fb.passed and "Stopped after" in fb.message, fb  # the answer never ran
    monkeypatch.undo()
    assert_next_check_passes()


# --------------------------------------------------------------------------
# The learner's own exceptions are the learner's, not the grader's
# --------------------------------------------------------------------------
class RaisingRepr(int):
    def __repr__(self):
        raise ValueError("my repr is broken")

    __str__ = __repr__


class RaisingAll:
    def all(self):
        raise RuntimeError("my all is broken")


def test_learner_exceptions_inside_objects_the_grader_inspects():
    fb = check(EX, lambda session: RaisingAll())
    assert not fb.passed and "RuntimeError" in fb.message and "grader itself" not in fb.message
    assert "my all is broken" in fb.details

    class NotANumber:
        def __repr__(self):
            raise ValueError("my repr is broken")

    fb = check(EX, lambda session: NotANumber())
    assert not fb.passed and "grader itself" not in fb.message, fb
    # Either the learner's broken __repr__ is reported as their error, or the grader names the
    # returned object by its type without calling its __repr__ (lesson 00's grader does that).
    assert ("ValueError" in fb.message and "my repr is broken" in fb.details) or \
        "it returned NotANumber" in fb.message, fb


def test_a_metaclass_that_raises_is_the_learners_error():
    class Meta(type):
        def __getattr__(cls, name):
            raise LookupError(f"no {name} here")

    class Product(metaclass=Meta):
        pass

    fb = check("01-product-model", Product)
    assert not fb.passed and "LookupError" in fb.message and "grader itself" not in fb.message, fb
    assert "__getattr__" in fb.details


def test_int_subclass_that_always_says_equal_does_not_pass():
    class AlwaysEqual(int):
        def __ne__(self, other):
            return False

        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    def answer(session):
        session.scalar(select(func.count()).select_from(Customer))
        return AlwaysEqual(-1)

    fb = check(EX, answer)
    assert not fb.passed and "returned -1" in fb.message, fb


def test_a_grader_bug_is_still_reported_as_one():
    @exercise("zz-buggy2", lesson="zz", title="t", hints=["h"])
    def buggy(candidate, g):
        return {}["missing"]

    try:
        fb = check("zz-buggy2", count_ok)
        assert not fb.passed and "grader itself failed" in fb.message
    finally:
        REGISTRY.pop("zz-buggy2")


def test_an_unreachable_database_is_reported_as_that(monkeypatch):
    monkeypatch.setenv("SQLACOURSE_DATABASE_URL", "postgresql://learner:s3cr3t-pw@127.0.0.1:9/course")
    fb = check(EX, count_ok)
    assert not fb.passed and fb.database_error, fb
    assert "Could not connect" in fb.message and "s3cr3t" not in str(fb)
    assert "grader itself" not in fb.message


# --------------------------------------------------------------------------
# What cannot be stopped in-process gets a sentence
# --------------------------------------------------------------------------
def test_code_stuck_in_c_gets_a_sentence_while_it_holds_the_kernel(monkeypatch, capsys):
    import ctypes

    monkeypatch.setattr(grading_module, "STUCK_NOTICE_AFTER", 0.5)
    libc = ctypes.CDLL(None)

    def answer():
        signal.signal(signal.SIGALRM, signal.SIG_IGN)  # so the C sleep is not interrupted
        libc.sleep(2)

    @exercise("zz-no-database", lesson="zz", title="t", hints=["h"])
    def no_database(candidate, g):  # no database set-up: the answer starts at once
        g.call(candidate)
        return "ok"

    try:
        fb, elapsed = timed(answer, limit=0.3, ex="zz-no-database")
    finally:
        REGISTRY.pop("zz-no-database")
    assert not fb.passed and "Stopped after" in fb.message, fb
    assert elapsed >= 1.5  # the C call could not be interrupted ...
    assert "has not returned to Python" in capsys.readouterr().out  # ... and the learner was told
    assert_next_check_passes()


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)


def test_os_exit_during_a_check_is_reported_when_the_course_is_imported_again(tmp_path):
    env = dict(os.environ, SQLACOURSE_PROGRESS_FILE=str(tmp_path / "progress.json"))
    env.pop("SQLACOURSE_DATABASE_URL", None)
    dying = _python(textwrap.dedent("""
        import os
        from sqlacourse import check
        check("00-count-customers", lambda session: os._exit(7))
    """), env)
    assert dying.returncode == 7
    assert _python("import sqlacourse", env).stdout == ""  # a script's output stays clean
    again = _python("import IPython, sqlacourse", env)  # a notebook kernel starting again
    assert "Your last check of 00-count-customers" in again.stdout, again
    assert "did not finish" in again.stdout
    assert _python("import IPython, sqlacourse", env).stdout == ""  # said once


def test_a_live_kernels_running_check_is_not_reported_as_lost(tmp_path, monkeypatch):
    monkeypatch.setenv("SQLACOURSE_PROGRESS_FILE", str(tmp_path / "progress.json"))
    folder = tmp_path / "running-checks"
    folder.mkdir()
    (folder / "x.json").write_text(json.dumps({"exercise": EX, "pid": os.getppid(), "started": "t"}))
    assert grading_module.unfinished_checks() == []
    assert (folder / "x.json").exists()


def test_a_thread_started_by_the_answer_does_not_confuse_later_checks():
    stop = threading.Event()

    def answer(session):
        threading.Thread(target=stop.wait, daemon=True).start()
        return count_ok(session)

    try:
        assert check(EX, answer).passed
        assert_next_check_passes()
    finally:
        stop.set()


# --------------------------------------------------------------------------
# PostgreSQL: server-side work ends with the check
# --------------------------------------------------------------------------
def _backends(tag_like: str) -> int:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from sqlacourse.backend import current_target

    engine = create_engine(current_target().server_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE application_name "
                                    "LIKE :t AND pid <> pg_backend_pid()"), {"t": tag_like})
    finally:
        engine.dispose()


postgres = pytest.mark.postgres


@pytest.fixture
def pg():
    if not os.environ.get("SQLACOURSE_DATABASE_URL"):
        pytest.skip("PostgreSQL only: run with --backend embedded")


@postgres
def test_an_open_transaction_in_a_thread_does_not_hang_this_or_the_next_check(pg):
    stash = []

    def answer(session):
        conn = session.get_bind().connect()
        stash.append(conn)
        conn.execute(text("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE"))  # never committed
        t = threading.Thread(target=lambda: stash.append(session.get_bind().connect().execute(
            text("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"))), daemon=True)
        t.start()
        t.join()
        return count_ok(session)

    for _ in range(2):
        t0 = time.monotonic()
        fb = check(EX, answer, timeout=3)
        assert time.monotonic() - t0 < 15
        assert fb.passed or "Stopped after" in fb.message, fb
    assert _backends("sqlacourse-check-%") == 0
    assert_next_check_passes()


@postgres
def test_an_answers_own_engine_stops_running_on_the_server_after_the_check(pg):
    from sqlalchemy import create_engine

    started = []

    def answer(session):
        engine = create_engine(session.get_bind().url)  # the learner's own engine, no options

        def run():
            try:
                with engine.connect() as conn:
                    started.append(conn.scalar(text("SELECT current_setting('application_name')")))
                    conn.execute(text("SELECT pg_sleep(60)"))
            except Exception as exc:  # the server ended it with the check
                started.append(type(exc).__name__)

        threading.Thread(target=run, daemon=True).start()
        time.sleep(0.5)
        return count_ok(session)

    fb = check(EX, answer, timeout=3)
    assert fb.passed, fb
    assert started and started[0].startswith("sqlacourse-check-")
    time.sleep(0.5)
    assert started[1:] == ["OperationalError"], started
    assert _backends("sqlacourse-check-%") == 0
    assert "PGAPPNAME" not in os.environ and "PGOPTIONS" not in os.environ
