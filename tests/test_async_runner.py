"""The loop thread that runs async answers: it stops every kind of hang and leaves nothing running."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from sqlacourse.async_runner import LoopThread, LoopTimeout, run_with_limit


async def answer(x):
    await asyncio.sleep(0)
    return x * 2


def test_a_result_comes_back():
    assert run_with_limit(answer(21), 5) == 42


def test_an_exception_comes_back_as_itself():
    async def boom():
        raise ValueError("learner's")

    with pytest.raises(ValueError, match="learner's"):
        run_with_limit(boom(), 5)


def test_works_while_another_event_loop_runs_in_this_thread():
    async def notebook_cell():
        return run_with_limit(answer(1), 5)  # check() called from a cell: the kernel's loop is running

    assert asyncio.run(notebook_cell()) == 2


@pytest.mark.parametrize("kind", ["sleep", "future", "busy", "busy-swallowing"])
def test_hangs_are_stopped_at_the_limit(kind):
    async def hang():
        if kind == "sleep":
            await asyncio.sleep(3600)
        elif kind == "future":
            await asyncio.get_running_loop().create_future()
        elif kind == "busy":
            while True:
                pass
        else:
            while True:
                try:
                    while True:
                        pass
                except Exception:
                    pass

    runner = LoopThread()
    t0 = time.monotonic()
    with pytest.raises(LoopTimeout):
        runner.run(hang(), 0.5)
    runner.close()
    assert time.monotonic() - t0 < 5
    assert not runner.thread.is_alive()


def test_tasks_left_running_are_cancelled_at_close():
    ticks = []

    async def spawns():
        async def forever():
            while True:
                ticks.append(1)
                await asyncio.sleep(0.01)

        asyncio.get_running_loop().create_task(forever())
        return "done"

    runner = LoopThread()
    assert runner.run(spawns(), 5) == "done"
    notes = runner.close()
    assert "1 task(s)" in notes[0]
    seen = len(ticks)
    time.sleep(0.1)
    assert len(ticks) == seen, "the spawned task kept running after close()"
    assert not runner.thread.is_alive()


def test_no_threads_are_left_behind():
    before = threading.active_count()
    for _ in range(5):
        run_with_limit(answer(1), 5)
    assert threading.active_count() == before
