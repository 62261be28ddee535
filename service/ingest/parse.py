"""Turn fetched bytes into normalised items: feeds through feedparser, plain-text articles directly.

Functions here are pure and picklable so that parsing can run in worker processes.
"""

from __future__ import annotations

import calendar
import dataclasses
import hashlib
import io
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import PurePath
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from service.ingest.model import Item, ParsedFeed

MAX_TITLE = 1_000
MAX_SUMMARY = 20_000
MAX_CONTENT = 100_000
MAX_ITEMS = 2_000  # items read from one document; a feed never legitimately carries more
NOT_A_FEED = "no RSS, Atom or JSON feed found in the document"  # the warning that says so, last in ParsedFeed.warnings
_BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "section", "article"}
_SKIP_TAGS = {"script", "style", "noscript", "template", "iframe", "object"}
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid)$", re.I)
_DATE_LINE = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s+")
_DATELINE = re.compile(r"^[A-ZÀ-ỸĐ][A-ZÀ-ỸĐ .,'-]{1,40}\s+[—–-]\s+")


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, dropping scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS and self._skipping:
            self._skipping -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Reduce an HTML fragment to plain text with paragraphs kept as blank-line breaks."""
    if "<" not in html and "&" not in html:
        return _tidy(html)
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return _tidy("".join(extractor.parts))


def _tidy(text: str) -> str:
    """Collapse runs of spaces within lines and of blank lines between paragraphs."""
    lines = (" ".join(line.split()) for line in text.replace("\r", "\n").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def canonical_link(link: str, base: str = "") -> str:
    """Resolve `link` against `base`, keep only http(s), drop the fragment and tracking parameters."""
    if not link.strip():
        return ""
    link = urljoin(base, link.strip()) if base else link.strip()
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)])
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", query, ""))


def item_key(guid: str, link: str, title: str, body: str) -> str:
    """A stable key: the guid, else the canonical link, else a hash of the text."""
    if guid:
        return "guid:" + guid[:500]
    if link:
        return "link:" + link[:500]
    return "hash:" + hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()


def _timestamp(value: Any) -> datetime | None:
    """Convert feedparser's UTC struct_time to an aware datetime."""
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC) if value else None
    except (OverflowError, ValueError, TypeError):
        return None


