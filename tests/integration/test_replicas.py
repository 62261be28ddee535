"""Several processes on one database: 3 replicas on PostgreSQL with a kill -9; 2 on one SQLite file."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from service.storage import db, schema
from tests.conftest import ROOT
from tests.integration.test_cli import env
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import SlackServer

CHANNELS = [f"c{i}" for i in range(10)]


@pytest.fixture
async def slack10() -> Any:
    server = SlackServer(CHANNELS)
    await server.start()
    yield server
    await server.stop()


def setup(tmp_path: Path, feeds: FeedServer, count: int) -> tuple[Path, int]:
    """`count` feeds of 2 items; one item in ten matches a rule; return the config dir and the alerts due."""
    now = datetime.now(UTC)
    lines, alerts = ["feeds:"], 0
    for f in range(count):
        entries = []
        for i in range(2):
            n = f * 2 + i
            topic = f"topic{n % 10}" if n % 10 == f % 10 else "weather"
            alerts += topic != "weather"
            entries.append(Entry(f"f{f}-{i}", f"Item {n} about {topic}", f"https://example.org/{n}", published=now - timedelta(minutes=n)))
        url = feeds.serve(f"f{f}.rss", rss(entries))
        # The shortest interval: a fetch that fails on a starved machine (a timeout) is retried a minute later, not an hour.
        lines.append(f"  - {{id: f{f}, url: '{url}', interval: 1m, first_poll_alerts: all}}")
    config = tmp_path / "config"
    config.mkdir()
    (config / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # A short digest window: bursts become digests and held alerts flush within the test's time.
    digest = "{max_alerts: 10, window: 3s}"
    rules = ["destinations:"] + [f"  {c}: {{type: slack, channel: '#{c}', digest: {digest}}}" for c in CHANNELS] + ["rules:"]
    rules += [f"  - {{id: r{i}, destinations: [c{i}], match: {{any: [topic{i}]}}}}" for i in range(10)]
    (config / "rules.yaml").write_text("\n".join(rules) + "\n", encoding="utf-8")
    return config, alerts


async def start(environ: dict[str, str], name: str) -> asyncio.subprocess.Process:
    """`newswatch run` as replica `name`; its log goes to NAME.log in the config folder's parent, for a failed test to show."""
    log = (Path(environ["NEWSWATCH_CONFIG_DIR"]).parent / f"{name}.log").open("wb")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "service",
            "run",
            env=environ | {"NEWSWATCH_INSTANCE": name},
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )
    finally:
        log.close()  # the child has its own copy


def warnings_logged(tmp_path: Path) -> list[str]:
    """The WARNING and ERROR lines the replicas logged (the last 40): what a failed wait shows beside the database."""
    lines = [line for f in sorted(tmp_path.glob("*.log")) for line in f.read_text(errors="replace").splitlines()]
    return [line[:300] for line in lines if "WARNING" in line or "ERROR" in line][-40:]


def alerted(slack: SlackServer) -> Counter[str]:
    """How often each item's link arrived, in an alert of its own or in a digest."""
    return Counter(link for m in slack.all_messages() for link in set(re.findall(r"https://example\.org/\d+", str(m.get("blocks")))))


async def leased_feeds(url: str, owner: str) -> dict[str, datetime]:
    """The feeds `owner` holds a lease on, and when each lease ends."""
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.select(schema.feeds.c.id, schema.feeds.c.lease_until).where(schema.feeds.c.lease_owner == owner))
            return {r.id: r.lease_until for r in rows if r.lease_until is not None}
    finally:
        await engine.dispose()


async def kill_9_holding_feeds(proc: asyncio.subprocess.Process, url: str, name: str) -> dict[str, datetime]:
    """SIGKILL the replica at a moment it holds feed leases (mid-poll); return those feeds and their lease ends.

    It is stopped (SIGSTOP) while its leases are read, so that it cannot finish its polls between
    the look and the kill; a loaded machine made "kill it now" land between batches.
    """
    for _ in range(600):  # up to two minutes: its next poll cycle claims feeds again
        proc.send_signal(signal.SIGSTOP)
        held = await leased_feeds(url, name)
        if held:
            proc.kill()
            await proc.wait()
            return held
        proc.send_signal(signal.SIGCONT)
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} never held a feed lease in two minutes")


async def polled_at(url: str, feed_ids: list[str]) -> dict[str, datetime | None]:
    """When each feed was last polled."""
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.select(schema.feeds.c.id, schema.feeds.c.last_polled_at).where(schema.feeds.c.id.in_(feed_ids)))
            return {r.id: r.last_polled_at for r in rows}
    finally:
        await engine.dispose()


def taken_over(orphaned: dict[str, datetime], polled: dict[str, datetime | None]) -> list[bool]:
    """For each orphaned feed, whether it was polled after the killed replica claimed it (its lease end less 5 s)."""
    return [(at := polled.get(f)) is not None and at > end - timedelta(seconds=5) for f, end in orphaned.items()]


