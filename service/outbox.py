"""The outbox over the deliveries table: what `alerts.delivery` claims, sends and records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from alerts.base import Alert, AlertRule
from service import silences, text
from service.db import Database, deliveries, feeds, items, matches

SNIPPET_WIDTH = 320


class SqlOutbox:
    """Implements alerts.delivery.Outbox with leases, so several replicas can share it."""

    def __init__(self, engine: Database, owner: str, clock: Callable[[], datetime], lease: timedelta = timedelta(minutes=5)) -> None:
        self._engine = engine
        self._owner = owner
        self._clock = clock
        self._lease = lease

    async def claim(self, limit: int) -> list[Alert]:
        """Lease up to `limit` due deliveries and build their alerts."""
        now = self._clock()
        free = sa.or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < now)
        due = (
            sa.select(deliveries.c.id)
            .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now, free)
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self._engine.begin() as conn:
            claimed = await conn.execute(
                deliveries.update()
                .where(deliveries.c.id.in_(due.scalar_subquery()), deliveries.c.status == "pending", free)
                .values(lease_owner=self._owner, lease_until=now + self._lease)
                .returning(deliveries.c.id, deliveries.c.item_id, deliveries.c.destination, deliveries.c.rule_ids, deliveries.c.attempts)
            )
            rows = sorted(claimed, key=lambda r: r.id)
            if not rows:
                return []
            muted = await silences.active(conn, now)
            held = [r.id for r in rows if muted.silences(r.destination, r.rule_ids)]
            if held:  # silenced while waiting (a backlog during an outage, say): never sent
                await conn.execute(
                    deliveries.update().where(deliveries.c.id.in_(held)).values(status="muted", lease_until=None, lease_owner=None)
                )
            return await self._alerts(conn, [r for r in rows if r.id not in held])

    async def _alerts(self, conn: Any, rows: list[Any]) -> list[Alert]:
        """Join each claimed delivery with its item, feed and matches."""
        item_ids = {r.item_id for r in rows}
        found = await conn.execute(
            sa.select(
                items.c.id,
                items.c.title,
                items.c.link,
                items.c.summary,
                items.c.content,
                items.c.published_at,
                items.c.first_seen_at,
                feeds.c.name,
            )
            .join(feeds, feeds.c.id == items.c.feed_id)
            .where(items.c.id.in_(item_ids))
        )
        item_rows = {r.id: r for r in found}
        match_rows: dict[tuple[int, str], Any] = {
            (m.item_id, m.rule_id): m
            for m in await conn.execute(
                sa.select(matches.c.item_id, matches.c.rule_id, matches.c.rule_name, matches.c.terms).where(matches.c.item_id.in_(item_ids))
            )
        }
        return [_alert(r, item_rows[r.item_id], match_rows) for r in rows]

    async def sent(self, alert: Alert, remote_id: str | None) -> None:
        """Mark delivered."""
        await self._finish(alert, status="sent", remote_id=remote_id, sent_at=self._clock(), last_error=None)

    async def retry(self, alert: Alert, error: str, at: datetime, count_attempt: bool = True) -> None:
        """Due again at `at`."""
        attempts = deliveries.c.attempts + (1 if count_attempt else 0)
        await self._finish(alert, status="pending", next_attempt_at=at, attempts=attempts, last_error=error[:2000])

    async def dead(self, alert: Alert, error: str) -> None:
        """Dead-lettered."""
        await self._finish(alert, status="dead", attempts=deliveries.c.attempts + 1, last_error=error[:2000])

    async def listing(self, status: str | None, destination: str | None, limit: int) -> list[Any]:
        """Deliveries with their item, newest first; status 'failed' means pending after an error."""
        query = (
            sa.select(deliveries, items.c.title, items.c.link)
            .join(items, items.c.id == deliveries.c.item_id)
            .order_by(deliveries.c.id.desc())
            .limit(limit)
        )
        if status == "failed":
            query = query.where(deliveries.c.status == "pending", deliveries.c.attempts > 0)
        elif status:
            query = query.where(deliveries.c.status == status)
        if destination:
            query = query.where(deliveries.c.destination == destination)
        async with self._engine.connect() as conn:
            return list(await conn.execute(query))

    async def summary(self) -> list[Any]:
        """Counts by destination and status, with the latest error of each destination."""
        async with self._engine.connect() as conn:
            return list(
                await conn.execute(
                    sa.select(deliveries.c.destination, deliveries.c.status, sa.func.count(), sa.func.max(deliveries.c.last_error))
                    .group_by(deliveries.c.destination, deliveries.c.status)
                    .order_by(deliveries.c.destination, deliveries.c.status)
                )
            )

    async def requeue(self, ids: list[int] | None = None, dead: bool = False) -> int:
        """Make deliveries due now with a fresh attempt count: the given ids, or every dead one."""
        query = deliveries.update().values(status="pending", attempts=0, next_attempt_at=self._clock(), lease_until=None, lease_owner=None)
        if ids:
            query = query.where(deliveries.c.id.in_(ids), deliveries.c.status != "sent")
        elif dead:
            query = query.where(deliveries.c.status == "dead")
        else:
            return 0
        async with self._engine.begin() as conn:
            return int((await conn.execute(query)).rowcount)

    async def _finish(self, alert: Alert, **values: Any) -> None:
        """Update a delivery this process holds and release its lease."""
        async with self._engine.begin() as conn:
            await conn.execute(
                deliveries.update()
                .where(deliveries.c.id == alert.delivery_id, deliveries.c.status == "pending")
                .values(lease_until=None, lease_owner=None, **values)
            )


def _alert(row: Any, item: Any, match_rows: dict[tuple[int, str], Any]) -> Alert:
    """Build the alert of one delivery."""
    rules = []
    for rule_id in row.rule_ids:
        m = match_rows.get((row.item_id, rule_id))
        terms = tuple(t["term"] for t in m.terms) if m else ()
        rules.append(AlertRule(id=rule_id, name=(m.rule_name if m else "") or rule_id, terms=terms))
    needles = [t for r in rules for t in r.terms]
    snippet, spans = _snippet([item.summary, item.content, item.title], needles)
    return Alert(
        delivery_id=row.id,
        destination=row.destination,
        title=item.title,
        link=item.link,
        source=item.name,
        published=item.published_at or item.first_seen_at,  # an undated item is shown at its first sighting
        snippet=snippet,
        highlights=tuple(spans),
        rules=tuple(rules),
        attempts=row.attempts,
    )


def _snippet(bodies: list[str], needles: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """A snippet from the first field that holds a matched term, else from the first non-empty one."""
    fallback: tuple[str, list[tuple[int, int]]] = ("", [])
    for body in bodies:
        if body:
            snippet, spans = text.snippet(body, needles, SNIPPET_WIDTH)
            if spans:
                return snippet, spans
            fallback = fallback if fallback[0] else (snippet, spans)
    return fallback
