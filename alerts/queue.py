"""What the delivery loop runs on: claimed deliveries and three small Protocols.

They are implemented over the database in `service.storage`: a `Queue` of due deliveries (claim,
hold, sent, retry, dead, and what planning needs), a `Pacer` (one send pace per rate key, shared
by every replica), and the one `Muter` (silences), whose `Mutes.silences` is the only rule of
what a silence covers: the router asks it when a match is stored, the loop when it is claimed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from alerts.messages import Alert, Briefing, Message

if TYPE_CHECKING:
    from alerts.flood import Plan, Sent


class DeliveryStatus(StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"  # due at next_attempt_at (a retry, or held for a digest, counts)
    SENT = "sent"
    DEAD = "dead"  # given up; `deliveries retry` re-queues it
    MUTED = "muted"  # a silence covered it: stored, never sent


class Kind(StrEnum):
    """What a claimed delivery is."""

    ALERT = "alert"  # an item's alert (sent alone, in a thread, in a digest)
    NOTICE = "notice"  # an operations notice
    BRIEFING = "briefing"  # a briefing page


@dataclass(frozen=True, slots=True)
class Claimed:
    """A due delivery leased to this process, as the queue hands it over."""

    id: int
    destination: str
    rule_ids: tuple[str, ...]
    kind: Kind = Kind.ALERT
    attempts: int = 0
    mode: str | None = None  # how an earlier claim planned it; None: never planned
    thread_ts: str | None = None
    parent_id: int | None = None
    signature: bytes | None = None  # the item's story fingerprint
    notice: str | None = None  # a notice's text, or a briefing's title
    feed_id: str | None = None  # the item's feed (a source can be muted)


@dataclass(frozen=True, slots=True)
class Mutes:
    """What is muted right now."""

    rules: frozenset[str] = frozenset()
    destinations: frozenset[str] = frozenset()
    feeds: frozenset[str] = frozenset()  # sources: every alert of their items is muted

    def silences(self, destination: str, rule_ids: Sequence[str], feed_id: str | None = None) -> bool:
        """True if an alert to `destination` for `rule_ids` (about an item of `feed_id`) must not be sent."""
        if destination in self.destinations or (feed_id is not None and feed_id in self.feeds):
            return True
        return bool(rule_ids) and all(r in self.rules for r in rule_ids)


class Muter(Protocol):
    """The silences in force: one source for the store (at insert) and the loop (at claim)."""

    async def mutes(self, fresh: bool = False) -> Mutes:
        """What is muted now; a cached answer may lag a new silence by a second or two unless `fresh`."""
        ...


class Pacer(Protocol):
    """One send pace per rate key (a Slack channel, say), shared by every process.

    A send books a slot (`reserve`), and at its slot leaves only once the send before it has
    ended and an interval has passed (`depart`); it reports its end (`arrived`). So sends arrive
    an interval apart even when one of them left late.
    """

    async def reserve(self, key: str, interval: float, within: float) -> tuple[float, bool]:
        """Book the key's next send slot if it starts within `within` seconds: (seconds until it starts, booked)."""
        ...

    async def depart(self, key: str, hold: float) -> float:
        """0 when a send may leave now (marked in flight, for at most `hold` seconds); else the seconds to wait and ask again."""
        ...

    async def arrived(self, key: str, interval: float) -> None:
        """The send in flight has ended: the next may leave `interval` seconds from now."""
        ...

    async def pause(self, key: str, seconds: float) -> None:
        """No sends with this key, from any process, for `seconds` from now."""
        ...


class Queue(Protocol):
    """Due deliveries, leased so that several processes can share them."""

    async def claim(self, limit: int) -> list[Claimed]:
        """Lease up to `limit` due deliveries to this process."""
        ...

    async def claim_more(self, destination: str, limit: int) -> list[Claimed]:
        """Lease a destination's other due, never-planned deliveries, so that a burst is seen whole."""
        ...

    async def mute(self, claimed: Sequence[Claimed]) -> None:
        """Mark deliveries muted: stored, never sent."""
        ...

    async def recent(self, destination: str, since: datetime) -> list[Sent]:
        """The alerts the destination was sent on their own since then, newest first."""
        ...

    async def record(self, destination: str, plan: Plan, window: timedelta) -> None:
        """Store how each delivery goes out; held ones wait, unleased, for the destination's next digest."""
        ...

    async def build(self, claimed: Sequence[Claimed]) -> dict[int, Alert]:
        """The alert of each delivery: its item's title, link, source, time, snippet and rules."""
        ...

    async def briefing(self, claimed: Claimed) -> Briefing:
        """A briefing page with the stories stored on it when it was made; a later page with its first page's thread."""
        ...

    async def hold(self, message: Message, wait: float = 0.0) -> bool:
        """Renew this process's lease on the message, `wait` seconds longer than a lease; False if another took it over."""
        ...

    async def sent(self, message: Message, remote_id: str | None, channel: str | None = None) -> None:
        """Record that the sink accepted the message (and how it went out, and where: the remote's id and channel)."""
        ...

    async def retry(self, message: Message, error: str, at: datetime, count_attempt: bool = True) -> None:
        """Put the message's deliveries back, due again at `at`."""
        ...

    async def dead(self, message: Message, error: str) -> None:
        """Give up on the message: it stays listed, with its error, for a person to re-queue."""
        ...
