"""Delivery, in one function that reads top to bottom: claim → drop muted → plan → record → build → send → record outcome.

This is the one place that knows the order of delivery, retry policy, pacing and
dead-lettering. It runs on three small Protocols (`alerts.queue`): a `Queue` of due
deliveries, a `Pacer` shared by every replica, and the one `Muter`. Flood control is the
pure `alerts.flood.plan`. An alert is marked sent only after its sink said so; a crash
between the two can send it twice, never lose it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from alerts import flood
from alerts.base import DeliveryCode, DeliveryError, Posted, Sink, posted
from alerts.messages import Alert, Briefing, Digest, Message, Mode, Notice
from alerts.queue import Claimed, Kind, Muter, Mutes, Pacer, Queue

log = logging.getLogger("newswatch.delivery")
MAX_WAIT = 5.0  # seconds a send waits for its slot; a longer pause sends it back to the queue
SEND_HOLD = 20.0  # seconds a send in flight holds its rate key at most (sinks time out at 15 s; frees a dead process's key)
DIGEST_SIZE = 15  # alerts per digest message: inside Block Kit's 50 blocks and ~12,000 characters at any content
MAX_BURST = 300  # due alerts of one destination looked at together when deciding on a digest
FIRST_PAGE_WAIT = 30.0  # seconds a briefing's later page waits, unsent, for its first page to go out

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
PolicyOf = Callable[[str], flood.Policy]


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
    muted: int = 0
    by_destination: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def count(self, destination: str, outcome: str) -> None:
        """Add one outcome."""
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.by_destination[destination][outcome] += 1


class _LeaseLost(Exception):
    """Another process took the message over: this one must not send it."""


class Deliverer:
    """Sends what the queue has due, planned against floods, at most one message per `min_interval` per rate key."""

    def __init__(
        self,
        queue: Queue,
        pacer: Pacer,
        muter: Muter,
        sinks: Callable[[], Mapping[str, Sink]],
        clock: Clock,
        policy_of: PolicyOf = lambda destination: flood.Policy(),
        same_story: flood.SameStory = lambda a, b: False,
        retry: RetryPolicy | None = None,
        batch: int = 100,
        sleep: Sleep = asyncio.sleep,
        observe: Callable[[str, str, float | None], None] | None = None,
    ) -> None:
        self._queue = queue
        self._pacer = pacer
        self._muter = muter
        self._sinks = sinks
        self._clock = clock
        self._policy_of = policy_of
        self._same_story = same_story
        self._retry = retry or RetryPolicy()
        self._batch = batch
        self._sleep = sleep
        self._observe = observe or (lambda destination, outcome, latency: None)
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.failing: dict[str, str] = {}  # destination -> its last permanent error, until a send succeeds

    async def run_once(self) -> DeliveryStats:
        """One pass: claim → drop muted → plan → record → build → send → record outcome, destinations in parallel."""
        stats = DeliveryStats()
        now = self._clock()
        claimed = await self._queue.claim(self._batch)
        if not claimed:
            return stats
        mutes = await self._muter.mutes(fresh=True)
        claimed = await self._drop_muted(claimed, mutes, stats)
        outgoing: list[tuple[str, list[Message]]] = []
        for destination, due in _by_destination(claimed):
            notices: list[Message] = [Notice(c.id, destination, c.notice or "", c.attempts) for c in due if c.kind is Kind.NOTICE]
            notices += [await self._queue.briefing(c) for c in due if c.kind is Kind.BRIEFING]
            items = [c for c in due if c.kind is Kind.ALERT]
            policy = self._policy_of(destination)
            if policy.max_alerts is not None and 0 < sum(1 for c in items if c.mode is None) <= policy.max_alerts:
                items += await self._drop_muted(await self._queue.claim_more(destination, MAX_BURST), mutes, stats)
            plan = flood.plan(_pending(items), await self._queue.recent(destination, now - policy.horizon), policy, now, self._same_story)
            await self._queue.record(destination, plan, policy.window)
            contents = await self._queue.build([c for c in items if c.id not in set(plan.hold)])
            outgoing.append((destination, sorted(notices + messages(destination, plan, contents), key=lambda m: m.delivery_id)))
        sinks = self._sinks()
        await asyncio.gather(*(self._send_all(destination, batch, sinks.get(destination), stats) for destination, batch in outgoing))
        return stats

    async def _drop_muted(self, claimed: list[Claimed], mutes: Mutes, stats: DeliveryStats) -> list[Claimed]:
        """Mark the deliveries a silence covers muted (a backlog silenced while it waited); return the rest."""
        muted = [c for c in claimed if mutes.silences(c.destination, c.rule_ids, c.feed_id)]
        if muted:
            await self._queue.mute(muted)
            for c in muted:
                stats.count(c.destination, "muted")
        return [c for c in claimed if c not in muted]

    async def _send_all(self, destination: str, batch: list[Message], sink: Sink | None, stats: DeliveryStats) -> None:
        """Send one destination's messages in order; a reply to an alert sent just before joins its thread."""
        if sink is None:
            for message in batch:
                await self._give_up(message, f"destination '{destination}' is not configured", stats)
            return
        threads: dict[int, str] = {}  # delivery id -> remote id, of this batch's alerts and briefing pages
        async with self._locks[sink.rate_key]:
            for message in batch:
                if isinstance(message, Alert) and message.reply_to is not None:
                    message = _thread(message, threads.get(message.reply_to))
                elif isinstance(message, Briefing) and message.reply_to is not None:
                    if message.reply_to not in threads:  # its first page has not gone out yet: wait for it
                        at = self._clock() + timedelta(seconds=FIRST_PAGE_WAIT)
                        await self._queue.retry(message, "waiting for the briefing's first page", at, False)
                        continue
                    message = dataclasses.replace(message, thread_ts=threads[message.reply_to], reply_to=None)
                remote_id = await self._deliver(message, sink, stats)
                if remote_id and isinstance(message, Alert | Briefing):
                    threads[message.delivery_id] = remote_id

    async def _deliver(self, message: Message, sink: Sink, stats: DeliveryStats) -> str | None:
        """Renew the lease, send the message in its slot and record the outcome.

        The lease is renewed before a slot is booked: a message another process took over while
        it waited its turn in this batch books nothing, so the shared pace is not spent on it.
        """
        if not await self._queue.hold(message):
            log.info("taken over by another process while it waited its turn; left to it", extra={"destination": message.destination})
            return None
        try:
            wait = await self._slot(sink, message)
        except _LeaseLost:
            return None
        if wait is not None:  # the rate key is paused for a while (a Retry-After, here or in another replica)
            await self._queue.retry(message, "waiting: destination rate-limited", self._clock() + timedelta(seconds=wait), False)
            stats.count(message.destination, "retried")
            return None
        started = time.monotonic()
        try:
            message, where = await self._send(message, sink)
        except DeliveryError as exc:
            await self._failed(message, sink, exc, stats)
            return None
        except _LeaseLost:
            return None
        except Exception as exc:  # a sink bug must not stop the loop; retrying may still help
            log.exception("sink raised unexpectedly", extra={"destination": message.destination})
            await self._failed(message, sink, DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True), stats)
            return None
        remote_id, channel = (where.id, where.channel) if where else (None, None)
        await self._queue.sent(message, remote_id, channel)  # first: a crash between sending and this is the one duplicate
        if self.failing.pop(message.destination, None) is not None:
            log.warning("destination recovered", extra={"destination": message.destination})
        stats.count(message.destination, "sent")
        self._observe(message.destination, "sent", time.monotonic() - started)
        log.info("%s sent", message.mode, extra={"destination": message.destination, "delivery": message.delivery_id})
        return remote_id

    async def _send(self, message: Message, sink: Sink) -> tuple[Message, Posted | None]:
        """Send; a reply whose thread is gone (its first message deleted, say) goes out on its own instead."""
        try:
            return message, await self._paced_send(sink, message)
        except DeliveryError as exc:
            if not (isinstance(message, Alert | Briefing) and message.thread_ts and exc.code == DeliveryCode.THREAD_GONE):
                raise
        log.warning("thread not found, sending on its own", extra={"destination": message.destination, "delivery": message.delivery_id})
        alone: Message = (
            dataclasses.replace(message, mode=Mode.ALERT, thread_ts=None)
            if isinstance(message, Alert)
            else dataclasses.replace(message, thread_ts=None)
        )
        if await self._slot(sink, alone) is None:
            return alone, await self._paced_send(sink, alone)
        raise DeliveryError("thread not found; the destination is paused before it can go out on its own", retryable=True)

    async def _slot(self, sink: Sink, message: Message) -> float | None:
        """Wait for the rate key's turn: a slot booked through the pacer (replicas share one pace), then the send before it.

        Returns None when the message may leave now (the pacer has marked it in flight), or, if
        the wait would be longer than `MAX_WAIT` (a pause, or a send before it that takes long),
        the seconds to wait, for the message to wait in the queue instead. A wait is added to the
        message's lease first, so that no other process claims it meanwhile.
        """
        if sink.min_interval <= 0:
            return None
        wait, booked = await self._pacer.reserve(sink.rate_key, sink.min_interval, MAX_WAIT)
        if not booked:
            return wait
        left = MAX_WAIT
        while True:
            if wait > 0:
                if wait > left:
                    return wait
                await self._wait(message, wait)
                left -= wait
            wait = await self._pacer.depart(sink.rate_key, SEND_HOLD)
            if wait <= 0:
                return None

    async def _wait(self, message: Message, seconds: float) -> None:
        """Sleep `seconds` holding the message's lease that much longer; raise _LeaseLost if another process took it."""
        if not await self._queue.hold(message, seconds):
            log.warning(
                "lease lost while waiting for a send slot; left to the process that took it over",
                extra={"destination": message.destination},
            )
            raise _LeaseLost
        await self._sleep(seconds)

    async def _paced_send(self, sink: Sink, message: Message) -> Posted | None:
        """Send (after `_slot`), then tell the pacer the send has ended, whatever its outcome."""
        try:
            return posted(await sink.send(message))
        finally:
            if sink.min_interval > 0:
                await self._pacer.arrived(sink.rate_key, sink.min_interval)

    async def _failed(self, message: Message, sink: Sink, exc: DeliveryError, stats: DeliveryStats) -> None:
        """Schedule a retry, or give up on a permanent error or too many attempts."""
        attempts = message.attempts + 1
        if not exc.retryable or attempts >= self._retry.max_attempts:
            reason = str(exc) if not exc.retryable else f"{exc} (gave up after {attempts} attempts)"
            await self._give_up(message, reason, stats)
            return
        delay = exc.retry_after if exc.retry_after is not None else self._retry.delay(attempts)
        if exc.retry_after is not None:  # one pause for every process sending with this key
            await self._pacer.pause(sink.rate_key, delay)
        await self._queue.retry(message, str(exc), self._clock() + timedelta(seconds=delay))
        stats.count(message.destination, "retried")
        self._observe(message.destination, "retried", None)
        log.warning("delivery failed, will retry: %s", exc, extra={"destination": message.destination, "delivery": message.delivery_id})

    async def _give_up(self, message: Message, reason: str, stats: DeliveryStats) -> None:
        """Dead-letter one message; a destination's permanent failure is reported once, not per alert."""
        await self._queue.dead(message, reason)
        stats.count(message.destination, "dead")
        self._observe(message.destination, "dead", None)
        extra = {"destination": message.destination, "delivery": message.delivery_id}
        if self.failing.get(message.destination) != reason:
            self.failing[message.destination] = reason
            log.error("destination failing, alerts dead-lettered until it works again: %s", reason, extra=extra)
        else:
            log.debug("delivery dead-lettered: %s", reason, extra=extra)


