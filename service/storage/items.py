"""Items, their matches and deliveries: dedup happens here, by unique keys.

A poll's new items, their matches, their deliveries and the feed's new state are written in
one transaction, so a crash leaves either all of a poll or none of it. What each match sends
where, muted or not, quoting what, was decided by `service.ingest.route`; this module only
writes it, for the items that were really new.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from alerts.messages import Mode
from alerts.queue import DeliveryStatus
from service.ingest.model import Article, Item, RuleMatch
from service.ingest.route import Route, Routed
from service.storage import notices
from service.storage.briefings import NEVER
from service.storage.db import Database, deliveries, insert, items, matches
from service.storage.feeds import PollOutcome, succeeded
from service.storage.notices import Notify

_CHUNK = 500  # rows per INSERT, well under both databases' parameter limits


@dataclass(frozen=True)
class NewItem:
    """An item to store, with its matches and what becomes of them (`service.ingest.route`)."""

    item: Item
    matches: list[RuleMatch]
    routed: Routed = field(default_factory=lambda: Routed({}))
    article: Article | None = None  # how its article text was obtained, or why there is none
    signature: bytes | None = None  # its story fingerprint (service.ingest.story), if it may alert


@dataclass
class Saved:
    """What a save stored: only rows that were new."""

    items: int = 0
    matches: int = 0
    deliveries: int = 0
    rules: Counter[str] = field(default_factory=Counter)  # matches stored, by rule


class Items:
    """Items, matches and deliveries over one engine."""

    def __init__(self, engine: Database) -> None:
        self.engine = engine

    async def known(self, feed_id: str, keys: Iterable[str], links: Iterable[str]) -> tuple[set[str], set[str]]:
        """The keys and the links among those given that this feed already has stored."""
        found_keys: set[str] = set()
        found_links: set[str] = set()
        key_list, link_list = [k for k in dict.fromkeys(keys) if k], [v for v in dict.fromkeys(links) if v]
        async with self.engine.connect() as conn:
            for i in range(0, max(len(key_list), len(link_list)), _CHUNK):
                some_keys, some_links = key_list[i : i + _CHUNK], link_list[i : i + _CHUNK]
                rows = await conn.execute(
                    sa.select(items.c.key, items.c.link).where(
                        items.c.feed_id == feed_id, sa.or_(items.c.key.in_(some_keys), items.c.link.in_(some_links))
                    )
                )
                for key, link in rows:
                    found_keys.add(key)
                    found_links.add(link)
        wanted_links = set(link_list)
        return found_keys, {link for link in found_links if link in wanted_links}

    async def save_poll(
        self, feed_id: str, new: Sequence[NewItem], outcome: PollOutcome, now: datetime, notify: Notify | None = None
    ) -> Saved:
        """Store new items with their matches and deliveries, and the feed's new state, at once."""
        saved = Saved()
        async with self.engine.begin() as conn:
            if new:
                await self._save_items(conn, new, now, saved)
            await notices.recovered(conn, [feed_id], now, notify)
            await succeeded(conn, feed_id, outcome, now)
        return saved

    async def _save_items(self, conn: AsyncConnection, new: Sequence[NewItem], now: datetime, saved: Saved) -> None:
        """Insert items that are still new, then the matches and deliveries of those only."""
        by_key = {n.item.key: n for n in new}
        statement = insert(conn, items).on_conflict_do_nothing(index_elements=["feed_id", "key"]).returning(items.c.id, items.c.key)
        rows = await conn.execute(statement, [_item_row(n, now) for n in by_key.values()])  # executemany, batched by SQLAlchemy
        stored = [(r.id, by_key[r.key]) for r in rows]
        saved.items = len(stored)
        match_rows = [_match_row(i, m, n.routed.silenced.get(m.rule_id), now) for i, n in stored for m in n.matches]
        delivery_rows = [_delivery_row(i, r, now) for i, n in stored for r in n.routed.routes]
        for table, rows_ in ((matches, match_rows), (deliveries, delivery_rows)):
            if rows_:
                await conn.execute(table.insert(), rows_)
        saved.matches, saved.deliveries = len(match_rows), len(delivery_rows)
        saved.rules = Counter(row["rule_id"] for row in match_rows)

    async def items_since(self, since: datetime, batch: int = 500, rules: bool = True) -> AsyncIterator[list[tuple[Item, set[str]]]]:
        """Stored items first seen since `since`, with the rules they matched then (unless not `rules`: none read), in batches."""
        last_id = 0
        while True:
            async with self.engine.connect() as conn:
                rows = list(
                    await conn.execute(
                        sa.select(items).where(items.c.first_seen_at >= since, items.c.id > last_id).order_by(items.c.id).limit(batch)
                    )
                )
                if not rows:
                    return
                then: dict[int, set[str]] = {}
                if rules:
                    ids = [r.id for r in rows]
                    for m in await conn.execute(sa.select(matches.c.item_id, matches.c.rule_id).where(matches.c.item_id.in_(ids))):
                        then.setdefault(m.item_id, set()).add(m.rule_id)
            yield [(_item(r), then.get(r.id, set())) for r in rows]
            last_id = rows[-1].id

    async def prune(self, before: datetime) -> int:
        """Delete items first seen before `before` that matched no rule, and the article text of the rest; return how many deleted."""
        unmatched = ~sa.exists().where(matches.c.item_id == items.c.id)
        async with self.engine.begin() as conn:
            done = await conn.execute(items.delete().where(items.c.first_seen_at < before, unmatched))
            await conn.execute(items.update().where(items.c.first_seen_at < before, items.c.article != "").values(article=""))
            return int(done.rowcount)


