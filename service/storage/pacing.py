"""One send pace per rate key (a Slack channel, a webhook), shared by every replica through the `pacing` table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from service.storage.db import Database, insert, pacing


class SqlPacer:
    """Implements alerts.queue.Pacer: each send books the key's next slot in the database.

    `clock` is wall time in production: Slack counts real seconds, whatever clock the rest of
    the service runs on. Tests give a fake clock with a matching fake sleep.
    """

    def __init__(self, engine: Database, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    async def reserve(self, key: str, interval: float, within: float) -> tuple[float, bool]:
        """Book the key's next slot if it starts within `within` seconds; return (seconds until it starts, booked).

        A slot further off is only reported, so that messages sent back to wait use up no slots.
        """
        now = self._clock()
        async with self._engine.begin() as conn:
            await conn.execute(insert(conn, pacing).values(key=key, next_at=now).on_conflict_do_nothing(index_elements=["key"]))
            booked = (await conn.execute(sa.select(pacing.c.next_at).where(pacing.c.key == key).with_for_update())).scalar_one()
            start: datetime = max(booked, now)
            wait = (start - now).total_seconds()
            if wait > within:
                return wait, False
            await conn.execute(pacing.update().where(pacing.c.key == key).values(next_at=start + timedelta(seconds=interval)))
        return wait, True

    async def pause(self, key: str, seconds: float) -> None:
        """Hold every replica's sends with this key for `seconds` from now (the remote asked to wait, or a send just ended)."""
        until = self._clock() + timedelta(seconds=seconds)
        async with self._engine.begin() as conn:
            await conn.execute(insert(conn, pacing).values(key=key, next_at=until).on_conflict_do_nothing(index_elements=["key"]))
            await conn.execute(pacing.update().where(pacing.c.key == key, pacing.c.next_at < until).values(next_at=until))
