"""The sink interface, the messages it delivers, and the Protocols the delivery loop runs on.

A sink turns one `Alert` (or a `Digest` of several) into one message somewhere (Slack, the
console, ...); an alert with a `thread_ts` is a reply in that thread, where the sink can thread. It either
returns the remote id of the message (Slack's `ts`, or None where there is none) or raises
`DeliveryError`, saying whether a retry can help and, if the remote said so, when, with a
generic `code` (`THREAD_GONE`, `RATE_LIMITED`, `AUTH`) where one applies. Sinks never retry,
sleep or pace themselves: retries, rate limits and dead-lettering live once, in `alerts.delivery`.

The loop reads and writes through three small Protocols, implemented over the database in
`service.storage`: a `Queue` of due deliveries (claim, hold, sent, retry, dead, and what
planning needs), a `Pacer` (one send pace per rate key, shared by every replica), and the
one `Muter` (silences), which the store also asks when it inserts matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from alerts.briefing import SameStory
    from alerts.flood import Plan, Sent


class Mode(StrEnum):
    """How a delivery goes out (stored on its row once planned)."""

    ALERT = "alert"  # a message of its own
    REPLY = "reply"  # in the thread of an earlier alert of the same story
    DIGEST = "digest"  # in a digest message
    THROTTLED = "throttled"  # in a digest, held back by a rule's throttle
    NOTICE = "notice"  # an operations notice
    BRIEFED = "briefed"  # an alert waiting for its destination's next briefing (not claimed on its own)
    BRIEFING = "briefing"  # a briefing message (a page of one), listing briefed alerts


class DeliveryStatus(StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"  # due at next_attempt_at (a retry, or held for a digest, counts)
    SENT = "sent"
    DEAD = "dead"  # given up; `deliveries retry` re-queues it
    MUTED = "muted"  # a silence covered it: stored, never sent


THREAD_GONE = "thread_gone"  # a reply's thread no longer exists (its first message was deleted)
RATE_LIMITED = "rate_limited"
AUTH = "auth"  # the credentials were refused


@dataclass(frozen=True, slots=True)
class AlertRule:
    """A rule that matched, with the terms that made it match."""

    id: str
    name: str
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Alert:
    """Everything a sink needs to render one alert; all text in it is untrusted feed content."""

    delivery_id: int
    destination: str
    title: str
    link: str
    source: str
    published: datetime | None
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    rules: tuple[AlertRule, ...]
    attempts: int = 0
    snippet_from: str = "feed"  # "article": the snippet is from the article page, the feed's text did not hold the match
    mode: str = Mode.ALERT
    thread_ts: str | None = None  # a reply's thread: the remote id of the story's first alert
    reply_to: int | None = None  # a reply whose first alert is in the same batch: that delivery's id

    @property
    def terms(self) -> list[str]:
        """The matched terms of all rules, each once, in order."""
        return list(dict.fromkeys(t for r in self.rules for t in r.terms))

    @property
    def delivery_ids(self) -> tuple[int, ...]:
        """The deliveries this message settles."""
        return (self.delivery_id,)


@dataclass(frozen=True, slots=True)
class Digest:
    """Several alerts for one destination in one message, instead of a flood of them."""

    destination: str
    alerts: tuple[Alert, ...]
    held: int = 0  # how many of them were held back by a rule's throttle
    attempts: int = 0
    mode: str = Mode.DIGEST

    @property
    def delivery_id(self) -> int:
        """The first delivery's id, to name the digest in logs."""
        return self.alerts[0].delivery_id

    @property
    def delivery_ids(self) -> tuple[int, ...]:
        """The deliveries this message settles."""
        return tuple(a.delivery_id for a in self.alerts)


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice about the service itself for an operations destination: a feed failing, or recovered."""

    delivery_id: int
    destination: str
    text: str
    attempts: int = 0
    mode: str = Mode.NOTICE

    @property
    def delivery_ids(self) -> tuple[int, ...]:
        """The deliveries this message settles."""
        return (self.delivery_id,)


@dataclass(frozen=True, slots=True)
class Story:
    """One story in a briefing: its newest report, and how many other reports of it were folded in."""

    alert: Alert
    also: int = 0


@dataclass(frozen=True, slots=True)
class Briefing:
    """A daily or weekly briefing (or one page of it): stories grouped by rule, newest first."""

    delivery_id: int
    destination: str
    title: str
    sections: tuple[tuple[str, tuple[Story, ...]], ...]  # (rule name, its stories)
    page: int = 1
    pages: int = 1
    attempts: int = 0
    thread_ts: str | None = None  # a later page: the first page's remote id
    reply_to: int | None = None  # a later page whose first page is in the same batch: that delivery's id
    mode: str = Mode.BRIEFING

    @property
    def delivery_ids(self) -> tuple[int, ...]:
        """The deliveries this message settles (the alerts it lists follow it: `Queue.sent`)."""
        return (self.delivery_id,)

    @property
    def count(self) -> int:
        """How many stories this page lists."""
        return sum(len(stories) for _, stories in self.sections)


Message = Alert | Digest | Notice | Briefing


@dataclass(frozen=True, slots=True)
class Claimed:
    """A due delivery leased to this process, as the queue hands it over."""

    id: int
    destination: str
    rule_ids: tuple[str, ...]
    attempts: int = 0
    mode: str | None = None  # how an earlier claim planned it; None: never planned
    thread_ts: str | None = None
    parent_id: int | None = None
    signature: bytes | None = None  # the item's story fingerprint
    notice: str | None = None  # an operations notice's text, instead of an item
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


class DeliveryError(Exception):
    """A sink could not deliver; `retryable` says whether trying again later can help."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None, code: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code  # the remote's error code where it gave one (Slack's "invalid_thread_ts", say)


class Sink(Protocol):
    """Delivers alerts to one destination."""

    rate_key: str  # sinks sharing a key share one rate limit (a Slack channel, say)
    min_interval: float  # seconds between two messages with the same rate_key

    async def send(self, message: Message) -> str | None:
        """Deliver one alert or digest; return the remote message id, or raise DeliveryError."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def redact(message: str, secrets: Iterable[str | None]) -> str:
    """Remove every secret from a message before it is logged or stored."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            message = message.replace(secret, "[redacted]")
    return message


class Muter(Protocol):
    """The silences in force: one source for the store (at insert) and the loop (at claim)."""

    async def mutes(self, fresh: bool = False) -> Mutes:
        """What is muted now; a cached answer may lag a new silence by a second or two unless `fresh`."""
        ...


class Pacer(Protocol):
    """One send pace per rate key (a Slack channel, say), shared by every process."""

    async def reserve(self, key: str, interval: float, within: float) -> tuple[float, bool]:
        """Book the key's next send slot if it starts within `within` seconds: (seconds until it starts, booked)."""
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

    async def briefing(self, claimed: Claimed, same_story: SameStory, rule_order: Sequence[str]) -> Briefing:
        """A briefing page with the stories it lists, folded and grouped; a later page with its first page's thread."""
        ...

    async def hold(self, message: Message, wait: float = 0.0) -> bool:
        """Renew this process's lease on the message, `wait` seconds longer than a lease; False if another took it over."""
        ...

    async def sent(self, message: Message, remote_id: str | None) -> None:
        """Record that the sink accepted the message (and how it went out)."""
        ...

    async def retry(self, message: Message, error: str, at: datetime, count_attempt: bool = True) -> None:
        """Put the message's deliveries back, due again at `at`."""
        ...

    async def dead(self, message: Message, error: str) -> None:
        """Give up on the message: it stays listed, with its error, for a person to re-queue."""
        ...
