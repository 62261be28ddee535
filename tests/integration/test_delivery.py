"""The outbox and delivery loop on both databases: pacing, retries, dead letters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from service.storage.schema import deliveries
from tests.conftest import AppFactory, FakeClock, write_config
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import SlackServer

RULES = {
    "destinations": {
        "desk": {"type": "slack", "channel": "#desk"},
        "lost": {"type": "slack", "channel": "#archived-long-ago"},
    },
    "rules": [
        {"id": "border", "destinations": ["desk"], "match": {"any": ["border"]}},
        {"id": "lost", "destinations": ["lost"], "match": {"any": ["cambodia"]}},
    ],
}


def entries(n: int, title: str = "border news") -> list[Entry]:
    now = datetime.now(UTC)
    return [Entry(f"g{i}", f"{title} {i}", f"https://example.org/{i}", published=now - timedelta(minutes=i)) for i in range(n)]


async def rows(app: Any) -> list[Any]:
    async with app.engine.connect() as conn:
        return list(await conn.execute(sa.select(deliveries).order_by(deliveries.c.id)))


async def test_a_burst_to_one_channel_is_paced_under_slacks_limit(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    url = feeds.serve("f.rss", rss(entries(3)))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], RULES)
    app = await make_app()
    await app.poll_once()
    assert len(slack.messages["desk"]) == 3
    assert "ratelimited" not in slack.rejected


async def test_permanent_error_dead_letters_without_blocking_other_destinations(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    url = feeds.serve("f.rss", rss(entries(1, "Cambodia border news")))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], RULES)
    app = await make_app()
    await app.poll_once()
    by_destination = {r.destination: r for r in await rows(app)}
    assert by_destination["desk"].status == "sent"
    assert by_destination["lost"].status == "dead" and by_destination["lost"].last_error == "slack: channel_not_found"
    assert by_destination["lost"].attempts == 1


async def test_rate_limit_answer_waits_retry_after_and_delivers_once(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    url = feeds.serve("f.rss", rss(entries(1)))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], RULES)
    app = await make_app()
    slack.rate_interval = 3600  # someone else posted: Slack answers 429 with Retry-After: 1
    slack._last["desk"] = __import__("time").monotonic()
    await app.poll_once()
    [pending] = await rows(app)
    assert pending.status == "pending" and "ratelimited" in pending.last_error
    assert pending.next_attempt_at <= clock() + timedelta(seconds=1)
    slack.rate_interval = 1.0
    slack._last.clear()
    clock.advance(seconds=2)
    await app.poll_once()
    await app.poll_once()
    assert len(slack.messages["desk"]) == 1
    assert [r.status for r in await rows(app)] == ["sent"]


async def test_a_destination_removed_from_the_config_dead_letters_its_alerts(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    url = feeds.serve("f.rss", rss(entries(1)))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], RULES)
    app = await make_app()
    await app.pipeline.poll_due(force=True)
    app.sinks.pop("desk")
    await app.deliverer.run_once()
    [row] = await rows(app)
    assert row.status == "dead" and row.last_error == "destination 'desk' is not configured"


async def test_a_failing_destination_is_reported_once_and_its_alerts_can_be_requeued(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, caplog: Any
) -> None:
    import logging

    from service.storage.outbox import SqlQueue

    url = feeds.serve("f.rss", rss(entries(3, "Cambodia news")))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], RULES)
    app = await make_app()
    with caplog.at_level(logging.INFO, logger="newswatch.delivery"):
        await app.poll_once()
    failing = [r for r in caplog.records if r.getMessage().startswith("destination failing")]
    assert len(failing) == 1 and failing[0].destination == "lost"  # type: ignore[attr-defined]
    assert app.deliverer.failing == {"lost": "slack: channel_not_found"}
    assert [r.status for r in await rows(app)] == ["dead"] * 3
    slack.channels.add("archived-long-ago")  # someone fixed the channel
    slack.messages["archived-long-ago"] = []
    outbox = SqlQueue(app.engine, "cli", app.clock)
    assert await outbox.requeue(dead=True) == 3
    await app.poll_once()
    assert len(slack.messages["archived-long-ago"]) == 3
    assert app.deliverer.failing == {}
    assert [(r.status, r.attempts) for r in await rows(app)] == [("sent", 0)] * 3


async def test_replicas_share_one_pace_per_channel_even_when_a_send_leaves_late(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    """Slots booked a second apart do not make arrivals a second apart: a send leaves after the one before has ended.

    The first request reaches Slack 0.9 s late (a loaded machine, a slow network): a send that
    left at its slot, a second after the first's, would arrive 0.1 s after it and get a 429.
    """
    import asyncio

    from alerts.delivery import Deliverer
    from tests.conftest import deliverer as replica

    url = feeds.serve("f.rss", rss(entries(6)))
    write_config(
        tmp_path / "config",
        [{"id": "f", "url": url, "first_poll_alerts": "all"}],
        RULES
        | {"destinations": {"desk": {"type": "slack", "channel": "#desk", "digest": "off"}, "lost": {"type": "slack", "channel": "#x"}}},
    )
    one, two = await make_app(), await make_app()
    await one.pipeline.poll_due(force=True)
    replicas = [replica(app, f"replica-{i}", batch=2) for i, app in enumerate((one, two))]
    slack.faults.slow_arrivals = [0.9]

    async def drain(deliverer: Deliverer) -> None:
        while [r for r in await rows(one) if r.destination == "desk" and r.status == "pending"]:
            await deliverer.run_once()
            await asyncio.sleep(0.05)

    await asyncio.gather(*(drain(d) for d in replicas))
    assert [r.status for r in await rows(one) if r.destination == "desk"] == ["sent"] * 6
    assert len(slack.messages["desk"]) == 6
    assert "ratelimited" not in slack.rejected  # the server refuses a second message within a second in one channel


async def test_a_claim_leases_no_more_than_its_limit(tmp_path: Path, feeds: FeedServer, make_app: AppFactory) -> None:
    """PostgreSQL once leased all 12 here: it re-ran `id IN (SELECT ... LIMIT 3)` for each row."""
    from service.storage.outbox import SqlQueue

    url = feeds.serve("f.rss", rss(entries(12)))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], RULES)
    app = await make_app()
    await app.pipeline.poll_due(force=True)
    first, second = SqlQueue(app.engine, "a", app.clock), SqlQueue(app.engine, "b", app.clock)
    claimed = [c.id for c in await first.claim(3)]
    assert claimed == [1, 2, 3]
    assert [c.id for c in await second.claim(100)] == list(range(4, 13))
    assert {r.lease_owner for r in await rows(app)} == {"a", "b"}


async def test_a_lease_stays_its_owners_until_another_process_claims_it(tmp_path: Path, feeds: FeedServer, make_app: AppFactory) -> None:
    from service.storage.outbox import SqlQueue

    url = feeds.serve("f.rss", rss(entries(1)))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], RULES)
    app = await make_app()
    await app.pipeline.poll_due(force=True)
    clock, lease = FakeClock(), timedelta(seconds=5)
    first, second = SqlQueue(app.engine, "a", clock, lease), SqlQueue(app.engine, "b", clock, lease)
    [claimed] = await first.claim(10)
    message = (await first.build([claimed]))[claimed.id]
    clock.advance(seconds=10)  # the lease ran out and no one claimed it: still the first's to send
    assert await first.hold(message, wait=30)
    clock.advance(seconds=20)
    assert await second.claim(10) == []  # the renewal covers the 30 s wait on top of the lease
    clock.advance(seconds=20)
    assert [c.id for c in await second.claim(10)] == [claimed.id]
    assert not await first.hold(message)
    await first.retry(message, "too late", clock())  # the first no longer owns it: the second's lease stands
    [row] = await rows(app)
    assert (row.lease_owner, row.attempts, row.last_error) == ("b", 0, None)


async def test_a_slow_request_does_not_bring_the_next_message_too_close(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    url = feeds.serve("f.rss", rss(entries(2)))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], RULES)
    app = await make_app()
    slack.faults.slow_arrivals = [0.5]  # the first message reaches Slack half a second late; the second does not
    await app.poll_once()
    assert len(slack.messages["desk"]) == 2
    assert "ratelimited" not in slack.rejected  # the server refuses two messages within a second in one channel
