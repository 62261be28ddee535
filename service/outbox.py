"""The outbox over the deliveries table: what `alerts.delivery` claims, sends and records."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

import sqlalchemy as sa

from alerts import flood
from alerts.base import Alert, AlertRule, Digest, Message, Notice
from service import silences
from service.config import Config
from service.db import Database, deliveries, feeds, insert, items, lease_update, matches, pacing
from service.ingest import story
from service.rules import text

SNIPPET_WIDTH = 320
DIGEST_SIZE = 15  # alerts per digest message: inside Block Kit's 50 blocks and ~12,000 characters at any content
MAX_BURST = 300  # due alerts of one destination looked at together when deciding on a digest
RECENT_LIMIT = 5000  # recent alerts of one destination that flood control looks at

PolicyOf = Callable[[str], flood.Policy]


def flood_policy(config: Config, destination: str) -> flood.Policy:
    """A destination's flood settings from the config: digest, threads and the throttles of its rules."""
    throttles = {
        r.id: flood.Throttle(r.throttle.max_alerts, timedelta(seconds=r.throttle.per))
        for r in config.rules_file.rules
        if r.throttle and destination in r.destinations
    }
    spec = config.rules_file.destinations.get(destination)
    if spec is None:
        return flood.Policy(throttles=throttles)
    digest = spec.digest
    return flood.Policy(
        max_alerts=digest.max_alerts if digest else None,
        window=timedelta(seconds=digest.window if digest else 600),
        threads=spec.threads,
        thread_window=story.WINDOW,
        throttles=throttles,
    )


