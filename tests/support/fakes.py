"""Strict in-memory fakes of the delivery loop's Protocols (alerts.queue): they refuse what the real ones refuse.

`FakeQueue` holds deliveries like the outbox table: a delivery must be claimed (leased) before
it can be held, and held, with its lease still running, when it is marked sent; a finished
delivery cannot be finished again. `FakePacer` books slots and lets one send of a key fly at a time, on a fake clock. `FakeSink` records what it was asked to send and
fails on demand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts import flood
from alerts.base import DeliveryError
from alerts.messages import Alert, AlertRule, Message
from alerts.queue import Claimed, Mutes


class FakeTime:
    """A clock that moves only when the code under test sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


@dataclass
class Row:
    """One delivery as the outbox stores it."""

    claimed: Claimed
    status: str = "pending"
    leased: bool = False
    held: bool = False
    lease_until: datetime | None = None
    remote_id: str | None = None
    error: str | None = None
    due: datetime | None = None
    attempts: int = 0
    mode: str | None = None
    thread_ts: str | None = None


class FakeQueue:
    """An outbox in memory."""

    def __init__(
        self, time: FakeTime, deliveries: Sequence[Claimed], lose_leases: Sequence[int] = (), lease: timedelta = timedelta(seconds=120)
    ) -> None:
        self.time = time
        self.rows = {c.id: Row(c, due=time(), attempts=c.attempts, mode=c.mode) for c in deliveries}
        self.lose_leases = set(lose_leases)  # ids whose lease another process takes over before they are sent
        self.lease = lease
        self.holds: list[tuple[int, float]] = []  # (delivery id, extra seconds) of every renewal
        self.recorded: list[flood.Plan] = []

    async def claim(self, limit: int) -> list[Claimed]:
        due = [r for r in self.rows.values() if r.status == "pending" and not r.leased and r.due is not None and r.due <= self.time()]
        await self._claim_some(due[:limit])
        return [replace(r.claimed, attempts=r.attempts, mode=r.mode) for r in due[:limit]]

    async def claim_more(self, destination: str, limit: int) -> list[Claimed]:
        more = [r for r in self.rows.values() if r.claimed.destination == destination and r.mode is None]
        return await self._claim_some([r for r in more if r.status == "pending" and not r.leased][:limit])

    async def _claim_some(self, rows: list[Row]) -> list[Claimed]:
        for r in rows:
            r.leased, r.lease_until = True, self.time() + self.lease
        return [r.claimed for r in rows]

    async def mute(self, claimed: Sequence[Claimed]) -> None:
        for c in claimed:
            self._leased(c.id).status = "muted"

    async def recent(self, destination: str, since: datetime) -> list[flood.Sent]:
        return []

    async def record(self, destination: str, plan: flood.Plan, window: timedelta) -> None:
        self.recorded.append(plan)
        for i in plan.hold:
            row = self._leased(i)
            row.leased, row.due, row.mode = False, self.time() + window, "digest"

    async def build(self, claimed: Sequence[Claimed]) -> dict[int, Alert]:
        return {c.id: alert(c.id, c.destination, c.attempts) for c in claimed}

    async def briefing(self, claimed: Claimed) -> Any:
        """The fake holds alerts only: a briefing page reaching it is a bug in the test."""
        raise AssertionError("FakeQueue holds no briefings")

    async def hold(self, message: Message, wait: float = 0.0) -> bool:
        if set(message.delivery_ids) & self.lose_leases:
            return False
        for i in message.delivery_ids:
            row = self._leased(i)
            row.held, row.lease_until = True, self.time() + self.lease + timedelta(seconds=wait)
            self.holds.append((i, wait))
        return True

    async def sent(self, message: Message, remote_id: str | None, channel: str | None = None) -> None:
        for i in message.delivery_ids:
            row = self._leased(i)
            if not row.held:
                raise AssertionError(f"delivery {i} marked sent without being held right before")
            if row.lease_until is None or row.lease_until < self.time():
                raise AssertionError(f"delivery {i} sent after its lease ran out: another process may have sent it too")
            row.status, row.remote_id, row.leased, row.mode = "sent", remote_id, False, message.mode
            row.thread_ts = getattr(message, "thread_ts", None)

    async def retry(self, message: Message, error: str, at: datetime, count_attempt: bool = True) -> None:
        for i in message.delivery_ids:
            row = self._leased(i)
            row.leased, row.held, row.error, row.due = False, False, error, at
            row.attempts += 1 if count_attempt else 0

    async def dead(self, message: Message, error: str) -> None:
        for i in message.delivery_ids:
            row = self._leased(i)
            row.status, row.leased, row.error = "dead", False, error
            row.attempts += 1

    def _leased(self, delivery_id: int) -> Row:
        row = self.rows[delivery_id]
        if not row.leased or row.status != "pending":
            raise AssertionError(f"delivery {delivery_id} is not leased to this process (status {row.status})")
        return row


