"""Operations notices: a feed reported once when it has failed N polls in a row, and once when it recovers.

A feed is reported once per run of failures (`feeds.failing_reported_at`), and its recovery
only if it was reported: a feed already failing when `operations:` is set or its threshold
lowered is reported at its next failed poll.

A notice is a delivery without an item (its text in `notice`), so it goes through the same
outbox as alerts: leases, retries, dead letters and `newswatch deliveries`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from alerts.messages import Mode
from alerts.queue import DeliveryStatus
from service.storage.schema import deliveries, feeds

CHUNK = 500


@dataclass(frozen=True)
class Notify:
    """Where operations notices go, and after how many failures in a row a feed is reported."""

    destination: str
    after_failures: int


async def recovered(conn: AsyncConnection, feed_ids: Sequence[str], now: datetime, notify: Notify | None) -> None:
    """Queue a "recovered" notice for each of these feeds that was reported failing (call before resetting them)."""
    if notify is not None:
        await conn.run_sync(recovered_sync, feed_ids, now, notify)


def recovered_sync(conn: Connection, feed_ids: Sequence[str], now: datetime, notify: Notify | None) -> None:
    """`recovered` on a connection of `run_sync`."""
    if notify is None:
        return
    for i in range(0, len(feed_ids), CHUNK):
        found = conn.execute(
            sa.select(feeds.c.id, feeds.c.name, feeds.c.consecutive_failures, feeds.c.failing_since).where(
                feeds.c.id.in_(feed_ids[i : i + CHUNK]), feeds.c.failing_reported_at.is_not(None)
            )
        )
        rows = [
            notice_row(
                notify.destination,
                f"Feed {r.name or r.id} ({r.id}) recovered after {r.consecutive_failures} failed polls"
                + (f" (failing since {r.failing_since:%Y-%m-%d %H:%M} UTC)." if r.failing_since else "."),
                now,
            )
            for r in found
        ]
        if rows:
            conn.execute(deliveries.insert(), rows)


def notice_row(destination: str, text: str, now: datetime) -> dict[str, Any]:
    """A delivery that carries an operations notice instead of an item."""
    return {
        "item_id": None,
        "destination": destination,
        "rule_ids": [],
        "notice": text,
        "mode": Mode.NOTICE,
        "status": DeliveryStatus.PENDING,
        "next_attempt_at": now,
        "created_at": now,
    }


async def failing(
    conn: AsyncConnection, notify: Notify, feed_id: str, name: str, failures: int, since: datetime, error: str, now: datetime
) -> None:
    """Queue the "failing since" notice of a feed."""
    text = (
        f"Feed {name or feed_id} ({feed_id}) failing since {since:%Y-%m-%d %H:%M} UTC: "
        f"{failures} failed polls in a row. Last error: {error[:500]}. "
        "It is retried with backoff, at least every 6 hours, and a notice follows when it recovers."
    )
    await conn.execute(deliveries.insert(), [notice_row(notify.destination, text, now)])
