"""check() grades `async def` answers: same guarantees as sync checks, on aiosqlite and asyncpg.

A test exercise (``zz-async-count``) is registered here with an async grader that uses the
Grading helpers a real async grader uses: ``g.async_database()``, ``record_queries`` on the
AsyncEngine and ``g.acall``.  Every bad answer of issue 8 is tried against it.
"""

from __future__ import annotations

import asyncio
import threading
import time
import warnings

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from sqlacourse import check
from sqlacourse.recorder import record_queries
from sqlacourse.registry import REGISTRY, Fail, exercise, load_all
from sqlacourse.shop import Customer, Order

load_all()
EX = "zz-async-count"
SEEN: dict = {}


@pytest.fixture(autouse=True, scope="module")
def _registered():
    @exercise(EX, lesson="zz", title="count customers, async", hints=["h"], expects="async function")
    async def grader(candidate, g):
        async with g.async_database() as fresh:
            SEEN["driver"] = fresh.async_engine.dialect.driver
            async with fresh.async_engine.connect() as conn:
                SEEN["appname"] = (await conn.scalar(text("SELECT current_setting('application_name')"))
                                   if fresh.async_engine.dialect.name == "postgresql" else g.tag)
            SEEN["tag"] = g.tag
            factory = async_sessionmaker(fresh.async_engine)
            with record_queries(fresh.async_engine) as rec:
                async with factory() as session:
                    got = await g.acall(candidate, session)
            SEEN["statements"] = rec.count
            with fresh.engine.connect() as conn:
                expected = conn.scalar(select(func.count()).select_from(Customer))
            if got != expected:
                raise Fail(f"expected {expected}, got {got!r}")
            return f"counted in {rec.count} statement(s)."

    yield
    REGISTRY.pop(EX)


async def count_ok(session):
    return await session.scalar(select(func.count()).select_from(Customer))