class FakePacer:
    """One pace per key on the fake clock, with the send in flight as SqlPacer keeps it.

    `elsewhere(key, ends)` stands for another process's send with that key, in flight until `ends`.
    A send that leaves while another is in flight fails the test.
    """

    def __init__(self, time: FakeTime) -> None:
        self.time = time
        self.next_at: dict[str, datetime] = {}
        self.ready_at: dict[str, datetime] = {}
        self.busy: set[str] = set()
        self.foreign: dict[str, tuple[datetime, float]] = {}  # key -> (when another process's send ends, its interval)
        self.paused: list[tuple[str, float]] = []

    def elsewhere(self, key: str, ends: datetime, interval: float = 1.0) -> None:
        """Another process's send with `key` is in flight until `ends`."""
        self.foreign[key] = (ends, interval)

    async def reserve(self, key: str, interval: float, within: float) -> tuple[float, bool]:
        now = self.time()
        start = max(self.next_at.get(key, now), self.ready_at.get(key, now), now)
        wait = (start - now).total_seconds()
        if wait > within:
            return wait, False
        self.next_at[key] = start + timedelta(seconds=interval)
        return wait, True

    async def depart(self, key: str, hold: float) -> float:
        now = self.time()
        if key in self.foreign:
            ends, interval = self.foreign[key]
            if now < ends:
                return 0.2
            del self.foreign[key]
            self._later(key, ends + timedelta(seconds=interval))
        assert key not in self.busy, f"a second send with {key} left while one was in flight"
        wait = (self.ready_at.get(key, now) - now).total_seconds()
        if wait > 0:
            return wait
        self.busy.add(key)
        return 0.0

    async def arrived(self, key: str, interval: float) -> None:
        assert key in self.busy, f"a send with {key} ended that never left"
        self.busy.discard(key)
        self._later(key, self.time() + timedelta(seconds=interval))

    async def pause(self, key: str, seconds: float) -> None:
        self.paused.append((key, seconds))
        self._later(key, self.time() + timedelta(seconds=seconds))

    def _later(self, key: str, until: datetime) -> None:
        for table in (self.next_at, self.ready_at):
            table[key] = max(table.get(key, until), until)


@dataclass
class FakeMuter:
    """Silences set by the test."""

    current: Mutes = field(default_factory=Mutes)
    asked_fresh: int = 0

    async def mutes(self, fresh: bool = False) -> Mutes:
        self.asked_fresh += fresh
        return self.current


class FakeSink:
    """Records messages; raises the errors queued in `failures`, one per send."""

    min_interval = 1.0

    def __init__(self, rate_key: str = "slack:#desk", time: FakeTime | None = None, takes: float = 0.0) -> None:
        self.rate_key = rate_key
        self.sent: list[Message] = []
        self.sent_at: list[datetime] = []  # when each send left, on `time`
        self.failures: list[DeliveryError | Exception] = []
        self._time = time
        self._takes = takes  # seconds each send is in flight, on `time`

    async def send(self, message: Message) -> str | None:
        if self._time is not None:
            self.sent_at.append(self._time())
            if self._takes:
                await self._time.sleep(self._takes)
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return f"ts-{len(self.sent)}"

    async def aclose(self) -> None:
        """Nothing to release."""


def alert(delivery_id: int, destination: str = "desk", attempts: int = 0) -> Alert:
    """A built alert."""
    return Alert(
        delivery_id=delivery_id,
        destination=destination,
        title=f"Border news {delivery_id}",
        link=f"https://example.org/{delivery_id}",
        source="Example",
        published=datetime(2026, 12, 1, tzinfo=UTC),
        snippet="",
        highlights=(),
        rules=(AlertRule("r", "Rule", ("border",)),),
        attempts=attempts,
    )
