"""Turn fetched bytes into normalised items: feeds through feedparser, plain-text articles directly.

Functions here are pure and picklable so that parsing can run in worker processes.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from service.ingest.dates import Dated, date_warnings, first_date
from service.ingest.markup import html_to_text, tidy
from service.ingest.model import Item, ParsedFeed

# What a parse worker imports before its first feed (`workers.Workers(preload=...)`): this module,
# feedparser, its XML reader and lxml, which `html_to_text` uses.
WORKER_MODULES = (__name__, "feedparser", "xml.sax.expatreader", "lxml.etree")
MAX_TITLE = 1_000
MAX_SUMMARY = 20_000
MAX_CONTENT = 100_000
MAX_ITEMS = 2_000  # items read from one document; a feed never legitimately carries more
NOT_A_FEED = "no RSS, Atom or JSON feed found in the document"  # the warning that says so, last in ParsedFeed.warnings
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid)$", re.I)
_BAD_HOST = re.compile(r"[\x00-\x20\x7f<>\"{}|\\^`]|\.\.|^\.")  # characters no host name holds, and empty labels
# An absolute http(s) link with a lower-case host of well-formed labels, no port, and a path without the
# characters that parsing splits on or rebuilds (";", "?", "#", "\\", white space, non-ASCII).
_PLAIN_LINK = re.compile(r"https?://[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})*(/[A-Za-z0-9_.~!$&'()*+,=:@%/-]*)?")
_DATE_LINE = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s+")
_DATELINE = re.compile(r"^[A-ZÀ-ỸĐ][A-ZÀ-ỸĐ .,'-]{1,40}\s+[—–-]\s+")


def canonical_link(link: str, base: str = "") -> str:
    """Resolve `link` against `base`, keep only well-formed http(s), drop the fragment and tracking parameters ("" if unusable)."""
    return _canonical(link, base)[0]


def link_problem(link: str, base: str = "") -> str:
    """Why a feed's link is not kept (it is not a well-formed http(s) URL), or "" if it is kept or there is none."""
    return _canonical(link, base)[1]


def _canonical(link: str, base: str) -> tuple[str, str]:
    """The canonical link and "", or "" and why there is none. Never raises: a link is feed content."""
    link = link.strip()
    if not link:
        return "", ""
    plain = _PLAIN_LINK.fullmatch(link)
    if plain:  # most links: nothing to resolve, lower-case, check or drop (`_resolved` would return them as they are)
        return (link if plain.group(1) else link + "/"), ""
    return _resolved(link, base)


def _resolved(link: str, base: str) -> tuple[str, str]:
    """`_canonical` the long way: resolved against `base`, parsed, checked and rebuilt."""
    try:
        link = urljoin(base, link) if base else link
        parts = urlsplit(link)
        if parts.scheme not in ("http", "https"):
            return "", "the feed's link is not an http(s) URL"
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
        if not host or _BAD_HOST.search(host):
            return "", "the feed's link has no valid host"
        if not host.startswith("["):
            host.encode("idna")  # an empty or over-long label raises UnicodeError
    except ValueError as exc:  # UnicodeError included
        return "", f"the feed's link is malformed ({str(exc)[:80]})"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)])
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", query, "")), ""


def item_key(guid: str, link: str, title: str, body: str) -> str:
    """A stable key: the guid, else the canonical link, else a hash of the text."""
    if guid:
        return "guid:" + guid[:500]
    if link:
        return "link:" + link[:500]
    return "hash:" + hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()


