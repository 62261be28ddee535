"""Aggregator links: an item whose link is a known redirector is led to the outlet's own URL before its page is read.

Known redirectors, and how each is resolved:
- Bing News (`bing.com/news/apiclick.aspx?…&url=…`), Google's `google.com/url?url=…` (Google
  Alerts feeds) and Yahoo's `r.search.yahoo.com/…/RU=…/RK=…`: the outlet's URL is in the link
  itself, so it replaces the link as the feed is read (`unwrap_feed`), before items are keyed.
- Google News (`news.google.com/rss/articles/ID`): IDs made before mid-2024 carry the URL
  (base64 of a small protobuf) and are decoded the same way. Newer IDs carry only a token, and
  the URL takes two requests to Google News: the article's page (which holds a signature and
  a timestamp, and sometimes the URL itself) and its `batchexecute` call. That is done only for
  an item whose page the article step wants (`ResolvingPages`), through the guarded fetcher,
  within the page's time budget, and remembered per link.
A link that cannot be resolved leaves the item matched on what the aggregator carried, with the
reason stored as its article detail. A resolution that leads to another redirector is followed
at most `HOPS` times. The outlet named by the feed's `<source>` is kept on the item (`Item.outlet`):
alerts show it, and "also reported by" threads name it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from service.ingest.fetch import Fetched, FetchFailed, NotModified
from service.ingest.model import Article, Item, ParsedFeed, Status
from service.ingest.parse import item_key
from service.ingest.prepare import ArticleSource
from service.ingest.sources.base import link_in

HOPS = 3
CACHE = 10_000  # links remembered
RESOLVED_TTL = 7 * 86400.0
FAILED_TTL = 600.0
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
GOOGLE_NEWS = "news.google.com"
_GN_PATH = re.compile(r"^/(?:rss/|__i/rss/rd/)?articles/([A-Za-z0-9_-]{16,})/?$")
_GN_PREFIX = b"\x08\x13\x22"  # the protobuf header every Google News article id starts with
_SIGNATURE = re.compile(r'data-n-a-sg="([^"]{1,400})"')
_TIMESTAMP = re.compile(r'data-n-a-ts="(\d{1,15})"')
_DIRECT = re.compile(r'data-n-au="(https?://[^"]{1,2000})"')


def google_news_id(link: str) -> str | None:
    """The article id of a Google News article link: on news.google.com, or any host serving Google News ids at its paths."""
    parts = urlsplit(link)
    found = _GN_PATH.match(parts.path)
    if found is None:
        return None
    if (parts.hostname or "") == GOOGLE_NEWS or _payload(found.group(1)) is not None:
        return found.group(1)
    return None


def _payload(article_id: str) -> bytes | None:
    """What a Google News id encodes: the outlet's URL (old ids) or a token (new ones, `AU_yqL…`); None if not one."""
    try:
        raw = base64.urlsafe_b64decode(article_id + "=" * (-len(article_id) % 4))
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_GN_PREFIX):
        return None
    size, at, shift = 0, len(_GN_PREFIX), 0
    while at < len(raw) and shift < 35:  # a varint: the payload's length
        size |= (raw[at] & 0x7F) << shift
        shift += 7
        at += 1
        if not raw[at - 1] & 0x80:
            break
    return raw[at : at + size]


# What a redirector link holds somewhere (any case), by the tests of `unwrap`: most links hold none and need no parsing.
_MAYBE_REDIRECTOR = re.compile(r"apiclick\.aspx|/url|/RU=|articles/", re.IGNORECASE)


def unwrap(link: str) -> str | None:
    """The outlet's URL carried inside a redirector link (Bing, Google, Yahoo, old Google News ids), or None."""
    if not _MAYBE_REDIRECTOR.search(link):  # every feed item's link comes here: a C scan instead of two URL parses
        return None
    return _unwrap_parsed(link)


