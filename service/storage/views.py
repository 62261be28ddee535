"""What the CLI, Slack and the web pages read: listings and summaries, never decisions.

Every function takes the engine and returns rows; callers format them. Writing lives in the
modules of each table (`feeds`, `items`, `outbox`, `silences`, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from service.storage.db import Database
from service.storage.schema import deliveries, feeds, items, matches


async def deliveries_listing(engine: Database, status: str | None, destination: str | None, limit: int) -> list[Any]:
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
    async with engine.connect() as conn:
        return list(await conn.execute(query))


async def delivery_statuses(engine: Database, ids: list[int]) -> dict[int, str]:
    """The status of each of these deliveries that exists."""
    query = sa.select(deliveries.c.id, deliveries.c.status).where(deliveries.c.id.in_(ids))
    async with engine.connect() as conn:
        return {int(i): str(status) for i, status in await conn.execute(query)}


async def delivery_summary(engine: Database) -> list[Any]:
    """Counts by destination and status, with the latest error of each destination."""
    query = (
        sa.select(deliveries.c.destination, deliveries.c.status, sa.func.count(), sa.func.max(deliveries.c.last_error))
        .group_by(deliveries.c.destination, deliveries.c.status)
        .order_by(deliveries.c.destination, deliveries.c.status)
    )
    async with engine.connect() as conn:
        return list(await conn.execute(query))


async def delivery_counts(engine: Database) -> dict[str, int]:
    """How many deliveries stand in each status."""
    query = sa.select(deliveries.c.status, sa.func.count()).group_by(deliveries.c.status)
    async with engine.connect() as conn:
        return {status: int(n) for status, n in await conn.execute(query)}


async def recent_matches(engine: Database, since: datetime | None, rule: str | None, limit: int) -> list[sa.Row[Any]]:
    """Recent matches with their item and delivery status, newest first."""
    status = (
        sa.select(sa.func.min(deliveries.c.status)).where(deliveries.c.item_id == matches.c.item_id).correlate(matches).scalar_subquery()
    )
    query = (
        sa.select(
            matches.c.created_at,
            matches.c.rule_id,
            matches.c.terms,
            matches.c.suppressed,
            items.c.title,
            items.c.link,
            items.c.feed_id,
            status.label("delivery"),
        )
        .join(items, items.c.id == matches.c.item_id)
        .order_by(matches.c.created_at.desc(), matches.c.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(matches.c.created_at >= since)
    if rule:
        query = query.where(matches.c.rule_id == rule)
    async with engine.connect() as conn:
        return list(await conn.execute(query))


async def feed_rows(engine: Database) -> list[sa.Row[Any]]:
    """Every feed row, active ones first."""
    async with engine.connect() as conn:
        return list(await conn.execute(sa.select(feeds).order_by(feeds.c.active.desc(), feeds.c.id)))


async def feeds_report(engine: Database) -> list[sa.Row[Any]]:
    """Every feed row with its count of stored items (all of them: a scan of the items' index)."""
    counted = sa.select(items.c.feed_id, sa.func.count().label("item_count")).group_by(items.c.feed_id).subquery()
    query = (
        sa.select(feeds, sa.func.coalesce(counted.c.item_count, 0).label("item_count"))
        .outerjoin(counted, counted.c.feed_id == feeds.c.id)
        .order_by(feeds.c.active.desc(), feeds.c.id)
    )
    async with engine.connect() as conn:
        return list(await conn.execute(query))


async def failing_feeds(engine: Database, limit: int) -> list[tuple[str, str, str | None]]:
    """Up to `limit` active feeds that failed their last poll, longest failing first: (id, name, last error)."""
    query = (
        sa.select(feeds.c.id, feeds.c.name, feeds.c.last_error)
        .where(feeds.c.active, feeds.c.consecutive_failures > 0)
        .order_by(feeds.c.failing_since, feeds.c.id)
        .limit(limit)
    )
    async with engine.connect() as conn:
        return [(r.id, r.name or r.id, r.last_error) for r in await conn.execute(query)]


async def failing_count(engine: Database) -> int:
    """How many active feeds failed their last poll."""
    query = sa.select(sa.func.count()).select_from(feeds).where(feeds.c.active, feeds.c.consecutive_failures > 0)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def poll_summary(engine: Database) -> Any:
    """The active feeds: how many, when one was last polled, when the next is due."""
    query = sa.select(
        sa.func.count().label("feeds"),
        sa.func.max(feeds.c.last_polled_at).label("last_polled_at"),
        sa.func.min(feeds.c.next_poll_at).label("next_poll_at"),
    ).where(feeds.c.active)
    async with engine.connect() as conn:
        return (await conn.execute(query)).one()


async def paused_articles(engine: Database, now: datetime) -> list[Any]:
    """Active feeds whose article pages are paused after failures: id, name, last article error, paused until."""
    query = (
        sa.select(feeds.c.id, feeds.c.name, feeds.c.article_error, feeds.c.article_retry_at, feeds.c.article_failures)
        .where(feeds.c.active, feeds.c.article_retry_at > now)
        .order_by(feeds.c.article_retry_at.desc(), feeds.c.id)
    )
    async with engine.connect() as conn:
        return list(await conn.execute(query))


@dataclass(frozen=True)
class MatchQuery:
    """Which matches a listing shows: filters, and `before` (a match id) for the next page."""

    rule: str | None = None
    feed: str | None = None
    language: str | None = None
    destination: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None  # words in the title or summary
    before: int | None = None
    limit: int = 50


_MATCH_COLUMNS = (
    matches.c.id,
    matches.c.created_at,
    matches.c.rule_id,
    matches.c.rule_name,
    matches.c.terms,
    matches.c.evidence,
    matches.c.suppressed,
    items.c.id.label("item_id"),
    items.c.title,
    items.c.link,
    items.c.feed_id,
    items.c.language,
    items.c.published_at,
    items.c.first_seen_at,
    items.c.signature,
    items.c.article_status,
    feeds.c.name.label("feed_name"),
)


async def match_listing(engine: Database, q: MatchQuery) -> list[Any]:
    """Matches with their item and feed, newest first, filtered as `q` says."""
    query = sa.select(*_MATCH_COLUMNS).join(items, items.c.id == matches.c.item_id).outerjoin(feeds, feeds.c.id == items.c.feed_id)
    conditions = [
        matches.c.rule_id == q.rule if q.rule else None,
        items.c.feed_id == q.feed if q.feed else None,
        items.c.language == q.language if q.language else None,
        matches.c.created_at >= q.since if q.since else None,
        matches.c.created_at < q.until if q.until else None,
        matches.c.id < q.before if q.before else None,
        sa.or_(items.c.title.icontains(q.text, autoescape=True), items.c.summary.icontains(q.text, autoescape=True)) if q.text else None,
        sa.exists().where(deliveries.c.item_id == matches.c.item_id, deliveries.c.destination == q.destination) if q.destination else None,
    ]
    query = query.where(*(c for c in conditions if c is not None)).order_by(matches.c.id.desc()).limit(q.limit)
    async with engine.connect() as conn:
        if q.text and conn.dialect.name == "postgresql":
            # A prepared statement's generic plan cannot see that '%words%' is rare: it scans every item (0.5 s
            # at 100,000) instead of walking the newest matches. Plan this one for its value.
            await conn.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))
        return list(await conn.execute(query))


