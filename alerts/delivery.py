"""The delivery loop: claim due alerts from the outbox, pace them per channel, send, record.

This is the one place that knows retry policy, rate limits and dead-lettering. An alert is
marked sent only after its sink said so; a crash between the two can send it twice, never lose it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from alerts.base import Alert, DeliveryError, Message, Sink

log = logging.getLogger("newswatch.delivery")
MAX_WAIT = 5.0  # seconds a send waits for its slot; a longer pause sends it back to the outbox
THREAD_GONE = frozenset({"invalid_thread_ts", "thread_not_found", "message_not_found"})


class Outbox(Protocol):
    """Where alerts wait: the store implements it over the deliveries table."""

    async def claim(self, limit: int) -> list[Message]:
        """Lease up to `limit` due deliveries to this process, planned into alerts, replies and digests."""
        ...

    async def sent(self, message: Message, remote_id: str | None) -> None:
        """Record that the sink accepted the message."""
        ...

    async def retry(self, message: Message, error: str, at: datetime, count_attempt: bool = True) -> None:
        """Put the message's deliveries back, due again at `at`."""
        ...

    async def dead(self, message: Message, error: str) -> None:
        """Give up on the message: it stays listed, with its error, for a person to re-queue."""
        ...

    async def hold(self, message: Message) -> bool:
        """Renew this process's lease on the message right before sending; False if it was lost."""
        ...

    async def reserve(self, key: str, interval: float, within: float) -> tuple[datetime, bool]:
        """Book the next send slot of a rate key, shared by every process, if it starts within `within` s; return (start, booked)."""
        ...

    async def pause(self, key: str, until: datetime) -> None:
        """No sends with this rate key, from any process, before `until`."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped; dead after `max_attempts`."""

    base: float = 5.0
    cap: float = 600.0
    max_attempts: int = 25

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failure."""
        raw = min(self.cap, self.base * 2.0 ** min(max(0, attempts - 1), 30))
        return float(raw * random.uniform(0.8, 1.2))


@dataclass
class DeliveryStats:
    """What one pass of the loop did."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    by_destination: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def count(self, destination: str, outcome: str) -> None:
        """Add one outcome."""
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.by_destination[destination][outcome] += 1


Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


