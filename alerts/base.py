"""The sink interface and the alert it delivers.

A sink turns one `Alert` into one message somewhere (Slack, the console, ...). It either
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

    @property
    def terms(self) -> list[str]:
        """The matched terms of all rules, each once, in order."""
        return list(dict.fromkeys(t for r in self.rules for t in r.terms))


class DeliveryError(Exception):
    """A sink could not deliver; `retryable` says whether trying again later can help."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Sink(Protocol):
    """Delivers alerts to one destination."""

    rate_key: str  # sinks sharing a key share one rate limit (a Slack channel, say)
    min_interval: float  # seconds between two messages with the same rate_key

    async def send(self, alert: Alert) -> str | None:
        """Deliver `alert`; return the remote message id, or raise DeliveryError."""
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
