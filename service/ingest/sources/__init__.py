"""Where a feed's items come from: an RSS/Atom/JSON feed, a news sitemap, or a listing page (one module each).

Every kind reads its documents through the guarded fetcher (`service.ingest.fetch`), parses them
off the event loop, and hands the pipeline the same `Read`: the main document's fetch (whose
validators make the next poll conditional) and a `ParsedFeed` whose items are keyed by guid or
canonical link. From there every item takes the same road: new items only, the article step,
prepare → match → route, store. "Nothing new" is `NotModified`; a failure is a coded
`FetchFailed`, recorded on that source alone.
"""

from __future__ import annotations

from service.config.schema import FeedSpec
from service.ingest.model import FeedSource
from service.ingest.sources.base import DocumentFetcher, Offload, Read, ReadResult, in_thread
from service.ingest.sources.feed import FeedReader, Parser
from service.ingest.sources.listing import ListingReader
from service.ingest.sources.sitemap import SitemapReader

__all__ = ["Read", "ReadResult", "Sources"]


class Sources:
    """Reads a source of any kind; one per process (the sitemap reader remembers robots.txt and child sitemaps)."""

    def __init__(self, fetcher: DocumentFetcher, parser: Parser, offload: Offload = in_thread) -> None:
        self._feeds = FeedReader(fetcher, parser)
        self._sitemaps = SitemapReader(fetcher, offload)
        self._listings = ListingReader(fetcher, offload)

    async def read(self, source: FeedSource, spec: FeedSpec) -> ReadResult:
        """The source's items as its kind reads them."""
        if spec.kind == "sitemap":
            return await self._sitemaps.read(source, spec.sitemap, spec.network)
        if spec.kind == "listing":
            return await self._listings.read(source, spec.listing, spec.network)
        return await self._feeds.read(source, spec)