def parse_feed(body: bytes, url: str, feed_id: str, content_type: str = "") -> ParsedFeed:
    """Parse an RSS, Atom or JSON Feed document; recoverable damage becomes warnings, not errors."""
    if body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{" or "json" in content_type.lower():
        return parse_json_feed(body, url, feed_id)
    # Feedparser joins the base URL with every element's xml:base (a third of its time). Without
    # xml:base in the document that only repeats what canonical_link does with the feed's URL.
    headers = {"content-type": content_type} if content_type else {}
    if b"base=" in body:
        headers["content-location"] = url
    import feedparser  # on first use: `rules check` reads no feed

    doc = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    feed = doc.get("feed", {})
    language = str(feed.get("language", ""))[:16]
    entries = doc.get("entries", [])
    items = [_entry(entry, feed_id, url, language) for entry in entries[:MAX_ITEMS]]
    if len(entries) > MAX_ITEMS:
        doc["bozo"], doc["bozo_exception"] = True, ValueError(f"{len(entries)} entries, only the first {MAX_ITEMS} read")
    warnings = [f"{type(doc.bozo_exception).__name__}: {doc.bozo_exception}"[:500]] if doc.get("bozo") else []
    ttl = feed.get("ttl")
    return ParsedFeed(
        title=html_to_text(str(feed.get("title", "")))[:MAX_TITLE],
        items=items,
        warnings=warnings if items or doc.get("version") else [*warnings, NOT_A_FEED],
        ttl_seconds=int(ttl) * 60 if isinstance(ttl, str) and ttl.isdigit() else None,
    )


def parse_json_feed(body: bytes, url: str, feed_id: str) -> ParsedFeed:
    """Parse a JSON Feed (https://jsonfeed.org, versions 1 and 1.1)."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return ParsedFeed(title="", items=[], warnings=[f"invalid JSON: {exc}"[:500], NOT_A_FEED])
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/"):
        return ParsedFeed(title="", items=[], warnings=[NOT_A_FEED])
    entries = [e for e in doc.get("items", []) if isinstance(e, dict)] if isinstance(doc.get("items"), list) else []
    language = str(doc.get("language", ""))[:16]
    items = [_json_entry(e, feed_id, url, language) for e in entries[:MAX_ITEMS]]
    return ParsedFeed(title=html_to_text(str(doc.get("title", "")))[:MAX_TITLE], items=items)


def _json_entry(entry: dict[str, Any], feed_id: str, url: str, language: str) -> Item:
    """Normalise one JSON Feed item."""
    title = html_to_text(str(entry.get("title") or ""))[:MAX_TITLE]
    summary = html_to_text(str(entry.get("summary") or ""))[:MAX_SUMMARY]
    content = html_to_text(str(entry.get("content_html") or entry.get("content_text") or ""))[:MAX_CONTENT]
    link = canonical_link(str(entry.get("url") or entry.get("external_url") or ""), url)
    authors = entry.get("authors") or ([entry["author"]] if isinstance(entry.get("author"), dict) else [])
    author = ", ".join(str(a.get("name", "")) for a in authors if isinstance(a, dict))
    published = _iso_date(entry.get("date_published") or entry.get("date_modified"))
    return _item(
        feed_id, str(entry.get("id") or ""), link, title, summary, content, author, published, str(entry.get("language") or language)
    )


def _iso_date(value: Any) -> datetime | None:
    """An RFC 3339 date as an aware UTC datetime, or None."""
    try:
        parsed = datetime.fromisoformat(str(value).strip()) if value else None
    except ValueError:
        return None
    if parsed is None:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def is_feed(parsed: ParsedFeed) -> bool:
    """False when the document held no feed at all (an HTML page, say)."""
    return not parsed.warnings or parsed.warnings[-1] != NOT_A_FEED


def _entry(entry: Any, feed_id: str, url: str, language: str) -> Item:
    """Normalise one feedparser entry."""
    title = html_to_text(entry.get("title", ""))[:MAX_TITLE]
    summary = html_to_text(entry.get("summary", ""))[:MAX_SUMMARY]
    contents = entry.get("content") or []
    content = html_to_text("\n".join(c.get("value", "") for c in contents))[:MAX_CONTENT]
    link = canonical_link(entry.get("link", ""), url)
    published = _timestamp(dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed"))  # no legacy key mapping
    author = entry.get("author", "")
    item = _item(
        feed_id, str(entry.get("id", "")), link, title, summary, content, author, published, str(entry.get("language") or language)
    )
    source = entry.get("source") or {}  # RSS <source url="…">Outlet</source>: an aggregator's item names its outlet
    if not isinstance(source, dict) or not (source.get("title") or source.get("href")):
        return item
    outlet, outlet_url = html_to_text(str(source.get("title") or ""))[:200], canonical_link(str(source.get("href") or ""))
    return dataclasses.replace(item, outlet=outlet, outlet_url=outlet_url)


def _item(
    feed_id: str, guid: str, link: str, title: str, summary: str, content: str, author: str, published: datetime | None, language: str
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
        published=published,
        language=language[:16],
    )


def parse_article(text: str, name: str, feed_id: str = "file") -> Item:
    """Read a plain-text article: an optional ` date YYYY-MM-DD` prefix, a dateline, paragraphs."""
    published = None
    found = _DATE_LINE.match(text)
    if found:
        published = datetime.strptime(found.group(1), "%Y-%m-%d").replace(tzinfo=UTC)
        text = text[found.end() :]
    body = _tidy(text)[:MAX_CONTENT]
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


def sniff(data: bytes, content_type: str = "") -> str:
    """What a document is: "feed" (RSS, Atom, JSON Feed), "html" (a web page) or "text" (a plain-text article)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml"):
        return "html"
    if any(word in kind for word in ("rss", "atom", "xml", "json")):
        return "feed"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:2048].lower()
    if head.startswith(b"{"):
        return "feed"
    if not head.startswith(b"<"):
        return "text"
    if head.startswith((b"<!doctype html", b"<html")) or (b"<html" in head and b"<rss" not in head and b"<feed" not in head):
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
        from service.ingest.extract import extract_article  # trafilatura: only when a page is read

        found = extract_article(data, url, content_type)
        if not found.text:
            raise ValueError(f"no article text found in {name}")
        link = canonical_link(url)
        title = found.title or found.text.split("\n", 1)[0][:200]
        return [Item(feed_id=feed_id, key="page:" + (link or name), title=title, link=link, guid=link, article=found.text)]
    return [parse_article(data.decode("utf-8", errors="replace"), name, feed_id=feed_id)]