class Deliverer:
    """Sends what the outbox has due, at most one message per `min_interval` per rate key."""

    def __init__(
        self,
        outbox: Outbox,
        sinks: Callable[[], Mapping[str, Sink]],
        clock: Clock,
        policy: RetryPolicy | None = None,
        batch: int = 100,
        sleep: Sleep = asyncio.sleep,
        observe: Callable[[str, str, float | None], None] | None = None,
    ) -> None:
        self._outbox = outbox
        self._sinks = sinks
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._batch = batch
        self._sleep = sleep
        self._observe = observe or (lambda destination, outcome, latency: None)
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.failing: dict[str, str] = {}  # destination -> its last permanent error, until a send succeeds

    async def run_once(self) -> DeliveryStats:
        """Claim one batch of due alerts and deliver it, destinations in parallel."""
        stats = DeliveryStats()
        messages = await self._outbox.claim(self._batch)
        if not messages:
            return stats
        groups: dict[str, list[Message]] = defaultdict(list)
        for message in messages:
            groups[message.destination].append(message)
        sinks = self._sinks()
        await asyncio.gather(*(self._drain(dest, items, sinks.get(dest), stats) for dest, items in groups.items()))
        return stats

    async def _drain(self, destination: str, messages: list[Message], sink: Sink | None, stats: DeliveryStats) -> None:
        """Deliver one destination's messages in order; a reply to one sent just before joins its thread."""
        if sink is None:
            for message in messages:
                await self._give_up(message, f"destination '{destination}' is not configured", stats)
            return
        threads: dict[int, str] = {}  # delivery id -> remote id, of this batch's alerts
        async with self._locks[sink.rate_key]:
            for message in messages:
                if isinstance(message, Alert) and message.reply_to is not None:
                    message = _thread(message, threads.get(message.reply_to))
                remote_id = await self._deliver(message, sink, stats)
                if remote_id and isinstance(message, Alert):
                    threads[message.delivery_id] = remote_id

    async def _deliver(self, alert: Message, sink: Sink, stats: DeliveryStats) -> str | None:
        """Send one message, respecting the rate key's pause and pace, and record the outcome."""
        slot = await self._pace(sink)
        if slot is not None:  # the rate key is paused for a while (a Retry-After, here or in another replica)
            await self._outbox.retry(alert, "waiting: destination rate-limited", slot, count_attempt=False)
            stats.count(alert.destination, "retried")
            return None
        if not await self._outbox.hold(alert):  # the lease ran out while it waited: another process sends it
            log.warning("lease lost before sending; left to the process that took it over", extra={"destination": alert.destination})
            return None
        started = time.monotonic()
        try:
            alert, remote_id = await self._send(alert, sink)
        except DeliveryError as exc:
            await self._failed(alert, sink, exc, stats)
            await self._spaced(sink)
            return None
        except Exception as exc:  # a sink bug must not stop the loop; retrying may still help
            log.exception("sink raised unexpectedly", extra={"destination": alert.destination})
            await self._failed(alert, sink, DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True), stats)
            return None
        else:
            await self._outbox.sent(alert, remote_id)  # first: a crash between sending and this is the one duplicate
            await self._spaced(sink)
            if self.failing.pop(alert.destination, None) is not None:
                log.warning("destination recovered", extra={"destination": alert.destination})
            stats.count(alert.destination, "sent")
            self._observe(alert.destination, "sent", time.monotonic() - started)
            log.info("%s sent", alert.mode, extra={"destination": alert.destination, "delivery": alert.delivery_id})
            return remote_id

    async def _spaced(self, sink: Sink) -> None:
        """Keep the next send with this rate key a full interval after this one ended, not only after it began.

        Slack measures the gap between messages as they arrive; a slow request followed by a
        quick one would otherwise arrive closer together than the interval.
        """
        if sink.min_interval > 0:
            await self._outbox.pause(sink.rate_key, datetime.now(UTC) + timedelta(seconds=sink.min_interval))

    async def _send(self, message: Message, sink: Sink) -> tuple[Message, str | None]:
        """Send; a reply whose thread is gone (its message deleted, say) goes out on its own instead.

        Returns the message as it went out, and its remote id.
        """
        try:
            return message, await sink.send(message)
        except DeliveryError as exc:
            if not (isinstance(message, Alert) and message.thread_ts and exc.code in THREAD_GONE):
                raise
        log.warning("thread not found, sending on its own", extra={"destination": message.destination, "delivery": message.delivery_id})
        alone = dataclasses.replace(message, mode="alert", thread_ts=None)
        if await self._pace(sink) is None:
            return alone, await sink.send(alone)
        raise DeliveryError("thread not found; the destination is paused before it can go out on its own", retryable=True)

    async def _pace(self, sink: Sink) -> datetime | None:
        """Wait for this rate key's next send slot, booked in the outbox so that replicas share one pace.

        Returns None when it is time to send, or, if the slot is further off than `MAX_WAIT`
        (a pause), the slot's start, for the message to wait in the outbox instead.
        """
        if sink.min_interval <= 0:
            return None
        slot, booked = await self._outbox.reserve(sink.rate_key, sink.min_interval, MAX_WAIT)
        wait = (slot - datetime.now(UTC)).total_seconds()
        if not booked:
            return self._clock() + timedelta(seconds=wait)
        if wait > 0:
            await self._sleep(wait)
        return None

    async def _failed(self, alert: Message, sink: Sink, exc: DeliveryError, stats: DeliveryStats) -> None:
        """Schedule a retry, or give up on a permanent error or too many attempts."""
        attempts = alert.attempts + 1
        if not exc.retryable or attempts >= self._policy.max_attempts:
            reason = str(exc) if not exc.retryable else f"{exc} (gave up after {attempts} attempts)"
            await self._give_up(alert, reason, stats)
            return
        delay = exc.retry_after if exc.retry_after is not None else self._policy.delay(attempts)
        at = self._clock() + timedelta(seconds=delay)
        if exc.retry_after is not None:  # one pause, in the outbox, for every process sending with this key
            await self._outbox.pause(sink.rate_key, datetime.now(UTC) + timedelta(seconds=delay))
        await self._outbox.retry(alert, str(exc), at)
        stats.count(alert.destination, "retried")
        self._observe(alert.destination, "retried", None)
        log.warning("delivery failed, will retry: %s", exc, extra={"destination": alert.destination, "delivery": alert.delivery_id})

    async def _give_up(self, alert: Message, reason: str, stats: DeliveryStats) -> None:
        """Dead-letter one alert; a destination's permanent failure is reported once, not per alert."""
        await self._outbox.dead(alert, reason)
        stats.count(alert.destination, "dead")
        self._observe(alert.destination, "dead", None)
        extra = {"destination": alert.destination, "delivery": alert.delivery_id}
        if self.failing.get(alert.destination) != reason:
            self.failing[alert.destination] = reason
            log.error("destination failing, alerts dead-lettered until it works again: %s", reason, extra=extra)
        else:
            log.debug("delivery dead-lettered: %s", reason, extra=extra)


def _thread(reply: Alert, thread_ts: str | None) -> Alert:
    """A reply to an alert of the same batch: into its thread, or on its own if that alert was not sent."""
    if thread_ts is None:
        return dataclasses.replace(reply, mode="alert", reply_to=None)
    return dataclasses.replace(reply, thread_ts=thread_ts, reply_to=None)
