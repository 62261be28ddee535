"""`kind: sitemap`: a site's news sitemap (or sitemap index), read for its newest entries.

Many outlets without a feed for the section that matters publish a Google News sitemap: one
`<url>` per recent article with `news:title`, `news:publication_date` and `news:language`.
A source's URL is a sitemap, a sitemap index, or only a site (`https://outlet.example/`), whose
robots.txt `Sitemap:` lines name its sitemaps (`/sitemap.xml` if it names none).

Bounded at every step, so that a hostile or broken site costs its own poll and nothing more:
- a document is parsed by lxml without a DTD (one that declares any is refused: no entities,
  internal or external), without network access, without lxml's huge-tree mode, within the
  fetcher's size cap (gzip files are inflated up to that cap too), and at most `MAX_ENTRIES`
  entries are read from it (the sitemap protocol's own limit);
- an index lends at most `sitemaps` of its children per poll: news sitemaps first, then the
  most recently modified; indexes nested deeper than one level are not followed;
- of all entries only the `newest` (by date; undated ones after, in document order) become items.
"""

from __future__ import annotations

import gzip
import heapq
import io
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from service.config.sources import SitemapOptions
from service.ingest.fetch import Fetched, FetchFailed, Network, NotModified
from service.ingest.model import FeedSource, Item, ParsedFeed
from service.ingest.parse import item_key
from service.ingest.sources.base import DocumentFetcher, Offload, Read, ReadResult, in_thread, link_in, parse_date, slug_title

MAX_ENTRIES = 50_000  # <url> or <sitemap> entries read from one document (the protocol's limit)
MAX_BYTES = 10_000_000  # a gzip sitemap is inflated up to this
ACCEPT = "application/xml, text/xml;q=0.9, application/x-gzip;q=0.8, */*;q=0.5"
ROBOTS_TTL = 24 * 3600.0
CHILD_CACHE = 2_000  # child sitemaps whose validators and entries are remembered for conditional GETs
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_NEVER = datetime.min.replace(tzinfo=UTC)


class Refused(ValueError):
    """A document that is not read at all (a DTD, not XML, not a sitemap)."""


@dataclass(frozen=True, slots=True)
class Sitemap:
    """What one sitemap document holds: its newest entries as items, or (an index) its chosen children."""

    kind: str  # "urlset" or "index"
    items: list[Item] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_sitemap(body: bytes, url: str, feed_id: str, newest: int, children: int) -> Sitemap:
    """Parse a sitemap or sitemap index (picklable: runs in the parse workers); raises Refused for anything else."""
    body = _inflate(body)
    if _DOCTYPE.search(body[:65536]):  # further down, resolve_entities=False still leaves any entity unexpanded
        raise Refused("the document declares a DTD (entities are never expanded): not read")
    kind, entries, warnings = _entries(body, url)
    if not kind:
        raise Refused("no <urlset> or <sitemapindex> in the document")
    if kind == "index":
        return Sitemap("index", children=_children([e for e, _ in entries], url, children), warnings=warnings)
    top = heapq.nlargest(newest, entries, key=lambda pair: (pair[0].get("date") or _NEVER, -pair[1]))
    items = [_item(e, url, feed_id) for e, _ in top]
    return Sitemap("urlset", items=[i for i in items if i is not None], warnings=warnings)


def _entries(body: bytes, url: str) -> tuple[str, list[tuple[dict[str, object], int]], list[str]]:
    """The document's kind ("urlset", "index" or "" for neither), its entries with their positions, and warnings."""
    from lxml import etree

    events = etree.iterparse(
        io.BytesIO(body), events=("end",), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )
    kind, entries, warnings, count = "", [], [], 0
    try:
        for _, element in events:
            name = etree.QName(element).localname
            if name in ("urlset", "sitemapindex"):
                kind = kind or ("urlset" if name == "urlset" else "index")
            if name not in ("url", "sitemap"):
                continue
            kind, count = kind or ("urlset" if name == "url" else "index"), count + 1
            if count > MAX_ENTRIES:
                warnings.append(f"{url}: more than {MAX_ENTRIES:,} entries; the rest were not read")
                break
            entry = _entry(element, name)
            if entry is not None:
                entries.append((entry, count))
            element.clear(keep_tail=False)
    except etree.XMLSyntaxError as exc:
        if not entries:
            raise Refused(f"not XML: {exc}"[:300]) from None
        warnings.append(f"{url}: XML broken after {len(entries)} entries: {exc}"[:300])
    return kind, entries, warnings


