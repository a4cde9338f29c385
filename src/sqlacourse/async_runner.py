"""Run async code from a plain function, under a time limit, and leave nothing running.

``check()`` is a plain function, and in a notebook it is called while the kernel's own
event loop is running in the main thread: ``asyncio.run()`` would fail there, and a
learner's coroutine must not block or outlive the kernel's loop.  So each async grading
gets an event loop of its own, in a worker thread (``LoopThread``), which the caller
drives with ``run()`` and ends with ``close()``:

* ``run(coro, timeout)`` waits for the coroutine at most ``timeout`` seconds.  At the
  limit the task is cancelled (which ends an ``await`` that never returns, an
  ``asyncio.sleep(3600)`` and, through the driver, a query in flight); a coroutine stuck
  in synchronous code (``while True: pass`` between two awaits) gets ``exc_type`` raised
  inside it, as an asynchronous exception of its thread, repeatedly, until it stops; given
  ``learner_frame``, the exception also raises itself again at every line of learner code
  (``_persistent``), so that ``except BaseException`` around ``time.sleep()`` cannot keep it.
* ``close()`` cancels every task still pending on the loop (those the answer spawned and
  left running), waits for them briefly, closes async generators and the loop, and
  reports what it had to stop.

What it cannot stop: a thread the answer started itself, and C code that never returns to
Python.  ``close()`` then says so (``stuck``), and the thread, a daemon, is abandoned.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import FrameType
from typing import Any

_ASYNCIO_DIR = str(Path(asyncio.__file__).parent)
_LIBRARY_MODULES = (_ASYNCIO_DIR, str(Path(threading.__file__)), str(Path(concurrent.futures.__file__).parent))


class LoopTimeout(Exception):
    """``run()`` reached its time limit (the coroutine was stopped)."""


class StopAnswer(BaseException):
    """Raised inside a coroutine stuck in synchronous code at the limit (a BaseException,
    so that ``except Exception`` in the answer does not swallow it)."""


def _inject(thread: threading.Thread, exc_type: type[BaseException]) -> bool:
    """Raise ``exc_type`` in ``thread`` at its next Python instruction."""
    if thread.ident is None:
        return False
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type))
    return done == 1


def _persistent(exc_type: type[BaseException], learner_frame: Callable[[FrameType], bool]) -> type[BaseException]:
    """A subclass of ``exc_type`` that, when raised in a thread, keeps raising ``exc_type`` there
    at every line of learner code until that code is left.

    An exception injected into a thread is delivered while a C call such as ``time.sleep()``
    returns, so a loop of ``try: time.sleep(...) except BaseException: pass`` catches every one.
    But the exception is instantiated in that thread, so its ``__init__`` can install a trace
    function there (``sys.settrace``, and ``f_trace`` on the learner's running frames): it raises
    at the next line event in a learner frame, which is the first line of the except clause or a
    line outside the ``try``, and from there the exception leaves the loop.  A trace function
    that raises is removed by Python; the next injection installs it again."""

    def tracer(frame: FrameType, event: str, _arg: Any):
        if event == "call":
            return tracer if learner_frame(frame) else None
        if event == "line" and learner_frame(frame):
            raise exc_type()
        return tracer

    class Persistent(exc_type):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            try:
                sys.settrace(tracer)
                frame = sys._getframe(1)
                while frame is not None:
                    if learner_frame(frame):
                        frame.f_trace = tracer
                    frame = frame.f_back
            except Exception:  # never in the way of the exception itself
                pass

    Persistent.__name__ = exc_type.__name__
    Persistent.__qualname__ = exc_type.__qualname__
    return Persistent


def _in_event_loop_machinery(thread: threading.Thread) -> bool:
    """Whether ``thread`` is inside asyncio itself (waiting for events) rather than in a
    coroutine's own code: an exception injected there would stop the loop, not the answer."""
    frame = sys._current_frames().get(thread.ident)
    return frame is None or frame.f_code.co_filename.startswith(_LIBRARY_MODULES)


class LoopThread:
    """An event loop running in a daemon thread of its own."""

    def __init__(self, name: str = "sqlacourse-async") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.thread.start()
        self._ready.wait(5)
        self.stuck = False

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        # "Task exception was never retrieved" and the like are not printed into the
        # learner's output: close() reports what it had to stop.
        self.loop.set_exception_handler(lambda _loop, _context: None)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        except BaseException:  # an injected exception that landed in the loop itself
            pass

    @property
    def alive(self) -> bool:
        return self.thread.is_alive() and self.loop.is_running()

    def run(
        self,
        coro: Coroutine[Any, Any, Any],
        timeout: float,
        *,
        exc_type: type[BaseException] = StopAnswer,
        keep_stopping: Callable[[], bool] = lambda: True,
        learner_frame: Callable[[FrameType], bool] | None = None,
    ) -> Any:
        """The coroutine's result, or its exception; ``LoopTimeout`` past ``timeout`` s.

        ``keep_stopping()`` says whether synchronous code found running at the limit may be
        interrupted (a grader passes "is the learner's code running now?"); with
        ``learner_frame(frame)``, the exception injected keeps being raised at every line of
        learner code until it is left (see ``_persistent``: an ``except BaseException`` around
        a blocking call cannot swallow it)."""
        if not self.alive:
            coro.close()
            raise RuntimeError("the event loop of this check is no longer running")
        finished = threading.Event()

        async def tracked() -> Any:
            try:
                return await coro
            finally:
                finished.set()

        future = asyncio.run_coroutine_threadsafe(tracked(), self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            pass
        # Past the limit: cancel the task (ends awaits), then interrupt synchronous code.
        self.loop.call_soon_threadsafe(future.cancel)
        injected = exc_type if learner_frame is None else _persistent(exc_type, learner_frame)
        end = time.monotonic() + 3.0
        while not finished.wait(0.005) and time.monotonic() < end and self.thread.is_alive():
            if keep_stopping() and not _in_event_loop_machinery(self.thread):
                _inject(self.thread, injected)
        if learner_frame is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(sys.settrace, None)  # the loop thread's tracer, if one was set
        if not finished.is_set():
            self.stuck = True
        raise LoopTimeout(f"stopped after {timeout:g} s")

    def close(
        self,
        grace: float = 2.0,
        *,
        exc_type: type[BaseException] = StopAnswer,
        keep_stopping: Callable[[], bool] = lambda: False,
        learner_frame: Callable[[FrameType], bool] | None = None,
    ) -> list[str]:
        """Stop everything still running on the loop; what had to be stopped, in words.

        A task left running in synchronous code never lets the cancellation run: while
        ``keep_stopping()`` says so, ``exc_type`` is raised in the loop thread."""
        notes: list[str] = []
        if self.thread.is_alive() and self.loop.is_running() and not self.stuck:
            async def _cancel_all() -> int:
                me = asyncio.current_task()
                pending = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.wait(pending, timeout=grace)
                await self.loop.shutdown_asyncgens()
                return len(pending)

            injected = exc_type if learner_frame is None else _persistent(exc_type, learner_frame)
            try:
                cancelling = asyncio.run_coroutine_threadsafe(_cancel_all(), self.loop)
                end = time.monotonic() + grace + 1
                while True:
                    try:
                        left = cancelling.result(0.005)
                        break
                    except concurrent.futures.TimeoutError:
                        if time.monotonic() > end:
                            raise
                        if keep_stopping() and not _in_event_loop_machinery(self.thread):
                            _inject(self.thread, injected)
                if left:
                    notes.append(f"{left} task(s) your code started were still running and were cancelled")
            except (concurrent.futures.TimeoutError, Exception):
                notes.append("tasks your code started did not stop when cancelled")
        if self.thread.is_alive() and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(grace)
        if self.thread.is_alive():
            self.stuck = True
            notes.append("your code is still running in the background (code that never returns to "
                         "Python cannot be stopped): restart the kernel to end it")
        elif not self.loop.is_closed():
            self.loop.close()
        return notes


def run_with_limit(coro: Coroutine[Any, Any, Any], timeout: float) -> Any:
    """Run ``coro`` on a fresh loop thread within ``timeout`` seconds, then close it."""
    runner = LoopThread()
    try:
        return runner.run(coro, timeout)
    finally:
        runner.close()
