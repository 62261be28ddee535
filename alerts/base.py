"""The sink interface: the one thing a new destination kind implements, and the errors it raises.

A sink turns one message (`alerts.messages`: an alert, a digest, a notice, a briefing page) into
one message somewhere (Slack, the console, ...); an alert with a `thread_ts` is a reply in that
thread, where the sink can thread. It either returns the remote id of the message (Slack's `ts`,
or None where there is none) or raises `DeliveryError`, saying whether a retry can help and, if
the remote said so, when, with a generic `DeliveryCode` where one applies. Sinks never retry,
sleep or pace themselves: retries, rate limits and dead-lettering live once, in `alerts.delivery`.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Protocol

from alerts.messages import Message


class DeliveryCode(StrEnum):
    """What kind of failure a sink met, where the delivery loop treats it specially."""

    THREAD_GONE = "thread_gone"  # a reply's thread no longer exists (its first message was deleted)
    RATE_LIMITED = "rate_limited"
    AUTH = "auth"  # the credentials were refused
    OTHER = "other"


class DeliveryError(Exception):
    """A sink could not deliver; `retryable` says whether trying again later can help."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        code: DeliveryCode = DeliveryCode.OTHER,
        remote: str = "",
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code
        self.remote = remote  # the remote's own error code where it gave one (Slack's "channel_not_found", say)


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