def _inflate(body: bytes) -> bytes:
    """A gzip file (`sitemap.xml.gz`) inflated up to the cap; anything else as it is."""
    if body[:2] != b"\x1f\x8b":
        return body
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as packed:
        try:
            data = packed.read(MAX_BYTES + 1)
        except (OSError, EOFError) as exc:
            raise Refused(f"broken gzip file: {exc}") from None
    if len(data) > MAX_BYTES:
        raise Refused(f"inflates to more than {MAX_BYTES:,} bytes")
    return data


def _entry(element: object, name: str) -> dict[str, object] | None:
    """The fields of one <url> or <sitemap> entry, by local name (namespaced or not)."""
    from lxml import etree

    found: dict[str, object] = {}
    for child in element.iter():  # type: ignore[attr-defined]
        if not isinstance(child.tag, str):
            continue
        local, text = etree.QName(child).localname, (child.text or "").strip()
        if local == "loc" and "loc" not in found:
            found["loc"] = text[:2000]
        elif local == "lastmod":
            found["lastmod"] = parse_date(text)
        elif local == "publication_date":
            found["published"] = parse_date(text)
        elif local == "title" and name == "url":
            found["title"] = " ".join(text.split())[:1000]
        elif local == "language":
            found["language"] = text[:16]
    if not found.get("loc"):
        return None
    found["date"] = found.get("published") or found.get("lastmod")
    return found


def _item(entry: dict[str, object], base: str, feed_id: str) -> Item | None:
    """One article of a sitemap, keyed by its canonical link."""
    link = link_in(str(entry["loc"]), base)
    if not link:
        return None
    title = str(entry.get("title") or "") or slug_title(link)
    published = entry.get("date")
    return Item(
        feed_id=feed_id,
        key=item_key("", link, title, ""),
        title=title,
        link=link,
        published=published if isinstance(published, datetime) else None,
        language=str(entry.get("language") or ""),
    )


def _children(entries: list[dict[str, object]], base: str, limit: int) -> list[str]:
    """The sitemaps of an index worth reading: news ones first, then the most recently modified, at most `limit`."""

    def rank(entry: dict[str, object]) -> tuple[bool, datetime]:
        lastmod = entry.get("lastmod")
        return "news" in str(entry["loc"]).lower(), lastmod if isinstance(lastmod, datetime) else _NEVER

    chosen = heapq.nlargest(limit, entries, key=rank)
    return [link for link in (link_in(str(e["loc"]), base) for e in chosen) if link]


