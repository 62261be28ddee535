"""The feeds table: follow the config, lease due feeds to a process, record how each poll went.

A successful poll's new state is written in the same transaction as the items it stored
(`service.storage.polls`), so a crash leaves either all of a poll or none of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from service.config.schema import FeedSpec
from service.ingest.model import FeedSource
from service.storage import notices
from service.storage.db import Database, insert, lease_update
from service.storage.notices import Notify
from service.storage.schema import deliveries, feeds


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


_RENAMED = feeds.update().where(feeds.c.id == sa.bindparam("b_id")).values(name=sa.bindparam("b_name"), active=True)
_MOVED = _RENAMED.values(url=sa.bindparam("b_url"), fetch_url=None, etag=None, last_modified=None)


class Feeds:
    """The feeds of one engine, as process `owner` leases and polls them."""

    def __init__(self, engine: Database, owner: str) -> None:
        self.engine = engine
        self.owner = owner

    async def sync(self, specs: Sequence[FeedSpec], now: datetime) -> None:
        """Make the feeds table follow the config: add new feeds, update changed, retire removed (an executemany each)."""
        async with self.engine.begin() as conn:
            rows = {r.id: r for r in await conn.execute(sa.select(feeds.c.id, feeds.c.url, feeds.c.name, feeds.c.active))}
            added, renamed, moved = [], [], []
            for spec in specs:
                row = rows.get(spec.id)
                values = {"b_id": spec.id, "b_url": spec.url, "b_name": spec.display_name}
                if row is None:
                    added.append({"id": spec.id, "url": spec.url, "name": spec.display_name, "next_poll_at": now, "created_at": now})
                elif row.url != spec.url:  # a new address: forget validators and redirects, poll now
                    moved.append(values)
                elif (row.name, row.active) != (spec.display_name, True):
                    renamed.append(values)
            if added:
                await conn.execute(insert(conn, feeds).on_conflict_do_nothing(index_elements=["id"]), added)
            for statement, changed in ((_RENAMED, renamed), (_MOVED.values(next_poll_at=now), moved)):
                if changed:
                    await conn.execute(statement, changed)
            gone = set(rows) - {s.id for s in specs}
            if gone:
                await conn.execute(feeds.update().where(feeds.c.id.in_(gone)).values(active=False))

    async def claim(self, now: datetime, limit: int, lease: timedelta, force: bool = False) -> list[FeedSource]:
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
                failing_reported_at=None,
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

        Once a feed has failed `notify.after_failures` polls in a row, a notice goes to
        `notify.destination`, once per run of failures: a feed already past the threshold when
        `operations:` was set or lowered is reported at its next failed poll.
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
                    .returning(feeds.c.consecutive_failures, feeds.c.failing_since, feeds.c.name, feeds.c.failing_reported_at)
                )
            ).one()
            failures = int(row.consecutive_failures)
            changes: dict[str, Any] = {"next_poll_at": next_poll(failures)}
            if notify and failures >= notify.after_failures and row.failing_reported_at is None:
                await notices.failing(conn, notify, feed_id, row.name, failures, row.failing_since or now, error, now)
                changes["failing_reported_at"] = now
            await conn.execute(feeds.update().where(feeds.c.id == feed_id).values(**changes))
            return failures

    async def release(self, feed_id: str) -> None:
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
