"""One JSON POST, as the webhook-like sinks (webhook, Teams, Discord) send it, with network errors made generic.

The sink reads the answer and decides what it means; this module only sends, times out, and
turns a failure to get any answer into a retryable `DeliveryError` that names no secret.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from alerts.base import DeliveryCode, DeliveryError, redact
from alerts.format import retry_after_seconds

TIMEOUT = 15.0  # seconds for one request: under the delivery loop's hold on a rate key
ANSWER_LIMIT = 64_000  # bytes of an answer read (an error page can be large)
_NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)


@dataclass(frozen=True)
class Answer:
    """What the remote answered."""

    status: int
    headers: Mapping[str, str]
    text: str

    def retry_after(self) -> float | None:
        """Seconds from its Retry-After header (seconds or an HTTP date), if it sent a usable one."""
        return retry_after_seconds(self.headers.get("Retry-After"), datetime.now(UTC))


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str], secrets: Iterable[str], name: str
) -> Answer:
    """POST `body`; the answer, or a retryable DeliveryError when none came (connection refused, dropped, timed out)."""
    try:
        async with session.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", **headers},
            allow_redirects=False,  # a redirect of a POST is a configuration error, not something to follow
            timeout=aiohttp.ClientTimeout(total=TIMEOUT),
        ) as response:
            text = (await response.content.read(ANSWER_LIMIT)).decode("utf-8", "replace")
            return Answer(response.status, dict(response.headers), text)
    except _NETWORK_ERRORS as exc:
        raise DeliveryError(redact(f"{name}: network error: {type(exc).__name__}: {exc}", secrets), retryable=True) from None


def status_error(name: str, answer: Answer, secrets: Iterable[str], detail: str = "") -> DeliveryError:
    """An HTTP error answer as a DeliveryError: 408, 429 and 5xx retryable (after Retry-After where given), the rest permanent."""
    status = answer.status
    retryable = status in (408, 425, 429) or status >= 500
    code = DeliveryCode.RATE_LIMITED if status == 429 else DeliveryCode.AUTH if status in (401, 403) else DeliveryCode.OTHER
    text = detail or " ".join(answer.text.split())[:200]
    message = redact(f"{name}: HTTP {status} {text}".strip(), secrets)
    return DeliveryError(message, retryable=retryable, retry_after=answer.retry_after() if retryable else None, code=code)
