"""Whole-article text: an item's page fetched politely and reduced to its main text, within a time budget.

It sits between "new items only" and "match" (see `service.ingest.prepare`): many feeds carry
a headline and one sentence, and the sentence that makes a story relevant is often in
paragraph six. A page is fetched through the feed fetcher (same client, User-Agent, per-host
cap, size and decompression caps, redirects), after robots.txt allows it, no sooner than
`pace` seconds after the last page of that host; its main text is extracted by trafilatura
in worker processes (navigation, related-article lists, comments and footers left out), one
page of a host at a time, and a page still extracting when its budget runs out is stopped
with its worker (extraction can take minutes on a hostile page), so one site holds one worker.
A link from a feed fetched from a public address may lead to public addresses only (`service.ingest.guard`).

Nothing here raises: every outcome is an `Article` whose `status` says what happened, so the
item is matched on what the feed carried whenever the page cannot help.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from alerts.display import urls_shown
from service.ingest.client import url_problem
from service.ingest.extract import MIN_TEXT, Extracted
from service.ingest.fetch import Fetched, FetchFailed, NotModified
from service.ingest.guard import Guard
from service.ingest.model import Article, Status

HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
ROBOTS_TTL = 24 * 3600.0
log = logging.getLogger("newswatch.articles")


class PageFetcher(Protocol):
    """The part of `service.ingest.fetch.Fetcher` that articles use."""

    async def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None, accept: str | None = None, public_only: bool = False
    ) -> Fetched | NotModified | FetchFailed:
        """GET a URL under the fetcher's caps."""
        ...

    def links_public(self, url: str) -> bool | None:
        """Whether the links of the document fetched from `url` may lead to public addresses only (None: not fetched)."""
        ...


Extractor = Callable[[bytes, str, str], Awaitable[Extracted]]


UNAVAILABLE = ("http_4", "redirect", "invalid_url")  # robots.txt failures that RFC 9309 reads as "no rules"


class Robots:
    """robots.txt of each host, read once a day; 4xx means everything is allowed, an unreachable one nothing for now."""

    def __init__(self, fetcher: PageFetcher, user_agent: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetcher = fetcher
        self._agent = user_agent.split("/")[0]
        self._clock = clock
        self._cache: dict[str, tuple[float, object | None, str | None]] = {}  # origin -> (read at, parser, why unreachable)
        self._locks: dict[str, asyncio.Lock] = {}

    async def refusal(self, url: str, public_only: bool = False) -> str | None:
        """Why this service may not fetch `url` now (RFC 9309), or None if it may."""
        parts = urlsplit(url)
        origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        async with self._locks.setdefault(origin, asyncio.Lock()):
            cached = self._cache.get(origin)
            if cached is None or self._clock() - cached[0] > (ROBOTS_TTL if cached[2] is None else 600):
                cached = self._cache[origin] = await self._read(origin, public_only)
        _, parser, unreachable = cached
        if parser is None:  # no rules (4xx) means everything; an unreachable robots.txt nothing, for now
            return f"robots.txt could not be read ({unreachable}): not now" if unreachable else None
        return None if parser.can_fetch(url, self._agent) else "robots.txt disallows it"  # type: ignore[attr-defined]

    async def allowed(self, url: str, public_only: bool = False) -> bool:
        """Whether this service may fetch `url` now."""
        return await self.refusal(url, public_only) is None

    async def _read(self, origin: str, public_only: bool) -> tuple[float, object | None, str | None]:
        """Fetch and parse one robots.txt."""
        from protego import Protego  # a small pure-Python parser; imported on first use

        result = await self._fetcher.fetch(origin + "/robots.txt", accept="text/plain", public_only=public_only)
        now = self._clock()
        if isinstance(result, Fetched):
            return now, Protego.parse(result.body[:500_000].decode("utf-8", errors="replace")), None
        if isinstance(result, FetchFailed) and result.code.startswith(UNAVAILABLE):
            return now, None, None
        return now, None, f"{result.code}: {result.message}" if isinstance(result, FetchFailed) else "not modified"


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
        full_urls: Callable[[], bool] = lambda: False,
    ) -> None:
        self._fetcher = fetcher
        self._guard = guard or Guard()
        self._full_urls = full_urls  # else URLs in details lose their query string and user:password
        self._extract = extract
        self.robots = Robots(fetcher, user_agent, clock)
        self.budget = budget
        self._pace = pace
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}  # host -> earliest start of its next page
        self._extracting: dict[str, asyncio.Lock] = {}  # host -> held while one of its pages is extracted

    async def fetch(self, url: str, origin: str | None = None) -> Article:
        """The main text of the page at `url`, or why there is none; never longer than the budget.

        `origin` is the URL of the feed the link came from: the links of a feed fetched from a
        public address (or set `network: public`) may lead only to public pages. Without it (a URL
        a person gave `rules test`) any address is allowed.
        """
        started, steps = self._clock(), [""]
        try:
            async with asyncio.timeout(self.budget):
                article = await self._fetch(url, origin is not None and self._public_origin(origin), steps)
        except TimeoutError:
            stopped = " (its extraction was stopped)" if steps[-1] == "extract" else ""
            article = Article(Status.TIMEOUT, detail=f"no article within {self.budget:g} s{stopped}", url=url)
        except Exception as exc:  # one item's page never fails another item or its feed
            log.warning("article page failed unexpectedly: %s: %s", type(exc).__name__, exc, exc_info=exc)
            article = Article(Status.FAILED, detail=f"unexpected error: {type(exc).__name__}: {exc}"[:300], url=url)
        detail = article.detail if self._full_urls() else urls_shown(article.detail)
        return Article(article.status, article.text, detail, article.url or url, self._clock() - started)

    def _public_origin(self, origin: str) -> bool:
        """Whether the links of the feed at `origin` may lead to public addresses only: as its fetch decided, else yes."""
        known = self._fetcher.links_public(origin)
        return known if known is not None else not origin.startswith("file:")

    async def _fetch(self, url: str, public_only: bool, steps: list[str]) -> Article:
        """Check the link and its address, robots, pace, fetch, extract (noting the step reached in `steps`)."""
        if problem := url_problem(url):
            return Article(Status.FAILED, detail=f"invalid_url: {problem}", url=url)
        if public_only and (refused := await self._guard.refusal(url)):
            return Article(Status.FAILED, detail=f"not fetched: the feed is public and {refused}", url=url)
        if disallowed := await self.robots.refusal(url, public_only):
            return Article(Status.BLOCKED, detail=disallowed, url=url)
        await self._wait_turn(urlsplit(url).netloc.lower())
        result = await self._fetcher.fetch(url, accept=HTML_ACCEPT, public_only=public_only)
        if isinstance(result, FetchFailed):
            return Article(Status.FAILED, detail=f"{result.code}: {result.message}", url=url)
        if not isinstance(result, Fetched):
            return Article(Status.FAILED, detail="the server answered 'not modified' to a plain request", url=url)
        if not _looks_like_html(result.body, result.content_type):
            return Article(Status.FAILED, detail=f"not an HTML page ({result.content_type or 'no content type'})", url=result.url)
        async with self._extracting.setdefault(urlsplit(url).netloc.lower(), asyncio.Lock()):  # one host's pages one at a time
            steps.append("extract")
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
