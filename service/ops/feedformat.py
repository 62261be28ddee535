"""The feed of matches as data, then as Atom or JSON Feed: sent deliveries folded into stories. Pure.

One entry per story, not per copy: a later report of a story (a thread reply, or a near-duplicate
by its fingerprint) joins the entry of the story's first report, whose delivery id is the entry's
stable id; the entry is updated when a report joins. Each report carries its evidence (the quote
stored when it matched) and the terms that matched. Text from feeds is escaped by the writers
(ElementTree for Atom, JSON for JSON Feed), and links are kept only when they are http(s).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import Any

from alerts.format import MATCH_PATH, pieces, printable, safe_link

SameStory = Callable[[bytes | None, bytes | None], bool]
ATOM = "http://www.w3.org/2005/Atom"
JSON_FEED = "https://jsonfeed.org/version/1.1"


@dataclass(frozen=True)
class Report:
    """One sent delivery: an item's alert (or an operations notice)."""

    delivery_id: int
    title: str
    link: str
    source: str
    published: datetime | None
    sent_at: datetime
    rules: tuple[tuple[str, str, tuple[str, ...]], ...]  # (rule id, name, matched terms)
    quote: str = ""
    highlights: tuple[tuple[int, int], ...] = ()
    in_article: bool = False
    item_id: int | None = None


@dataclass
class Story:
    """One entry: the story's first report's id, and every report of it, newest first."""

    id: int
    reports: list[Report] = field(default_factory=list)
    signature: bytes | None = None

    @property
    def updated(self) -> datetime:
        """When the latest report of it was sent."""
        return max(r.sent_at for r in self.reports)

    @property
    def first(self) -> Report:
        """The report that opened the story."""
        return min(self.reports, key=lambda r: r.delivery_id)

    @property
    def terms(self) -> list[str]:
        """Every matched term of every report, each once."""
        return list(dict.fromkeys(t for r in self.reports for _, _, terms in r.rules for t in terms))


def report(row: Any, names: Mapping[tuple[int, str], tuple[str, list[str]]]) -> Report:
    """A stored delivery row (`storage.views.feed_deliveries`) as a report, with its rules' names and terms."""
    if row.item_id is None:
        return Report(row.id, row.notice or "", "", "newswatch", row.sent_at, row.sent_at, ())
    rules = tuple((r, *_named(names.get((row.item_id, r)), r)) for r in row.rule_ids)
    evidence = (row.evidence or [{}])[0]
    return Report(
        row.id,
        row.title or "",
        row.link or "",
        row.source or "",
        row.published_at or row.first_seen_at,
        row.sent_at,
        rules,
        str(evidence.get("text") or ""),
        tuple((int(s), int(e)) for s, e in evidence.get("highlights") or []),
        bool(evidence.get("in_article")),
        row.item_id,
    )


def _named(found: tuple[str, list[str]] | None, rule: str) -> tuple[str, tuple[str, ...]]:
    """A rule's name and terms, or its id and none where the match row is gone."""
    return (found[0], tuple(found[1])) if found else (rule, ())


def stories(
    rows: Sequence[Any], reports: Mapping[int, Report], same_story: SameStory, size: int, window: timedelta = timedelta(hours=72)
) -> list[Story]:
    """The rows folded into stories (a reply joins its thread's, a near-duplicate its story's), latest updated first.

    A near-duplicate joins a story whose first report was sent within `window` before it, as
    story threads do; comparing with older stories would cost much and join little.
    """
    found: dict[int, Story] = {}
    home: dict[int, Story] = {}  # delivery id -> its story
    for row in sorted(rows, key=lambda r: r.id):
        story = home.get(row.parent_id) if row.mode == "reply" and row.parent_id is not None else None
        if story is None and row.signature is not None:
            since = reports[row.id].sent_at - window
            story = next(
                (
                    s
                    for s in reversed(found.values())
                    if s.signature is not None and s.first.sent_at >= since and same_story(s.signature, row.signature)
                ),
                None,
            )
        if story is None:
            story = found[row.id] = Story(row.id, signature=row.signature)
        story.reports.insert(0, reports[row.id])
        home[row.id] = story
    return sorted(found.values(), key=lambda s: (s.updated, s.id), reverse=True)[:size]


@dataclass(frozen=True)
class FeedInfo:
    """What the feed says of itself."""

    id: str  # a stable URN
    title: str
    url: str  # where it is read (without the token)
    web_url: str | None = None


