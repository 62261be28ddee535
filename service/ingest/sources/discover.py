"""What a site offers newswatch: the feeds it advertises or serves at common paths, its sitemaps, and its page as a listing.

`newswatch feeds discover URL` prints what this finds as ready-to-paste feeds.yaml entries. The
URL given is fetched as the operator's (like a feed's URL); everything found in it (feed links,
robots.txt sitemaps, common paths) is page content, and is fetched from public addresses only
when the page is on one (`service.ingest.guard`), as article links are.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit, urlunsplit

from service.ingest.fetch import Fetched, FetchFailed
from service.ingest.parse import is_feed, parse_feed, sniff
from service.ingest.sources.base import DocumentFetcher, link_in
from service.ingest.sources.listing import parse_listing
from service.ingest.sources.sitemap import ACCEPT, Refused, parse_sitemap

FEED_PATHS = ("/feed", "/rss", "/feed.xml", "/rss.xml", "/atom.xml", "/index.xml", "/feed/", "/rss/", "/?feed=rss2")
SITEMAP_PATHS = ("/news-sitemap.xml", "/sitemap_news.xml", "/sitemap-news.xml", "/sitemap.xml")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json", "application/rdf+xml")
LISTING_MIN = 3  # article links a page needs before it is offered as a listing
ANY = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/html;q=0.8, */*;q=0.5"


@dataclass(frozen=True, slots=True)
class Found:
    """One source found: its kind, URL, a title, and what was seen in it."""

    kind: str  # feed, sitemap or listing
    url: str
    title: str
    note: str


@dataclass
class Discovery:
    """Everything found for one URL, and what could not be read."""

    url: str
    found: list[Found] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class _Alternates(HTMLParser):
    """The feeds a page advertises: `<link rel="alternate" type="application/rss+xml" href=…>`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (href, title)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: (v or "") for k, v in attrs}
        rels = values.get("rel", "").lower().split()
        if tag == "link" and "alternate" in rels and values.get("type", "").split(";")[0].strip().lower() in FEED_TYPES:
            self.links.append((values.get("href", ""), values.get("title", "")))


def alternates(html: str, base: str) -> list[tuple[str, str]]:
    """The (URL, title) of each feed a page advertises, each once."""
    parser = _Alternates()
    parser.feed(html[:2_000_000])
    seen: dict[str, str] = {}
    for href, title in parser.links:
        link = link_in(href, base)
        if link and link not in seen:
            seen[link] = " ".join(title.split())
    return list(seen.items())


async def discover(url: str, fetcher: DocumentFetcher) -> Discovery:
    """Feeds, news sitemaps and a listing for `url`, each checked by reading it."""
    found = Discovery(url)
    page = await fetcher.fetch(url, accept=ANY, network="auto")
    if not isinstance(page, Fetched):
        found.problems.append(f"{url}: {page.code}: {page.message}" if isinstance(page, FetchFailed) else f"{url}: not modified")
        return found
    public = fetcher.links_public(url) is not False  # where the page was actually fetched from decides (issue 22)
    parts = urlsplit(page.url)
    origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    if sniff(page.body, page.content_type) == "feed":
        parsed = await asyncio.to_thread(parse_feed, page.body, page.url, "discover", page.content_type)
        if is_feed(parsed):
            found.found.append(Found("feed", page.url, parsed.title, f"a feed of {len(parsed.items)} items"))
            return found
    from service.ingest.extract import decode_html

    html = decode_html(page.body, page.content_type)
    advertised = alternates(html, page.url)
    candidates = advertised + [(origin + path, "") for path in FEED_PATHS]
    await _feeds(found, candidates, {u for u, _ in advertised}, fetcher, public)
    await _sitemaps(found, origin, fetcher, public)
    listing = await asyncio.to_thread(parse_listing, page.body, page.url, page.content_type, "discover", {})
    if len(listing.items) >= LISTING_MIN:
        sample = "; ".join(f'"{i.title[:60]}"' for i in listing.items[:3])
        found.found.append(Found("listing", page.url, listing.title, f"{len(listing.items)} article links, e.g. {sample}"))
    else:
        found.problems.append(f"as a listing page: only {len(listing.items)} links look like articles (give CSS selectors)")
    return found


async def _feeds(found: Discovery, candidates: list[tuple[str, str]], advertised: set[str], fetcher: DocumentFetcher, public: bool) -> None:
    """Read each candidate feed; keep those that are feeds with items, each once (by the URL they end at)."""
    seen: set[str] = set()
    for link, title in candidates[:20]:
        result = await fetcher.fetch(link, public_only=public)
        if not isinstance(result, Fetched) or result.url in seen:
            if isinstance(result, FetchFailed) and link in advertised:
                found.problems.append(f"{link} (advertised): {result.code}: {result.message}")
            continue
        parsed = await asyncio.to_thread(parse_feed, result.body, result.url, "discover", result.content_type)
        if is_feed(parsed) and parsed.items:
            seen.add(result.url)
            how = "advertised by the page" if link in advertised else "at a common path"
            found.found.append(Found("feed", result.url, title or parsed.title, f"{how}: {len(parsed.items)} items"))


async def _sitemaps(found: Discovery, origin: str, fetcher: DocumentFetcher, public: bool) -> None:
    """The site's sitemaps: robots.txt's `Sitemap:` lines, then common paths; news ones say so."""
    from protego import Protego

    robots = await fetcher.fetch(origin + "/robots.txt", accept="text/plain", public_only=public)
    text = robots.body[:500_000].decode("utf-8", "replace") if isinstance(robots, Fetched) else ""
    listed = [link for link in (link_in(u, origin + "/") for u in Protego.parse(text).sitemaps) if link][:10]
    if listed:  # the site alone will do: each poll follows what robots.txt names (read again every day)
        found.found.append(Found("sitemap", origin + "/", "", f"the site: its robots.txt names {len(listed)} sitemap(s)"))
    for link in listed + [origin + p for p in SITEMAP_PATHS if origin + p not in listed]:
        result = await fetcher.fetch(link, accept=ACCEPT, public_only=public)
        if not isinstance(result, Fetched):
            continue
        try:
            doc = await asyncio.to_thread(parse_sitemap, result.body, result.url, "discover", 1000, 20)
        except Refused:
            continue
        where = "named by robots.txt" if link in listed else "at a common path"
        if doc.kind == "index":
            news = [c for c in doc.children if re.search("news", c, re.I)]
            note = f"{where}: an index of sitemaps" + (f", news ones among them ({', '.join(news[:3])})" if news else "")
        else:
            titled = sum(1 for i in doc.items if not _untitled(i.link, i.title))
            note = f"{where}: {len(doc.items)} newest entries" + (", with news: titles" if titled else " (no news: titles)")
        found.found.append(Found("sitemap", result.url, "", note))


def _untitled(link: str, title: str) -> bool:
    """Whether an entry's title was made from its link (no news:title)."""
    from service.ingest.sources.base import slug_title

    return title == slug_title(link)


def entry_id(url: str, kind: str) -> str:
    """A feed id for a discovered source: its host and path, in the id alphabet."""
    parts = urlsplit(url)
    words = re.sub(r"[^a-z0-9]+", "-", f"{(parts.hostname or '').removeprefix('www.')} {parts.path}".lower()).strip("-")
    return f"{words[:56].strip('-')}-{kind}" if kind != "feed" or not words else words[:64].strip("-")