class SqlOutbox:
    """Implements alerts.delivery.Outbox with leases, so several replicas can share it."""

    def __init__(
        self,
        engine: Database,
        owner: str,
        clock: Callable[[], datetime],
        lease: timedelta = timedelta(minutes=5),
        policy: PolicyOf | None = None,
    ) -> None:
        self._engine = engine
        self._owner = owner
        self._clock = clock
        self._lease = lease
        self._policy = policy or (lambda destination: flood.Policy())

    async def claim(self, limit: int) -> list[Message]:
        """Lease up to `limit` due deliveries and plan them into alerts, replies and digests."""
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
                lease_update(conn, deliveries, due)
                .where(deliveries.c.status == "pending", free)
                .values(lease_owner=self._owner, lease_until=now + self._lease)
                .returning(*_CLAIMED)
            )
            rows = sorted(claimed, key=lambda r: (r.destination, r.id))
            if not rows:
                return []
            muted = await silences.active(conn, now)
            messages: list[Message] = []
            for destination, group in groupby(await _unmuted(conn, rows, muted), key=lambda r: r.destination):
                messages += await self._plan(conn, destination, list(group), now, muted)
            return sorted(messages, key=lambda m: m.delivery_id)

    async def _plan(self, conn: Any, destination: str, rows: list[Any], now: datetime, muted: silences.Active) -> list[Message]:
        """Decide how one destination's claimed deliveries go out, record it, and build their messages."""
        messages: list[Message] = [Notice(r.id, destination, r.notice, r.attempts) for r in rows if r.notice is not None]
        rows = [r for r in rows if r.notice is None]
        if not rows:
            return messages
        policy = self._policy(destination)
        fresh = sum(1 for r in rows if r.mode is None)
        if policy.max_alerts is not None and 0 < fresh <= policy.max_alerts:
            rows += await _unmuted(conn, await self._lease_burst(conn, destination, now), muted)
        signatures = dict(
            (await conn.execute(sa.select(items.c.id, items.c.signature).where(items.c.id.in_({r.item_id for r in rows})))).all()
        )
        pending = [flood.Pending(r.id, tuple(r.rule_ids), signatures.get(r.item_id), r.mode, r.thread_ts, r.parent_id) for r in rows]
        plan = flood.plan(pending, await self._recent(conn, destination, policy, now), policy, now, story.same_story)
        await self._record(conn, destination, plan, policy, now)
        hold = set(plan.hold)
        built = {a.delivery_id: a for a in await self._alerts(conn, [r for r in rows if r.id not in hold])}
        messages += [dataclasses.replace(built[i], mode="alert") for i in plan.alerts]
        for i, reply in plan.replies.items():
            thread = {"thread_ts": reply.thread_ts} if reply.thread_ts else {"reply_to": reply.parent_id}
            messages.append(dataclasses.replace(built[i], mode="reply", **thread))
        entries = [built[i] for i in sorted(plan.digest)]
        for start in range(0, len(entries), DIGEST_SIZE):
            chunk = tuple(entries[start : start + DIGEST_SIZE])
            throttled = sum(1 for a in chunk if a.delivery_id in plan.throttled)
            messages.append(Digest(destination, chunk, held=throttled, attempts=max(a.attempts for a in chunk)))
        return messages

    async def _lease_burst(self, conn: Any, destination: str, now: datetime) -> list[Any]:
        """Lease the rest of a destination's due, unplanned deliveries, so that a burst is seen whole.

        A claim takes a batch across destinations; without this, a burst of 300 alerts to 10
        channels would arrive 5 per channel per claim and never look like a burst.
        """
        free = sa.or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < now)
        more = (
            sa.select(deliveries.c.id)
            .where(
                deliveries.c.destination == destination,
                deliveries.c.status == "pending",
                deliveries.c.mode.is_(None),
                deliveries.c.next_attempt_at <= now,
                free,
            )
            .order_by(deliveries.c.id)
            .limit(MAX_BURST)
            .with_for_update(skip_locked=True)
        )
        leased = await conn.execute(
            lease_update(conn, deliveries, more)
            .where(deliveries.c.status == "pending", free)
            .values(lease_owner=self._owner, lease_until=now + self._lease)
            .returning(*_CLAIMED)
        )
        return sorted(leased, key=lambda r: r.id)

    async def _recent(self, conn: Any, destination: str, policy: flood.Policy, now: datetime) -> list[flood.Sent]:
        """The destination's alerts sent on their own within the longest window flood control looks back."""
        horizon = max(
            [policy.window, policy.thread_window if policy.threads else timedelta(0), *(t.per for t in policy.throttles.values())]
        )
        found = await conn.execute(
            sa.select(deliveries.c.id, deliveries.c.remote_id, deliveries.c.rule_ids, deliveries.c.sent_at, items.c.signature)
            .join(items, items.c.id == deliveries.c.item_id)
            .where(
                deliveries.c.destination == destination,
                deliveries.c.status == "sent",
                sa.or_(deliveries.c.mode == "alert", deliveries.c.mode.is_(None)),
                deliveries.c.sent_at >= now - horizon,
            )
            .order_by(deliveries.c.sent_at.desc())
            .limit(RECENT_LIMIT)
        )
        return [flood.Sent(r.id, r.remote_id, tuple(r.rule_ids), r.sent_at, r.signature) for r in found]

    async def _record(self, conn: Any, destination: str, plan: flood.Plan, policy: flood.Policy, now: datetime) -> None:
        """Store each delivery's mode; held ones wait, unleased, for the destination's next digest."""
        by_id = deliveries.c.id
        digest = [i for i in plan.digest if i not in plan.throttled]
        throttled = [i for i in plan.digest if i in plan.throttled]
        for mode, ids in (("alert", plan.alerts), ("digest", digest), ("throttled", throttled)):
            if ids:
                await conn.execute(deliveries.update().where(by_id.in_(ids)).values(mode=mode))
        for i, reply in plan.replies.items():
            await conn.execute(
                deliveries.update().where(by_id == i).values(mode="reply", parent_id=reply.parent_id, thread_ts=reply.thread_ts)
            )
        if plan.hold:
            waiting = await conn.execute(
                sa.select(sa.func.min(deliveries.c.next_attempt_at)).where(
                    deliveries.c.destination == destination,
                    deliveries.c.status == "pending",
                    deliveries.c.mode.in_(("digest", "throttled")),
                    deliveries.c.next_attempt_at > now,
                )
            )
            flush = waiting.scalar() or now + policy.window
            for mode, ids in (
                ("digest", [i for i in plan.hold if i not in plan.throttled]),
                ("throttled", [i for i in plan.hold if i in plan.throttled]),
            ):
                if ids:
                    await conn.execute(
                        deliveries.update()
                        .where(by_id.in_(ids))
                        .values(mode=mode, next_attempt_at=flush, lease_until=None, lease_owner=None)
                    )

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

    async def hold(self, message: Message) -> bool:
        """Renew this process's lease on a message's deliveries; False if another process has taken them over."""
        now = self._clock()
        async with self._engine.begin() as conn:
            renewed = await conn.execute(
                deliveries.update()
                .where(
                    deliveries.c.id.in_(message.delivery_ids),
                    deliveries.c.status == "pending",
                    deliveries.c.lease_owner == self._owner,
                    deliveries.c.lease_until >= now,
                )
                .values(lease_until=now + self._lease)
            )
        return int(renewed.rowcount) == len(message.delivery_ids)

    async def reserve(self, key: str, interval: float, within: float) -> tuple[datetime, bool]:
        """Book the next send slot of a rate key, shared by every replica, if it starts within `within` seconds.

        Returns the slot's start (wall time) and whether it was booked: a slot further off is
        only reported, so that messages sent back to wait do not use up slots.
        """
        now = datetime.now(UTC)  # Slack counts real seconds, whatever clock the rest of the service runs on
        async with self._engine.begin() as conn:
            await conn.execute(insert(conn, pacing).values(key=key, next_at=now).on_conflict_do_nothing(index_elements=["key"]))
            booked = (await conn.execute(sa.select(pacing.c.next_at).where(pacing.c.key == key).with_for_update())).scalar_one()
            start: datetime = max(booked, now)
            if (start - now).total_seconds() > within:
                return start, False
            await conn.execute(pacing.update().where(pacing.c.key == key).values(next_at=start + timedelta(seconds=interval)))
        return start, True

    async def pause(self, key: str, until: datetime) -> None:
        """Hold every replica's sends with this rate key until `until` (wall time): the remote asked to wait."""
        async with self._engine.begin() as conn:
            await conn.execute(pacing.update().where(pacing.c.key == key, pacing.c.next_at < until).values(next_at=until))

    async def sent(self, message: Message, remote_id: str | None) -> None:
        """Mark delivered, with how it went out (a reply that found no thread went out on its own)."""
        thread_ts = message.thread_ts if isinstance(message, Alert) else None
        values = {"mode": message.mode, "thread_ts": thread_ts} if isinstance(message, Alert) else {}
        await self._finish(message, status="sent", remote_id=remote_id, sent_at=self._clock(), last_error=None, **values)

    async def retry(self, message: Message, error: str, at: datetime, count_attempt: bool = True) -> None:
        """Due again at `at`."""
        attempts = deliveries.c.attempts + (1 if count_attempt else 0)
        await self._finish(message, status="pending", next_attempt_at=at, attempts=attempts, last_error=error[:2000])

    async def dead(self, message: Message, error: str) -> None:
        """Dead-lettered."""
        await self._finish(message, status="dead", attempts=deliveries.c.attempts + 1, last_error=error[:2000])

    async def listing(self, status: str | None, destination: str | None, limit: int) -> list[Any]:
        """Deliveries with their item, newest first; status 'failed' means pending after an error."""
        query = (
            sa.select(deliveries, sa.func.coalesce(items.c.title, deliveries.c.notice).label("title"), items.c.link)
            .outerjoin(items, items.c.id == deliveries.c.item_id)  # a notice has no item
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
        query = deliveries.update().values(
            status="pending",
            attempts=0,
            next_attempt_at=self._clock(),
            lease_until=None,
            lease_owner=None,
            mode=None,
            thread_ts=None,
            parent_id=None,
        )
        if ids:
            query = query.where(deliveries.c.id.in_(ids), deliveries.c.status != "sent")
        elif dead:
            query = query.where(deliveries.c.status == "dead")
        else:
            return 0
        async with self._engine.begin() as conn:
            return int((await conn.execute(query)).rowcount)

    async def _finish(self, message: Message, **values: Any) -> None:
        """Update the deliveries of a message this process holds and release their lease."""
        async with self._engine.begin() as conn:
            await conn.execute(
                deliveries.update()
                .where(deliveries.c.id.in_(message.delivery_ids), deliveries.c.status == "pending")
                .values(lease_until=None, lease_owner=None, **values)
            )


async def _unmuted(conn: Any, rows: list[Any], muted: silences.Active) -> list[Any]:
    """The claimed rows no silence covers; the others are marked muted (a backlog silenced while it waited) and never sent."""
    held = [r.id for r in rows if muted.silences(r.destination, r.rule_ids)]
    if held:
        await conn.execute(deliveries.update().where(deliveries.c.id.in_(held)).values(status="muted", lease_until=None, lease_owner=None))
    return [r for r in rows if r.id not in held]


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