async def match_detail(engine: Database, match_id: int) -> Any | None:
    """One match with its item and feed, or None."""
    query = (
        sa.select(*_MATCH_COLUMNS, items.c.summary, items.c.article_detail)
        .join(items, items.c.id == matches.c.item_id)
        .outerjoin(feeds, feeds.c.id == items.c.feed_id)
        .where(matches.c.id == match_id)
    )
    async with engine.connect() as conn:
        return (await conn.execute(query)).first()


async def item_deliveries(engine: Database, item_ids: Sequence[int]) -> dict[int, list[Any]]:
    """The deliveries of each item, by item id, in the order they were made."""
    if not item_ids:
        return {}
    query = (
        sa.select(
            deliveries.c.id,
            deliveries.c.item_id,
            deliveries.c.destination,
            deliveries.c.rule_ids,
            deliveries.c.status,
            deliveries.c.mode,
            deliveries.c.remote_id,
            deliveries.c.remote_channel,
            deliveries.c.thread_ts,
            deliveries.c.sent_at,
            deliveries.c.last_error,
        )
        .where(deliveries.c.item_id.in_(list(item_ids)))
        .order_by(deliveries.c.id)
    )
    out: dict[int, list[Any]] = {}
    async with engine.connect() as conn:
        for row in await conn.execute(query):
            out.setdefault(row.item_id, []).append(row)
    return out


async def item_matches(engine: Database, item_id: int) -> list[Any]:
    """Every rule an item matched, with what each quotes."""
    query = sa.select(matches).where(matches.c.item_id == item_id).order_by(matches.c.id)
    async with engine.connect() as conn:
        return list(await conn.execute(query))


