"""Briefings made once per period: one transaction records the period, makes its pages and hands them their alerts.

Alerts that go into briefings (their destination's or their rule's `delivery`) are stored
`briefed` (never due on their own). When a period ends, the first process to record it
(`briefings` row: destination, kind and period end, made once whatever the replicas or
restarts) takes the briefed alerts of that destination matched up to then, has them composed
into pages (`alerts.briefing.make_due` folds, orders and pages them) and makes one delivery
per page with its sections; the delivery loop sends those like any other message, with retries,
pacing and leases. A crash before the commit leaves nothing half-made; the next run makes the
same briefing again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from alerts.briefing import Compose, Member
from alerts.messages import Mode
from alerts.queue import DeliveryStatus
from service.storage.db import Database, insert
from service.storage.schema import briefings, deliveries, items

NEVER = datetime(3000, 1, 1, tzinfo=UTC)  # when a briefed alert is due on its own: never
WAITING = (
    (deliveries.c.mode == Mode.BRIEFED) & (deliveries.c.status == DeliveryStatus.PENDING) & deliveries.c.parent_id.is_(None)
)  # alerts not yet in a briefing


class SqlBriefings:
    """Implements alerts.briefing.BriefingStore over the briefings and deliveries tables."""

    def __init__(self, engine: Database, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    async def make(self, destination: str, kind: str, due: datetime, title: str, compose: Compose) -> int:
        """Make the destination's briefing of this kind for the period ending at `due`, if nobody has; return its pages.

        A briefing seen for the first time is recorded and sent from its next period on.
        """
        now = self._clock()
        mine = (briefings.c.destination == destination) & (briefings.c.kind == kind)
        async with self._engine.begin() as conn:
            seen = (await conn.execute(sa.select(briefings.c.due_at).where(mine).limit(1))).first()
            recorded = await conn.execute(
                insert(conn, briefings)
                .values(destination=destination, kind=kind, due_at=due, created_at=now)
                .on_conflict_do_nothing(index_elements=["destination", "kind", "due_at"])
                .returning(briefings.c.destination)
            )
            if recorded.first() is None or seen is None:  # made already; or a new briefing, sent from its next period
                return 0
            pages = compose(await _waiting(conn, destination, due))
            root: int | None = None
            for page in pages:
                row = _page_row(destination, title, page, root, now)
                sheet = int((await conn.execute(deliveries.insert().values(**row).returning(deliveries.c.id))).scalar_one())
                root = root or sheet
                listed = [i for section in page for story in section["stories"] for i in story]
                if listed:
                    await conn.execute(deliveries.update().where(deliveries.c.id.in_(listed)).values(parent_id=sheet))
            return len(pages)

    async def release(self, instant: Callable[[str, Sequence[str]], bool]) -> None:
        """Alerts left waiting for a briefing that their destination and rules no longer ask for (`instant`) become due now."""
        async with self._engine.begin() as conn:
            rows = await conn.execute(sa.select(deliveries.c.id, deliveries.c.destination, deliveries.c.rule_ids).where(WAITING))
            due = [r.id for r in rows if instant(r.destination, r.rule_ids)]
            if due:
                await conn.execute(deliveries.update().where(deliveries.c.id.in_(due)).values(mode=None, next_attempt_at=self._clock()))


def _page_row(destination: str, title: str, sections: list[dict[str, Any]], root: int | None, now: datetime) -> dict[str, Any]:
    """The delivery of one briefing page, with its sections as made."""
    return {
        "item_id": None,
        "destination": destination,
        "rule_ids": [],
        "notice": title,
        "status": DeliveryStatus.PENDING,
        "next_attempt_at": now,
        "created_at": now,
        "mode": Mode.BRIEFING,
        "parent_id": root,
        "sections": sections,
    }


async def _waiting(conn: Any, destination: str, due: datetime) -> list[Member]:
    """The destination's alerts matched up to `due` and waiting for a briefing."""
    rows = await conn.execute(
        sa.select(deliveries.c.id, deliveries.c.rule_ids, items.c.signature, sa.func.coalesce(items.c.published_at, items.c.first_seen_at))
        .join(items, items.c.id == deliveries.c.item_id)
        .where(WAITING, deliveries.c.destination == destination, deliveries.c.created_at <= due)
    )
    return [Member(r[0], tuple(r[1]), r[2], _utc(r[3])) for r in rows]


def _utc(value: Any) -> datetime:
    """A timestamp from a coalesce (SQLite gives text there), timezone-aware."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    moment: datetime = value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
