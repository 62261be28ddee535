"""The one place that knows the order: claim, fetch, parse, keep new items, match, store.

Delivery is the second half of the pipeline and lives in `alerts.delivery`; it reads only
what this half stored, so an alert exists only for an item that was newly stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from service import story
from service.config import Config
from service.config.schema import FeedSpec
from service.fetch import Fetched, Fetcher, FetchFailed, NotModified
from service.model import FeedSource, Item, ParsedFeed
from service.notices import Notify
from service.parse import is_feed
from service.store import NewItem, PollOutcome, Store

log = logging.getLogger("newswatch.pipeline")

MIN_INTERVAL = 60  # seconds: the floor under any feed's interval
MAX_BACKOFF = 6 * 3600  # a failing feed is retried at least this often, never abandoned
HARMLESS_WARNINGS = ("NonXMLContentType", "CharacterEncodingOverride")

Parser = Callable[[bytes, str, str, str], Awaitable[ParsedFeed]]


@dataclass
class PollStats:
    """What one pass over the due feeds did."""

    feeds: int = 0
    failed: int = 0
    not_modified: int = 0
    new_items: int = 0
    matches: int = 0
    deliveries: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)


class Pipeline:
    """Polls due feeds and stores what is new, with its matches and deliveries."""

    def __init__(
        self,
        store: Store,
        fetcher: Fetcher,
        parser: Parser,
        config: Callable[[], Config],
        clock: Callable[[], datetime],
        concurrency: int = 20,
        lease: timedelta = timedelta(minutes=5),
        observe: Callable[[str, str, float], None] | None = None,
        stored: Callable[[int, Mapping[str, int]], None] | None = None,
    ) -> None:
        self._store = store
        self._fetcher = fetcher
        self._parser = parser
        self._config = config
        self._clock = clock
        self._concurrency = concurrency
        self._lease = lease
        self._observe = observe or (lambda feed, outcome, seconds: None)
        self._stored = stored or (lambda items, rules: None)
        self._unchanged: list[tuple[str, PollOutcome]] = []  # 304s, recorded in batches

    @property
    def batch(self) -> int:
        """Feeds claimed at once: enough to keep every slot busy, few enough to finish well within the lease."""
        return self._concurrency * 2

    async def poll_due(self, force: bool = False, limit: int | None = None) -> PollStats:
        """Claim due feeds (every feed with `force`) and poll them concurrently."""
        stats = PollStats()
        limit = limit or self.batch
        sources = await self._store.claim_feeds(self._clock(), limit, self._lease, force=force)
        gate = asyncio.Semaphore(self._concurrency)

        async def one(source: FeedSource) -> None:
            async with gate:
                stats.outcomes[source.id] = await self.poll_feed(source, stats)

        try:
            await asyncio.gather(*(one(s) for s in sources))
        finally:
            await self._flush_unchanged()
        stats.feeds = len(sources)
        return stats

    async def _flush_unchanged(self) -> None:
        """Record the buffered 'not modified' polls (a crash before this only means polling them again)."""
        batch, self._unchanged = self._unchanged, []
        await self._store.save_unchanged(batch, self._clock(), self._notify())

    async def poll_feed(self, source: FeedSource, stats: PollStats) -> str:
        """Poll one feed; every failure is recorded on the feed and never escapes."""
        spec = self._config().feed(source.id)
        if spec is None:
            await self._store.release_feed(source.id)
            return "removed"
        started = self._clock()
        try:
            outcome = await self._poll(source, spec, stats)
        except Exception as exc:  # one broken feed must never stop the others
            log.exception("poll failed unexpectedly", extra={"feed": source.id})
            await self._fail(source, spec, FetchFailed("internal", f"{type(exc).__name__}: {exc}"), stats)
            outcome = "internal"
        self._observe(source.id, outcome, (self._clock() - started).total_seconds())
        return outcome

    async def _poll(self, source: FeedSource, spec: FeedSpec, stats: PollStats) -> str:
        """Fetch, parse, keep the new items, match them and store everything in one go."""
        result = await self._fetcher.fetch(source.url, source.etag, source.last_modified)
        if isinstance(result, FetchFailed):
            return await self._fail(source, spec, result, stats)
        if isinstance(result, NotModified):
            stats.not_modified += 1
            state = PollOutcome(
                result.etag or source.etag, result.last_modified or source.last_modified, self._next_poll(spec, result.max_age)
            )
            self._unchanged.append((source.id, state))
            if len(self._unchanged) >= 500:
                await self._flush_unchanged()
            return "not_modified"
        parsed = await self._parser(result.body, result.url, source.id, result.content_type)
        if not is_feed(parsed):
            return await self._fail(source, spec, FetchFailed("not_a_feed", "; ".join(parsed.warnings)[:500]), stats)
        new = await self._new_items(source, parsed.items)
        found = self._match(source, spec, new, parsed.items)
        saved = await self._store.save_poll(source.id, found, self._outcome(source, spec, result, parsed), self._clock(), self._notify())
        self._stored(saved.items, saved.rules)
        stats.new_items += saved.items
        stats.matches += saved.matches
        stats.deliveries += saved.deliveries
        log.info("polled: %d new items, %d matches", saved.items, saved.matches, extra={"feed": source.id})
        return "ok"

    async def _new_items(self, source: FeedSource, found: list[Item]) -> list[Item]:
        """The items not stored yet, each key once (a feed may repeat a guid).

        An item whose guid is new but whose link is already stored is the same story with a
        changed guid (a CMS migration, say): it is not new.
        """
        unique = list({item.key: item for item in reversed(found)}.values())[::-1]
        if not source.caught_up:  # never stored anything: nothing to look up (the insert still skips known keys)
            return unique
        keys, links = await self._store.known(source.id, [i.key for i in unique], [i.link for i in unique])
        return [i for i in unique if i.key not in keys and not (i.link and i.link in links)]

    def _match(self, source: FeedSource, spec: FeedSpec, new: list[Item], everything: list[Item]) -> list[NewItem]:
        """Match new items and decide which may alert: not the first poll's backlog, not old news.

        Items that may alert get a story fingerprint, for threading the same story from other outlets.
        """
        ruleset = self._config().ruleset
        now = self._clock()
        allowed = self._first_poll_allowance(source, spec, new)
        out = []
        for item in new:
            suppressed = None
            if item.key not in allowed:
                suppressed = "first_poll"
            elif spec.max_age is not None and item.published and item.published < now - timedelta(seconds=spec.max_age):
                suppressed = "too_old"
            out.append(NewItem(item, ruleset.match(item, spec.tags), suppressed))
        alerting = {n.item.key for n in out if n.matches and n.suppressed is None}
        prints = story.fingerprints([(i.key, i.title, i.summary, i.content) for i in everything], alerting)
        return [dataclasses.replace(n, signature=prints.get(n.item.key)) for n in out]

    def _first_poll_allowance(self, source: FeedSource, spec: FeedSpec, new: list[Item]) -> set[str]:
        """Keys that may alert: all after the first poll; the newest N on it."""
        if source.caught_up or spec.first_poll_alerts == "all":
            return {i.key for i in new}
        newest = sorted(new, key=lambda i: i.published or self._clock(), reverse=True)
        return {i.key for i in newest[: spec.first_poll_alerts]}

    def _outcome(self, source: FeedSource, spec: FeedSpec, result: Fetched, parsed: ParsedFeed) -> PollOutcome:
        """The feed's state after a successful fetch."""
        warnings = [w for w in parsed.warnings if not w.startswith(HARMLESS_WARNINGS)]
        if result.moved_to:
            log.warning("feed moved permanently to %s", result.moved_to, extra={"feed": source.id})
        ttl = max(result.max_age or 0, parsed.ttl_seconds or 0) or None
        return PollOutcome(
            etag=result.etag,
            last_modified=result.last_modified,
            next_poll_at=self._next_poll(spec, ttl),
            fetch_url=result.moved_to or (source.url if source.url != spec.url else None),
            warning="; ".join(warnings)[:2000] or None,
        )

    def _notify(self) -> Notify | None:
        """Where "feed failing" and "recovered" notices go, if the config names an operations destination."""
        ops = self._config().rules_file.operations
        return Notify(ops.destination, ops.after_failures) if ops else None

    def _next_poll(self, spec: FeedSpec, hint: int | None = None) -> datetime:
        """Interval (or the server's longer hint, capped at 6 h) with ±10 % jitter, at least a minute."""
        seconds = max(MIN_INTERVAL, spec.interval, min(hint or 0, MAX_BACKOFF))
        return self._clock() + timedelta(seconds=seconds * random.uniform(0.9, 1.1))

    async def _fail(self, source: FeedSource, spec: FeedSpec, failure: FetchFailed, stats: PollStats) -> str:
        """Record a failure with exponential backoff (or the server's Retry-After)."""
        stats.failed += 1
        now = self._clock()
        status = "gone" if failure.gone else "error"

        def backoff(failures: int) -> datetime:
            base = max(MIN_INTERVAL, spec.interval) * 2 ** min(failures - 1, 20)
            delay = failure.retry_after if failure.retry_after is not None else base
            return now + timedelta(seconds=min(MAX_BACKOFF, delay) * random.uniform(1.0, 1.1))

        failures = await self._store.record_failure(source.id, f"{failure.code}: {failure.message}", now, backoff, status, self._notify())
        log.warning("poll failed (%d in a row): %s: %s", failures, failure.code, failure.message, extra={"feed": source.id})
        return failure.code
