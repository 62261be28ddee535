"""One send pace per rate key (a Slack channel, a webhook), shared by every replica through the `pacing` table.

Two steps keep sends to one key at least an interval apart as they arrive, whatever the load:
a send books a slot (`reserve`: replicas take turns, and a long pause sends it back to the
queue), then, at its slot, it leaves only once the send before it has ended and an interval
has passed since (`depart`, then `arrived` when it has ended). A slot alone is not enough: the
send before may leave late, and two requests booked a second apart then reach Slack less than a
second apart. The remote has received a request before it answers it, so a send that leaves an
interval after the previous answer arrives at least an interval after the previous request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from service.storage.db import Database, insert
from service.storage.schema import pacing

IN_FLIGHT_POLL = 0.2  # seconds between looks at a key whose send is in flight in another process


class SqlPacer:
    """Implements alerts.queue.Pacer: each send books the key's next slot in the database, then waits for the send before.

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
            row = await _locked(conn, key, now)
            start: datetime = max(row.next_at, row.ready_at or now, now)
            wait = (start - now).total_seconds()
            if wait > within:
                return wait, False
            await conn.execute(pacing.update().where(pacing.c.key == key).values(next_at=start + timedelta(seconds=interval)))
        return wait, True

    async def depart(self, key: str, hold: float) -> float:
        """Mark a send with this key as leaving now and return 0, or return the seconds to wait before asking again.

        It may leave when no other send with the key is in flight and the last one ended long
        enough ago (`ready_at`). A send in flight holds the key until it reports `arrived`, or
        for `hold` seconds if its process dies first.
        """
        now = self._clock()
        async with self._engine.begin() as conn:
            row = await _locked(conn, key, now)
            busy: datetime | None = row.busy_until
            ready: datetime | None = row.ready_at
            if busy is not None and busy > now:
                return min(IN_FLIGHT_POLL, (busy - now).total_seconds())
            if ready is not None and ready > now:
                return (ready - now).total_seconds()
            await conn.execute(pacing.update().where(pacing.c.key == key).values(busy_until=now + timedelta(seconds=hold)))
        return 0.0

    async def arrived(self, key: str, interval: float) -> None:
        """The send in flight has ended (answered, failed or timed out): the next may leave `interval` from now."""
        until = self._clock() + timedelta(seconds=interval)
        async with self._engine.begin() as conn:
            await _locked(conn, key, until)
            await conn.execute(
                pacing.update()
                .where(pacing.c.key == key)
                .values(busy_until=None, ready_at=_later(pacing.c.ready_at, until), next_at=_later(pacing.c.next_at, until))
            )

    async def pause(self, key: str, seconds: float) -> None:
        """Hold every replica's sends with this key for `seconds` from now (the remote asked to wait)."""
        until = self._clock() + timedelta(seconds=seconds)
        async with self._engine.begin() as conn:
            await _locked(conn, key, until)
            await conn.execute(
                pacing.update()
                .where(pacing.c.key == key)
                .values(ready_at=_later(pacing.c.ready_at, until), next_at=_later(pacing.c.next_at, until))
            )


async def _locked(conn: AsyncConnection, key: str, now: datetime) -> Any:
    """The key's row (next_at, busy_until, ready_at), made if missing, locked for this transaction."""
    await conn.execute(insert(conn, pacing).values(key=key, next_at=now).on_conflict_do_nothing(index_elements=["key"]))
    query = sa.select(pacing.c.next_at, pacing.c.busy_until, pacing.c.ready_at).where(pacing.c.key == key).with_for_update()
    return (await conn.execute(query)).one()


def _later(column: sa.ColumnElement[datetime], when: datetime) -> sa.ColumnElement[datetime]:
    """The later of a column's value and `when` (NULL counts as earlier)."""
    value = sa.bindparam(None, when, type_=column.type)
    return sa.case((column.is_(None), value), (column < value, value), else_=column)