async def fingerprinted(engine: Database, spans: Sequence[tuple[datetime, datetime | None]], brief: bool = False) -> list[Any]:
    """Items with a story fingerprint (those that alerted) first seen in any of the periods (from, until), oldest first.

    Each with its title, link, times and feed's name; `brief`: only its id, feed, time and fingerprint.
    """
    if not spans:
        return []
    seen = items.c.first_seen_at
    parts = [_fingerprinted(seen >= since if until is None else sa.and_(seen >= since, seen < until), brief) for since, until in spans]
    every = sa.union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    query = sa.select(every).order_by(every.c.first_seen_at, every.c.id)
    async with engine.connect() as conn:
        return list(await conn.execute(query))


def _fingerprinted(period: sa.ColumnElement[bool], brief: bool) -> sa.Select[Any]:
    """One period's fingerprinted items: a range of the partial index ix_items_signed (one SELECT per period, so that each is one)."""
    if brief:
        return sa.select(items.c.id, items.c.feed_id, items.c.first_seen_at, items.c.signature).where(
            period, items.c.signature.is_not(None)
        )
    return (
        sa.select(
            items.c.id,
            items.c.feed_id,
            items.c.title,
            items.c.link,
            items.c.published_at,
            items.c.first_seen_at,
            items.c.signature,
            feeds.c.name.label("feed_name"),
        )
        .outerjoin(feeds, feeds.c.id == items.c.feed_id)
        .where(period, items.c.signature.is_not(None))
    )


async def items_per_feed(engine: Database, since: datetime) -> dict[str, int]:
    """Items first seen since `since`, counted by feed.

    The period's rows are taken first (a range of the index ix_items_seen_feed, which holds both
    columns), then grouped: grouping first would walk every item in feed order.
    """
    period = sa.select(items.c.feed_id).where(items.c.first_seen_at >= since).cte("period").prefix_with("MATERIALIZED")
    query = sa.select(period.c.feed_id, sa.func.count()).group_by(period.c.feed_id)
    async with engine.connect() as conn:
        return {feed_id: int(n) for feed_id, n in await conn.execute(query)}


async def match_times(engine: Database, since: datetime) -> list[tuple[str, datetime]]:
    """(rule, time) of every match since `since`: matches per day, bucketed by the caller in its time zone."""
    query = sa.select(matches.c.rule_id, matches.c.created_at).where(matches.c.created_at >= since)
    async with engine.connect() as conn:
        return [(r.rule_id, r.created_at) for r in await conn.execute(query)]


async def item_count(engine: Database, since: datetime) -> int:
    """How many items were first seen since `since`."""
    query = sa.select(sa.func.count()).select_from(items).where(items.c.first_seen_at >= since)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def feed_deliveries(engine: Database, destination: str, rule: str | None, limit: int) -> list[sa.Row[Any]]:
    """A destination's sent alerts and notices, newest first, with their item and source; only a rule's where one is given.

    Briefing pages are left out (the alerts they list are here); the feed of matches folds the rest into stories.
    """
    query = (
        sa.select(
            deliveries.c.id,
            deliveries.c.parent_id,
            deliveries.c.mode,
            deliveries.c.rule_ids,
            deliveries.c.evidence,
            deliveries.c.sent_at,
            deliveries.c.notice,
            deliveries.c.item_id,
            items.c.title,
            items.c.link,
            items.c.published_at,
            items.c.first_seen_at,
            items.c.signature,
            feeds.c.name.label("source"),
        )
        .outerjoin(items, items.c.id == deliveries.c.item_id)
        .outerjoin(feeds, feeds.c.id == items.c.feed_id)
        .where(
            deliveries.c.destination == destination,
            deliveries.c.status == "sent",
            sa.or_(deliveries.c.mode.is_(None), deliveries.c.mode != "briefing"),
        )
        .order_by(deliveries.c.sent_at.desc(), deliveries.c.id.desc())
        .limit(limit)
    )
    if rule:
        query = query.join(matches, sa.and_(matches.c.item_id == deliveries.c.item_id, matches.c.rule_id == rule))
    async with engine.connect() as conn:
        return list(await conn.execute(query))


async def match_terms(engine: Database, item_ids: list[int]) -> dict[tuple[int, str], tuple[str, list[str]]]:
    """The rule name and matched terms of each (item, rule) among these items."""
    if not item_ids:
        return {}
    query = sa.select(matches.c.item_id, matches.c.rule_id, matches.c.rule_name, matches.c.terms).where(matches.c.item_id.in_(item_ids))
    async with engine.connect() as conn:
        return {(r.item_id, r.rule_id): (r.rule_name or r.rule_id, [t["term"] for t in r.terms]) for r in await conn.execute(query)}
