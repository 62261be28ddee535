"""Many polls written in one transaction: their new items, matches, deliveries and feed states.

Each statement is an executemany over every feed of the batch, run in one `run_sync` (one
hop from the event loop to the database and back per statement, not per feed). Each poll is
still all or nothing: if the batch fails as a whole (one feed's bad row), it is written
again feed by feed, each in its own SAVEPOINT, and only the feed that fails is lost (and
polled again). A crash before the commit loses the whole batch, which is polled again; the
unique keys keep that idempotent.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts.messages import Mode
from alerts.queue import DeliveryStatus
from service.ingest.model import Article, Item, RuleMatch
from service.ingest.route import Route, Routed
from service.storage import notices
from service.storage.briefings import NEVER
from service.storage.db import Database, insert
from service.storage.feeds import PollOutcome
from service.storage.notices import Notify
from service.storage.schema import deliveries, feeds, items, matches

log = logging.getLogger("newswatch.storage")


@dataclass(frozen=True)
class NewItem:
    """An item to store, with its matches and what becomes of them (`service.ingest.route`)."""

    item: Item
    matches: list[RuleMatch]
    routed: Routed = field(default_factory=lambda: Routed({}))
    article: Article | None = None  # how its article text was obtained, or why there is none
    signature: bytes | None = None  # its story fingerprint (service.ingest.story), if it may alert
    unmatched: bool = False  # stored without running the rules (a new feed's silent backlog)


@dataclass
class Saved:
    """What a save stored: only rows that were new."""

    items: int = 0
    matches: int = 0
    deliveries: int = 0
    rules: Counter[str] = field(default_factory=Counter)  # matches stored, by rule


@dataclass(frozen=True)
class PollWrite:
    """One successful poll to store: its new items and the feed's new state."""

    feed_id: str
    new: Sequence[NewItem]
    outcome: PollOutcome
    now: datetime
    notify: Notify | None = None


async def save(engine: Database, writes: Sequence[PollWrite]) -> list[Saved | Exception]:
    """Store polls in one transaction; if that fails, each in its own savepoint: a feed's failure is its own."""
    try:
        async with engine.begin() as conn:
            return list(await conn.run_sync(write_all, writes))
    except Exception as exc:
        if len(writes) == 1:
            return [exc]
        log.warning("a batch of %d polls failed (%s): writing them one by one", len(writes), type(exc).__name__)
    async with engine.begin() as conn:
        return await conn.run_sync(write_each, writes)


def write_each(conn: Connection, writes: Sequence[PollWrite]) -> list[Saved | Exception]:
    """Each poll in a savepoint of its own; a failed one gives its exception."""
    out: list[Saved | Exception] = []
    for write in writes:
        try:
            with conn.begin_nested():
                out.extend(write_all(conn, [write]))
        except Exception as exc:
            out.append(exc)
    return out


def write_all(conn: Connection, writes: Sequence[PollWrite]) -> list[Saved]:
    """Insert the still-new items, then the matches and deliveries of those only, then each feed's new state."""
    saved = [Saved() for _ in writes]
    by_key = {(w.feed_id, n.item.key): (i, n) for i, w in enumerate(writes) for n in w.new}  # a key once: its last copy
    stored: list[tuple[int, int, NewItem]] = []
    if by_key:
        statement = (
            insert(conn, items)
            .on_conflict_do_nothing(index_elements=["feed_id", "key"])
            .returning(items.c.id, items.c.feed_id, items.c.key)
        )
        rows = conn.execute(statement, [item_row(n, writes[i].now) for i, n in by_key.values()])  # insertmanyvalues: few statements
        stored = [(r.id, *by_key[(r.feed_id, r.key)]) for r in rows]
    match_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    for item_id, i, new in stored:
        counts, now = saved[i], writes[i].now
        counts.items += 1
        found = [match_row(item_id, m, new.routed.silenced.get(m.rule_id), now) for m in new.matches]
        match_rows += found
        delivery_rows += [delivery_row(item_id, r, now) for r in new.routed.routes]
        counts.matches += len(found)
        counts.deliveries += len(new.routed.routes)
        counts.rules.update(m.rule_id for m in new.matches)
    for table, rows_ in ((matches, match_rows), (deliveries, delivery_rows)):
        if rows_:
            conn.execute(table.insert(), rows_)
    for notify in {w.notify for w in writes}:
        notices.recovered_sync(conn, [w.feed_id for w in writes if w.notify == notify], writes[0].now, notify)
    succeeded(conn, writes)
    return saved


_STATE = {
    "etag": sa.bindparam("b_etag"),
    "last_modified": sa.bindparam("b_modified"),
    "next_poll_at": sa.bindparam("b_next"),
    "fetch_url": sa.bindparam("b_fetch_url"),
    "status": sa.bindparam("b_status"),
    "caught_up": True,
    "consecutive_failures": 0,
    "failing_since": None,
    "failing_reported_at": None,
    "last_warning": sa.bindparam("b_warning"),
    "article_failures": sa.bindparam("b_article_failures"),
    "article_retry_at": sa.bindparam("b_article_retry_at"),
    "last_success_at": sa.bindparam("b_now"),
    "last_polled_at": sa.bindparam("b_now"),
    "lease_until": None,
    "lease_owner": None,
}
_SUCCEEDED = feeds.update().where(feeds.c.id == sa.bindparam("b_id")).values(_STATE)
_SUCCEEDED_NEW_ERROR = _SUCCEEDED.values(article_error=sa.bindparam("b_article_error"))


def succeeded(conn: Connection, writes: Sequence[PollWrite]) -> None:
    """Record successful polls' new states and release their leases: one executemany (two when article errors change)."""
    keep, change = [], []
    for w in writes:
        o = w.outcome
        row = {
            "b_id": w.feed_id,
            "b_etag": o.etag,
            "b_modified": o.last_modified,
            "b_next": o.next_poll_at,
            "b_fetch_url": o.fetch_url,
            "b_status": o.status,
            "b_warning": o.warning,
            "b_article_failures": o.article_failures,
            "b_article_retry_at": o.article_retry_at,
            "b_now": w.now,
        }
        if o.article_error or not o.article_failures:  # a new article error, or none any more; else the last one stays
            change.append(row | {"b_article_error": o.article_error})
        else:
            keep.append(row)
    for statement, rows in ((_SUCCEEDED, keep), (_SUCCEEDED_NEW_ERROR, change)):
        if rows:
            conn.execute(statement, rows)


def item_row(new: NewItem, now: datetime) -> dict[str, Any]:
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
        "unmatched": new.unmatched,
    }


def match_row(item_id: int, match: RuleMatch, suppressed: str | None, now: datetime) -> dict[str, Any]:
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


def delivery_row(item_id: int, route: Route, now: datetime) -> dict[str, Any]:
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
