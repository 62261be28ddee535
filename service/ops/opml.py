"""OPML in and out: a feed reader's subscription list as feeds.yaml entries, and feeds.yaml as OPML 2.0.

Import: every outline with an `xmlUrl` is a feed; the folders it sits in and its `category`
attribute (comma-separated, each `/a/b` path giving `a` and `b`) become its tags; newswatch's own
attributes (written by export, in the `newswatch:` namespace) are read back. FreshRSS's
`HTML+XPath` outlines become `kind: listing` (their XPath is not carried over: CSS selectors are
newswatch's). The file is read by lxml without a DTD, entities or network access, within a size cap.

Export: one folder per feed's first tag, its tags in `category`, and every setting feeds.yaml
gave it in `newswatch:` attributes, so that an export imported again gives the same feeds.
Sitemaps and listing pages are `type="link"` outlines (a reader would not subscribe to them).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from service.config.schema import FeedsFile, FeedSpec
from service.config.yamlfile import ConfigError, Problem, parse

NAMESPACE = "urn:newswatch:opml:1"
MAX_BYTES = 10_000_000
SETTINGS = ("interval", "first_poll_alerts", "max_age", "language", "article", "kind")  # newswatch:NAME attributes
DEFAULT_FOLDERS = {"uncategorized", "all", "subscriptions", "feeds"}  # readers' catch-all folders: no tag
OPTIONS = ("newest", "sitemaps", "item", "link", "title", "date")  # newswatch:NAME, under sitemap: or listing:


class OpmlError(ValueError):
    """A file that is not OPML newswatch can read."""


@dataclass(frozen=True, slots=True)
class Imported:
    """A feeds.yaml entry made from one outline, or why the outline was left out (`entry` None)."""

    entry: dict[str, Any] | None
    note: str = ""


def slug(text: str) -> str:
    """Text in the id alphabet: diacritics folded, lower case, words joined by '-' ("Tin tức" → "tin-tuc")."""
    folded = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9._]+", "-", plain.lower()).strip("-._")[:64]


def read_opml(data: bytes, taken_ids: set[str], known_urls: dict[str, str]) -> list[Imported]:
    """The feeds of an OPML file as feeds.yaml entries, ids unique against `taken_ids`; URLs already configured are left out."""
    from lxml import etree

    if len(data) > MAX_BYTES:
        raise OpmlError(f"the file is larger than {MAX_BYTES:,} bytes")
    if re.search(rb"<!DOCTYPE", data[:65536], re.IGNORECASE):
        raise OpmlError("the file declares a DTD (entities): not read")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise OpmlError(f"not XML: {exc}") from None
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise OpmlError("not OPML: no <opml> with a <body>")
    taken, seen = set(taken_ids), dict(known_urls)
    return [_imported(outline, folders, taken, seen) for outline, folders in _outlines(body, [])]


def _outlines(parent: Any, folders: list[str]) -> Iterator[tuple[Any, list[str]]]:
    """Every outline that names a source, with the folder names above it (at most 20 deep)."""
    for outline in parent.iterchildren("outline"):
        if outline.get("xmlUrl") or outline.get(f"{{{NAMESPACE}}}kind"):
            yield outline, folders
        elif len(folders) < 20:
            yield from _outlines(outline, [*folders, outline.get("text") or outline.get("title") or ""])


def _imported(outline: Any, folders: list[str], taken: set[str], seen: dict[str, str]) -> Imported:
    """One outline as a feeds.yaml entry."""
    mine = {name: outline.get(f"{{{NAMESPACE}}}{name}") for name in (*SETTINGS, *OPTIONS, "id")}
    url = (outline.get("xmlUrl") or outline.get("url") or "").strip()
    title = " ".join((outline.get("title") or outline.get("text") or "").split())
    if url in seen:
        return Imported(None, f"{title or url}: already in feeds.yaml as '{seen[url]}'")
    entry: dict[str, Any] = {"id": unique_id(mine["id"] or slug(title) or slug(url.split("//")[-1]) or "feed", taken), "url": url}
    if title and title != entry["id"]:
        entry["name"] = title
    categories = [part for value in (outline.get("category") or "").split(",") for part in value.split("/")]
    tags = [t for t in dict.fromkeys(slug(name) for name in [*folders, *categories]) if t and t not in DEFAULT_FOLDERS]
    if tags:
        entry["tags"] = tags
    note = ""
    if (outline.get("type") or "").upper().startswith("HTML+XPATH") and not mine["kind"]:
        mine["kind"], note = "listing", "FreshRSS's XPath selectors are not carried over; add CSS selectors if needed"
    entry |= {name: _value(mine[name]) for name in SETTINGS if mine[name] is not None}
    if (outline.get("language") or "") and "language" not in entry:
        entry["language"] = outline.get("language")
    options = {name: _value(mine[name]) for name in OPTIONS if mine[name] is not None}
    if options and entry.get("kind") in ("sitemap", "listing"):
        entry[entry["kind"]] = options
    try:
        FeedSpec.model_validate(entry)
    except ValidationError as exc:
        taken.discard(entry["id"])
        return Imported(None, f"{title or url}: left out: {exc.errors()[0]['msg']}")
    seen[url] = entry["id"]
    return Imported(entry, note)


def unique_id(wanted: str, taken: set[str]) -> str:
    """`wanted`, or `wanted-2`, `wanted-3`… if taken; then taken."""
    name, n = wanted, 1
    while name in taken:
        n += 1
        name = f"{wanted[:60]}-{n}"
    taken.add(name)
    return name


def _value(text: str | None) -> Any:
    """An attribute's value as YAML would give it (numbers as numbers)."""
    return int(text) if text is not None and text.isdigit() else text