def _site(url: str) -> str | None:
    """The origin of a URL that names only a site (no path), whose robots.txt says where its sitemaps are."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.path in ("", "/") and not parts.query:
        return urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return None


class SitemapReader:
    """Reads `kind: sitemap` sources; remembers robots.txt sitemaps per site and child sitemaps' validators."""

    def __init__(self, fetcher: DocumentFetcher, offload: Offload = in_thread, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetcher = fetcher
        self._offload = offload
        self._clock = clock
        self._robots: dict[str, tuple[float, list[str]]] = {}
        self._children: OrderedDict[str, tuple[str | None, str | None, Sitemap]] = OrderedDict()

    async def read(self, source: FeedSource, options: SitemapOptions | None, network: Network | None = None) -> ReadResult:
        """The newest entries of the source's sitemaps, as one document of items."""
        options = options or SitemapOptions()
        site = _site(source.url)
        if site is not None:
            return await self._read_site(source, site, options, network)
        result = await self._fetcher.fetch(source.url, source.etag, source.last_modified, accept=ACCEPT, network=network)
        if not isinstance(result, Fetched):
            return result
        try:
            first = await self._parse(result, source, options)
        except Refused as exc:
            return FetchFailed("not_a_sitemap", f"{source.url}: {exc}")
        if first.kind == "urlset":  # a plain sitemap: its validators make the next poll conditional
            return Read(result, ParsedFeed(title="", items=first.items, warnings=first.warnings))
        unconditional = Fetched(result.body[:0], result.url, content_type=result.content_type, max_age=result.max_age)
        return await self._gather(source, unconditional, first.children, options, first.warnings)

    async def _read_site(self, source: FeedSource, site: str, options: SitemapOptions, network: Network | None = None) -> ReadResult:
        """A site given alone: the sitemaps its robots.txt names (news ones first), or /sitemap.xml.

        Its robots.txt stands for the site: where that was fetched from decides where the items' links may lead.
        """
        listed = await self.robots_sitemaps(site, network)
        if isinstance(listed, FetchFailed):
            return listed
        self._fetcher.remember_links(source.url, site + "/robots.txt")
        named = sorted(listed, key=lambda u: "news" not in u.lower())[: options.sitemaps] or [site + "/sitemap.xml"]
        return await self._gather(source, Fetched(b"", source.url), named, options, [], depth=0)

    async def robots_sitemaps(self, site: str, network: Network | None = None) -> list[str] | FetchFailed:
        """The `Sitemap:` lines of a site's robots.txt (remembered for a day); none for a site without one."""
        cached = self._robots.get(site)
        if cached is not None and self._clock() - cached[0] < ROBOTS_TTL:
            return cached[1]
        from protego import Protego

        result = await self._fetcher.fetch(site + "/robots.txt", accept="text/plain", network=network)
        if isinstance(result, FetchFailed) and not result.code.startswith("http_4"):
            return FetchFailed(result.code, f"robots.txt of {site}: {result.message}", result.retry_after)
        text = result.body[:500_000].decode("utf-8", errors="replace") if isinstance(result, Fetched) else ""
        found = [link_in(u, site + "/") for u in Protego.parse(text).sitemaps][:100]
        self._robots[site] = (self._clock(), [u for u in found if u])
        return self._robots[site][1]

    async def _gather(
        self, source: FeedSource, main: Fetched, sitemaps: list[str], options: SitemapOptions, warnings: list[str], depth: int = 1
    ) -> ReadResult:
        """Read up to `options.sitemaps` sitemaps; at depth 0 (robots.txt's) an index among them lends its children."""
        pending, items, notes, failures, read = [(u, depth) for u in sitemaps], [], list(warnings), [], 0
        budget = options.sitemaps + (1 - depth)  # a site's robots.txt may name an index: it does not use up a sitemap
        while pending and read < budget:
            url, level = pending.pop(0)
            read += 1
            found = await self._child(url, source, options)
            if isinstance(found, FetchFailed):
                failures.append(found)
                notes.append(f"{url}: {found.code}: {found.message}"[:300])
                continue
            notes += found.warnings
            if found.kind == "index" and level < 1:
                pending = [(u, level + 1) for u in found.children] + pending
            elif found.kind == "index":
                notes.append(f"{url}: an index inside an index inside an index is not followed")
            items += found.items
        if failures and not items:
            return failures[0]
        newest = heapq.nlargest(options.newest, enumerate(items), key=lambda pair: (pair[1].published or _NEVER, -pair[0]))
        return Read(main, ParsedFeed(title="", items=[i for _, i in newest], warnings=notes))

    async def _child(self, url: str, source: FeedSource, options: SitemapOptions) -> Sitemap | FetchFailed:
        """One sitemap named by an index or robots.txt, conditionally when it was read before."""
        etag, modified, known = self._children.get(url, (None, None, None))
        result = await self._fetcher.fetch(url, etag if known else None, modified if known else None, accept=ACCEPT)
        if isinstance(result, NotModified) and known is not None:
            self._children.move_to_end(url)
            return known
        if not isinstance(result, Fetched):
            return result if isinstance(result, FetchFailed) else FetchFailed("http_304", "not modified, and nothing remembered")
        try:
            found = await self._parse(result, source, options)
        except Refused as exc:
            return FetchFailed("not_a_sitemap", str(exc))
        self._children[url] = (result.etag, result.last_modified, found)
        while len(self._children) > CHILD_CACHE:
            self._children.popitem(last=False)
        return found

    async def _parse(self, result: Fetched, source: FeedSource, options: SitemapOptions) -> Sitemap:
        """Parse off the event loop."""
        found: Sitemap = await self._offload(parse_sitemap, result.body, result.url, source.id, options.newest, options.sitemaps)
        return found
