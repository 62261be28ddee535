"""Data types passed between the steps of the pipeline; this module imports nothing of the project."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Item:
    """One normalised feed entry; `key` identifies it within its feed."""

    feed_id: str
    key: str
    title: str
    link: str = ""
    guid: str = ""
    summary: str = ""
    content: str = ""
    author: str = ""
    published: datetime | None = None
    language: str = ""
    article: str = ""  # the article page's main text, when it was fetched (service.ingest.article)
    date_note: str = ""  # why `published` is missing (then the first sighting stands for it) or was guessed (service.ingest.dates)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What a parse recovered from one document, with warnings for what it could not."""

    title: str
    items: list[Item]
    warnings: list[str] = field(default_factory=list)
    ttl_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class MatchedTerm:
    """A term that occurred, the fields it occurred in and its word positions in the first."""

    term: str
    fields: tuple[str, ...]
    positions: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """Why an item matched one rule."""

    rule_id: str
    rule_name: str
    destinations: tuple[str, ...]
    terms: tuple[MatchedTerm, ...]

    @property
    def term_labels(self) -> list[str]:
        """The written forms of the matched terms."""
        return [t.term for t in self.terms]


@dataclass(frozen=True, slots=True)
class FeedSource:
    """What the poller needs to know about one feed, read from its database row."""

    id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    caught_up: bool = True
    article_failures: int = 0  # polls in a row whose article pages all failed
    article_retry_at: datetime | None = None  # article pages paused until then


class Status(StrEnum):
    """What became of an item's page."""

    FETCHED = "fetched"  # its main text is in `Article.text`
    NOT_NEEDED = "not_needed"  # the feed's text was enough (long enough, no rule term, or already matched)
    DISABLED = "disabled"  # the feed says `article: never`, or the item may not alert
    PAUSED = "paused"  # the feed's pages failed recently: backing off
    BLOCKED = "blocked"  # robots.txt disallows it
    FAILED = "failed"  # fetch error, not HTML, nothing extractable
    SHORT = "short"  # the page's text is under service.ingest.extract.MIN_TEXT characters even with the recall setting: not used
    TIMEOUT = "timeout"  # over the time budget


FAILURES = frozenset({Status.BLOCKED, Status.FAILED, Status.SHORT, Status.TIMEOUT})  # a feed whose pages all fail is paused


@dataclass(frozen=True, slots=True)
class Article:
    """The outcome for one item's page."""

    status: Status
    text: str = ""
    detail: str = ""  # how the text was obtained, or why there is none
    url: str = ""
    seconds: float = 0.0