def messages(destination: str, plan: flood.Plan, built: Mapping[int, Alert]) -> list[Message]:
    """The messages a plan makes of built alerts: alerts on their own, thread replies, digests of `DIGEST_SIZE`."""
    out: list[Message] = [dataclasses.replace(built[i], mode=Mode.ALERT) for i in plan.alerts]
    for i, reply in plan.replies.items():
        thread = {"thread_ts": reply.thread_ts} if reply.thread_ts else {"reply_to": reply.parent_id}
        out.append(dataclasses.replace(built[i], mode=Mode.REPLY, **thread))
    entries = [built[i] for i in sorted(plan.digest)]
    for start in range(0, len(entries), DIGEST_SIZE):
        chunk = tuple(entries[start : start + DIGEST_SIZE])
        throttled = sum(1 for a in chunk if a.delivery_id in plan.throttled)
        out.append(Digest(destination, chunk, held=throttled, attempts=max(a.attempts for a in chunk)))
    return out


def _by_destination(claimed: Sequence[Claimed]) -> list[tuple[str, list[Claimed]]]:
    """Claimed deliveries grouped by destination, each group in id order."""
    ordered = sorted(claimed, key=lambda c: (c.destination, c.id))
    return [(destination, list(group)) for destination, group in groupby(ordered, key=lambda c: c.destination)]


def _pending(claimed: Sequence[Claimed]) -> list[flood.Pending]:
    """What flood control needs to know of each delivery."""
    return [flood.Pending(c.id, c.rule_ids, c.signature, c.mode, c.thread_ts, c.parent_id) for c in sorted(claimed, key=lambda c: c.id)]


def _thread(reply: Alert, thread_ts: str | None) -> Alert:
    """A reply to an alert of the same batch: into its thread, or on its own if that alert was not sent."""
    if thread_ts is None:
        return dataclasses.replace(reply, mode=Mode.ALERT, reply_to=None)
    return dataclasses.replace(reply, thread_ts=thread_ts, reply_to=None)
