"""The parse workers: a process pool whose workers exit when the service that started them dies.

A ProcessPoolExecutor's spawned workers hold both ends of their call queue, so after a
kill -9 of the service they never see EOF and wait forever, one orphan per worker. Each
worker therefore watches its parent and exits once it is gone.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

WATCH_SECONDS = 1.0


def _watch(parent: int) -> None:
    """Exit this worker at once when `parent` is no longer its parent (it died; we were re-parented)."""
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os._exit(0)


def _start_watch(parent: int) -> None:
    """Worker initializer: watch the parent from a daemon thread."""
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()


def pool(workers: int) -> ProcessPoolExecutor:
    """`workers` spawned processes that do not outlive this one."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_watch, initargs=(os.getpid(),))
