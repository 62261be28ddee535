"""Items, their matches and deliveries: dedup happens here, by unique keys.

A poll's new items, their matches, their deliveries and the feed's new state are written in
one transaction, so a crash leaves either all of a poll or none of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from alerts.messages import Mode
from alerts.queue import DeliveryStatus, Muter, Mutes
from service.ingest.model import Article, Item, RuleMatch
from service.storage import notices
from service.storage.briefings import NEVER
from service.storage.db import Database, deliveries, insert, items, matches
from service.storage.feeds import PollOutcome, succeeded
from service.storage.notices import Notify
from service.storage.silences import SqlMuter

_CHUNK = 500  # rows per INSERT, well under both databases' parameter limits


@dataclass(frozen=True)
class NewItem:
    """An item to store, with its matches and whether (and where) it may alert."""

    item: Item
    matches: list[RuleMatch]
    suppressed: str | None = None  # why it must not alert: "first_poll", "too_old"
    signature: bytes | None = None  # its story fingerprint (service.ingest.story), if it may alert
    article: Article | None = None  # how its article text was obtained, or why there is none


@dataclass
class Saved:
    """What a save stored: only rows that were new."""

    items: int = 0
    matches: int = 0
    deliveries: int = 0
    rules: Counter[str] = field(default_factory=Counter)  # matches stored, by rule


DeliveryOf = Callable[[str, Sequence[str]], str | None]  # (destination, rule ids) -> instant, daily, weekly


def _instant(destination: str, rule_ids: Sequence[str]) -> str:
    """Every alert as it happens: the delivery when no config says otherwise."""
    return "instant"


class Items:
    """Items, matches and deliveries over one engine; `muter` and `delivery` decide what a new match sends."""

    def __init__(self, engine: Database, muter: Muter | None = None, delivery: DeliveryOf = _instant) -> None:
        self.engine = engine
        self._muter = muter or SqlMuter(engine, lambda: datetime.now(UTC))
        self._delivery = delivery  # alerts that go into briefings wait for the next one

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
        muted = await self._muter.mutes() if new else Mutes()  # before the transaction: one connection per task at a time
        async with self.engine.begin() as conn:
            if new:
                await self._save_items(conn, feed_id, new, muted, now, saved)
            await notices.recovered(conn, [feed_id], now, notify)
            await succeeded(conn, feed_id, outcome, now)
        return saved

    async def _save_items(
        self, conn: AsyncConnection, feed_id: str, new: Sequence[NewItem], muted: Mutes, now: datetime, saved: Saved
    ) -> None:
        """Insert items that are still new, then the matches and deliveries of those only (the silences may lag a second)."""
        by_key = {n.item.key: n for n in new}
        statement = insert(conn, items).on_conflict_do_nothing(index_elements=["feed_id", "key"]).returning(items.c.id, items.c.key)
        rows = await conn.execute(statement, [_item_row(n, now) for n in by_key.values()])  # executemany, batched by SQLAlchemy
        stored = [(r.id, by_key[r.key]) for r in rows]
        saved.items = len(stored)
        source_muted = feed_id in muted.feeds
        match_rows = [
            _match_row(i, m, n.suppressed or ("muted" if source_muted or m.rule_id in muted.rules else None), now)
            for i, n in stored
            for m in n.matches
        ]
        delivery_rows = [
            row for i, n in stored if n.suppressed is None for row in _delivery_rows(i, n.matches, now, muted, feed_id, self._delivery)
        ]
        for table, rows_ in ((matches, match_rows), (deliveries, delivery_rows)):
            if rows_:
                await conn.execute(table.insert(), rows_)
        saved.matches, saved.deliveries = len(match_rows), len(delivery_rows)
        saved.rules = Counter(row["rule_id"] for row in match_rows)

    async def items_since(self, since: datetime, batch: int = 500) -> AsyncIterator[list[tuple[Item, set[str]]]]:
        """Stored items first seen since `since`, with the rules they matched then, in batches."""
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
                ids = [r.id for r in rows]
                found = await conn.execute(sa.select(matches.c.item_id, matches.c.rule_id).where(matches.c.item_id.in_(ids)))
            then: dict[int, set[str]] = {}
            for m in found:
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
    }


def _match_row(item_id: int, match: RuleMatch, suppressed: str | None, now: datetime) -> dict[str, Any]:
    """The matches row of one rule match."""
    terms = [{"term": t.term, "fields": list(t.fields), "positions": list(t.positions[:20])} for t in match.terms]
    return {
        "item_id": item_id,
        "rule_id": match.rule_id,
        "rule_name": match.rule_name,
        "terms": terms,
        "suppressed": suppressed,
        "created_at": now,
    }


def _delivery_rows(
    item_id: int, found: Sequence[RuleMatch], now: datetime, muted: Mutes, feed_id: str, delivery: DeliveryOf = _instant
) -> list[dict[str, Any]]:
    """One delivery per destination, naming every rule that routes the item there (the unmuted ones, if any).

    A delivery a silence covers (`Mutes.silences`: its destination, its source, or all its rules)
    is stored `muted`, never sent, and listed by `deliveries --status muted`. An alert that goes
    into briefings is stored `briefed`: never due on its own, listed by the destination's next briefing.
    """
    by_destination: dict[str, list[str]] = {}
    for match in found:
        for destination in match.destinations:
            by_destination.setdefault(destination, []).append(match.rule_id)
    rows = []
    for d, rules in by_destination.items():
        silenced = muted.silences(d, rules, feed_id)
        rules = rules if silenced else [r for r in rules if r not in muted.rules]
        briefed = not silenced and delivery(d, rules) in ("daily", "weekly")
        rows.append(
            {
                "item_id": item_id,
                "destination": d,
                "rule_ids": rules,
                "status": DeliveryStatus.MUTED if silenced else DeliveryStatus.PENDING,
                "next_attempt_at": NEVER if briefed else now,
                "mode": Mode.BRIEFED if briefed else None,
                "created_at": now,
            }
        )
    return rows
