"""Briefings made once per period: one transaction records the period, makes its pages and hands them their alerts.

The alerts of a briefing destination are stored `briefed` (never due on their own). When a
period ends, the first process to record it (`briefings` row: destination and period end,
made once whatever the replicas or restarts) takes every briefed alert matched up to then,
folds and orders their stories (`alerts.briefing`) and makes one delivery per page; the
delivery loop sends those like any other message, with retries, pacing and leases. A crash
before the commit leaves nothing half-made; the next run makes the same briefing again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from alerts.base import DeliveryStatus, Mode
from alerts.briefing import Member, SameStory, last_due, pages, title
from service.config import Config
from service.storage.db import Database, briefings, deliveries, insert, items

NEVER = datetime(3000, 1, 1, tzinfo=UTC)  # when a briefed alert is due on its own: never


class SqlBriefings:
    """Makes the briefings that are due, for every destination with `delivery: daily` or `weekly`."""

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
            if spec.delivery != "instant":
                made += await self._period(name, spec, order)
        await self._release({n for n, s in config.rules_file.destinations.items() if s.delivery == "instant"})
        return made

    async def _period(self, name: str, spec: Any, order: list[str]) -> int:
        """Make the briefing of the destination's latest period if nobody has; return its pages."""
        now = self._clock()
        due = last_due(now, spec.at, spec.timezone, spec.weekday if spec.delivery == "weekly" else None)
        async with self._engine.begin() as conn:
            seen = (await conn.execute(sa.select(briefings.c.due_at).where(briefings.c.destination == name).limit(1))).first()
            recorded = await conn.execute(
                insert(conn, briefings)
                .values(destination=name, due_at=due, created_at=now)
                .on_conflict_do_nothing(index_elements=["destination", "due_at"])
                .returning(briefings.c.destination)
            )
            if recorded.first() is None or seen is None:  # made already; or a new destination, briefed from its next period
                return 0
            members = await _waiting(conn, name, due)
            parts = pages(members, self._same_story, order)
            if not parts and not spec.briefing_when_empty:
                return 0
            heading = title(spec.delivery, due, spec.timezone)
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

    async def _release(self, instant: set[str]) -> None:
        """Alerts left briefed by a destination that went back to instant delivery become due now."""
        if not instant:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                deliveries.update()
                .where(
                    deliveries.c.destination.in_(instant),
                    deliveries.c.mode == Mode.BRIEFED,
                    deliveries.c.status == DeliveryStatus.PENDING,
                    deliveries.c.parent_id.is_(None),
                )
                .values(mode=None, next_attempt_at=self._clock())
            )


async def _waiting(conn: Any, destination: str, due: datetime) -> list[Member]:
    """The destination's briefed alerts matched up to `due` and not yet in a briefing."""
    rows = await conn.execute(
        sa.select(deliveries.c.id, deliveries.c.rule_ids, items.c.signature, sa.func.coalesce(items.c.published_at, items.c.first_seen_at))
        .join(items, items.c.id == deliveries.c.item_id)
        .where(
            deliveries.c.destination == destination,
            deliveries.c.mode == Mode.BRIEFED,
            deliveries.c.status == DeliveryStatus.PENDING,
            deliveries.c.parent_id.is_(None),
            deliveries.c.created_at <= due,
        )
    )
    return [Member(r[0], tuple(r[1]), r[2], _utc(r[3])) for r in rows]


def _utc(value: Any) -> datetime:
    """A timestamp from a coalesce (SQLite gives text there), timezone-aware."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    moment: datetime = value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
