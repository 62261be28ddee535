"""kill -9 of `newswatch poll --once` in the middle of a batched write: nothing lost, nothing stored twice."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import sqlalchemy as sa

from service.storage import db, schema
from tests.conftest import POSTGRES_URL, ROOT, write_config
from tests.integration.test_cli import env, newswatch
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer

FEEDS, ROUNDS = 240, 6  # each round adds an item to every feed: another poll full of batched writes to catch
RULES = {
    "destinations": {"desk": {"type": "slack", "channel": "#desk"}},
    "rules": [{"id": "r", "destinations": ["desk"], "match": {"all": ["cambodia", "border"]}}],
}
Probe = Callable[[], Awaitable[bool]]


def serve_round(feeds: FeedServer, round_: int) -> list[str]:
    """Every feed with items 0..round_ (a growing feed: each poll finds one new item per feed); return the URLs."""
    now = datetime.now(UTC)
    urls = []
    for f in range(FEEDS):
        entries = [entry(f, i, now) for i in range(round_ + 1)]
        urls.append(feeds.serve(f"f{f}.rss", rss(entries)))
    return urls


def entry(f: int, i: int, now: datetime) -> Entry:
    """Item i of feed f; one feed in four has a story about the border in it."""
    topic = "Cambodia border talks" if f % 4 == 0 else "rain in the delta"
    body = f"{topic}: item {i} of feed {f}. " + "Officials met again at the provincial office on the river. " * 20
    return Entry(f"f{f}-{i}", f"{topic} {i}", f"https://example.org/{f}/{i}", summary=body, published=now - timedelta(minutes=i))


@asynccontextmanager
async def writing_probe(url: str) -> AsyncIterator[Probe]:
    """A check, from outside, that a write transaction holding new items is open right now, after another one committed.

    SQLite: once items are stored (polling has begun), another connection cannot take the
    write lock. PostgreSQL: a backend holds the lock that inserting into `items` takes until
    its transaction ends.
    """
    path = db.sqlite_file(url)
    if path is not None:

        async def sqlite_locked() -> bool:
            if not path.exists():
                return False
            probe = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                if not probe.execute("SELECT count(*) FROM items").fetchone()[0]:
                    return False  # no batch committed yet (and a lock now may be the migration's or the feeds sync's)
            except sqlite3.OperationalError:  # no tables yet, or the migration holds the file
                probe.close()
                return False
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError:  # locked by a write in progress
                return True
            finally:
                probe.close()

        yield sqlite_locked
        return
    pg_schema = url.split("search_path=")[1]
    conn = await asyncpg.connect(POSTGRES_URL)
    query = (
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 AND c.relname = 'items' AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()"
    )
    committed = f'SELECT count(*) FROM "{pg_schema}".items'

    async def inserting() -> bool:
        return bool(await conn.fetchval(query, pg_schema)) and bool(await conn.fetchval(committed))

    try:
        yield inserting
    finally:
        await conn.close()


async def kill_mid_write(environ: dict[str, str], probe: Probe) -> bool:
    """Run `poll --once` and SIGKILL it while it is stopped inside a batched write; False if it finished first."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "poll",
        "--once",
        env=environ,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        while proc.returncode is None:
            proc.send_signal(signal.SIGSTOP)  # it cannot commit while we look
            if await probe():
                proc.kill()
                await proc.wait()
                return True
            proc.send_signal(signal.SIGCONT)
            await asyncio.sleep(0.005)
            await asyncio.sleep(0)
        return False
    except ProcessLookupError:  # it exited between two looks
        return False
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def table_counts(url: str) -> dict[str, int]:
    """Rows of items, of matches and of item deliveries, and feeds never polled successfully."""
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            q = (
                "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM matches),"
                " (SELECT count(*) FROM deliveries WHERE item_id IS NOT NULL),"
                " (SELECT count(*) FROM feeds WHERE last_success_at IS NULL OR NOT caught_up)"
            )
            found = (await conn.execute(sa.text(q))).one()
            lease = (await conn.execute(sa.select(sa.func.max(schema.feeds.c.lease_until)))).scalar()
    finally:
        await engine.dispose()
    return {"items": found[0], "matches": found[1], "deliveries": found[2], "unpolled": found[3], "leased": int(lease is not None)}


async def leases_run_out(url: str) -> None:
    """Wait until no feed is leased any more (the killed process held its feeds)."""
    engine = db.create_engine(url)
    try:
        while True:
            async with engine.connect() as conn:
                held = (await conn.execute(sa.select(sa.func.max(schema.feeds.c.lease_until)))).scalar()
            if held is None or held < datetime.now(UTC):
                return
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()


async def test_kill_9_in_a_batched_write_loses_nothing_and_stores_nothing_twice(
    tmp_path: Path, database_url: str, feeds: FeedServer
) -> None:
    urls = serve_round(feeds, 0)
    config = write_config(
        tmp_path / "config", [{"id": f"f{n}", "url": u, "first_poll_alerts": "all", "max_age": "off"} for n, u in enumerate(urls)], RULES
    )
    environ = env(config, database_url, NEWSWATCH_LEASE_SECONDS="2", NEWSWATCH_POLL_CONCURRENCY="40", NEWSWATCH_PER_HOST="40")
    killed, round_ = False, 0
    async with writing_probe(database_url) as probe:
        while not killed and round_ < ROUNDS:
            if round_:
                serve_round(feeds, round_)
            killed = await kill_mid_write(environ, probe)
            round_ += 1
    assert killed, f"no poll was caught inside a batched write in {ROUNDS} polls"
    before = await table_counts(database_url)
    items = FEEDS * round_
    assert 0 < before["items"] < items  # a batch had committed, and the kill left work for the next poll
    await leases_run_out(database_url)
    code, _, err = await newswatch("poll", "--once", environ=environ, timeout=180)
    assert code == 0, err
    after = await table_counts(database_url)
    matching = len([f for f in range(FEEDS) if f % 4 == 0]) * round_
    assert after == {"items": items, "matches": matching, "deliveries": matching, "unpolled": 0, "leased": 0}
