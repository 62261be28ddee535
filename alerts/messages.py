"""What sinks render: an alert, a digest of alerts, an operations notice, a briefing page.

Every text in these comes from feeds or from the config and is untrusted: each sink escapes it
for its own format. The quote of an alert (`snippet`, `highlights`, `in_article`) was decided
when the item matched (`service.ingest.route`) and stored with the delivery; sinks only render it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Mode(StrEnum):
    """How a delivery goes out (stored on its row once planned)."""

    ALERT = "alert"  # a message of its own
    REPLY = "reply"  # in the thread of an earlier alert of the same story
    DIGEST = "digest"  # in a digest message
    THROTTLED = "throttled"  # in a digest, held back by a rule's throttle
    NOTICE = "notice"  # an operations notice
    BRIEFED = "briefed"  # an alert waiting for its destination's next briefing (not claimed on its own)
    BRIEFING = "briefing"  # a briefing message (a page of one), listing briefed alerts


@dataclass(frozen=True, slots=True)
class AlertRule:
    """A rule that matched, with the terms that made it match."""

    id: str
    name: str
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Alert:
    """Everything a sink needs to render one alert; all text in it is untrusted feed content."""

    delivery_id: int
    destination: str
    title: str
    link: str
    source: str
    published: datetime | None
    snippet: str  # the evidence: the sentence(s) that made the first rule match
    highlights: tuple[tuple[int, int], ...]  # the matched terms in `snippet`
    rules: tuple[AlertRule, ...]
    attempts: int = 0
    in_article: bool = False  # the rule matched only with the article page's text: the snippet is from it
    mode: str = Mode.ALERT
    thread_ts: str | None = None  # a reply's thread: the remote id of the story's first alert
    reply_to: int | None = None  # a reply whose first alert is in the same batch: that delivery's id
    item_id: int | None = None  # the matched item (its page on the web, where a sink links to it)

    @property
    def terms(self) -> list[str]:
        """The matched terms of all rules, each once, in order."""
        return list(dict.fromkeys(t for r in self.rules for t in r.terms))

    @property
    def delivery_ids(self) -> tuple[int, ...]:
        """The deliveries this message settles."""
        return (self.delivery_id,)


@dataclass(frozen=True, slots=True)
class Digest:
    """Several alerts for one destination in one message, instead of a flood of them."""

    destination: str
    alerts: tuple[Alert, ...]
    held: int = 0  # how many of them were held back by a rule's throttle
    attempts: int = 0
    mode: str = Mode.DIGEST

    @property
    def delivery_id(self) -> int:
        """The first delivery's id, to name the digest in logs."""
        return self.alerts[0].delivery_id

    @property
    def delivery_ids(self) -> tuple[int, ...]:
        """The deliveries this message settles."""
        return tuple(a.delivery_id for a in self.alerts)


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice about the service itself for an operations destination: a feed failing, or recovered."""

    delivery_id: int
    destination: str
    text: str
    attempts: int = 0
    mode: str = Mode.NOTICE

    @property
    def delivery_ids(self) -> tuple[int, ...]:
        """The deliveries this message settles."""
        return (self.delivery_id,)


@dataclass(frozen=True, slots=True)
class Story:
    """One story in a briefing: its newest report, and how many other reports of it were folded in."""

    alert: Alert
    also: int = 0


@dataclass(frozen=True, slots=True)
class Briefing:
    """A daily or weekly briefing (or one page of it): stories grouped by rule, newest first."""

    delivery_id: int
    destination: str
    title: str
    sections: tuple[tuple[str, tuple[Story, ...]], ...]  # (rule name, its stories)
    page: int = 1
    pages: int = 1
    attempts: int = 0
    thread_ts: str | None = None  # a later page: the first page's remote id
    reply_to: int | None = None  # a later page whose first page is in the same batch: that delivery's id
    mode: str = Mode.BRIEFING

    @property
    def delivery_ids(self) -> tuple[int, ...]:
        """The deliveries this message settles (the alerts it lists follow it: `Queue.sent`)."""
        return (self.delivery_id,)

    @property
    def count(self) -> int:
        """How many stories this page lists."""
        return sum(len(stories) for _, stories in self.sections)


Message = Alert | Digest | Notice | Briefing
