"""Data types passed between the steps of the pipeline; this module imports nothing of the project."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from typing import Any, Literal


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
    link_problem: str = ""  # why the feed's link was not kept (malformed, not http(s)), when it was not
    date_note: str = ""  # why `published` is missing (then the first sighting stands for it) or was guessed (service.ingest.dates)
    outlet: str = ""  # the outlet an aggregator's item comes from (RSS `<source>`), shown in alerts
    outlet_url: str = ""  # that outlet's site
    via: str = ""  # the aggregator's link, when `link` is the outlet's own URL it led to (service.ingest.sources.aggregator)

    def __reduce__(self) -> tuple[type[Item], tuple[Any, ...]]:
        """Pickled as its fields in order (a parse worker's items cross to the service): half the cost of dataclass state."""
        return Item, _item_fields(self)


_item_fields = attrgetter(*(f.name for f in fields(Item)))


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
class Evidence:
    """What an alert quotes for one rule: the sentence(s) that made it match, from the field that holds them.

    `highlights` are (start, end) spans of the matched terms in `text`; `in_article` is true only
    when the rule would not have matched on the feed's own text (the article page was needed).
    """

    text: str
    highlights: tuple[tuple[int, int], ...] = ()
    field: str = ""
    in_article: bool = False

    def as_data(self, rule_id: str) -> dict[str, object]:
        """As stored with matches and deliveries, and printed by `rules test --format json`."""
        spans = [list(span) for span in self.highlights]
        return {"rule": rule_id, "text": self.text, "highlights": spans, "field": self.field, "in_article": self.in_article}


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """Why an item matched one rule, and what an alert of it quotes."""

    rule_id: str
    rule_name: str
    destinations: tuple[str, ...]
    terms: tuple[MatchedTerm, ...]
    evidence: Evidence = Evidence("")

    @property
    def term_labels(self) -> list[str]:
        """The written forms of the matched terms."""
        return [t.term for t in self.terms]


ArticleMode = Literal["auto", "always", "never"]


@dataclass(frozen=True, slots=True)
class FeedContext:
    """What matching needs to know about the feed an item came from; built by one function (`FeedSpec.context`).

    The service, `rules test`, `rules replay`, rule examples and Slack's `/newswatch test` all pass
    one, so that they see an item the same way: which rules are in scope (the feed id and its tags),
    which language an item that declares none is in, whether its article page is read, and which
    items are too old to alert.
    """

    feed_id: str
    tags: tuple[str, ...] = ()
    language: str = ""
    article: ArticleMode = "never"
    max_age: int | None = None  # seconds; None: any age may alert
    url: str | None = None  # the feed's URL: decides which addresses its article links may reach (`service.ingest.guard`)
    demo: bool = False  # a demo feed: its alerts go to the console only (`service.ingest.route.DEMO`), never to a real destination

    @property
    def scope(self) -> tuple[str, ...]:
        """The names a rule's `feeds:` may list to include this feed: its id and its tags."""
        return (self.feed_id, *self.tags)


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
    via: str = ""  # the aggregator link that `url` was resolved from, if any