async def wait_taken_over(url: str, orphaned: dict[str, datetime], timeout: float) -> dict[str, datetime | None]:
    """Wait until every orphaned feed was polled again after its claim; return when each was last polled."""
    polled: dict[str, datetime | None] = {}
    for _ in range(int(timeout / 0.5)):
        polled = await polled_at(url, list(orphaned))
        if all(taken_over(orphaned, polled)):
            break
        await asyncio.sleep(0.5)
    return polled


async def counts(url: str) -> dict[str, int]:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            q = "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM deliveries WHERE status = 'sent'), (SELECT count(*) FROM feeds WHERE last_success_at IS NULL)"
            items, sent, unpolled = (await conn.execute(sa.text(q))).one()
    except Exception:  # not migrated yet
        return {"items": 0, "sent": 0, "unpolled": -1}
    finally:
        await engine.dispose()
    return {"items": items, "sent": sent, "unpolled": unpolled}


async def unsent(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """What a failed wait shows: the deliveries not sent yet and the feeds never polled successfully."""
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            d, f = schema.deliveries.c, schema.feeds.c
            deliveries = await conn.execute(
                sa.select(d.destination, d.status, d.mode, d.attempts, d.next_attempt_at, d.lease_owner, d.lease_until, d.last_error).where(
                    d.status != "sent"
                )
            )
            unpolled = await conn.execute(
                sa.select(f.id, f.status, f.last_error, f.next_poll_at, f.lease_owner, f.lease_until).where(f.last_success_at.is_(None))
            )
            return {"deliveries": [tuple(r) for r in deliveries], "feeds": [tuple(r) for r in unpolled]}
    finally:
        await engine.dispose()


async def wait_for(url: str, done: Any, timeout: float) -> dict[str, int]:
    state: dict[str, int] = {}
    for _ in range(int(timeout / 0.5)):
        state = await counts(url)
        if done(state):
            return state
        await asyncio.sleep(0.5)
    return state


@pytest.mark.timeout(720)  # its own waits add up to 600 s; a slow run must fail on them, with their state, not here
async def test_three_replicas_share_the_work_and_survive_a_kill_9(
    tmp_path: Path, postgres_url: str, feeds: FeedServer, slack10: SlackServer
) -> None:
    config, alerts = setup(tmp_path, feeds, 500)
    # Small pools: two suites running side by side must stay under PostgreSQL's 100 connections.
    environ = env(config, postgres_url, slack10, NEWSWATCH_LEASE_SECONDS="5", NEWSWATCH_DB_POOL_SIZE="3")
    replicas = [await start(environ, f"replica-{i}") for i in range(3)]
    try:
        await wait_for(postgres_url, lambda s: s["items"] >= 200, 60)
        orphaned = await kill_9_holding_feeds(replicas[0], postgres_url, "replica-0")
        # Generous: on a loaded machine a send that timed out waits out its retry backoff (5, 10, 20 s...).
        state = await wait_for(postgres_url, lambda s: s["items"] == 1000 and s["sent"] == alerts and s["unpolled"] == 0, 300)
        # Wait for what is asserted below, not only for the counts: a feed killed mid-way through its second
        # poll already has its items, so the counts can be complete before its lease has run out and been taken.
        polled = await wait_taken_over(postgres_url, orphaned, 120)
    finally:
        for proc in replicas[1:]:
            proc.terminate()
        for proc in replicas:
            await proc.wait()
    # every item stored once, every feed polled
    assert state == {"items": 1000, "sent": alerts, "unpolled": 0}, (await unsent(postgres_url), warnings_logged(tmp_path))
    messages = Counter((m["channel"], m["text"]) for m in slack10.all_messages())
    assert len(alerted(slack10)) == alerts  # every match alerted, alone or in a digest
    assert sum(n - 1 for n in messages.values()) <= len(CHANNELS)  # at most the sends in flight in the killed replica
    assert [p.returncode for p in replicas[1:]] == [0, 0]
    # The killed replica's feeds were taken over: a leased feed is claimed by no one until its lease ends, so
    # each of them polled (every feed has stored its items) shows that the leases ran out and were taken.
    # How soon (the lease plus one poll tick) is a clock question, tested with an injected clock in test_store.
    assert all(taken_over(orphaned, polled)), (orphaned, polled)


@pytest.mark.timeout(360)  # its wait allows 240 s on a loaded machine
async def test_two_processes_on_one_sqlite_file_never_duplicate(tmp_path: Path, feeds: FeedServer, slack10: SlackServer) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    config, alerts = setup(tmp_path, feeds, 60)
    environ = env(config, url, slack10, NEWSWATCH_DB_POOL_SIZE="3")
    procs = [await start(environ, f"p{i}") for i in range(2)]
    try:
        state = await wait_for(url, lambda s: s["items"] == 120 and s["sent"] == alerts, 240)
    finally:
        for proc in procs:
            proc.terminate()
        codes = [await p.wait() for p in procs]
    assert state["items"] == 120 and state["sent"] == alerts, (state, await unsent(url))
    arrived = alerted(slack10)
    assert len(arrived) == alerts and max(arrived.values()) == 1
    assert codes == [0, 0]
