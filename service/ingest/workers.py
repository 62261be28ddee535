"""The parse workers: a process pool that outlives a dead worker, and workers that do not outlive the service.

A ProcessPoolExecutor's spawned workers hold both ends of their call queue, so after a
kill -9 of the service they never see EOF and wait forever, one orphan per worker. Each
worker therefore watches its parent and exits once it is gone. Workers ignore SIGINT: Ctrl-C
in a terminal reaches the whole process group, and stopping is the service's to do.

The other way round, a worker that dies (the OOM killer, a crash on hostile input) breaks a
ProcessPoolExecutor for good: every later call fails. `Workers` starts a new pool then and
tries each call that the death interrupted once more, so one bad feed costs its own poll,
not every poll after it.

A running call cannot be taken back from a ProcessPoolExecutor: cancelling the wait leaves
the worker busy. `Stoppable` workers are for work that must end on time whatever its input
(extracting an article page, whose cost grows faster than its size): a call that is cancelled
or runs over its time is stopped by killing its process, and the next call starts a new one.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import importlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

WATCH_SECONDS = 1.0
T = TypeVar("T")
log = logging.getLogger("newswatch.workers")


def _watch(parent: int) -> None:
    """Exit this worker at once when `parent` is no longer its parent (it died; we were re-parented)."""
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os._exit(0)


def _start_watch(parent: int, preload: tuple[str, ...] = ()) -> None:
    """Worker initializer: leave Ctrl-C to the service, watch the parent from a daemon thread, import `preload`.

    What the imports build lives as long as the worker: it is imported with the cyclic garbage
    collector off and then frozen (`gc.freeze`), so that the collections each parse sets off do
    not scan it again (about 1 % of a parse, counted with callgrind).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()
    if preload:
        gc.disable()
        try:
            for module in preload:
                importlib.import_module(module)
        finally:
            gc.freeze()
            gc.enable()


_RETIRED: list[threading.Thread] = []  # the manager threads of pools shut down and not yet ended (see `retire`)


def retire(executor: ProcessPoolExecutor) -> None:
    """Shut `executor` down without waiting, keeping its manager thread until that has ended.

    The manager thread holds the last reference to the pool's queues. Left to itself, it frees
    them as it ends, after it has left `threading.enumerate()`, so nothing can wait for it: at a
    quick exit (`cli.exit_now`) it may still be unlinking the queues' named semaphores, which the
    resource tracker then reports as leaked. Kept here, the queues are freed by the thread that
    calls this (threads that ended are let go), or by multiprocessing's exit hook.
    """
    _RETIRED[:] = [thread for thread in _RETIRED if thread.is_alive()]
    manager = getattr(executor, "_executor_manager_thread", None)  # None until its first call
    if manager is not None:
        _RETIRED.append(manager)
    executor.shutdown(wait=False, cancel_futures=True)


def pool(workers: int, preload: tuple[str, ...] = ()) -> ProcessPoolExecutor:
    """`workers` spawned processes that do not outlive this one, each with the modules `preload` names imported."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_start_watch, initargs=(os.getpid(), preload))


class Workers:
    """`size` worker processes; a pool broken by a dead worker is replaced, and its calls tried once more."""

    def __init__(self, size: int, preload: tuple[str, ...] = ()) -> None:
        self._size = size
        self._preload = preload
        self._pool = pool(size, preload)
        self._closed = False

    @property
    def size(self) -> int:
        """How many worker processes."""
        return self._size

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker; raises BrokenProcessPool if the worker dies on the second try too."""
        loop, current = asyncio.get_running_loop(), self._pool
        try:
            return await loop.run_in_executor(current, fn, *args)
        except BrokenProcessPool:
            if self._closed:
                raise
            self._replace(current)
        return await loop.run_in_executor(self._pool, fn, *args)

    def pids(self) -> list[int]:
        """The worker processes running now (started at the first call)."""
        return list(getattr(self._pool, "_processes", None) or {})

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """Start a new pool in place of `broken`, once however many calls it failed."""
        if self._pool is not broken:
            return
        log.error("a parse worker died (killed, or crashed on its input); starting new workers and trying its calls once more")
        retire(broken)
        self._pool = pool(self._size, self._preload)

    def shutdown(self) -> None:
        """Stop the workers without waiting for calls in flight."""
        self._closed = True
        retire(self._pool)


class Stoppable:
    """Up to `size` worker processes, each running one call at a time, started on demand; a call cancelled is killed.

    Each worker is a pool of one, so that the process of a call is known and can be killed
    when its caller stops waiting (a timeout, a shutdown): the work itself stops, not only the
    wait for it. A call that merely raises leaves its worker for the next call.
    """

    def __init__(self, size: int) -> None:
        self._size = max(1, size)
        self._gate: asyncio.Semaphore | None = None
        self._idle: list[ProcessPoolExecutor] = []
        self._busy: set[ProcessPoolExecutor] = set()
        self.stopped = 0  # calls stopped by killing their worker
        self.killed: collections.deque[int] = collections.deque(maxlen=10)  # the last workers killed, by process id

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker; cancelling this (`asyncio.timeout`, say) kills the worker and its call."""
        if self._gate is None:
            self._gate = asyncio.Semaphore(self._size)
        async with self._gate:
            worker = self._idle.pop() if self._idle else pool(1)
            self._busy.add(worker)
            try:
                result = await asyncio.wrap_future(worker.submit(fn, *args))
            except (asyncio.CancelledError, BrokenProcessPool):
                self._busy.discard(worker)
                self._kill(worker)
                raise
            except BaseException:
                self._release(worker)
                raise
            self._release(worker)
            return result

    def pids(self) -> list[int]:
        """The worker processes running now."""
        return [pid for worker in [*self._idle, *self._busy] for pid in (getattr(worker, "_processes", None) or {})]

    def _release(self, worker: ProcessPoolExecutor) -> None:
        """Keep a worker whose call ended for the next call."""
        self._busy.discard(worker)
        self._idle.append(worker)

    def _kill(self, worker: ProcessPoolExecutor) -> None:
        """Stop a worker and whatever it is doing."""
        self.stopped += 1
        for pid, process in list((getattr(worker, "_processes", None) or {}).items()):
            process.kill()
            self.killed.append(pid)
        retire(worker)

    def shutdown(self) -> None:
        """Stop every worker, busy or not."""
        for worker in [*self._idle, *self._busy]:
            for process in list((getattr(worker, "_processes", None) or {}).values()):
                process.kill()
            retire(worker)
        self._idle, self._busy = [], set()
