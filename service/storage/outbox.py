"""The outbox over the deliveries table: the queue primitives `alerts.delivery` runs on.

Claims lease rows so that several replicas share the table; planning is `alerts.flood`'s and
the order of the steps `alerts.delivery`'s. This module only reads and writes rows: an alert is
its delivery row (with the evidence `service.ingest.route` stored there) joined to its item and
feed, and a briefing page is the sections stored when it was made (`service.storage.briefings`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from alerts.flood import Plan, Sent
from alerts.messages import Alert, AlertRule, Briefing, Message, Mode, Story
from alerts.queue import Claimed, DeliveryStatus, Kind
from service.ingest.model import Evidence
from service.settings import Settings
from service.storage.db import Database, lease_update
from service.storage.schema import deliveries, feeds, items, matches

LegacyQuote = Callable[[str, str, str, str, list[tuple[str, Sequence[str]]]], Evidence]  # (title, summary, content, article, terms)
RECENT_LIMIT = 5000  # recent alerts of one destination that flood control looks at


class SqlQueue:
    """Implements alerts.queue.Queue with leases, so several replicas can share it; plus the CLI's views of it."""

    def __init__(
        self,
        engine: Database,
        owner: str,
        clock: Callable[[], datetime],
        lease: timedelta = timedelta(seconds=Settings.model_fields["lease_seconds"].default),
        legacy: LegacyQuote | None = None,
    ) -> None:
        self._engine = engine
        self._owner = owner
        self._clock = clock
        self._lease = lease
        self._legacy = legacy  # the quote of a delivery queued before evidence was stored (migration 0008)

    async def claim(self, limit: int) -> list[Claimed]:
        """Lease up to `limit` due deliveries, oldest due first."""
        now = self._clock()
        due = (
            sa.select(deliveries.c.id)
            .where(deliveries.c.status == DeliveryStatus.PENDING, deliveries.c.next_attempt_at <= now, _free(now))
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await self._lease_rows(due, now)

    async def claim_more(self, destination: str, limit: int) -> list[Claimed]:
        """Lease the rest of a destination's due, never-planned deliveries, so that a burst is seen whole.

        A claim takes a batch across destinations; without this, a burst of 300 alerts to 10
        channels would arrive 5 per channel per claim and never look like a burst.
        """
        now = self._clock()
        more = (
            sa.select(deliveries.c.id)
            .where(
                deliveries.c.destination == destination,
                deliveries.c.status == DeliveryStatus.PENDING,
                deliveries.c.mode.is_(None),
                deliveries.c.next_attempt_at <= now,
                _free(now),
            )
            .order_by(deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await self._lease_rows(more, now)

    async def _lease_rows(self, chosen: sa.Select[Any], now: datetime) -> list[Claimed]:
        """Lease the rows `chosen` selects, returning them with their item's story fingerprint and feed."""
        async with self._engine.begin() as conn:
            leased = await conn.execute(
                lease_update(conn, deliveries, chosen)
                .where(deliveries.c.status == DeliveryStatus.PENDING, _free(now))
                .values(lease_owner=self._owner, lease_until=now + self._lease)
                .returning(*_CLAIMED)
            )
            rows = sorted(leased, key=lambda r: r.id)
            ids = {r.item_id for r in rows if r.item_id is not None}
            found: dict[int, Any] = {}
            if ids:
                selected = await conn.execute(sa.select(items.c.id, items.c.signature, items.c.feed_id).where(items.c.id.in_(ids)))
                found = {row.id: row for row in selected}
        return [_claimed(r, found.get(r.item_id)) for r in rows]

    async def mute(self, claimed: Sequence[Claimed]) -> None:
        """Mark deliveries muted: stored, never sent (a muted briefing page, with the alerts it lists)."""
        ids = [c.id for c in claimed]
        async with self._engine.begin() as conn:
            await conn.execute(
                deliveries.update()
                .where(
                    sa.or_(deliveries.c.id.in_(ids), sa.and_(deliveries.c.parent_id.in_(ids), deliveries.c.mode == Mode.BRIEFED)),
                    deliveries.c.status == DeliveryStatus.PENDING,
                )
                .values(status=DeliveryStatus.MUTED, lease_until=None, lease_owner=None)
            )

    async def briefing(self, claimed: Claimed) -> Briefing:
        """A briefing page with the stories stored on it; a later page names the first page's thread, or waits for it (`reply_to`)."""
        root_id = claimed.parent_id or claimed.id
        async with self._engine.connect() as conn:
            sheets = list(
                await conn.execute(
                    sa.select(deliveries.c.id, deliveries.c.status, deliveries.c.remote_id, deliveries.c.sections)
                    .where(sa.or_(deliveries.c.id == root_id, deliveries.c.parent_id == root_id), deliveries.c.mode == Mode.BRIEFING)
                    .order_by(deliveries.c.id)
                )
            )
            listed = await conn.execute(
                sa.select(deliveries.c.id, deliveries.c.rule_ids).where(
                    deliveries.c.parent_id == claimed.id, deliveries.c.mode == Mode.BRIEFED
                )
            )
            members = {r.id: tuple(r.rule_ids) for r in listed}
        ids = [s.id for s in sheets]
        stored = sheets[ids.index(claimed.id)].sections if claimed.id in ids else None
        layout = stored if stored is not None else _unfolded(members)
        alerts = await self.build([Claimed(i, claimed.destination, members[i]) for i in members])
        sections = tuple(
            (s["name"], tuple(Story(alerts[story[0]], also=len(story) - 1) for story in s["stories"] if story[0] in alerts)) for s in layout
        )
        root = sheets[0] if sheets and sheets[0].id == root_id else None
        thread_ts, reply_to = None, None
        if claimed.parent_id is not None:
            if root is not None and root.status == DeliveryStatus.SENT:
                thread_ts = root.remote_id  # None where the sink cannot thread: the page goes out on its own
            else:
                reply_to = root_id
        page = ids.index(claimed.id) + 1 if claimed.id in ids else 1
        title = claimed.notice or "Briefing"
        return Briefing(claimed.id, claimed.destination, title, sections, page, max(1, len(sheets)), claimed.attempts, thread_ts, reply_to)

    async def recent(self, destination: str, since: datetime) -> list[Sent]:
        """The destination's alerts sent on their own since `since`, newest first."""
        async with self._engine.connect() as conn:
            found = await conn.execute(
                sa.select(deliveries.c.id, deliveries.c.remote_id, deliveries.c.rule_ids, deliveries.c.sent_at, items.c.signature)
                .join(items, items.c.id == deliveries.c.item_id)
                .where(
                    deliveries.c.destination == destination,
                    deliveries.c.status == DeliveryStatus.SENT,
                    sa.or_(deliveries.c.mode == Mode.ALERT, deliveries.c.mode.is_(None)),
                    deliveries.c.sent_at >= since,
                )
                .order_by(deliveries.c.sent_at.desc())
                .limit(RECENT_LIMIT)
            )
            return [Sent(r.id, r.remote_id, tuple(r.rule_ids), r.sent_at, r.signature) for r in found]

    async def record(self, destination: str, plan: Plan, window: timedelta) -> None:
        """Store each delivery's mode; held ones wait, unleased, for the destination's next digest."""
        now = self._clock()
        by_id = deliveries.c.id
        digest = [i for i in plan.digest if i not in plan.throttled]
        throttled = [i for i in plan.digest if i in plan.throttled]
        async with self._engine.begin() as conn:
            for mode, ids in ((Mode.ALERT, plan.alerts), (Mode.DIGEST, digest), (Mode.THROTTLED, throttled)):
                if ids:
                    await conn.execute(deliveries.update().where(by_id.in_(ids)).values(mode=mode))
            for i, reply in plan.replies.items():
                await conn.execute(
                    deliveries.update().where(by_id == i).values(mode=Mode.REPLY, parent_id=reply.parent_id, thread_ts=reply.thread_ts)
                )
            if plan.hold:
                await self._hold(conn, destination, plan, now + window, now)

    async def _hold(self, conn: Any, destination: str, plan: Plan, fallback: datetime, now: datetime) -> None:
        """Held deliveries join the destination's waiting digest (or start one that flushes after the window)."""
        waiting = await conn.execute(
            sa.select(sa.func.min(deliveries.c.next_attempt_at)).where(
                deliveries.c.destination == destination,
                deliveries.c.status == DeliveryStatus.PENDING,
                deliveries.c.mode.in_((Mode.DIGEST, Mode.THROTTLED)),
                deliveries.c.next_attempt_at > now,
            )
        )
        flush = waiting.scalar() or fallback
        for mode, ids in (
            (Mode.DIGEST, [i for i in plan.hold if i not in plan.throttled]),
            (Mode.THROTTLED, [i for i in plan.hold if i in plan.throttled]),
        ):
            if ids:
                await conn.execute(
                    deliveries.update()
                    .where(deliveries.c.id.in_(ids))
                    .values(mode=mode, next_attempt_at=flush, lease_until=None, lease_owner=None)
                )

    async def build(self, claimed: Sequence[Claimed]) -> dict[int, Alert]:
        """The alert of each delivery: its row, with the evidence stored there, joined to its item and feed."""
        if not claimed:
            return {}
        ids = [c.id for c in claimed]
        async with self._engine.connect() as conn:
            rows = list(
                await conn.execute(
                    sa.select(*_DELIVERY, *_ITEM, feeds.c.name)
                    .join(items, items.c.id == deliveries.c.item_id)
                    .join(feeds, feeds.c.id == items.c.feed_id)
                    .where(deliveries.c.id.in_(ids))
                )
            )
            item_ids = {r.item_id for r in rows}
            found = await conn.execute(
                sa.select(matches.c.item_id, matches.c.rule_id, matches.c.rule_name, matches.c.terms).where(matches.c.item_id.in_(item_ids))
            )
            match_rows = {(m.item_id, m.rule_id): m for m in found}
        return {r.id: self._alert(r, match_rows) for r in rows}

    def _alert(self, row: Any, match_rows: dict[tuple[int, str], Any]) -> Alert:
        """One delivery's alert; it quotes its first rule's evidence."""
        rules = []
        for rule_id in row.rule_ids:
            m = match_rows.get((row.item_id, rule_id))
            terms = tuple(t["term"] for t in m.terms) if m else ()
            rules.append(AlertRule(id=rule_id, name=(m.rule_name if m else "") or rule_id, terms=terms))
        evidence = row.evidence[0] if row.evidence else self._legacy_quote(row, match_rows)
        return Alert(
            delivery_id=row.id,
            destination=row.destination,
            title=row.title,
            link=row.link,
            source=f"{row.outlet} (via {row.name})" if row.outlet else row.name,  # an aggregator's item: its outlet first
            published=row.published_at or row.first_seen_at,  # an undated item is shown at its first sighting
            snippet=evidence["text"],
            highlights=tuple((s, e) for s, e in evidence["highlights"]),
            rules=tuple(rules),
            attempts=row.attempts,
            in_article=bool(evidence["in_article"]),
            item_id=row.item_id,
        )

    def _legacy_quote(self, row: Any, match_rows: dict[tuple[int, str], Any]) -> dict[str, Any]:
        """The quote of a delivery queued before evidence was stored with it, by the rule of that time."""
        terms = [
            (t["term"], t.get("fields", ()))
            for rule_id in row.rule_ids
            for t in getattr(match_rows.get((row.item_id, rule_id)), "terms", [])
        ]
        if self._legacy is None:
            return {"text": "", "highlights": [], "in_article": False}
        quote = self._legacy(row.title, row.summary, row.content, row.article, terms)
        return {"text": quote.text, "highlights": quote.highlights, "in_article": quote.in_article}

    async def hold(self, message: Message, wait: float = 0.0) -> bool:
        """Renew this process's lease on a message's deliveries, `wait` seconds longer than a lease.

        False if another process has claimed them since; a lease that ran out with no one
        claiming is still this process's (a claim moves the owner, atomically).
        """
        now = self._clock()
        async with self._engine.begin() as conn:
            renewed = await conn.execute(
                deliveries.update()
                .where(
                    deliveries.c.id.in_(message.delivery_ids),
                    deliveries.c.status == DeliveryStatus.PENDING,
                    deliveries.c.lease_owner == self._owner,
                )
                .values(lease_until=now + self._lease + timedelta(seconds=wait))
            )
        return int(renewed.rowcount) == len(message.delivery_ids)

    async def sent(self, message: Message, remote_id: str | None, channel: str | None = None) -> None:
        """Mark delivered, with how it went out (a reply that found no thread went out on its own); a briefing's alerts with it."""
        thread_ts = message.thread_ts if isinstance(message, Alert) else None
        values: dict[str, Any] = {"mode": message.mode, "thread_ts": thread_ts} if isinstance(message, Alert) else {}
        now = self._clock()
        async with self._engine.begin() as conn:  # one transaction: a briefing and the alerts it lists are sent together
            await self._finish(
                message,
                conn,
                status=DeliveryStatus.SENT,
                remote_id=remote_id,
                remote_channel=channel,
                sent_at=now,
                last_error=None,
                **values,
            )
            if isinstance(message, Briefing):
                await conn.execute(
                    deliveries.update()
                    .where(
                        deliveries.c.parent_id == message.delivery_id,
                        deliveries.c.mode == Mode.BRIEFED,
                        deliveries.c.status == DeliveryStatus.PENDING,
                    )
                    .values(status=DeliveryStatus.SENT, sent_at=now)
                )

    async def retry(self, message: Message, error: str, at: datetime, count_attempt: bool = True) -> None:
        """Due again at `at`."""
        attempts = deliveries.c.attempts + (1 if count_attempt else 0)
        await self._finish(
            message,
            mine=True,
            status=DeliveryStatus.PENDING,
            next_attempt_at=at,
            attempts=attempts,
            last_error=error[:2000],
        )

    async def dead(self, message: Message, error: str) -> None:
        """Dead-lettered."""
        await self._finish(message, mine=True, status=DeliveryStatus.DEAD, attempts=deliveries.c.attempts + 1, last_error=error[:2000])

    async def requeue(self, ids: list[int] | None = None, dead: bool = False) -> int:
        """Make deliveries due now with a fresh attempt count: the given ids, or every dead one."""
        query = deliveries.update().values(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=self._clock(),
            lease_until=None,
            lease_owner=None,
            mode=None,
            thread_ts=None,
            parent_id=None,
        )
        if ids:
            query = query.where(deliveries.c.id.in_(ids), deliveries.c.status != DeliveryStatus.SENT)
        elif dead:
            query = query.where(deliveries.c.status == DeliveryStatus.DEAD)
        else:
            return 0
        async with self._engine.begin() as conn:
            return int((await conn.execute(query)).rowcount)

    async def _finish(self, message: Message, conn: AsyncConnection | None = None, mine: bool = False, **values: Any) -> None:
        """Update a message's pending deliveries and release their lease (in `conn`'s transaction, if given).

        `mine`: only while this process still owns them; another process that took them over
        decides their retry. A send is recorded whoever owns the row, so that no one sends it again.
        """
        statement = (
            deliveries.update()
            .where(deliveries.c.id.in_(message.delivery_ids), deliveries.c.status == DeliveryStatus.PENDING)
            .values(lease_until=None, lease_owner=None, **values)
        )
        if mine:
            statement = statement.where(deliveries.c.lease_owner == self._owner)
        if conn is not None:
            await conn.execute(statement)
            return
        async with self._engine.begin() as own:
            await own.execute(statement)


def _free(now: datetime) -> Any:
    """Rows no live lease holds."""
    return sa.or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < now)


_CLAIMED = (
    deliveries.c.id,
    deliveries.c.item_id,
    deliveries.c.destination,
    deliveries.c.rule_ids,
    deliveries.c.attempts,
    deliveries.c.mode,
    deliveries.c.thread_ts,
    deliveries.c.parent_id,
    deliveries.c.notice,
)
_DELIVERY = (deliveries.c.id, deliveries.c.destination, deliveries.c.rule_ids, deliveries.c.attempts, deliveries.c.evidence)
_ITEM = (
    items.c.id.label("item_id"),
    items.c.title,
    items.c.link,
    items.c.summary,
    items.c.content,
    items.c.article,
    items.c.published_at,
    items.c.first_seen_at,
    items.c.outlet,
)


def _unfolded(members: dict[int, tuple[str, ...]]) -> list[dict[str, Any]]:
    """The sections of a briefing page made before they were stored with it: one story per alert, under its first rule."""
    by_rule: dict[str, list[list[int]]] = {}
    for delivery_id, rules in sorted(members.items()):
        by_rule.setdefault(rules[0] if rules else "", []).append([delivery_id])
    return [{"rule": rule, "name": rule, "stories": stories} for rule, stories in by_rule.items()]


def _claimed(row: Any, item: Any) -> Claimed:
    """A leased delivery row, with its item's fingerprint and feed."""
    signature, feed_id = (item.signature, item.feed_id) if item is not None else (None, None)
    kind = Kind.BRIEFING if row.mode == Mode.BRIEFING else Kind.NOTICE if row.item_id is None else Kind.ALERT
    return Claimed(
        row.id,
        row.destination,
        tuple(row.rule_ids),
        kind,
        row.attempts,
        row.mode,
        row.thread_ts,
        row.parent_id,
        signature,
        row.notice,
        feed_id,
    )
