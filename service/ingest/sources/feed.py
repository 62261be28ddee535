"""`kind: feed` (the default): an RSS, Atom or JSON feed, fetched conditionally and parsed in the workers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from service.config.schema import FeedSpec
from service.ingest.fetch import Fetched
from service.ingest.model import FeedSource, ParsedFeed
from service.ingest.sources.aggregator import unwrap_feed
from service.ingest.sources.base import DocumentFetcher, Read, ReadResult

Parser = Callable[[bytes, str, str, str, str | None], Awaitable[ParsedFeed]]  # (body, url, feed id, content type, timezone)


class FeedReader:
    """Fetch and parse one feed; aggregator links that carry the outlet's URL are led to it (`aggregator.unwrap_feed`)."""

    def __init__(self, fetcher: DocumentFetcher, parser: Parser) -> None:
        self._fetcher = fetcher
        self._parser = parser

    async def read(self, source: FeedSource, spec: FeedSpec) -> ReadResult:
        """The feed's items, or "not modified", or why it failed."""
        result = await self._fetcher.fetch(source.url, source.etag, source.last_modified, network=spec.network)
        if not isinstance(result, Fetched):
            return result
        parsed = await self._parser(result.body, result.url, source.id, result.content_type, spec.timezone)
        return Read(result, unwrap_feed(parsed))
