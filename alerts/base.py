"""The sink interface and the alert it delivers.

A sink turns one `Alert` (or a `Digest` of several) into one message somewhere (Slack, the
console, ...); an alert with a `thread_ts` is a reply in that thread, where the sink can thread. It either
returns the remote id of the message (Slack's `ts`, or None where there is none) or raises
`DeliveryError`, saying whether a retry can help and, if the remote said so, when. Sinks
never retry, sleep or pace themselves: retries, rate limits and dead-lettering live once,
in `alerts.delivery`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


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
    mode: str = "alert"  # "alert": a message of its own; "reply": in the thread of an earlier alert of the same story
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
    mode: str = "digest"

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
    mode: str = "notice"

    @property
    def delivery_ids(self) -> tuple[int, ...]:
        """The deliveries this message settles."""
        return (self.delivery_id,)


Message = Alert | Digest | Notice


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