def parse_feed(body: bytes, url: str, feed_id: str, content_type: str = "", timezone: str | None = None) -> ParsedFeed:
    """Parse an RSS, Atom or JSON Feed document; recoverable damage becomes warnings, not errors.

    `timezone` (IANA) is where the feed's dates are when they do not say (`service.ingest.dates`).
    """
    if body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{" or "json" in content_type.lower():
        return parse_json_feed(body, url, feed_id, timezone)
    # Feedparser joins the base URL with every element's xml:base (a third of its time). Without
    # xml:base in the document that only repeats what canonical_link does with the feed's URL.
    headers = {"content-type": content_type} if content_type else {}
    if b"base=" in body:
        headers["content-location"] = url
    doc = _feedparser().parse(io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    feed = doc.get("feed", {})
    language = str(feed.get("language", ""))[:16]
    entries = doc.get("entries", [])
    items, skipped = _each(entries[:MAX_ITEMS], lambda entry: _entry(entry, feed_id, url, language, timezone))
    if len(entries) > MAX_ITEMS:
        doc["bozo"], doc["bozo_exception"] = True, ValueError(f"{len(entries)} entries, only the first {MAX_ITEMS} read")
    warnings = [f"{type(doc.bozo_exception).__name__}: {doc.bozo_exception}"[:500]] if doc.get("bozo") else []
    warnings += skipped
    ttl = feed.get("ttl")
    return ParsedFeed(
        title=html_to_text(str(feed.get("title", "")))[:MAX_TITLE],
        items=items,
        warnings=[*warnings, *date_warnings(items)] if items or doc.get("version") else [*warnings, NOT_A_FEED],
        ttl_seconds=int(ttl) * 60 if isinstance(ttl, str) and ttl.isdigit() else None,
    )


@functools.cache
def _feedparser() -> Any:
    """feedparser, imported on first use (`rules check` reads no feed) and set to read XML with expat only.

    Feedparser asks for libxml2's SAX driver first and falls back to expat: a failed import per
    feed (1,000 feeds: 80 ms of a worker), and a different parser, with other entity rules,
    wherever libxml2's Python bindings happen to be installed. Expat always: the one whose
    limits we test.
    """
    import feedparser

    feedparser.api.PREFERRED_XML_PARSERS = ["xml.sax.expatreader"]
    return feedparser


def parse_json_feed(body: bytes, url: str, feed_id: str, timezone: str | None = None) -> ParsedFeed:
    """Parse a JSON Feed (https://jsonfeed.org, versions 1 and 1.1)."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return ParsedFeed(title="", items=[], warnings=[f"invalid JSON: {exc}"[:500], NOT_A_FEED])
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/"):
        return ParsedFeed(title="", items=[], warnings=[NOT_A_FEED])
    entries = [e for e in doc.get("items", []) if isinstance(e, dict)] if isinstance(doc.get("items"), list) else []
    language = str(doc.get("language", ""))[:16]
    items, skipped = _each(entries[:MAX_ITEMS], lambda entry: _json_entry(entry, feed_id, url, language, timezone))
    return ParsedFeed(title=html_to_text(str(doc.get("title", "")))[:MAX_TITLE], items=items, warnings=skipped + date_warnings(items))


def _each(entries: list[Any], normalise: Callable[[Any], Item]) -> tuple[list[Item], list[str]]:
    """Normalise each entry on its own: one that cannot be read is skipped with a warning, never the whole feed."""
    found, skipped = [], []
    for n, entry in enumerate(entries, 1):
        try:
            found.append(normalise(entry))
        except Exception as exc:  # feed content is untrusted: whatever one entry does, the others are read
            skipped.append(f"entry {n} skipped: {type(exc).__name__}: {exc}"[:300])
    return found, skipped


def _json_entry(entry: dict[str, Any], feed_id: str, url: str, language: str, timezone: str | None) -> Item:
    """Normalise one JSON Feed item."""
    title = html_to_text(str(entry.get("title") or ""))[:MAX_TITLE]
    summary = html_to_text(str(entry.get("summary") or ""))[:MAX_SUMMARY]
    content = html_to_text(str(entry.get("content_html") or entry.get("content_text") or ""))[:MAX_CONTENT]
    link, problem = _canonical(str(entry.get("url") or entry.get("external_url") or ""), url)
    authors = entry.get("authors") or ([entry["author"]] if isinstance(entry.get("author"), dict) else [])
    author = ", ".join(str(a.get("name", "")) for a in authors if isinstance(a, dict))
    published = first_date([(entry.get("date_published"), None), (entry.get("date_modified"), None)], timezone)
    return _item(
        feed_id,
        str(entry.get("id") or ""),
        link,
        title,
        summary,
        content,
        author,
        published,
        str(entry.get("language") or language),
        problem,
    )


def is_feed(parsed: ParsedFeed) -> bool:
    """False when the document held no feed at all (an HTML page, say)."""
    return not parsed.warnings or parsed.warnings[-1] != NOT_A_FEED


def _entry(entry: Any, feed_id: str, url: str, language: str, timezone: str | None) -> Item:
    """Normalise one feedparser entry.

    Its fields are read with `dict.get`: feedparser's own `get` first maps legacy key names
    ("description", "guid", "modified"…), which these current names never need, at about a
    microsecond a field.
    """
    get: Callable[..., Any] = functools.partial(dict.get, entry)
    title = html_to_text(get("title", ""))[:MAX_TITLE]
    summary = html_to_text(get("summary", ""))[:MAX_SUMMARY]
    contents = get("content") or []
    content = html_to_text("\n".join(c.get("value", "") for c in contents))[:MAX_CONTENT]
    link, problem = _canonical(str(get("link", "")), url)
    dates = [(get(k), get(f"{k}_parsed")) for k in ("published", "updated")]
    published = first_date(dates, timezone)
    author = get("author", "")
    item = _item(feed_id, str(get("id", "")), link, title, summary, content, author, published, str(get("language") or language), problem)
    source = get("source") or {}  # RSS <source url="…">Outlet</source>: an aggregator's item names its outlet
    if not isinstance(source, dict) or not (source.get("title") or source.get("href")):
        return item
    outlet, outlet_url = html_to_text(str(source.get("title") or ""))[:200], canonical_link(str(source.get("href") or ""))
    return dataclasses.replace(item, outlet=outlet, outlet_url=outlet_url)


def _item(
    feed_id: str,
    guid: str,
    link: str,
    title: str,
    summary: str,
    content: str,
    author: str,
    published: Dated,
    language: str,
    link_problem: str = "",
) -> Item:
    """An Item with its key, its fields capped, and content dropped when it repeats the summary."""
    guid = guid.strip()
    return Item(
        feed_id=feed_id,
        key=item_key(guid, link, title, summary or content),
        title=title,
        link=link,
        guid=guid[:500],
        summary=summary,
        content="" if content == summary else content,
        author=html_to_text(author)[:200],
        published=published[0],
        date_note=published[1],
        language=language[:16],
        link_problem=link_problem,
    )


def parse_article(text: str, name: str, feed_id: str = "file") -> Item:
    """Read a plain-text article: an optional ` date YYYY-MM-DD` prefix, a dateline, paragraphs."""
    published = None
    found = _DATE_LINE.match(text)
    if found:
        published = datetime.strptime(found.group(1), "%Y-%m-%d").replace(tzinfo=UTC)
        text = text[found.end() :]
    body = tidy(text)[:MAX_CONTENT]
    first = _DATELINE.sub("", body.split("\n", 1)[0], count=1)
    sentence = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0]
    title = sentence if len(sentence) <= 200 else sentence[:200].rsplit(" ", 1)[0] + "…"
    stem = PurePath(name).stem
    return Item(
        feed_id=feed_id,
        key="file:" + stem,
        title=title,
        summary="",
        content=body,
        published=published,
        guid=stem,
    )


_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xef\xbb\xbf", "utf-8"),
)
_WITHOUT_BOM = ((b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"), (b"\x00<\x00", "utf-16-be"), (b"<\x00", "utf-16-le"))


def unicode_form(data: bytes) -> tuple[str, int]:
    """The Unicode encoding form a document's first bytes announce (XML 1.0, appendix F), and the length of its byte-order mark."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec, len(bom)
    for start, codec in _WITHOUT_BOM:
        if data.startswith(start):
            return codec, 0
    return "utf-8", 0


def sniff(data: bytes, content_type: str = "") -> str:
    """What a document is: "feed" (RSS, Atom, JSON Feed), "html" (a web page) or "text" (a plain-text article)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml"):
        return "html"
    if any(word in kind for word in ("rss", "atom", "xml", "json")):
        return "feed"
    codec, bom = unicode_form(data)
    head = data[bom : bom + 8192].decode(codec, errors="ignore").lstrip(" \t\r\n").lower()[:2048]
    if head.startswith("{"):
        return "feed"
    if not head.startswith("<"):
        return "text"
    if head.startswith(("<!doctype html", "<html")) or ("<html" in head and "<rss" not in head and "<feed" not in head):
        return "html"
    return "feed"


def read_document(data: bytes, url: str, name: str, feed_id: str = "file", content_type: str = "") -> list[Item]:
    """The items of one document: a feed's entries, a web page's article, or a plain-text article.

    `rules test` and rule examples read files and URLs through this one function.
    """
    kind = sniff(data, content_type)
    if kind == "feed":
        parsed = parse_feed(data, url, feed_id, content_type)
        if not is_feed(parsed):
            raise ValueError("not an RSS, Atom or JSON feed: " + "; ".join(parsed.warnings))
        if not parsed.items:
            raise ValueError(f"{name} holds no feed items")
        return parsed.items
    if kind == "html":
        from service.ingest.extract import MIN_TEXT, extract_article  # trafilatura: only when a page is read

        found = extract_article(data, url, content_type)
        if not found.text:
            raise ValueError(f"no article text found in {name}")
        if found.short:  # the service's threshold (service.ingest.article)
            short = f"only {len(found.text)} characters of article text in {name} (under {MIN_TEXT})"
            raise ValueError(f"{short}: the service would not use it, nor does rules test")
        link = canonical_link(url)
        title = found.title or found.text.split("\n", 1)[0][:200]
        return [Item(feed_id=feed_id, key="page:" + (link or name), title=title, link=link, guid=link, article=found.text)]
    codec, bom = unicode_form(data)
    return [parse_article(data[bom:].decode(codec, errors="replace"), name, feed_id=feed_id)]
