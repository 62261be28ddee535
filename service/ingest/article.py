"""Whole-article text: an item's page fetched politely and reduced to its main text, within a time budget.

It sits between "new items only" and "match" (see `service.ingest.prepare`): many feeds carry
a headline and one sentence, and the sentence that makes a story relevant is often in
paragraph six. A page is fetched through the feed fetcher (same client, User-Agent, per-host
cap, size and decompression caps, redirects), after robots.txt allows it, no sooner than
`pace` seconds after the last page of that host; its main text is extracted by trafilatura
in the parse workers (navigation, related-article lists, comments and footers left out).
A link from a feed on a public address may lead to public addresses only (`service.ingest.guard`).

Nothing here raises: every outcome is an `Article` whose `status` says what happened, so the
item is matched on what the feed carried whenever the page cannot help.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from service.ingest.extract import MIN_TEXT, Extracted
from service.ingest.fetch import Fetched, FetchFailed, NotModified
from service.ingest.guard import Guard
from service.ingest.model import Article, Status

HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
ROBOTS_TTL = 24 * 3600.0
ORIGIN_TTL = 600.0  # seconds a feed host's "public or not" is remembered


class PageFetcher(Protocol):
    """The part of `service.ingest.fetch.Fetcher` that articles use."""

    async def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None, accept: str | None = None, public_only: bool = False
    ) -> Fetched | NotModified | FetchFailed:
        """GET a URL under the fetcher's caps."""
        ...


Extractor = Callable[[bytes, str, str], Awaitable[Extracted]]


class Robots:
    """robots.txt of each host, read once a day; 4xx means everything is allowed, an unreachable one nothing for now."""

    def __init__(self, fetcher: PageFetcher, user_agent: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetcher = fetcher
        self._agent = user_agent.split("/")[0]
        self._clock = clock
        self._cache: dict[str, tuple[float, object | None, bool]] = {}  # origin -> (read at, parser, reachable)
        self._locks: dict[str, asyncio.Lock] = {}

    async def allowed(self, url: str, public_only: bool = False) -> bool:
        """Whether this service may fetch `url` (RFC 9309)."""
        parts = urlsplit(url)
        origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        async with self._locks.setdefault(origin, asyncio.Lock()):
            cached = self._cache.get(origin)
            if cached is None or self._clock() - cached[0] > (ROBOTS_TTL if cached[2] else 600):
                cached = self._cache[origin] = await self._read(origin, public_only)
        _, parser, reachable = cached
        if parser is None:
            return reachable  # 4xx: no rules, everything allowed; 5xx or unreachable: nothing, for now
        return bool(parser.can_fetch(url, self._agent))  # type: ignore[attr-defined]

    async def _read(self, origin: str, public_only: bool) -> tuple[float, object | None, bool]:
        """Fetch and parse one robots.txt."""
        from protego import Protego  # a small pure-Python parser; imported on first use

        result = await self._fetcher.fetch(origin + "/robots.txt", accept="text/plain", public_only=public_only)
        now = self._clock()
        if isinstance(result, Fetched):
            return now, Protego.parse(result.body[:500_000].decode("utf-8", errors="replace")), True
        if isinstance(result, FetchFailed) and result.code.startswith("http_4"):
            return now, None, True
        return now, None, False


class Articles:
    """Fetches and extracts article pages; one instance per process, shared by all feeds."""

    def __init__(
        self,
        fetcher: PageFetcher,
        extract: Extractor,
        user_agent: str,
        budget: float = 20.0,
        pace: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        guard: Guard | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._guard = guard or Guard()
        self._origins: dict[str, tuple[float, bool]] = {}  # feed host -> (checked at, public)
        self._extract = extract
        self.robots = Robots(fetcher, user_agent, clock)
        self.budget = budget
        self._pace = pace
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}  # host -> earliest start of its next page

    async def fetch(self, url: str, origin: str | None = None) -> Article:
        """The main text of the page at `url`, or why there is none; never longer than the budget.

        `origin` is the feed the link came from: a feed on a public address may lead only to
        public pages. Without it (a URL a person gave `rules test`) any address is allowed.
        """
        started = self._clock()
        if urlsplit(url).scheme not in ("http", "https"):
            return Article(Status.FAILED, detail="not an http(s) link", url=url)
        try:
            async with asyncio.timeout(self.budget):
                article = await self._fetch(url, origin is not None and await self._public_origin(origin))
        except TimeoutError:
            article = Article(Status.TIMEOUT, detail=f"no article within {self.budget:g} s", url=url)
        return Article(article.status, article.text, article.detail, article.url or url, self._clock() - started)

    async def _public_origin(self, origin: str) -> bool:
        """Whether the feed at `origin` is on a public address (remembered per host for a while)."""
        host = urlsplit(origin).netloc.lower() if origin.startswith(("http:", "https:")) else ""
        cached = self._origins.get(host)
        if host and (cached is None or self._clock() - cached[0] > ORIGIN_TTL):
            cached = self._origins[host] = (self._clock(), await self._guard.is_public_url(origin))
        return bool(cached and cached[1])

    async def _fetch(self, url: str, public_only: bool) -> Article:
        """Check the address, robots, pace, fetch, extract."""
        if public_only and (refused := await self._guard.refusal(url)):
            return Article(Status.FAILED, detail=f"not fetched: the feed is public and {refused}", url=url)
        if not await self.robots.allowed(url, public_only):
            return Article(Status.BLOCKED, detail="robots.txt disallows it", url=url)
        await self._wait_turn(urlsplit(url).netloc.lower())
        result = await self._fetcher.fetch(url, accept=HTML_ACCEPT, public_only=public_only)
        if isinstance(result, FetchFailed):
            return Article(Status.FAILED, detail=f"{result.code}: {result.message}", url=url)
        if not isinstance(result, Fetched):
            return Article(Status.FAILED, detail="the server answered 'not modified' to a plain request", url=url)
        if not _looks_like_html(result.body, result.content_type):
            return Article(Status.FAILED, detail=f"not an HTML page ({result.content_type or 'no content type'})", url=result.url)
        found = await self._extract(result.body, result.url, result.content_type)
        if not found.text:
            return Article(Status.FAILED, detail="no article text found", url=result.url)
        if found.short:
            return Article(Status.SHORT, detail=f"only {len(found.text)} characters of text (under {MIN_TEXT}): not used", url=result.url)
        how = " (recall setting: the precise text was short)" if found.setting == "recall" else ""
        return Article(Status.FETCHED, found.text, f"extracted {len(found.text):,} characters from {result.url}{how}", result.url)

    async def _wait_turn(self, host: str) -> None:
        """Start no sooner than `pace` seconds after this host's previous page."""
        now = self._clock()
        start = max(now, self._next.get(host, now))
        self._next[host] = start + self._pace
        if start > now:
            await self._sleep(start - now)


def _looks_like_html(body: bytes, content_type: str) -> bool:
    """An HTML page by its declared type, or by its first bytes when the type says nothing useful."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml"):
        return True
    if kind and kind not in ("application/octet-stream", "text/plain"):
        return False
    return b"<html" in body[:2048].lower() or b"<!doctype html" in body[:2048].lower()
