"""What every kind of source hands the pipeline, and the small helpers they share; imports only fetch and model."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from service.ingest.fetch import Fetched, FetchFailed, Network, NotModified
from service.ingest.model import ParsedFeed
from service.ingest.parse import canonical_link

Offload = Callable[..., Awaitable[Any]]  # runs a picklable function off the event loop: offload(fn, *args)


async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """The default offload: a thread (the service passes its parse workers)."""
    return await asyncio.to_thread(fn, *args)


class DocumentFetcher(Protocol):
    """The part of `service.ingest.fetch.Fetcher` that sources use."""

    async def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
        public_only: bool = False,
        network: Network | None = None,
    ) -> Fetched | NotModified | FetchFailed:
        """GET a URL under the fetcher's caps; with the source's `network`, remember where its links may lead."""
        ...

    def links_public(self, url: str) -> bool | None:
        """Whether the links of the document last fetched from `url` may lead to public addresses only (None: never fetched)."""
        ...

    def remember_links(self, url: str, like: str) -> None:
        """Let `url`'s links lead where those of `like`, fetched on its behalf, may."""
        ...


@dataclass(frozen=True, slots=True)
class Read:
    """A source's items: the main document's fetch (its validators are kept for the next poll) and what was parsed."""

    fetched: Fetched
    parsed: ParsedFeed


ReadResult = Read | NotModified | FetchFailed

_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ ,T]+(\d{1,2}):(\d{2}))?")


def parse_date(value: str) -> datetime | None:
    """A date as sites write it: W3C/ISO 8601 (`2025-09-11`, `2025-09-11T15:20+07:00`) or `11/09/2025 15:20`; UTC when no zone."""
    text = value.strip()
    if not text:
        return None
    found = _DMY.match(text)
    if found:
        day, month, year, hour, minute = (int(g) if g else 0 for g in found.groups())
        try:
            return datetime(year, month, day, hour, minute, tzinfo=UTC)
        except ValueError:
            return None
    try:
        parsed = datetime.fromisoformat(text[:40])
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def slug_title(link: str) -> str:
    """A stand-in headline from a link's last segment (`/viet-nam-campuchia-4791.html` → "Viet nam campuchia")."""
    last = unquote(urlsplit(link).path.rstrip("/").rsplit("/", 1)[-1])
    stem = re.sub(r"\.[A-Za-z0-9]{2,5}$", "", last)
    words = [w for w in re.split(r"[-_+\s]+", stem) if w and not w.isdigit()]
    text = " ".join(words)[:200]
    return text[:1].upper() + text[1:]


def link_in(href: str, base: str = "") -> str:
    """The canonical form of a link found in a document; "" for one that cannot be parsed (`http://[x`)."""
    try:
        return canonical_link(href, base)
    except ValueError:
        return ""
