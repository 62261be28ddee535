"""Briefings made once per period: one transaction records the period, makes its pages and hands them their alerts.

Alerts that go into briefings (their destination's or their rule's `delivery`) are stored
`briefed` (never due on their own). When a period ends, the first process to record it
(`briefings` row: destination, kind and period end, made once whatever the replicas or
restarts) takes every briefed alert of that kind matched up to then, folds and orders their
stories (`alerts.briefing`) and makes one delivery per page; the delivery loop sends those
like any other message, with retries, pacing and leases. A crash before the commit leaves
nothing half-made; the next run makes the same briefing again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from alerts.briefing import Member, SameStory, last_due, pages, title
from alerts.messages import Mode
from alerts.queue import DeliveryStatus
from service.config import Config
from service.storage.db import Database, briefings, deliveries, insert, items

NEVER = datetime(3000, 1, 1, tzinfo=UTC)  # when a briefed alert is due on its own: never
WAITING = (
    (deliveries.c.mode == Mode.BRIEFED) & (deliveries.c.status == DeliveryStatus.PENDING) & deliveries.c.parent_id.is_(None)
)  # alerts not yet in a briefing


class SqlBriefings:
    """Makes the briefings that are due: for each destination, or rule, with `delivery: daily` or `weekly`."""

    def __init__(self, engine: Database, clock: Callable[[], datetime], config: Callable[[], Config], same_story: SameStory) -> None:
        self._engine = engine
        self._clock = clock
        self._config = config
        self._same_story = same_story

    async def run(self) -> int:
        """Make each due briefing (once); return how many pages were made."""
        config = self._config()
        order = [r.id for r in config.ruleset.rules]
        made = 0
        for name, spec in config.rules_file.destinations.items():
            for kind in config.briefing_kinds(name):
                made += await self._period(config, name, spec, kind, order)
        await self._release(config)
        return made

    async def _period(self, config: Config, name: str, spec: Any, kind: str, order: list[str]) -> int:
        """Make the destination's briefing of this kind for its latest period if nobody has; return its pages."""
        now = self._clock()
        due = last_due(now, spec.at, spec.timezone, spec.weekday if kind == "weekly" else None)
        mine = (briefings.c.destination == name) & (briefings.c.kind == kind)
        async with self._engine.begin() as conn:
            seen = (await conn.execute(sa.select(briefings.c.due_at).where(mine).limit(1))).first()
            recorded = await conn.execute(
                insert(conn, briefings)
                .values(destination=name, kind=kind, due_at=due, created_at=now)
                .on_conflict_do_nothing(index_elements=["destination", "kind", "due_at"])
                .returning(briefings.c.destination)
            )
            if recorded.first() is None or seen is None:  # made already; or a new briefing, sent from its next period
                return 0
            members = [m for m, rules in await _waiting(conn, name, due) if config.delivery_of(name, rules) == kind]
            parts = pages(members, self._same_story, order)
            if not parts and not spec.briefing_when_empty:
                return 0
            heading = title(kind, due, spec.timezone)
            root: int | None = None
            for part in parts or [[]]:
                sheet = await conn.execute(
                    deliveries.insert()
                    .values(
                        item_id=None,
                        destination=name,
                        rule_ids=[],
                        notice=heading,
                        status=DeliveryStatus.PENDING,
                        next_attempt_at=now,
                        created_at=now,
                        mode=Mode.BRIEFING,
                        parent_id=root,
                    )
                    .returning(deliveries.c.id)
                )
                sheet_id = int(sheet.scalar_one())
                root = root or sheet_id
                if part:
                    await conn.execute(deliveries.update().where(deliveries.c.id.in_([m.id for m in part])).values(parent_id=sheet_id))
            return len(parts) or 1

    async def _release(self, config: Config) -> None:
        """Alerts left waiting for a briefing that their destination and rules no longer ask for become due now."""
        async with self._engine.begin() as conn:
            rows = await conn.execute(sa.select(deliveries.c.id, deliveries.c.destination, deliveries.c.rule_ids).where(WAITING))
            instant = [r.id for r in rows if config.delivery_of(r.destination, r.rule_ids) == "instant"]
            if instant:
                await conn.execute(deliveries.update().where(deliveries.c.id.in_(instant)).values(mode=None, next_attempt_at=self._clock()))


async def _waiting(conn: Any, destination: str, due: datetime) -> list[tuple[Member, list[str]]]:
    """The destination's alerts matched up to `due` and waiting for a briefing, with their rules."""
    rows = await conn.execute(
        sa.select(deliveries.c.id, deliveries.c.rule_ids, items.c.signature, sa.func.coalesce(items.c.published_at, items.c.first_seen_at))
        .join(items, items.c.id == deliveries.c.item_id)
        .where(WAITING, deliveries.c.destination == destination, deliveries.c.created_at <= due)
    )
    return [(Member(r[0], tuple(r[1]), r[2], _utc(r[3])), list(r[1])) for r in rows]


def _utc(value: Any) -> datetime:
    """A timestamp from a coalesce (SQLite gives text there), timezone-aware."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    moment: datetime = value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
