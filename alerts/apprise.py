"""Apprise, for the long tail of services (an optional extra: `pip install newswatch[apprise]`).

Apprise reports one outcome per call and nothing more: no HTTP status, no Retry-After, no
message id. So FAILURE and TIMEOUT are both retried with the outbox's backoff and dead-lettered
once the attempts run out, whether the service was down or refused the message for good; a
rate limit is waited out by backoff, not by what the service asked; nothing threads. Apprise
is synchronous: each call runs in a small shared pool of threads (`POOL_SIZE`), so a slow
service holds a thread, never the event loop, and Apprise's own deadline (`TIMEOUT`) ends it.
A call the service completed after that deadline can arrive twice: the one in-flight duplicate.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from alerts.base import DeliveryError, redact
from alerts.console import render as plain
from alerts.format import cut, one_line, rule_names
from alerts.messages import Alert, Briefing, Digest, Message, Notice

POOL_SIZE = 4  # Apprise calls at once in this process, across every Apprise destination
TIMEOUT = 15.0  # seconds Apprise gives one call before it reports TIMEOUT
GRACE = 5.0  # seconds more this sink waits for Apprise to report before giving up on the call
MIN_INTERVAL = 1.0
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def pool() -> ThreadPoolExecutor:
    """The process's bounded pool of Apprise threads."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="apprise")
        return _POOL


class AppriseSink:
    """Notifies one Apprise URL; SUCCESS is sent, anything else is retried until the attempts run out."""

    min_interval = MIN_INTERVAL

    def __init__(self, url: str, timezone: str = "UTC", timeout: float = TIMEOUT) -> None:
        import apprise

        self.rate_key = "apprise:" + hashlib.sha256(url.encode()).hexdigest()[:16]
        self._url = url
        self._timezone = timezone
        self._timeout = timeout
        self._apprise = apprise.Apprise(asset=apprise.AppriseAsset(service_timeout=timeout))
        self._usable = bool(self._apprise.add(url))

    async def send(self, message: Message) -> str | None:
        """Notify in a pool thread; map Apprise's outcome to sent, retry later, or (an unusable URL) give up."""
        if not self._usable:
            raise DeliveryError("apprise: the URL is not one Apprise can use (check its scheme and form)", retryable=False)
        title, body = title_of(message), plain(message, self._timezone)
        call = asyncio.get_running_loop().run_in_executor(pool(), self._notify, title, body)
        try:
            status = await asyncio.wait_for(call, self._timeout + GRACE)
        except TimeoutError:
            raise DeliveryError("apprise: TIMEOUT (no outcome from Apprise in time)", retryable=True) from None
        if status == "SUCCESS":
            return None
        raise DeliveryError(
            redact(f"apprise: {status} (Apprise tells no more: no status code, no Retry-After)", [self._url]), retryable=True
        )

    def _notify(self, title: str, body: str) -> str:
        """One synchronous Apprise call (in a pool thread); its outcome's name."""
        import apprise

        result: Any = self._apprise.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT, timeout=self._timeout)
        status = getattr(result, "status", None)
        if status is None:  # an Apprise that answers True or False
            return "SUCCESS" if result else "FAILURE"
        return str(status.name)

    async def aclose(self) -> None:
        """Nothing to release: the pool is the process's."""


def title_of(message: Message) -> str:
    """A short title for services that show one."""
    if isinstance(message, Notice):
        return "newswatch notice"
    if isinstance(message, Digest):
        return f"newswatch: {len(message.alerts)} alerts"
    if isinstance(message, Briefing):
        return cut(one_line(message.title), 120)
    assert isinstance(message, Alert)
    return cut(f"{one_line(rule_names(message))}: {one_line(message.title)}", 120)
