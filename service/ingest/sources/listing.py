"""`kind: listing`: a page that lists articles (a section front, "latest news"), read for the article links on it.

With CSS selectors (`listing: {item, link, title, date}`) the page says where its articles are.
Without them, a link is taken as an article when all of these hold:
- it stays on the site (the page's host, with or without `www.`, or a subdomain of it);
- its path is shaped like an article's: a slug of four or more words
  (`/viet-nam-campuchia-hoan-thanh-cam-moc`), or an id of four or more digits or a date in the
  path with something beside it (`/news/20250911-1234.html`, `/2025/09/11/border-talks`);
  never a section, tag, author, search, page, video or static file (`/thoi-su`, `/tag/bien-gioi`);
- it is not inside the page's navigation, header, footer or sidebar (`<nav>`, `<aside>`,
  `<header>`/`<footer>` outside an `<article>`, ARIA roles navigation/banner/contentinfo/complementary),
  nor in a block whose class or id says menu, breadcrumb, related, most read, popular,
  trending, sidebar, share, comments, tags or pagination.
Its headline is the link's text (the longest among links to the same article, else its
`title` attribute or an image's `alt`), its date a `<time datetime>` in the same card.

Bounded: the page is capped by the fetcher's size cap, at most `MAX_LINKS` links are looked at,
and only the first `newest` articles (in page order) become items.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from service.config.sources import ListingOptions
from service.ingest.fetch import Fetched, FetchFailed, Network
from service.ingest.model import FeedSource, Item, ParsedFeed
from service.ingest.parse import item_key
from service.ingest.sources.base import DocumentFetcher, Offload, Read, ReadResult, in_thread, link_in, parse_date, slug_title

MAX_LINKS = 5_000  # links (or selected items) looked at on one page
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
NOT_A_LISTING = "no article links found on the page"
_OUTSIDE = {"nav", "aside", "form", "menu"}  # never articles of the listing, wherever they are
_FRAME = {"header", "footer"}  # the page's own, unless inside an <article> card
_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"}
_CLASS = re.compile(
    r"(^|[-_])(nav|navbar|navigation|menu|breadcrumbs?|related|relate|lienquan|tinlienquan|most-?read|mostviewed|popular|"
    r"trending|sidebar|share|social|comments?|tags?|tag-?list|pagination|pager|header|footer|topbar|ads?|advert)([-_]|$)",
    re.IGNORECASE,
)
_SECTIONS = {
    "tag", "tags", "category", "categories", "chu-de", "topic", "topics", "author", "authors", "tac-gia", "search",
    "tim-kiem", "page", "login", "register", "subscribe", "about", "contact", "lien-he", "privacy", "terms", "rss",
    "feed", "feeds", "video", "videos", "photo", "photos", "gallery", "live", "newsletter", "advertise", "quang-cao", "account",
}  # fmt: skip
_STATIC = re.compile(r"\.(jpe?g|png|gif|webp|svg|ico|pdf|mp[34]|css|js|xml|rss|json|zip|docx?)$", re.IGNORECASE)
_PAGE_SUFFIX = re.compile(r"\.(s?html?|php|aspx?|jsp)$", re.IGNORECASE)


def article_shaped(path: str) -> bool:
    """Whether a URL path looks like one article's rather than a section, tag or file (see the module docstring)."""
    segments = [unquote(s) for s in path.split("/") if s]
    if not segments or any(s.lower() in _SECTIONS for s in segments[:-1]) or segments[0].lower() in _SECTIONS:
        return False
    if _STATIC.search(segments[-1]):
        return False
    words = [w for w in re.split(r"[-_+.,\s]+", _PAGE_SUFFIX.sub("", segments[-1])) if w]
    numbered = re.search(r"\d{4,}", path) is not None or re.search(r"/(19|20)\d\d/\d{1,2}/", path) is not None
    return len(words) >= 4 or (numbered and (len(words) >= 2 or len(segments) >= 2))


def same_site(host: str, site: str) -> bool:
    """The page's site: the same host, with or without `www.`, or a subdomain of it."""
    host, site = host.lower().removeprefix("www."), site.lower().removeprefix("www.")
    return host == site or host.endswith("." + site)


def parse_listing(body: bytes, url: str, content_type: str, feed_id: str, options: dict[str, Any]) -> ParsedFeed:
    """The articles a listing page links to (picklable: runs in the parse workers)."""
    import lxml.html

    from service.ingest.extract import decode_html

    text = decode_html(body, content_type)
    try:
        doc = lxml.html.document_fromstring(text, parser=lxml.html.HTMLParser(huge_tree=False, no_network=True))
    except (ValueError, lxml.etree.ParserError) as exc:
        return ParsedFeed(title="", items=[], warnings=[f"not an HTML page: {exc}"[:300], NOT_A_LISTING])
    base = link_in((doc.xpath("string(//base/@href)") or "").strip(), url) or url
    language = (doc.get("lang") or "").strip()[:16]
    spec = ListingOptions.model_validate(options)
    warnings: list[str] = []
    found = list(_selected(doc, spec, base, warnings) if spec.item or spec.link else _guessed(doc, base, warnings))
    items = _items(found, feed_id, language, spec.newest)
    title = " ".join((doc.findtext(".//title") or "").split())[:1000]
    return ParsedFeed(title=title, items=items, warnings=warnings if items else [*warnings, NOT_A_LISTING])


