"""Missed stories: what the desk says a rule should have alerted on (one row per rule and address; a new report replaces the note)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from service.storage.db import Database, insert
from service.storage.schema import items, missed


@dataclass(frozen=True)
class Missed:
    """A reported missed story, with the stored item of that address when there is one."""

    id: int
    rule_id: str
    url: str
    title: str
    note: str
    reported_by: str
    created_at: datetime
    item_id: int | None = None
    feed_id: str = ""
    summary: str = ""
    content: str = ""
    article: str = ""
    language: str = ""


class MissedStore:
    """Records and lists missed stories."""

    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def record(self, rule_id: str, link: str, now: datetime, title: str = "", note: str = "", by: str = "") -> Missed:
        """Store a missed story for `rule_id` at `link` (its canonical form); again: its title and note are replaced when given."""
        found = sa.select(items.c.id, items.c.title).where(items.c.link == link).order_by(items.c.first_seen_at.desc()).limit(1)
        async with self._engine.begin() as conn:
            item = (await conn.execute(found)).first()
            values = {
                "rule_id": rule_id,
                "url": link,
                "item_id": item.id if item else None,
                "title": title or (item.title if item else ""),
                "note": note,
                "reported_by": by,
                "created_at": now,
            }
            kept = ("item_id", "created_at", "reported_by")
            update = {k: values[k] for k in kept} | {k: values[k] for k in ("title", "note") if values[k]}
            statement = insert(conn, missed).values(**values)
            await conn.execute(statement.on_conflict_do_update(index_elements=["rule_id", "url"], set_=update))
        [row] = [m for m in await self.listing(datetime.min.replace(tzinfo=now.tzinfo), rule_id) if m.url == link]
        return row

    async def listing(self, since: datetime, rule: str | None = None) -> list[Missed]:
        """Missed stories reported since `since` (of one rule, or all), newest first, with their stored item's text."""
        query = (
            sa.select(
                missed,
                items.c.feed_id,
                items.c.summary,
                items.c.content,
                items.c.article,
                items.c.language,
                items.c.title.label("item_title"),
            )
            .select_from(missed.outerjoin(items, missed.c.item_id == items.c.id))
            .where(missed.c.created_at >= since)
            .order_by(missed.c.created_at.desc(), missed.c.id.desc())
        )
        if rule is not None:
            query = query.where(missed.c.rule_id == rule)
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(query))
        return [
            Missed(
                id=r.id,
                rule_id=r.rule_id,
                url=r.url,
                title=r.title or r.item_title or "",
                note=r.note,
                reported_by=r.reported_by,
                created_at=r.created_at,
                item_id=r.item_id,
                feed_id=r.feed_id or "",
                summary=r.summary or "",
                content=r.content or "",
                article=r.article or "",
                language=r.language or "",
            )
            for r in rows
        ]

    async def counts(self, since: datetime) -> dict[str, int]:
        """Missed stories reported since `since`, per rule."""
        query = sa.select(missed.c.rule_id, sa.func.count()).where(missed.c.created_at >= since).group_by(missed.c.rule_id)
        async with self._engine.connect() as conn:
            return {rule: int(n) for rule, n in await conn.execute(query)}