def _unwrap_parsed(link: str) -> str | None:
    """`unwrap` without its quick refusal."""
    parts = urlsplit(link)
    host, path, query = (parts.hostname or "").lower(), parts.path, parse_qs(parts.query)
    target = ""
    if host.endswith("bing.com") and path.lower() == "/news/apiclick.aspx":
        target = (query.get("url") or [""])[0]
    elif re.fullmatch(r"(www\.)?google\.[a-z.]{2,8}", host) and path == "/url":
        target = (query.get("url") or query.get("q") or [""])[0]
    elif host == "r.search.yahoo.com" and "/RU=" in path:
        target = unquote(path.split("/RU=", 1)[1].split("/RK=", 1)[0])
    elif (article_id := google_news_id(link)) is not None:
        payload = _payload(article_id) or b""
        target = payload.decode("utf-8", "replace") if payload.startswith((b"http://", b"https://")) else ""
    return link_in(target) or None if target else None


def is_redirector(link: str) -> bool:
    """Whether a link leads through an aggregator rather than to the outlet."""
    return unwrap(link) is not None or google_news_id(link) is not None


def unwrap_feed(parsed: ParsedFeed) -> ParsedFeed:
    """A feed's items with redirector links that carry their target replaced by it, and " - Outlet" cut from titles."""
    return dataclasses.replace(parsed, items=[_unwrapped(item) for item in parsed.items])


def _unwrapped(item: Item) -> Item:
    """One item, led to its outlet where its link says where that is."""
    if item.outlet and item.title.endswith(f" - {item.outlet}"):
        item = dataclasses.replace(item, title=item.title[: -len(item.outlet) - 3].rstrip())
    target = unwrap(item.link) if item.link else None
    for _ in range(HOPS - 1):  # a redirector that wraps another one
        inner = unwrap(target) if target else None
        if inner is None:
            break
        target = inner
    if not target or target == item.link:
        return item
    key = item_key("", target, item.title, "") if item.key.startswith("link:") else item.key
    return dataclasses.replace(item, link=target, via=item.link, key=key)


class LinkFetcher(Protocol):
    """What resolution needs of `service.ingest.fetch.Fetcher`: GET, and POST of a form."""

    async def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None, accept: str | None = None, public_only: bool = False
    ) -> Fetched | NotModified | FetchFailed:
        """GET under the fetcher's caps."""
        ...

    async def post(self, url: str, form: Mapping[str, str], public_only: bool = False) -> Fetched | NotModified | FetchFailed:
        """POST a form under the same caps."""
        ...


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where an aggregator link leads (`url`), how that was found or why not (`detail`)."""

    url: str | None
    detail: str


class Resolver:
    """Resolves Google News article links through the guarded fetcher; remembers each link's answer."""

    def __init__(self, fetcher: LinkFetcher, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetcher = fetcher
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Resolution]] = OrderedDict()

    async def resolve(self, link: str, public_only: bool) -> Resolution:
        """The outlet's URL behind `link`, following at most HOPS redirectors; cached per link."""
        cached = self._cache.get(link)
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        found = await self._follow(link, public_only)
        self._cache[link] = (self._clock() + (RESOLVED_TTL if found.url else FAILED_TTL), found)
        self._cache.move_to_end(link)
        while len(self._cache) > CACHE:
            self._cache.popitem(last=False)
        return found

    async def _follow(self, link: str, public_only: bool) -> Resolution:
        """Resolve hop by hop until the link is no redirector's."""
        seen, current = [link], link
        for _ in range(HOPS):
            step = unwrap(current) or await self._google_news(current, public_only)
            if isinstance(step, FetchFailed):
                return Resolution(None, f"link not resolved: {step.code}: {step.message}"[:500])
            if step in seen:
                return Resolution(None, f"link not resolved: it leads back to {step}"[:500])
            seen.append(step)
            if not is_redirector(step):
                return Resolution(step, f"resolved from {link}"[:500])
            current = step
        return Resolution(None, f"link not resolved: still a redirector after {HOPS} steps ({current})"[:500])

    async def _google_news(self, link: str, public_only: bool) -> str | FetchFailed:
        """A new-style Google News id: the article page's signature and timestamp, then its batchexecute call."""
        article_id = google_news_id(link)
        if article_id is None:
            return FetchFailed("unknown", f"{link} is no known redirector")
        parts = urlsplit(link)
        page = await self._fetcher.fetch(
            urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), accept=HTML_ACCEPT, public_only=public_only
        )
        if not isinstance(page, Fetched):
            return page if isinstance(page, FetchFailed) else FetchFailed("http_304", "not modified")
        html = page.body[:2_000_000].decode("utf-8", "replace")
        direct = _DIRECT.search(html)
        if direct:
            return link_in(direct.group(1)) or FetchFailed("bad_answer", "the page's direct link is not an http(s) URL")
        signature, stamp = _SIGNATURE.search(html), _TIMESTAMP.search(html)
        if not (signature and stamp):
            return FetchFailed("bad_answer", "the Google News page holds no signature for the article")
        form = {"f.req": batch_request(article_id, int(stamp.group(1)), signature.group(1))}
        endpoint = urlunsplit((parts.scheme, parts.netloc, "/_/DotsSplashUi/data/batchexecute", "", ""))
        answer = await self._fetcher.post(endpoint, form, public_only=public_only)
        if not isinstance(answer, Fetched):
            return answer if isinstance(answer, FetchFailed) else FetchFailed("http_304", "not modified")
        return batch_answer(answer.body) or FetchFailed("bad_answer", "Google News answered without the article's URL")