def _item(row: Any) -> Item:
    """The Item of an items row."""
    return Item(
        feed_id=row.feed_id,
        key=row.key,
        title=row.title,
        link=row.link,
        guid=row.guid,
        summary=row.summary,
        content=row.content,
        author=row.author,
        published=row.published_at or row.first_seen_at,
        language=row.language,
        article=row.article,
        date_note=row.date_note or "",
        outlet=row.outlet,
        outlet_url=row.outlet_url,
        via=row.via,
    )


def _item_row(new: NewItem, now: datetime) -> dict[str, Any]:
    """The items row of a new item, with its article text and how it was obtained."""
    item, article = new.item, new.article
    return {
        "feed_id": item.feed_id,
        "key": item.key,
        "guid": item.guid,
        "link": item.link,
        "title": item.title,
        "summary": item.summary,
        "content": item.content,
        "author": item.author,
        "language": item.language,
        "published_at": item.published,
        "first_seen_at": now,
        "signature": new.signature,
        "article": item.article,
        "article_status": article.status.value if article else None,
        "article_detail": article.detail[:2000] if article and article.detail else None,
        "date_note": item.date_note or None,
        "outlet": item.outlet,
        "outlet_url": item.outlet_url,
        "via": item.via,
    }


def _match_row(item_id: int, match: RuleMatch, suppressed: str | None, now: datetime) -> dict[str, Any]:
    """The matches row of one rule match, with what its alert quotes."""
    terms = [{"term": t.term, "fields": list(t.fields), "positions": list(t.positions[:20])} for t in match.terms]
    return {
        "item_id": item_id,
        "rule_id": match.rule_id,
        "rule_name": match.rule_name,
        "terms": terms,
        "suppressed": suppressed,
        "evidence": match.evidence.as_data(match.rule_id),
        "created_at": now,
    }


def _delivery_row(item_id: int, route: Route, now: datetime) -> dict[str, Any]:
    """One destination's delivery; muted ones are kept, not sent; briefed ones wait for the destination's next briefing."""
    return {
        "item_id": item_id,
        "destination": route.destination,
        "rule_ids": list(route.rule_ids),
        "status": DeliveryStatus.MUTED if route.muted else DeliveryStatus.PENDING,
        "next_attempt_at": NEVER if route.briefed else now,
        "mode": Mode.BRIEFED if route.briefed else None,
        "evidence": [e.as_data(rule) for rule, e in zip(route.rule_ids, route.evidence, strict=True)],
        "created_at": now,
    }
