"""The sink interface: the one thing a new destination kind implements, and the errors it raises.

A sink turns one message (`alerts.messages`: an alert, a digest, a notice, a briefing page) into
one message somewhere (Slack, the console, ...); an alert with a `thread_ts` is a reply in that
thread, where the sink can thread. It either returns the remote id of the message (Slack's `ts`,
or None where there is none; a `Posted` when the remote also names the channel it went to, which
a link to the message needs) or raises `DeliveryError`, saying whether a retry can help and, if
the remote said so, when, with a generic `DeliveryCode` where one applies. Sinks never retry,
sleep or pace themselves: retries, rate limits and dead-lettering live once, in `alerts.delivery`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from urllib.parse import quote, quote_plus

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


@dataclass(frozen=True, slots=True)
class Posted:
    """Where a sink put a message: its remote id (Slack's `ts`, which replies thread on) and the channel the remote names."""

    id: str
    channel: str | None = None  # Slack's channel id (C…), as chat.postMessage answers it: permalinks need it


def posted(answer: str | Posted | None) -> Posted | None:
    """A sink's answer as a Posted (a bare remote id names no channel), None when there is no remote id."""
    if isinstance(answer, Posted):
        return answer if answer.id else None
    return Posted(answer) if answer else None


class Sink(Protocol):
    """Delivers alerts to one destination."""

    rate_key: str  # sinks sharing a key share one rate limit (a Slack channel, say)
    min_interval: float  # seconds between two messages with the same rate_key

    async def send(self, message: Message) -> str | Posted | None:
        """Deliver one alert or digest; return the remote message id (with its channel, where known), or raise DeliveryError."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def unquoted(value: str) -> str:
    """A value without the quotes an env file may leave around it (`KEY="…"` read by Docker or systemd as is)."""
    value = value.strip()
    return value[1:-1].strip() if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else value


def secret_forms(secret: str) -> set[str]:
    """A secret as written where it leaks: bare, unquoted, percent-encoded, JSON-escaped, and a URL's path (a webhook's secret)."""
    bare = unquoted(secret)
    forms = {secret, bare}
    for form in (secret, bare):
        forms |= {quote(form, safe=""), quote(form, safe="/:"), quote(form), quote_plus(form), form.replace("/", "\\/")}
    if "://" in bare:
        path = bare.split("://", 1)[1]
        path = path[path.find("/") :] if "/" in path else ""
        forms |= {path, quote(path)} if len(path) > 8 else set()
    return {form for form in forms if len(form) >= 4}


class Redactor:
    """Replaces every form of the given secrets (see `secret_forms`) with `[redacted]`."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        forms = sorted({form for secret in secrets if secret and len(secret) >= 4 for form in secret_forms(secret)}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(form) for form in forms), re.IGNORECASE) if forms else None

    def __call__(self, message: str) -> str:
        """`message` without the secrets."""
        return self._pattern.sub("[redacted]", message) if self._pattern is not None else message


def redact(message: str, secrets: Iterable[str | None]) -> str:
    """Remove every secret, in every form it takes, from a message before it is logged or stored."""
    return Redactor(secrets)(message)
