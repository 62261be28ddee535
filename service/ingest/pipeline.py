"""The one place that knows the order: claim, read (fetch and parse), keep new items, prepare and match, route, store.

Reading is the source's kind's (`service.ingest.sources`: a feed, a news sitemap, a listing page).

Delivery is the second half of the pipeline and lives in `alerts.delivery`; it reads only
what this half stored, so an alert exists only for an item that was newly stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.display import shown_url
from alerts.queue import Muter
from service.config import Config, types
from service.config.schema import FeedSpec
from service.ingest import story
from service.ingest.fetch import Fetched, Fetcher, FetchFailed, NotModified
from service.ingest.model import FAILURES, FeedSource, Item, ParsedFeed, Status
from service.ingest.parse import is_feed
from service.ingest.prepare import ArticleSource, prepare, unmatched
from service.ingest.route import NOTHING_MUTED, route, suppression
from service.ingest.sources import Sources
from service.settings import Settings
from service.storage.feeds import Feeds, PollOutcome
from service.storage.items import Items, NewItem
from service.storage.notices import Notify
from service.storage.polls import PollWrite
from service.storage.writer import Writer

log = logging.getLogger("newswatch.pipeline")

MIN_INTERVAL = types.MIN_INTERVAL  # seconds: the floor under any wait before a poll (the config refuses shorter intervals)
MAX_BACKOFF = 6 * 3600  # a failing feed is retried at least this often, never abandoned
HARMLESS_WARNINGS = ("NonXMLContentType", "CharacterEncodingOverride")

Parser = Callable[[bytes, str, str, str, str | None], Awaitable[ParsedFeed]]  # body, url, feed id, content type, time zone


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
        feeds: Feeds,
        items: Items,
        fetcher: Fetcher,
        parser: Parser,
        config: Callable[[], Config],
        clock: Callable[[], datetime],
        muter: Muter,
        concurrency: int = 20,
        lease: timedelta = timedelta(seconds=Settings.model_fields["lease_seconds"].default),
        observe: Callable[[str, str, float], None] | None = None,
        stored: Callable[[int, Mapping[str, int]], None] | None = None,
        articles: ArticleSource | None = None,
        article_tried: Callable[[str, float], None] | None = None,
        sources: Sources | None = None,
    ) -> None:
        self._feeds = feeds
        self._items = items
        self._fetcher = fetcher
        self._parser = parser
        self._config = config
        self._clock = clock
        self._muter = muter
        self._concurrency = concurrency
        self._lease = lease
        self._observe = observe or (lambda feed, outcome, seconds: None)
        self._stored = stored or (lambda items, rules: None)
        self._articles = articles
        self._article_tried = article_tried or (lambda status, seconds: None)
        self._unchanged: list[tuple[str, PollOutcome]] = []  # 304s, recorded in batches
        self._sources = sources or Sources(fetcher, parser)
        self._writer = Writer(items.engine)  # finished polls share transactions

    @property
    def batch(self) -> int:
        """Feeds claimed at once: enough to keep every slot busy, few enough to finish well within the lease."""
        return self._concurrency * 2

    async def poll_due(self, force: bool = False, limit: int | None = None) -> PollStats:
        """Claim due feeds (every feed with `force`) and poll them concurrently."""
        stats = PollStats()
        limit = limit or self.batch
        sources = await self._feeds.claim(self._clock(), limit, self._lease, force=force)
        gate = asyncio.Semaphore(self._concurrency)

        async def one(source: FeedSource) -> None:
            stats.outcomes[source.id] = await self.poll_feed(source, stats, gate)

        try:
            await asyncio.gather(*(one(s) for s in sources))
        finally:
            await self._flush_unchanged()
        stats.feeds = len(sources)
        return stats

    async def _flush_unchanged(self) -> None:
        """Record the buffered 'not modified' polls (a crash before this only means polling them again)."""
        batch, self._unchanged = self._unchanged, []
        await self._feeds.save_unchanged(batch, self._clock(), self._notify())

    async def poll_feed(self, source: FeedSource, stats: PollStats, gate: asyncio.Semaphore | None = None) -> str:
        """Poll one feed (reading under `gate`, if given); every failure is recorded on the feed and never escapes."""
        spec = self._config().feed(source.id)
        if spec is None:
            await self._feeds.release(source.id)
            return "removed"
        started = self._clock()
        try:
            outcome = await self._poll(source, spec, stats, gate or contextlib.nullcontext())
        except Exception as exc:  # one broken feed must never stop the others
            log.exception("poll failed unexpectedly", extra={"feed": source.id})
            await self._fail(source, spec, FetchFailed("internal", f"{type(exc).__name__}: {exc}"), stats)
            outcome = "internal"
        self._observe(source.id, outcome, (self._clock() - started).total_seconds())
        return outcome

    # --- storage: reading holds a slot of the gate; storing waits for the batch writer outside it (issue 28) ---
    async def _poll(self, source: FeedSource, spec: FeedSpec, stats: PollStats, gate: AbstractAsyncContextManager[Any]) -> str:
        """Read, keep and match new items (holding a slot), then store everything in one go with other feeds' polls."""
        async with gate:
            read = await self._read(source, spec, stats)
        if isinstance(read, str):
            return read
        saved = await self._writer.save(read)
        self._stored(saved.items, saved.rules)
        stats.new_items += saved.items
        stats.matches += saved.matches
        stats.deliveries += saved.deliveries
        log.info("polled: %d new items, %d matches", saved.items, saved.matches, extra={"feed": source.id})
        return "ok"

    # --- end of storage ---
    async def _read(self, source: FeedSource, spec: FeedSpec, stats: PollStats) -> str | PollWrite:
        """Read (fetch and parse), keep the new items and match them: what to store, or the outcome of a poll with nothing to store."""
        result = await self._sources.read(source, spec)
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
        fetched, parsed = result.fetched, result.parsed
        if not is_feed(parsed):
            return await self._fail(source, spec, FetchFailed("not_a_feed", "; ".join(parsed.warnings)[:500]), stats)
        new = await self._new_items(source, parsed.items)
        found = await self._prepare(source, spec, new, parsed.items)
        outcome = dataclasses.replace(self._outcome(source, spec, fetched, parsed), **_article_state(source, found, self._clock()))
        return PollWrite(source.id, found, outcome, self._clock(), self._notify())

    async def _new_items(self, source: FeedSource, found: list[Item]) -> list[Item]:
        """The items not stored yet, each key once (a feed may repeat a guid).

        An item whose guid is new but whose link is already stored is the same story with a
        changed guid (a CMS migration, say): it is not new.
        """
        unique = list({item.key: item for item in reversed(found)}.values())[::-1]
        if not source.caught_up:  # never stored anything: nothing to look up (the insert still skips known keys)
            return unique
        keys, links = await self._items.known(source.id, [i.key for i in unique], [i.link for i in unique])
        return [i for i in unique if i.key not in keys and not (i.link and i.link in links)]

    async def _prepare(self, source: FeedSource, spec: FeedSpec, new: list[Item], everything: list[Item]) -> list[NewItem]:
        """Prepare and match new items (article pages where wanted), then route their matches.

        A new feed's first poll's backlog (beyond `first_poll_alerts`) is stored unmatched; old
        news is matched but does not alert. Items that may alert get a story fingerprint, for
        threading the same story from other outlets.
        """
        now, config = self._clock(), self._config()
        context = dataclasses.replace(spec.context(), url=source.url)  # where it was fetched from: its links' network is known there
        allowed = self._first_poll_allowance(source, spec, new)
        # --- a new feed's silent backlog is stored unmatched: it can never alert (issue 28, docs/performance.md) ---
        backlog = [
            NewItem(p.item, [], article=p.article, unmatched=True) for p in unmatched([i for i in new if i.key not in allowed], context)
        ]
        new = [i for i in new if i.key in allowed]
        # --- end of the backlog ---
        suppressed = {i.key: suppression(i, context, now) for i in new}
        prepared = await prepare(
            new,
            config.ruleset,
            context,
            self._articles,
            may_alert=lambda item: suppressed[item.key] is None,
            paused=_paused(source, now),
        )
        mutes = await self._muter.mutes() if any(p.matches for p in prepared) else NOTHING_MUTED
        routed = [route(source.id, p.matches, suppressed[p.item.key], mutes, config.delivery_of, context.demo) for p in prepared]
        out = [NewItem(p.item, p.matches, r, p.article) for p, r in zip(prepared, routed, strict=True)] + backlog
        for p in prepared:
            if p.article.status in FAILURES or (p.article.status is Status.FETCHED and p.article.seconds):
                self._article_tried(p.article.status.value, p.article.seconds)
        alerting = {n.item.key for n in out if n.routed.routes}
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
            moved = result.moved_to if self._config().full_urls else shown_url(result.moved_to)
            log.warning("feed moved permanently to %s", moved, extra={"feed": source.id})
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
        """Record a failure with exponential backoff (or the server's Retry-After).

        The backoff starts from the feed's interval, or from a minute until the feed's first
        success: one blip must not hold a new feed's first items back for a whole interval.
        """
        stats.failed += 1
        now = self._clock()
        status = "gone" if failure.gone else "error"
        start = max(MIN_INTERVAL, spec.interval) if source.caught_up else MIN_INTERVAL

        def backoff(failures: int) -> datetime:
            base = start * 2 ** min(failures - 1, 20)
            delay = failure.retry_after if failure.retry_after is not None else base
            return now + timedelta(seconds=min(MAX_BACKOFF, delay) * random.uniform(1.0, 1.1))

        failures = await self._feeds.record_failure(source.id, f"{failure.code}: {failure.message}", now, backoff, status, self._notify())
        log.warning("poll failed (%d in a row): %s: %s", failures, failure.code, failure.message, extra={"feed": source.id})
        return failure.code