def atom(info: FeedInfo, found: Sequence[Story]) -> bytes:
    """An Atom feed (RFC 4287) of the stories."""
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")
    _add(root, "id", info.id)
    _add(root, "title", info.title)
    _add(root, "updated", _iso(max((s.updated for s in found), default=None)) or "1970-01-01T00:00:00+00:00")
    ET.SubElement(root, f"{{{ATOM}}}link", rel="self", href=info.url)
    ET.SubElement(ET.SubElement(root, f"{{{ATOM}}}author"), f"{{{ATOM}}}name").text = "newswatch"
    for story in found:
        first = story.first
        entry = ET.SubElement(root, f"{{{ATOM}}}entry")
        _add(entry, "id", f"{info.id}:story:{story.id}")
        _add(entry, "title", printable(first.title) or "(untitled)")
        _add(entry, "updated", _iso(story.updated) or "")
        _add(entry, "published", _iso(story.first.sent_at) or "")
        if link := safe_link(first.link):
            ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=link)
        for rule_id, name, _ in _rules(story):
            ET.SubElement(entry, f"{{{ATOM}}}category", term=rule_id, label=printable(name))
        content = _add(entry, "content", html(story, info.web_url))
        content.set("type", "html")
    body: bytes = ET.tostring(root, encoding="utf-8")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def json_feed(info: FeedInfo, found: Sequence[Story]) -> bytes:
    """A JSON Feed 1.1 of the stories; `_newswatch` holds each story's reports, rules, terms and evidence as data."""
    items = []
    for story in found:
        first = story.first
        item: dict[str, Any] = {
            "id": f"{info.id}:story:{story.id}",
            "title": printable(first.title) or "(untitled)",
            "content_html": html(story, info.web_url),
            "date_published": _iso(story.first.sent_at),
            "date_modified": _iso(story.updated),
            "tags": [rule_id for rule_id, _, _ in _rules(story)],
            "_newswatch": {"terms": story.terms, "reports": [_report_data(r) for r in story.reports]},
        }
        if link := safe_link(first.link):
            item["url"] = link
        items.append(item)
    feed = {"version": JSON_FEED, "title": info.title, "feed_url": info.url, "items": items}
    text: str = json.dumps(feed, ensure_ascii=False, indent=1)
    return text.encode()


def _report_data(r: Report) -> dict[str, Any]:
    """One report as data."""
    return {
        "title": printable(r.title),
        "url": safe_link(r.link) or None,
        "source": printable(r.source),
        "published": _iso(r.published),
        "rules": [{"id": rid, "name": name, "terms": list(terms)} for rid, name, terms in r.rules],
        "evidence": {"text": r.quote, "highlights": [list(h) for h in r.highlights], "in_article": r.in_article},
    }


def html(story: Story, web_url: str | None = None) -> str:
    """A story's entry body as HTML: each report with its source, evidence (terms marked) and matched terms; all text escaped."""
    parts = []
    for r in story.reports:
        link = safe_link(r.link)
        title = escape(printable(r.title) or "(untitled)")
        heading = f'<a href="{escape(link, quote=True)}">{title}</a>' if link else title
        rules = ", ".join(escape(printable(name)) for _, name, _ in r.rules)
        parts.append(f"<p><b>{heading}</b><br/>{escape(printable(r.source))}{' · ' + rules if rules else ''}</p>")
        if r.quote:
            label = "<i>Matched in the article:</i> " if r.in_article else ""
            quote = "".join(f"<strong>{escape(t)}</strong>" if hit else escape(t) for t, hit in pieces(printable(r.quote), r.highlights))
            parts.append(f"<blockquote>{label}{quote}</blockquote>")
        if web_url and r.item_id is not None:
            page = web_url.rstrip("/") + MATCH_PATH.format(item=r.item_id)
            parts.append(f'<p><a href="{escape(page, quote=True)}">Why it matched</a></p>')
    if story.terms:
        parts.append(f"<p>Matched: {escape(', '.join(printable(t) for t in story.terms))}</p>")
    return "\n".join(parts)


def _rules(story: Story) -> list[tuple[str, str, tuple[str, ...]]]:
    """The story's rules, each once."""
    return list({rid: (rid, name, terms) for r in story.reports for rid, name, terms in r.rules}.values())


def _add(parent: ET.Element, tag: str, text: str) -> ET.Element:
    """A child element in the Atom namespace with text."""
    child = ET.SubElement(parent, f"{{{ATOM}}}{tag}")
    child.text = text
    return child


def _iso(when: datetime | None) -> str | None:
    """An RFC 3339 timestamp."""
    return when.isoformat(timespec="seconds") if when else None
