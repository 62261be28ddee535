"""Items, their matches and deliveries: dedup happens here, by unique keys.

A poll's new items, their matches, their deliveries and the feed's new state are written in
one transaction (`service.storage.polls`, many polls at once), so a crash leaves either all of
a poll or none of it. What each match sends where, muted or not, quoting what, was decided by
`service.ingest.route`; storage only writes it, for the items that were really new.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from service.ingest.model import Item
from service.storage import polls
from service.storage.db import Database
from service.storage.feeds import PollOutcome
from service.storage.notices import Notify
from service.storage.polls import NewItem, PollWrite, Saved
from service.storage.schema import items, matches

__all__ = ["Items", "NewItem", "Saved"]

_CHUNK = 500  # rows per INSERT, well under both databases' parameter limits


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
        """Store one poll's new items, their matches and deliveries, and the feed's new state, at once."""
        [saved] = await polls.save(self.engine, [PollWrite(feed_id, new, outcome, now, notify)])
        if isinstance(saved, Exception):
            raise saved
        return saved

    async def items_since(self, since: datetime, batch: int = 500, rules: bool = True) -> AsyncIterator[list[tuple[Item, set[str] | None]]]:
        """Stored items first seen since `since`, in batches, with the rules they matched then (unless not `rules`: none read).

        None instead of the rules for an item stored without matching (a new feed's backlog).
        """
        last_id = 0
        while True:
            newer = sa.select(*_ITEM_COLUMNS).where(items.c.first_seen_at >= since, items.c.id > last_id)
            async with self.engine.connect() as conn:
                rows = list(await conn.execute(newer.order_by(items.c.id).limit(batch)))
                if not rows:
                    return
                then: dict[int, set[str]] = {}
                if rules:
                    ids = [r[0] for r in rows]
                    for m in await conn.execute(sa.select(matches.c.item_id, matches.c.rule_id).where(matches.c.item_id.in_(ids))):
                        then.setdefault(m.item_id, set()).add(m.rule_id)
            yield [(_item(r), None if r[1] else then.get(r[0], set())) for r in rows]
            last_id = rows[-1][0]

    async def prune(self, before: datetime) -> int:
        """Delete items first seen before `before` that matched no rule, and the article text of the rest; return how many deleted."""
        unmatched = ~sa.exists().where(matches.c.item_id == items.c.id)
        async with self.engine.begin() as conn:
            done = await conn.execute(items.delete().where(items.c.first_seen_at < before, unmatched))
            await conn.execute(items.update().where(items.c.first_seen_at < before, items.c.article != "").values(article=""))
            return int(done.rowcount)


# The columns `items_since` reads, in the order `_item` unpacks them: by position, since a row's attributes by name
# cost ~1 us each (a replay of 20,000 items spent 40 % of its reading time on them).
_ITEM_COLUMNS = [
    items.c[name]
    for name in (
        "id", "unmatched", "feed_id", "key", "title", "link", "guid", "summary", "content", "author",
        "published_at", "first_seen_at", "language", "article", "date_note", "outlet", "outlet_url", "via",
    )
]  # fmt: skip


def _item(row: Any) -> Item:
    """The Item of an items row of `_ITEM_COLUMNS`."""
    _, _, feed_id, key, title, link, guid, summary, content, author, published, first_seen, language, article, note, outlet, site, via = row
    return Item(
        feed_id=feed_id,
        key=key,
        title=title,
        link=link,
        guid=guid,
        summary=summary,
        content=content,
        author=author,
        published=published or first_seen,
        language=language,
        article=article,
        date_note=note or "",
        outlet=outlet,
        outlet_url=site,
        via=via,
    )