def _no_loop_threads_left(before=frozenset()):
    """No thread this check started is alive (``before``: the threads alive before it)."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if not [t for t in threading.enumerate() if t not in before]:
            return True
        time.sleep(0.05)
    return [t.name for t in threading.enumerate()]


def test_a_correct_async_answer_passes_on_the_course_driver():
    fb = check(EX, count_ok)
    assert fb.passed, fb
    assert fb.message == "counted in 1 statement(s)."
    from sqlacourse.backend import parse_target
    assert SEEN["driver"] == ("asyncpg" if parse_target(None).is_postgresql else "aiosqlite")
    # On PostgreSQL the grading engine's asyncpg connections carry the check's tag (asyncpg
    # ignores PGAPPNAME), so that the check's end terminates them.
    assert SEEN["appname"] == SEEN["tag"]


def test_works_from_a_running_event_loop_like_a_notebook_cell():
    async def cell():
        return check(EX, count_ok)

    assert asyncio.run(cell()).passed


def test_a_sync_function_the_reverse_and_a_coroutine_object_get_sentences():
    def sync_count(session):
        return 200

    fb = check(EX, sync_count)
    assert not fb.passed and "needs an `async def` function" in fb.message and "plain `def`" in fb.message
    coro = count_ok(None)
    fb = check(EX, coro)
    assert not fb.passed and "without parentheses" in fb.message and "coroutine" in fb.message
    fb = check("00-count-customers", count_ok)
    assert not fb.passed and "needs a plain `def` function" in fb.message
    fb = check(EX, 42)
    assert not fb.passed and "needs an `async def` function" in fb.message


def test_a_learner_exception_is_feedback_with_a_trimmed_traceback():
    async def broken(session):
        rows = (await session.scalars(select(Customer))).all()
        return rows[0].no_such_attribute

    fb = check(EX, broken)
    assert not fb.passed and "raised AttributeError" in fb.message
    assert "in broken" in fb.details and "no_such_attribute" in fb.details
    assert "asyncio" not in fb.details and "sqlalchemy" not in fb.details.split("AttributeError")[0]


def test_an_exception_like_system_exit_or_cancelled_is_feedback():
    async def leaves(session):
        raise SystemExit(3)

    async def cancels_itself(session):
        asyncio.current_task().cancel()
        await asyncio.sleep(0)

    assert "sys.exit()" in check(EX, leaves).message
    fb = check(EX, cancels_itself)
    assert not fb.passed and "CancelledError" in fb.message


def test_a_lazy_load_is_feedback_not_a_crash():
    async def lazy(session):
        customer = await session.get(Customer, 1)
        return len(customer.orders)

    fb = check(EX, lazy)
    assert not fb.passed and "Your code raised" in fb.message, fb


HANGS = {
    "await forever": "await asyncio.Event().wait()",
    "sleep": "await asyncio.sleep(3600)",
    "sync loop": "while True: pass",
    "sync loop swallowing": "while True:\n        try:\n            time.sleep(0.01)\n        except BaseException:\n            pass",
    "endless query": "await session.scalar(text('WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n'))",
}


@pytest.mark.parametrize("kind", sorted(HANGS))
def test_every_hang_is_stopped_at_the_limit(kind):
    src = f"async def hang(session):\n    {HANGS[kind]}\n"
    namespace = {"asyncio": asyncio, "time": time, "text": text}
    exec(compile(src, "<ipython-input-hang>", "exec"), namespace)
    before = frozenset(threading.enumerate())
    t0 = time.monotonic()
    fb = check(EX, namespace["hang"], timeout=1.0)
    elapsed = time.monotonic() - t0
    assert not fb.passed and "Stopped after 1 s" in fb.message, fb
    assert elapsed < 8, elapsed
    assert _no_loop_threads_left(before) is True
    from sqlacourse.backend import current_target, parse_target
    if parse_target(None).is_postgresql:  # nothing of the answer keeps running on the server either
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        engine = create_engine(current_target().server_url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                left = conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :t"),
                                   {"t": SEEN["tag"]})
        finally:
            engine.dispose()
        assert left == 0, (kind, left)


def _backends_running(marker):
    """(pid, application_name) of every server backend whose query contains ``marker``."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from sqlacourse.backend import current_target

    # named explicitly: during a check PGAPPNAME would give this connection the check's tag
    engine = create_engine(current_target().server_url, poolclass=NullPool,
                           connect_args={"application_name": "test-watcher", "options": "-c statement_timeout=0"})
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT pid, application_name FROM pg_stat_activity "
                "WHERE query LIKE :m AND pid <> pg_backend_pid()"), {"m": f"%{marker}%"}).all()
    finally:
        engine.dispose()


def _watch_backends(marker, seen, stop):
    while not stop.is_set():
        seen.update(_backends_running(marker))
        time.sleep(0.05)


def _run_watched(answer, marker, timeout=1.5):
    """check() the answer while a thread records the backends running ``marker``; then
    (feedback, backends seen, backends still there right after the check)."""
    seen, stop = {}, threading.Event()
    watcher = threading.Thread(target=_watch_backends, args=(marker, seen, stop))
    watcher.start()
    try:
        fb = check(EX, answer, timeout=timeout)
    finally:
        stop.set()
        watcher.join()
    end = time.monotonic() + 2
    left = list(seen)
    while left and time.monotonic() < end:
        alive = {pid for pid, _ in _backends_running("")}
        left = [pid for pid in seen if pid in alive]
        time.sleep(0.05)
    return fb, seen, left


@pytest.mark.postgres
def test_an_endless_query_on_the_grading_engine_is_tagged_and_ended_on_the_server():
    async def endless(session):
        await session.execute(text("SELECT pg_sleep(3600) /* endless-grading */"))

    fb, seen, left = _run_watched(endless, "endless-grading")
    assert not fb.passed and "Stopped after" in fb.message, fb
    assert seen, "the query never showed in pg_stat_activity"
    assert set(seen.values()) == {SEEN["tag"]}, seen  # asyncpg: the tag is in server_settings
    assert left == [], f"backends still on the server after the check: {left}"


