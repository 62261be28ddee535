"""Silences: a rule or a destination muted until a time. Muted matches are stored, never sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from service.db import Database, mutes


@dataclass(frozen=True)
class Active:
    """What is muted right now."""

    rules: frozenset[str] = frozenset()
    destinations: frozenset[str] = frozenset()

    def silences(self, destination: str, rule_ids: list[str]) -> bool:
        """True if an alert to `destination` for `rule_ids` must not be sent."""
        return destination in self.destinations or (bool(rule_ids) and all(r in self.rules for r in rule_ids))


async def active(conn: AsyncConnection, now: datetime) -> Active:
    """The silences in force at `now`."""
    rows = await conn.execute(sa.select(mutes.c.kind, mutes.c.target).where(mutes.c.until > now))
    found = [(r.kind, r.target) for r in rows]
    return Active(frozenset(t for k, t in found if k == "rule"), frozenset(t for k, t in found if k == "destination"))


class Silences:
    """Create, list and end silences."""

    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def add(self, kind: str, target: str, until: datetime, reason: str, now: datetime) -> int:
        """Mute `target` until `until`; return the silence's id."""
        async with self._engine.begin() as conn:
            row = await conn.execute(
                mutes.insert().values(kind=kind, target=target, until=until, reason=reason, created_at=now).returning(mutes.c.id)
            )
            return int(row.scalar_one())

    async def listing(self, now: datetime) -> list[Any]:
        """Silences in force, soonest to end first."""
        async with self._engine.connect() as conn:
            return list(await conn.execute(sa.select(mutes).where(mutes.c.until > now).order_by(mutes.c.until)))

    async def end(self, mute_id: int, now: datetime) -> bool:
        """End a silence now; False if there is no such silence in force."""
        async with self._engine.begin() as conn:
            done = await conn.execute(mutes.update().where(mutes.c.id == mute_id, mutes.c.until > now).values(until=now))
            return bool(done.rowcount)
