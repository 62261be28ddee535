"""Parse workers that die: the pool is replaced, the interrupted call tried once more, the other feeds unharmed."""

from __future__ import annotations

import gc
import os
import signal
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.ingest.parse import WORKER_MODULES
from service.ingest.workers import Workers
from service.storage.schema import feeds as feeds_table
from service.storage.schema import items
from tests.conftest import AppFactory, seed_entries, write_config
from tests.support.feedgen import rss
from tests.support.feedserver import FeedServer


async def test_a_call_that_kills_its_worker_fails_alone_and_the_next_call_gets_new_workers() -> None:
    workers = Workers(1)
    try:
        first = await workers.run(os.getpid)
        with pytest.raises(BrokenProcessPool):
            await workers.run(os._exit, 3)  # dies, is tried on new workers, dies again: reported
        second = await workers.run(os.getpid)
        assert second not in (first, os.getpid())
    finally:
        workers.shutdown()


def worker_state() -> tuple[bool, bool, int]:
    """In a worker: is the parser imported, is the collector on, how many objects are frozen."""
    return "feedparser" in sys.modules, gc.isenabled(), gc.get_freeze_count()


async def test_workers_start_with_their_modules_imported_and_frozen_and_so_do_their_replacements() -> None:
    workers = Workers(1, preload=WORKER_MODULES)
    try:
        imported, collecting, frozen = await workers.run(worker_state)
        assert imported and collecting and frozen > 10_000
        with pytest.raises(BrokenProcessPool):
            await workers.run(os._exit, 3)
        assert (await workers.run(worker_state))[:2] == (True, True)
    finally:
        workers.shutdown()
    bare = Workers(1)
    try:
        assert await bare.run(worker_state) == (False, True, 0)
    finally:
        bare.shutdown()


async def test_a_parse_worker_killed_between_polls_costs_no_poll(tmp_path: Path, feeds: FeedServer, make_app: AppFactory) -> None:
    url = feeds.serve("seeds.rss", rss(seed_entries()[:1]))
    write_config(tmp_path / "config", [{"id": "seeds", "url": url, "first_poll_alerts": "all", "max_age": "off"}])
    app = await make_app(parse_workers=1)
    assert app.executor is not None
    await app.pipeline.poll_due(force=True)
    [worker] = app.executor.pids()
    os.kill(worker, signal.SIGKILL)  # the OOM killer, or a crash in a C parser
    feeds.serve("seeds.rss", rss(seed_entries()))
    stats = await app.pipeline.poll_due(force=True)
    assert (stats.failed, stats.new_items) == (0, 1)
    async with app.engine.connect() as conn:
        stored = (await conn.execute(sa.select(sa.func.count()).select_from(items))).scalar_one()
        [row] = list(await conn.execute(sa.select(feeds_table.c.consecutive_failures, feeds_table.c.last_error)))
    assert stored == 2 and (row.consecutive_failures, row.last_error) == (0, None)
    assert app.executor.pids() and worker not in app.executor.pids()
