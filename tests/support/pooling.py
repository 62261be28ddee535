"""A watch on connection pools: a task that takes a second connection from a pool it holds one of.

That nesting deadlocks once the pool is full: every task holds one connection and waits for
another (seen with three replicas on small PostgreSQL pools). The in-process tests run under
this watch, so a nested checkout fails the test that made it, with the place it was made.
"""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

import greenlet
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine


class NestedCheckouts:
    """Records every checkout made by a task that already holds a connection of the same pool."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self._holder: dict[int, tuple[int, asyncio.Task[Any]]] = {}  # id(connection record) -> (id(pool), task)

    def watch(self, engine: AsyncEngine) -> None:
        """Listen to the engine's pool."""
        pool = engine.sync_engine.pool
        sa.event.listen(pool, "checkout", lambda _dbapi, record, _proxy: self._out(id(pool), record))
        sa.event.listen(pool, "checkin", lambda _dbapi, record: self._holder.pop(id(record), None))

    def _out(self, pool: int, record: Any) -> None:
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no running loop: a synchronous dispose
            return
        if task is None:
            return
        if any(p == pool and t is task for p, t in self._holder.values()):
            ours = [line for line in _task_stack() if "/service/" in line or "/alerts/" in line]
            self.found.append("".join(ours[-6:]))
        self._holder[id(record)] = (pool, task)


def _task_stack() -> list[str]:
    """The awaiting task's stack: SQLAlchemy runs the checkout in a greenlet whose parent is the task."""
    parent = greenlet.getcurrent().parent
    frame = parent.gr_frame if parent is not None else None
    return traceback.format_stack(frame) if frame is not None else traceback.format_stack()
