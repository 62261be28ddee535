"""Build RSS 2.0 and Atom documents from items, for fixtures, the demo feed and benchmarks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr


@dataclass(frozen=True)
class Entry:
    """One entry to write into a feed."""

    guid: str
    title: str
    link: str
    summary: str = ""
    content: str = ""
    published: datetime | None = None
    author: str = ""


def rss(entries: Iterable[Entry], title: str = "Test feed", link: str = "https://example.org/") -> bytes:
    """An RSS 2.0 document."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        f"<channel><title>{escape(title)}</title><link>{escape(link)}</link><description>{escape(title)}</description>",
    ]
    for e in entries:
        parts.append("<item>")
        parts.append(f'<guid isPermaLink="false">{escape(e.guid)}</guid><title>{escape(e.title)}</title><link>{escape(e.link)}</link>')
        if e.summary:
            parts.append(f"<description>{escape(e.summary)}</description>")
        if e.content:
            parts.append(f"<content:encoded>{escape(e.content)}</content:encoded>")
        if e.published:
            parts.append(f"<pubDate>{format_datetime(e.published.astimezone(UTC), usegmt=True)}</pubDate>")
        if e.author:
            parts.append(f"<author>{escape(e.author)}</author>")
        parts.append("</item>")
    parts.append("</channel></rss>\n")
    return "\n".join(parts).encode()


def atom(entries: Iterable[Entry], title: str = "Test feed", link: str = "https://example.org/") -> bytes:
    """An Atom 1.0 document."""
    now = datetime(2025, 9, 12, tzinfo=UTC).isoformat()
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{escape(title)}</title><id>{escape(link)}</id><link href={quoteattr(link)}/><updated>{now}</updated>",
    ]
    for e in entries:
        when = (e.published or datetime(2025, 9, 12, tzinfo=UTC)).isoformat()
        parts.append(f"<entry><id>{escape(e.guid)}</id><title>{escape(e.title)}</title><link href={quoteattr(e.link)}/>")
        parts.append(f"<updated>{when}</updated>")
        if e.published:
            parts.append(f"<published>{when}</published>")
        if e.summary:
            parts.append(f'<summary type="text">{escape(e.summary)}</summary>')
        if e.content:
            parts.append(f'<content type="text">{escape(e.content)}</content>')
        if e.author:
            parts.append(f"<author><name>{escape(e.author)}</name></author>")
        parts.append("</entry>")
    parts.append("</feed>\n")
    return "\n".join(parts).encode()
