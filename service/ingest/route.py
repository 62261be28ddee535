"""Route a matched item: which destinations get it, muted or not, now or in a briefing, quoting what. Pure.

The matcher already said why each rule matched and what an alert of it quotes (`RuleMatch.evidence`).
Routing decides the rest, once, where the item is: one delivery per destination, naming every
rule that sends the item there with that rule's evidence; muted by the silences in force
(`Mutes.silences`, the one silence rule); waiting for a briefing where the destination or a rule
asks for one. The pipeline stores what this returns, and `rules test` prints it, so the two agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.queue import Mutes
from service.ingest.model import Evidence, FeedContext, Item, RuleMatch
from service.rules import text

DeliveryOf = Callable[[str, Sequence[str]], str | None]  # (destination, rule ids) -> instant, daily, weekly; None: not configured
NOTHING_MUTED = Mutes()
DEMO = "console:demo"  # where a demo feed's alerts go, whatever the rules say: a console no config can name


def instant(destination: str, rule_ids: Sequence[str]) -> str:
    """Every alert as it happens: the delivery when no config says otherwise."""
    return "instant"


@dataclass(frozen=True, slots=True)
class Route:
    """One destination's copy of an alert."""

    destination: str
    rule_ids: tuple[str, ...]
    evidence: tuple[Evidence, ...]  # one per rule, in `rule_ids` order: what this copy quotes
    muted: bool = False  # stored, never sent
    delivery: str = "instant"  # or "daily" / "weekly": it waits for the destination's next briefing

    @property
    def briefed(self) -> bool:
        """True if it waits for a briefing instead of going out on its own."""
        return self.delivery in ("daily", "weekly")


@dataclass(frozen=True, slots=True)
class Routed:
    """What becomes of a matched item: each match's reason not to alert (None: it alerts), and its deliveries."""

    silenced: dict[str, str | None]  # rule id -> "first_poll", "too_old", "muted" or None
    routes: tuple[Route, ...] = ()


def suppression(item: Item, context: FeedContext, now: datetime, first_poll: bool = False) -> str | None:
    """Why an item must not alert at all, if it must not: a new feed's backlog, or older than the feed's `max_age`."""
    if first_poll:
        return "first_poll"
    if context.max_age is not None and item.published and item.published < now - timedelta(seconds=context.max_age):
        return "too_old"
    return None


def route(
    feed_id: str,
    matches: Sequence[RuleMatch],
    suppressed: str | None,
    mutes: Mutes = NOTHING_MUTED,
    delivery_of: DeliveryOf = instant,
    demo: bool = False,
) -> Routed:
    """The deliveries of one item's matches; none when the item may not alert (`suppressed`).

    A demo feed's matches go to the demo console only (`DEMO`), whatever destinations their rules name.
    """
    silenced = {m.rule_id: suppressed or ("muted" if mutes.silences("", [m.rule_id], feed_id) else None) for m in matches}
    if suppressed is not None:
        return Routed(silenced)
    by_destination: dict[str, list[RuleMatch]] = {}
    for match in matches:
        for destination in (DEMO,) if demo else match.destinations:
            by_destination.setdefault(destination, []).append(match)
    routes = []
    for destination, found in by_destination.items():
        rule_ids = [m.rule_id for m in found]
        muted = mutes.silences(destination, rule_ids, feed_id)
        sending = found if muted else [m for m in found if m.rule_id not in mutes.rules]  # a muted rule's name is left off the alert
        delivery = delivery_of(destination, [m.rule_id for m in sending]) or "instant"
        routes.append(Route(destination, tuple(m.rule_id for m in sending), tuple(m.evidence for m in sending), muted, delivery))
    return Routed(silenced, tuple(routes))


def legacy_evidence(title: str, summary: str, content: str, article: str, terms: Sequence[tuple[str, Sequence[str]]]) -> Evidence:
    """What a delivery queued before evidence was stored quotes: the rule as it was then.

    The article when a matched term occurred only there, else the feed's text; `terms` are
    (written form, fields) pairs from the match rows. Kept until such deliveries have drained.
    """
    only_article = any(tuple(fields) == ("article",) for _, fields in terms)
    field, body = next(((f, b) for f, b in (("summary", summary), ("content", content)) if b), ("title", title))
    if article and only_article:
        field, body = "article", article
    quote, spans = text.snippet(body, [t for t, _ in terms], 320) if body else ("", [])
    return Evidence(quote, tuple(spans), field, field == "article")
