"""What the CLI, Slack and the web pages read: listings and summaries, never decisions.

Every function takes the engine and returns rows; callers format them. Writing lives in the
modules of each table (`feeds`, `items`, `outbox`, `silences`, ...).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from service.storage.db import Database, deliveries, feeds, items, matches


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


async def feeds_report(engine: Database) -> list[sa.Row[Any]]:
    """Every feed row with its count of stored items."""
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
