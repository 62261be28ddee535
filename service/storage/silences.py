"""Silences: a rule, a destination or a feed (a source) muted until a time. Muted matches are stored, never sent.

`SqlMuter` is the one Muter: the store asks it when it inserts matches, the delivery loop when
it claims them (fresh, so nothing muted is ever sent).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from alerts.queue import Mutes
from service.storage.db import Database
from service.storage.schema import mutes


async def active(conn: AsyncConnection, now: datetime) -> Mutes:
    """The silences in force at `now`."""
    rows = await conn.execute(sa.select(mutes.c.kind, mutes.c.target).where(mutes.c.until > now))
    found = [(r.kind, r.target) for r in rows]
    of = {kind: frozenset(t for k, t in found if k == kind) for kind in ("rule", "destination", "feed")}
    return Mutes(of["rule"], of["destination"], of["feed"])


class SqlMuter:
    """Implements alerts.queue.Muter over the mutes table, cached for `ttl` seconds unless asked fresh."""

    def __init__(self, engine: Database, clock: Callable[[], datetime], ttl: float = 2.0) -> None:
        self._engine = engine
        self._clock = clock
        self._ttl = ttl
        self._cached: tuple[float, datetime, Mutes] | None = None

    async def mutes(self, fresh: bool = False) -> Mutes:
        """The silences in force; a cached answer (at most `ttl` seconds old) unless `fresh`."""
        now, cached = self._clock(), self._cached
        if fresh or cached is None or time.monotonic() - cached[0] > self._ttl or not 0 <= (now - cached[1]).total_seconds() <= self._ttl:
            async with self._engine.connect() as conn:
                cached = self._cached = (time.monotonic(), now, await active(conn, now))
        return cached[2]


class Silences:
    """Create, list and end silences."""

    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def add(self, kind: str, target: str, until: datetime, reason: str, now: datetime, by: str = "") -> int:
        """Mute `target` until `until` (`by`: who, if not the CLI); return the silence's id."""
        async with self._engine.begin() as conn:
            row = await conn.execute(
                mutes.insert()
                .values(kind=kind, target=target, until=until, reason=reason, created_at=now, created_by=by)
                .returning(mutes.c.id)
            )
            return int(row.scalar_one())

    async def set_by(self, kind: str, target: str, until: datetime, reason: str, by: str, now: datetime) -> int:
        """Mute `target` until `until` on behalf of `by`, replacing a silence made the same way (the last click wins)."""
        async with self._engine.begin() as conn:
            found = await conn.execute(
                sa.select(mutes.c.id)
                .where(mutes.c.kind == kind, mutes.c.target == target, mutes.c.until > now, mutes.c.created_by.like("slack:%"))
                .order_by(mutes.c.id)
                .limit(1)
            )
            mute_id = found.scalar_one_or_none()
            if mute_id is not None:
                await conn.execute(mutes.update().where(mutes.c.id == mute_id).values(until=until, reason=reason, created_by=by))
                return int(mute_id)
            row = await conn.execute(
                mutes.insert()
                .values(kind=kind, target=target, until=until, reason=reason, created_at=now, created_by=by)
                .returning(mutes.c.id)
            )
            return int(row.scalar_one())

    async def listing(self, now: datetime) -> list[Any]:
        """Silences in force, soonest to end first."""
        async with self._engine.connect() as conn:
            return list(await conn.execute(sa.select(mutes).where(mutes.c.until > now).order_by(mutes.c.until)))

    async def end(self, mute_id: int, now: datetime, by: str = "") -> bool:
        """End a silence now, recording who did (`by`: "" from the CLI); False if there is no such silence in force."""
        async with self._engine.begin() as conn:
            done = await conn.execute(mutes.update().where(mutes.c.id == mute_id, mutes.c.until > now).values(until=now, ended_by=by))
            return bool(done.rowcount)

    async def ended(self, since: datetime, now: datetime) -> list[Any]:
        """Silences that ended (by themselves or by someone) since `since`, latest first."""
        async with self._engine.connect() as conn:
            query = sa.select(mutes).where(mutes.c.until > since, mutes.c.until <= now).order_by(mutes.c.until.desc(), mutes.c.id.desc())
            return list(await conn.execute(query.limit(50)))