class _Dumper(yaml.SafeDumper):
    """Entries in feeds.yaml's own style: mappings as blocks, lists of tags on one line."""


_Dumper.add_representer(list, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True))


def yaml_entries(entries: Sequence[dict[str, Any]], indent: int = 2) -> str:
    """feeds.yaml list items, indented to sit under `feeds:`."""
    lines = []
    for entry in entries:
        text = yaml.dump(dict(entry), Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False, width=1000)
        lines += [("- " if n == 0 else "  ") + line for n, line in enumerate(text.splitlines())]
    return "".join(" " * indent + line + "\n" for line in lines)


def append_feeds(path: Path, entries: Sequence[dict[str, Any]]) -> None:
    """Add entries at the end of feeds.yaml's `feeds:` list, leaving every other byte (comments, layout) as it was."""
    source = path.read_text(encoding="utf-8")
    updated = insert_entries(source, entries, str(path))
    parsed = parse(updated, str(path))
    try:
        feeds = FeedsFile.model_validate(parsed.data)
    except ValidationError as exc:
        raise ConfigError([Problem(str(path), 1, 1, f"the result would not be valid: {exc.errors()[0]['msg']}")]) from None
    ids = [f.id for f in feeds.feeds]
    if len(ids) != len(set(ids)):
        raise ConfigError([Problem(str(path), 1, 1, "the result would repeat a feed id")])
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(updated, encoding="utf-8")
    os.replace(temporary, path)


def insert_entries(source: str, entries: Sequence[dict[str, Any]], name: str) -> str:
    """`source` with the entries inserted after the last line of its `feeds:` list."""
    root = yaml.compose(source)
    value = next((v for k, v in root.value if k.value == "feeds"), None) if isinstance(root, yaml.MappingNode) else None
    if not isinstance(value, yaml.SequenceNode) or value.flow_style or not value.value:
        raise ConfigError([Problem(name, 1, 1, "feeds.yaml has no block list under 'feeds:' to append to; paste the entries by hand")])
    indent = max(0, value.value[0].start_mark.column - 2)
    last: yaml.Node = value.value[-1]
    while isinstance(last, yaml.CollectionNode) and last.value and not last.flow_style:
        tail = last.value[-1]
        last = tail[1] if isinstance(tail, tuple) else tail
    end = source.find("\n", last.end_mark.index)
    at = len(source) if end < 0 else end + 1
    head = source[:at] if source[:at].endswith("\n") else source[:at] + "\n"
    return head + yaml_entries(entries, indent) + source[at:]


def write_opml(feeds: Sequence[FeedSpec], title: str = "newswatch feeds") -> bytes:
    """OPML 2.0 of the feeds, grouped in folders by first tag, newswatch's settings in its own namespace."""
    from lxml import etree

    root = etree.Element("opml", version="2.0", nsmap={"newswatch": NAMESPACE})
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC))
    body = etree.SubElement(root, "body")
    folders: dict[str, Any] = {}
    for feed in feeds:
        if feed.tags and feed.tags[0] not in folders:
            folders[feed.tags[0]] = etree.SubElement(body, "outline", text=feed.tags[0], title=feed.tags[0])
        _outline(folders[feed.tags[0]] if feed.tags else body, feed)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _outline(parent: Any, feed: FeedSpec) -> None:
    """One feed's outline."""
    from lxml import etree

    given = feed.model_dump(exclude_unset=True)
    name = feed.name or feed.id
    attributes = {"text": name, "title": name}
    if feed.kind == "feed":
        attributes |= {"type": "rss", "xmlUrl": feed.url}
    else:
        attributes |= {"type": "link", "url": feed.url}
    if feed.tags:
        attributes["category"] = ",".join(feed.tags)
    attributes[f"{{{NAMESPACE}}}id"] = feed.id
    for setting in SETTINGS:
        if setting in given:
            value = given[setting]
            attributes[f"{{{NAMESPACE}}}{setting}"] = "off" if value is None else str(value)
    for option, value in (given.get(feed.kind) or {}).items() if feed.kind != "feed" else ():
        if value is not None:
            attributes[f"{{{NAMESPACE}}}{option}"] = str(value)
    etree.SubElement(parent, "outline", attributes)