def _guessed(doc: Any, base: str, warnings: list[str]) -> Iterator[tuple[str, str, datetime | None]]:
    """(link, headline, date) of every link that looks like an article of this site, outside navigation and sidebars."""
    site = urlsplit(base).hostname or ""
    for n, anchor in enumerate(doc.iter("a")):
        if n >= MAX_LINKS:
            warnings.append(f"the page has more than {MAX_LINKS:,} links; only the first {MAX_LINKS:,} were looked at")
            return
        link = link_in(anchor.get("href") or "", base)
        parts = urlsplit(link)
        if not link or not same_site(parts.hostname or "", site) or not article_shaped(parts.path):
            continue
        if _in_frame(anchor):
            continue
        yield link, _headline(anchor), _card_date(anchor)


def _in_frame(anchor: Any) -> bool:
    """Whether a link sits in navigation, a header or footer (not an article's own), a sidebar, or a related/popular block."""
    ancestors = list(anchor.iterancestors())
    card = next((i for i, a in enumerate(ancestors) if a.tag == "article"), -1)  # header/footer below it are its own
    for depth, element in enumerate(ancestors):
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _OUTSIDE or (element.get("role") or "").lower() in _ROLES:
            return True
        if tag in _FRAME and depth > card:
            return True
        marks = f"{element.get('class') or ''} {element.get('id') or ''}".split()
        for mark in marks:
            found = _CLASS.search(mark)
            if found and (found.group(2).lower() not in _FRAME or depth > card):
                return True
    return False


def _headline(anchor: Any) -> str:
    """A link's headline: its text, else its title attribute, else an image's alt text."""
    text = " ".join(anchor.text_content().split())
    if len(text) < 8:
        image = anchor.find(".//img")
        text = " ".join((anchor.get("title") or (image.get("alt") if image is not None else "") or text).split())
    return text[:1000]


def _card_date(anchor: Any) -> datetime | None:
    """The date of a link's card: the first `<time>` within the few elements around it that hold only this article."""
    for element in itertools.islice(anchor.iterancestors(), 4):
        if sum(1 for _ in itertools.islice(element.iter("a"), 4)) > 3:  # a list of articles, not one card: stop
            return None
        for stamp in element.iter("time"):
            when = parse_date(stamp.get("datetime") or stamp.text_content() or "")
            if when:
                return when
    return None


def _selected(doc: Any, spec: ListingOptions, base: str, warnings: list[str]) -> Iterator[tuple[str, str, datetime | None]]:
    """(link, headline, date) of each element the selectors pick."""
    from lxml.cssselect import CSSSelector

    def pick(selector: str | None, within: Any) -> Any:
        found = CSSSelector(selector, translator="html")(within) if selector else []
        return found[0] if found else None

    elements = CSSSelector(spec.item or spec.link or "a", translator="html")(doc)
    if len(elements) > MAX_LINKS:
        warnings.append(f"the selectors picked {len(elements):,} elements; only the first {MAX_LINKS:,} were looked at")
    for element in elements[:MAX_LINKS]:
        anchor = pick(spec.link, element) if spec.item and spec.link else None
        if anchor is None:
            anchor = element if element.tag == "a" else pick("a[href]", element)
        if anchor is None:
            continue
        link = link_in(anchor.get("href") or "", base)
        if not link:
            continue
        heading = pick(spec.title, element) if spec.title else None
        title = " ".join(heading.text_content().split())[:1000] if heading is not None else _headline(anchor)
        stamp = pick(spec.date, element) if spec.date else None
        when = parse_date(stamp.get("datetime") or stamp.get("content") or stamp.text_content()) if stamp is not None else None
        yield link, title, when


def _items(found: list[tuple[str, str, datetime | None]], feed_id: str, language: str, newest: int) -> list[Item]:
    """One item per distinct link, in page order, its longest headline kept; the first `newest`."""
    headline: dict[str, tuple[str, datetime | None]] = {}
    for link, title, when in found:
        known = headline.get(link)
        if known is None or len(title) > len(known[0]):
            headline[link] = (title, when or (known[1] if known else None))
    links = list(headline)[:newest]
    return [
        Item(
            feed_id=feed_id,
            key=item_key("", link, headline[link][0], ""),
            title=headline[link][0] or slug_title(link),
            link=link,
            published=headline[link][1],
            language=language,
        )
        for link in links
    ]


class ListingReader:
    """Reads `kind: listing` sources: one page, conditionally, parsed off the event loop."""

    def __init__(self, fetcher: DocumentFetcher, offload: Offload = in_thread) -> None:
        self._fetcher = fetcher
        self._offload = offload

    async def read(self, source: FeedSource, options: ListingOptions | None, network: Network | None = None) -> ReadResult:
        """The page's newest article links as items."""
        result = await self._fetcher.fetch(source.url, source.etag, source.last_modified, accept=HTML_ACCEPT, network=network)
        if not isinstance(result, Fetched):
            return result
        spec = (options or ListingOptions()).model_dump()
        parsed: ParsedFeed = await self._offload(parse_listing, result.body, result.url, result.content_type, source.id, spec)
        if parsed.warnings and parsed.warnings[-1] == NOT_A_LISTING:
            return FetchFailed("not_a_listing", "; ".join(parsed.warnings)[:500])
        return Read(result, parsed)