@pytest.mark.postgres
def test_an_endless_query_on_an_asyncpg_engine_of_the_answers_own_is_tagged_and_ended():
    """asyncpg ignores PGAPPNAME and PGOPTIONS; during a check the course gives an asyncpg engine
    the answer makes itself the check's tag and statement timeout, as libpq does for psycopg."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from sqlacourse.backend import current_target

    url = current_target().server_url.set(drivername="postgresql+asyncpg")
    kept = []

    async def own_engine(session):
        engine = create_async_engine(url)
        kept.append(engine)                     # never disposed: its connection would stay open
        conn = await engine.connect()
        kept.append(conn)
        await conn.execute(text("SELECT pg_sleep(3600) /* endless-own */"))

    fb, seen, left = _run_watched(own_engine, "endless-own")
    assert not fb.passed and "Stopped after" in fb.message, fb
    assert seen, "the query never showed in pg_stat_activity"
    assert set(seen.values()) == {SEEN["tag"]}, seen
    assert left == [], f"backends still on the server after the check: {left}"


@pytest.mark.postgres
def test_the_notebooks_async_engine_carries_the_schema_tag_on_asyncpg():
    """course.async_engine's connections are named after the notebook's schema, the name the
    course ends them by (setup() run again, DROP SCHEMA)."""
    from sqlacourse import setup

    course = setup("zz-async-tag", echo=False)

    async def own_pid():
        try:
            async with course.async_engine.connect() as conn:
                pid = await conn.scalar(text("SELECT pg_backend_pid()"))
                names = await asyncio.to_thread(lambda: {p: a for p, a in _backends_running("")})
                return names.get(pid)
        finally:
            await course.async_engine.dispose()  # in this loop, which asyncpg's connection belongs to

    assert asyncio.run(own_pid()) == course.db.schema
    course.engine.dispose()


def test_a_task_left_running_is_cancelled_before_the_feedback():
    ran_after = []

    async def spawns(session):
        async def background():
            await asyncio.sleep(0.3)
            ran_after.append(True)

        spawns.task = asyncio.get_running_loop().create_task(background())
        return await count_ok(session)

    before = frozenset(threading.enumerate())
    fb = check(EX, spawns)
    assert fb.passed, fb
    assert spawns.task.cancelled()
    time.sleep(0.5)
    assert ran_after == []
    assert _no_loop_threads_left(before) is True


def test_a_background_task_in_a_sync_loop_is_stopped():
    # The answer must not live in this file, which holds the grader (grader code is never stopped).
    src = (
        "async def spawns(session):\n"
        "    async def spin():\n"
        "        while True:\n"
        "            pass\n"
        "    asyncio.get_running_loop().create_task(spin())\n"
        "    return await count_ok(session)\n")
    namespace = {"asyncio": asyncio, "count_ok": count_ok}
    exec(compile(src, "<ipython-input-spin>", "exec"), namespace)
    before = frozenset(threading.enumerate())
    t0 = time.monotonic()
    fb = check(EX, namespace["spawns"], timeout=1.0)
    assert not fb.passed and "Stopped after" in fb.message, fb
    assert time.monotonic() - t0 < 8
    assert _no_loop_threads_left(before) is True


def test_no_warning_reaches_the_learner(capfd):
    async def leaks(session):
        # a connection checked out and never returned, an un-awaited coroutine
        leaks.conn = await session.connection()
        session.scalar(select(func.count()).select_from(Order))  # never awaited
        return await count_ok(session)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fb = check(EX, leaks)
        import gc
        gc.collect()
    out, err = capfd.readouterr()
    assert fb.passed, fb
    assert "never awaited" not in err + out and "non-checked-in" not in err + out
    assert not [w for w in caught if "never awaited" in str(w.message) or "checked-in" in str(w.message)]


def test_a_sync_loop_that_swallows_every_exception_is_stopped():
    """The injected exception lands as time.sleep() returns, inside the bare except, every time;
    raised again at the next line of the answer (the except clause's), it leaves the loop."""
    test_every_hang_is_stopped_at_the_limit("sync loop swallowing")
