"""The one writer of finished polls: it gathers them and commits every `max_feeds` polls or `max_wait` seconds.

A poll waits for its own commit (`save` returns what it stored), so nothing is reported
stored before it is. Polls that finish together share a transaction (`service.storage.polls`),
which costs one hop to the database per statement instead of one per statement per feed.
"""

from __future__ import annotations

import asyncio
import contextlib

from service.storage import polls
from service.storage.db import Database
from service.storage.polls import PollWrite, Saved

MAX_FEEDS = 50  # polls per transaction at most
MAX_WAIT = 0.02  # seconds a finished poll waits for others to share its transaction


class Writer:
    """Batches finished polls into few transactions, one at a time."""

    def __init__(self, engine: Database, max_feeds: int = MAX_FEEDS, max_wait: float = MAX_WAIT) -> None:
        self._engine = engine
        self._max_feeds = max_feeds
        self._max_wait = max_wait
        self._pending: list[tuple[PollWrite, asyncio.Future[Saved]]] = []
        self._full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def save(self, write: PollWrite) -> Saved:
        """Store one poll with the others that finish about now; raise what its own write raised."""
        done: asyncio.Future[Saved] = asyncio.get_running_loop().create_future()
        self._pending.append((write, done))
        if len(self._pending) >= self._max_feeds:
            self._full.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return await done  # a poll cancelled while it waits leaves its write in the batch

    async def _run(self) -> None:
        """Write batches until no poll is waiting."""
        try:
            while self._pending:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self._max_wait)
                batch, self._pending = self._pending[: self._max_feeds], self._pending[self._max_feeds :]
                if len(self._pending) < self._max_feeds:
                    self._full.clear()
                await self._write(batch)
        finally:
            for _, done in self._pending:  # cancelled (the loop is closing): the waiting polls are polled again later
                done.cancel()
            self._pending = []

    async def _write(self, batch: list[tuple[PollWrite, asyncio.Future[Saved]]]) -> None:
        """One batch; each poll's future gets what it stored or its own failure."""
        try:
            results = await polls.save(self._engine, [w for w, _ in batch])
        except Exception as exc:  # the database itself failed: every poll of the batch fails with it
            results = [exc] * len(batch)
        except BaseException:
            for _, done in batch:
                done.cancel()
            raise
        for (_, done), result in zip(batch, results, strict=True):
            if done.done():
                continue
            if isinstance(result, Exception):
                done.set_exception(result)
            else:
                done.set_result(result)
