"""The store: feeds, items and matches. Dedup happens here, by unique keys.

Every write that belongs together (items, their matches, their deliveries and the feed's
new state) is one transaction, so a crash leaves either all of a poll or none of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from alerts.base import DeliveryStatus, Mode, Muter, Mutes
from service.config.schema import FeedSpec
from service.ingest.model import Article, FeedSource, Item, RuleMatch
from service.storage import notices
from service.storage.briefings import NEVER
from service.storage.db import Database, deliveries, feeds, insert, items, lease_update, matches
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


@dataclass(frozen=True)
class PollOutcome:
    """The feed's state after a successful fetch."""

    etag: str | None
    last_modified: str | None
    next_poll_at: datetime
    fetch_url: str | None = None
    warning: str | None = None
    status: str = "ok"
    article_failures: int = 0
    article_error: str | None = None
    article_retry_at: datetime | None = None


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


class Store:
    """Feeds, items and matches over one engine."""

    def __init__(self, engine: Database, owner: str, muter: Muter | None = None, delivery: DeliveryOf = _instant) -> None:
        self.engine = engine
        self.owner = owner
        self._muter = muter or SqlMuter(engine, lambda: datetime.now(UTC))
        self._delivery = delivery  # alerts that go into briefings wait for the next one

    async def sync_feeds(self, specs: Sequence[FeedSpec], now: datetime) -> None:
        """Make the feeds table follow the config: add new feeds, update changed, retire removed."""
        async with self.engine.begin() as conn:
            rows = {r.id: r for r in await conn.execute(sa.select(feeds.c.id, feeds.c.url, feeds.c.name, feeds.c.active))}
            for spec in specs:
                row = rows.get(spec.id)
                if row is None:
                    await conn.execute(
                        insert(conn, feeds)
                        .values(id=spec.id, url=spec.url, name=spec.display_name, next_poll_at=now, created_at=now)
                        .on_conflict_do_nothing(index_elements=["id"])
                    )
                elif (row.url, row.name, row.active) != (spec.url, spec.display_name, True):
                    changes: dict[str, Any] = {"name": spec.display_name, "active": True}
                    if row.url != spec.url:  # a new address: forget validators and redirects, poll now
                        changes |= {"url": spec.url, "fetch_url": None, "etag": None, "last_modified": None, "next_poll_at": now}
                    await conn.execute(feeds.update().where(feeds.c.id == spec.id).values(**changes))
            gone = set(rows) - {s.id for s in specs}
            if gone:
                await conn.execute(feeds.update().where(feeds.c.id.in_(gone)).values(active=False))

    async def claim_feeds(self, now: datetime, limit: int, lease: timedelta, force: bool = False) -> list[FeedSource]:
        """Lease up to `limit` due feeds to this process (all active ones with `force`)."""
        async with self.engine.begin() as conn:
            due = sa.select(feeds.c.id).where(feeds.c.active, sa.or_(feeds.c.lease_until.is_(None), feeds.c.lease_until < now))
            if not force:
                due = due.where(feeds.c.next_poll_at <= now, feeds.c.status != "gone")
            due = due.order_by(feeds.c.next_poll_at).limit(limit).with_for_update(skip_locked=True)
            rows = await conn.execute(
                lease_update(conn, feeds, due)
                .where(sa.or_(feeds.c.lease_until.is_(None), feeds.c.lease_until < now))
                .values(lease_owner=self.owner, lease_until=now + lease)
                .returning(
                    feeds.c.id,
                    feeds.c.url,
                    feeds.c.fetch_url,
                    feeds.c.etag,
                    feeds.c.last_modified,
                    feeds.c.caught_up,
                    feeds.c.article_failures,
                    feeds.c.article_retry_at,
                )
            )
            return [
                FeedSource(r.id, r.fetch_url or r.url, r.etag, r.last_modified, r.caught_up, r.article_failures, r.article_retry_at)
                for r in rows
            ]

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
            await conn.execute(
                feeds.update()
                .where(feeds.c.id == feed_id)
                .values(
                    etag=outcome.etag,
                    last_modified=outcome.last_modified,
                    next_poll_at=outcome.next_poll_at,
                    fetch_url=outcome.fetch_url,
                    status=outcome.status,
                    caught_up=True,
                    consecutive_failures=0,
                    failing_since=None,
                    last_warning=outcome.warning,
                    article_failures=outcome.article_failures,
                    article_error=outcome.article_error if outcome.article_error or not outcome.article_failures else feeds.c.article_error,
                    article_retry_at=outcome.article_retry_at,
                    last_success_at=now,
                    last_polled_at=now,
                    lease_until=None,
                    lease_owner=None,
                )
            )
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
            row
            for i, n in stored
            if n.suppressed is None and not source_muted
            for row in _delivery_rows(i, [m for m in n.matches if m.rule_id not in muted.rules], now, muted.destinations, self._delivery)
        ]
        for table, rows_ in ((matches, match_rows), (deliveries, delivery_rows)):
            if rows_:
                await conn.execute(table.insert(), rows_)
        saved.matches, saved.deliveries = len(match_rows), len(delivery_rows)
        saved.rules = Counter(row["rule_id"] for row in match_rows)

    async def save_unchanged(self, outcomes: Sequence[tuple[str, PollOutcome]], now: datetime, notify: Notify | None = None) -> None:
        """Record many 'not modified' polls in one transaction."""
        if not outcomes:
            return
        statement = (
            feeds.update()
            .where(feeds.c.id == sa.bindparam("b_id"))
            .values(
                etag=sa.bindparam("b_etag"),
                last_modified=sa.bindparam("b_modified"),
                next_poll_at=sa.bindparam("b_next"),
                status="ok",
                caught_up=True,
                consecutive_failures=0,
                failing_since=None,
                last_success_at=now,
                last_polled_at=now,
                lease_until=None,
                lease_owner=None,
            )
        )
        rows = [{"b_id": f, "b_etag": o.etag, "b_modified": o.last_modified, "b_next": o.next_poll_at} for f, o in outcomes]
        async with self.engine.begin() as conn:
            await notices.recovered(conn, [f for f, _ in outcomes], now, notify)
            await conn.execute(statement, rows)

    async def record_failure(
        self,
        feed_id: str,
        error: str,
        now: datetime,
        next_poll: Callable[[int], datetime],
        status: str = "error",
        notify: Notify | None = None,
    ) -> int:
        """Record a failed poll; `next_poll` gets the count of consecutive failures. Return that count.

        At exactly `notify.after_failures` failures in a row, a notice goes to `notify.destination`.
        """
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    feeds.update()
                    .where(feeds.c.id == feed_id)
                    .values(
                        consecutive_failures=feeds.c.consecutive_failures + 1,
                        failing_since=sa.func.coalesce(feeds.c.failing_since, now),
                        last_error=error[:2000],
                        last_error_at=now,
                        last_polled_at=now,
                        status=status,
                        lease_until=None,
                        lease_owner=None,
                    )
                    .returning(feeds.c.consecutive_failures, feeds.c.failing_since, feeds.c.name)
                )
            ).one()
            failures = int(row.consecutive_failures)
            await conn.execute(feeds.update().where(feeds.c.id == feed_id).values(next_poll_at=next_poll(failures)))
            if notify and failures == notify.after_failures:
                await notices.failing(conn, notify, feed_id, row.name, failures, row.failing_since or now, error, now)
            return failures

    async def failing_feeds(self) -> int:
        """How many active feeds failed their last poll."""
        async with self.engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(feeds).where(feeds.c.active, feeds.c.consecutive_failures > 0)
            return int((await conn.execute(query)).scalar_one())

    async def failing_list(self, limit: int) -> list[tuple[str, str, str | None]]:
        """Up to `limit` active feeds that failed their last poll, longest failing first: (id, name, last error)."""
        query = (
            sa.select(feeds.c.id, feeds.c.name, feeds.c.last_error)
            .where(feeds.c.active, feeds.c.consecutive_failures > 0)
            .order_by(feeds.c.failing_since, feeds.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [(r.id, r.name or r.id, r.last_error) for r in await conn.execute(query)]

    async def delivery_counts(self) -> dict[str, int]:
        """How many deliveries stand in each status."""
        query = sa.select(deliveries.c.status, sa.func.count()).group_by(deliveries.c.status)
        async with self.engine.connect() as conn:
            return {status: int(n) for status, n in await conn.execute(query)}

    async def release_feed(self, feed_id: str) -> None:
        """Give back a claimed feed this process will not poll (it was removed from the config)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                feeds.update().where(feeds.c.id == feed_id, feeds.c.lease_owner == self.owner).values(lease_until=None, lease_owner=None)
            )

    async def release_all(self) -> None:
        """Give back every feed and delivery this process holds (on a graceful stop)."""
        async with self.engine.begin() as conn:
            for table in (feeds, deliveries):
                await conn.execute(table.update().where(table.c.lease_owner == self.owner).values(lease_until=None, lease_owner=None))

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

    async def feed_report(self) -> list[sa.Row[Any]]:
        """Every feed row with its count of stored items."""
        counted = sa.select(items.c.feed_id, sa.func.count().label("item_count")).group_by(items.c.feed_id).subquery()
        query = (
            sa.select(feeds, sa.func.coalesce(counted.c.item_count, 0).label("item_count"))
            .outerjoin(counted, counted.c.feed_id == feeds.c.id)
            .order_by(feeds.c.active.desc(), feeds.c.id)
        )
        async with self.engine.connect() as conn:
            return list(await conn.execute(query))

    async def prune(self, before: datetime) -> int:
        """Delete items first seen before `before` that matched no rule, and the article text of the rest; return how many deleted."""
        unmatched = ~sa.exists().where(matches.c.item_id == items.c.id)
        async with self.engine.begin() as conn:
            done = await conn.execute(items.delete().where(items.c.first_seen_at < before, unmatched))
            await conn.execute(items.update().where(items.c.first_seen_at < before, items.c.article != "").values(article=""))
            return int(done.rowcount)

    async def recent_matches(self, since: datetime | None, rule: str | None, limit: int) -> list[sa.Row[Any]]:
        """Recent matches with their item and delivery status, newest first."""
        status = (
            sa.select(sa.func.min(deliveries.c.status))
            .where(deliveries.c.item_id == matches.c.item_id)
            .correlate(matches)
            .scalar_subquery()
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
        async with self.engine.connect() as conn:
            return list(await conn.execute(query))


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
    item_id: int, found: Sequence[RuleMatch], now: datetime, muted: frozenset[str], delivery: DeliveryOf = _instant
) -> list[dict[str, Any]]:
    """One delivery per destination, naming every rule that routes the item there; muted ones are kept, not sent.

    An alert that goes into briefings is stored `briefed`: never due on its own, listed by the destination's next briefing.
    """
    by_destination: dict[str, list[str]] = {}
    for match in found:
        for destination in match.destinations:
            by_destination.setdefault(destination, []).append(match.rule_id)
    rows = []
    for d, rules in by_destination.items():
        briefed = delivery(d, rules) in ("daily", "weekly")
        rows.append(
            {
                "item_id": item_id,
                "destination": d,
                "rule_ids": rules,
                "status": DeliveryStatus.MUTED if d in muted else DeliveryStatus.PENDING,
                "next_attempt_at": NEVER if briefed else now,
                "mode": Mode.BRIEFED if briefed else None,
                "created_at": now,
            }
        )
    return rows