def batch_request(article_id: str, timestamp: int, signature: str) -> str:
    """The `f.req` form field of Google News's `Fbv4je` call for one article (as its web page sends it)."""
    context = [["X", "X", ["X", "X"], None, None, 1, 1, "US:en", None, 1, None, None, None, None, None, 0, 1], "X", "X", 1, [1, 1, 1], 1, 1]
    inner = json.dumps(["garturlreq", [*context, None, 0, 0, None, 0], article_id, timestamp, signature], separators=(",", ":"))
    return json.dumps([[["Fbv4je", inner, None, "generic"]]], separators=(",", ":"))


def batch_answer(body: bytes) -> str | None:
    """The article URL in a `batchexecute` answer: `)]}'`, then JSON whose `wrb.fr` row holds JSON `["garturlres", URL, …]`."""
    text = body[:1_000_000].decode("utf-8", "replace")
    text = text[text.find("[") :] if "[" in text else ""
    try:
        rows = json.JSONDecoder().raw_decode(text)[0]
    except ValueError:
        return None
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, list) and len(row) > 2 and row[0] == "wrb.fr" and isinstance(row[2], str):
            try:
                inner = json.loads(row[2])
            except ValueError:
                continue
            if isinstance(inner, list) and len(inner) > 1 and inner[0] == "garturlres" and isinstance(inner[1], str):
                return link_in(inner[1]) or None
    return None


class ResolvingPages:
    """The article step, with aggregator links led to the outlet's page first (an `ArticleSource`)."""

    def __init__(
        self, pages: ArticleSource, resolver: Resolver, budget: float, links_public: Callable[[str], bool | None] = lambda url: None
    ) -> None:
        self._pages = pages
        self._resolver = resolver
        self._budget = budget
        self._links_public = links_public  # the fetcher's record of where a fetched feed's links may lead

    async def fetch(self, url: str, origin: str | None = None) -> Article:
        """The outlet's page behind `url` (`Article.via` names the aggregator link), or why there is none."""
        if not is_redirector(url):
            return await self._pages.fetch(url, origin)
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._budget):
                resolved = await self._resolver.resolve(url, origin is not None and self._public(origin))
        except TimeoutError:
            resolved = Resolution(None, f"link not resolved within {self._budget:g} s")
        if resolved.url is None:
            return Article(Status.FAILED, detail=resolved.detail, url=url, seconds=time.monotonic() - started)
        page = await self._pages.fetch(resolved.url, origin)
        return dataclasses.replace(page, url=resolved.url, via=url, detail=f"{page.detail} ({resolved.detail})"[:2000])

    def _public(self, origin: str) -> bool:
        """Whether the aggregator feed's links may lead to public addresses only: as its fetch decided (issue 22), else yes."""
        known = self._links_public(origin)
        return known if known is not None else not origin.startswith("file:")