ARTICLE_PAUSE_AFTER = 3  # polls in a row whose article pages all failed before a feed's pages are paused
ARTICLE_PAUSE = 600  # seconds of the first pause; it doubles, up to MAX_BACKOFF


def _paused(source: FeedSource, now: datetime) -> str | None:
    """Why this feed's article pages are not fetched now, if they are not."""
    if source.article_retry_at and now < source.article_retry_at:
        return f"article pages paused until {source.article_retry_at:%Y-%m-%d %H:%M} UTC after {source.article_failures} failed polls"
    return None


def _article_state(source: FeedSource, found: list[NewItem], now: datetime) -> dict[str, Any]:
    """The feed's article-page state after a poll: reset by a page that worked, counted up when every page failed."""
    tried = [n.article for n in found if n.article and (n.article.status in FAILURES or n.article.status is Status.FETCHED)]
    if any(a.status is Status.FETCHED for a in tried):
        return {"article_failures": 0, "article_error": None, "article_retry_at": None}
    if not tried:
        return {"article_failures": source.article_failures, "article_retry_at": source.article_retry_at}
    failures = source.article_failures + 1
    pause = None
    if failures >= ARTICLE_PAUSE_AFTER:
        pause = now + timedelta(seconds=min(MAX_BACKOFF, ARTICLE_PAUSE * 2 ** (failures - ARTICLE_PAUSE_AFTER)))
    error = next(a for a in reversed(tried) if a.status in FAILURES)
    return {"article_failures": failures, "article_error": f"{error.status}: {error.detail}"[:2000], "article_retry_at": pause}
