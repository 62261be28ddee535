"""Delivery under Slack faults: 5xx, rate limits and connections dropped after store."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from service.storage.schema import deliveries
from tests.conftest import AppFactory, FakeClock, write_config
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import SlackServer

CHANNELS = ("vn-kh-border", "kh-th-border", "desk")


def rules() -> dict[str, object]:
    return {
        "destinations": {c: {"type": "slack", "channel": f"#{c}"} for c in CHANNELS},
        "rules": [{"id": f"r-{c}", "destinations": [c], "match": {"any": [f"topic{i}"]}} for i, c in enumerate(CHANNELS)],
    }


async def test_every_alert_arrives_and_duplicates_never_exceed_dropped_responses(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    now = datetime.now(UTC)
    entries = [
        Entry(f"g{i}", f"Story {i} about topic{i % 3}", f"https://example.org/{i}", published=now - timedelta(minutes=i)) for i in range(24)
    ]
    url = feeds.serve("f.rss", rss(entries))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], rules())
    app = await make_app()
    slack.faults.random_5xx = 0.2
    slack.faults.drop_after_store = 3
    await app.poll_once()
    for _ in range(40):
        async with app.engine.connect() as conn:
            left = (await conn.execute(sa.select(sa.func.count()).where(deliveries.c.status != "sent"))).scalar()
        if not left:
            break
        clock.advance(minutes=11)  # past the longest backoff
        await app.poll_once()
    arrived = Counter((m["channel"], m["text"]) for m in slack.all_messages())
    assert len(arrived) == 24  # every alert arrived
    duplicates = sum(n - 1 for n in arrived.values())
    assert duplicates <= slack.dropped_after_store == 3
    assert slack.requests > 24  # the faults really happened
