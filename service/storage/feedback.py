"""Feedback on sent alerts (Slack's "Relevant" / "Not relevant"): one row per alert and person, the last click wins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from service.storage.db import Database, insert
from service.storage.missed import MissedStore
from service.storage.schema import deliveries, feedback, feeds, items


class Choice:
    """What a person said about an alert."""

    RELEVANT = "relevant"
    NOT_RELEVANT = "not_relevant"


@dataclass
class RuleStats:
    """One rule's alerts and what people said about them."""

    sent: int = 0  # alerts sent on their own (not in digests)
    rated: int = 0  # of those, alerts someone rated (each once, with its latest rating)
    relevant: int = 0
    last_false_alarm: datetime | None = None
    last_false_title: str = ""
    missed: int = 0  # stories the desk reported the rule should have alerted on (service.storage.missed)

    @property
    def precision(self) -> float | None:
        """Relevant over rated, or None before any rating."""
        return self.relevant / self.rated if self.rated else None

    @property
    def recall(self) -> float | None:
        """Relevant alerts over relevant alerts and reported misses; None until the desk reported a miss.

        An upper bound: it counts only the misses someone noticed and reported.
        """
        return self.relevant / (self.relevant + self.missed) if self.missed else None


@dataclass(frozen=True)
class Subject:
    """The alert a click is about: its delivery, item, feed and rules."""

    delivery_id: int
    destination: str
    rule_ids: tuple[str, ...]
    item_id: int | None
    feed_id: str | None
    title: str


class FeedbackStore:
    """Reads the alert a click is about; records and lists feedback."""

    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def subject(self, delivery_id: int) -> Subject | None:
        """The alert of a delivery, or None if there is no such delivery (or it carries no item)."""
        query = (
            sa.select(
                deliveries.c.id,
                deliveries.c.destination,
                deliveries.c.rule_ids,
                items.c.id.label("item_id"),
                items.c.feed_id,
                items.c.title,
            )
            .select_from(deliveries.join(items, deliveries.c.item_id == items.c.id))
            .where(deliveries.c.id == delivery_id)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return Subject(row.id, row.destination, tuple(row.rule_ids), row.item_id, row.feed_id, row.title)

    async def record(self, subject: Subject, user: str, choice: str, now: datetime) -> None:
        """Store `user`'s choice about the alert, replacing an earlier one of theirs."""
        values = {
            "delivery_id": subject.delivery_id,
            "item_id": subject.item_id,
            "destination": subject.destination,
            "rule_ids": list(subject.rule_ids),
            "user_id": user,
            "choice": choice,
            "created_at": now,
            "updated_at": now,
        }
        async with self._engine.begin() as conn:
            statement = insert(conn, feedback).values(**values)
            await conn.execute(
                statement.on_conflict_do_update(index_elements=["delivery_id", "user_id"], set_={"choice": choice, "updated_at": now})
            )

    async def rule_stats(self, since: datetime) -> dict[str, RuleStats]:
        """Per rule, since `since`: alerts sent, alerts rated (latest rating of each), relevant, the last false alarm."""
        stats: dict[str, RuleStats] = {}
        sent = sa.select(deliveries.c.rule_ids).where(
            deliveries.c.status == "sent", deliveries.c.sent_at >= since, deliveries.c.item_id.is_not(None)
        )
        async with self._engine.connect() as conn:
            for row in await conn.execute(sent):
                for rule in row.rule_ids:
                    stats.setdefault(rule, RuleStats()).sent += 1
        rated = await self.listing(since)  # after the first connection went back: one per task at a time
        latest: dict[int, Any] = {}
        for r in rated:  # newest first: an alert's first row is its latest rating
            latest.setdefault(r.delivery_id, r)
        for r in latest.values():
            for rule in r.rule_ids:
                s = stats.setdefault(rule, RuleStats())
                s.rated += 1
                s.relevant += r.choice == Choice.RELEVANT
                if r.choice == Choice.NOT_RELEVANT and (s.last_false_alarm is None or r.updated_at > s.last_false_alarm):
                    s.last_false_alarm, s.last_false_title = r.updated_at, r.title or ""
        for rule, n in (await MissedStore(self._engine).counts(since)).items():
            stats.setdefault(rule, RuleStats()).missed = n
        return stats

    async def listing(self, since: datetime, rule: str | None = None) -> list[Any]:
        """Feedback given since `since`, newest first, with the alert's title, link and feed."""
        query = (
            sa.select(
                feedback,
                items.c.title,
                items.c.link,
                items.c.summary,
                items.c.language,
                items.c.published_at,
                items.c.feed_id,
                feeds.c.name.label("feed_name"),
            )
            .select_from(feedback.outerjoin(items, feedback.c.item_id == items.c.id).outerjoin(feeds, items.c.feed_id == feeds.c.id))
            .where(feedback.c.updated_at >= since)
            .order_by(feedback.c.updated_at.desc(), feedback.c.id.desc())
        )
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(query))
        return [r for r in rows if rule is None or rule in r.rule_ids]
