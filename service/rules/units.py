"""Term hits grouped by sentence, paragraph, lead or headline, once per item for every rule that asks (`nodes.Within`)."""

from __future__ import annotations

import threading
from collections import defaultdict

from service.rules.fields import QUOTE_ORDER
from service.rules.text import Field as TextField

Hits = dict[int, list[tuple[str, int]]]  # term number -> (field, offset of the key) pairs; offset -1: a regex
LEAD = "lead"  # the headline and the first paragraph of every other field
LEAD_UNIT = ("", 0)  # the lead's one group in `units_of`
HEADLINE = "headline"  # the title field alone
HEADLINE_UNIT = ("title", 0)  # the headline's one group in `units_of`
WHOLE = (LEAD, HEADLINE)  # units that are one group per item, not one per sentence or paragraph

_LAST = threading.local()  # the last item's hits, grouped by sentence and by paragraph


def units_of(hits: Hits, fields: dict[str, TextField], unit: str) -> dict[tuple[str, int], Hits]:
    """The hits of each sentence (paragraph) of each field by (field, unit number), or of the lead (`LEAD_UNIT`) or headline.

    Groups come in quote order (`QUOTE_ORDER`, then unit number): a witness takes the first that holds.
    A group holds every term of its unit; evaluators look only at their own terms, so the many
    clauses of many rules, and the witnesses of those that matched, share one grouping (kept until
    the next item's hits come).
    """
    last: tuple[Hits, dict[str, TextField], dict[str, dict[tuple[str, int], Hits]]] | None = getattr(_LAST, "value", None)
    if last is None or last[0] is not hits or last[1] is not fields:
        last = _LAST.value = (hits, fields, {})
    groups = last[2].get(unit)
    if groups is None and unit == LEAD:
        groups = last[2][unit] = {LEAD_UNIT: in_lead(hits, fields)}
    elif groups is None and unit == HEADLINE:
        groups = last[2][unit] = {HEADLINE_UNIT: in_headline(hits)}
    elif groups is None:
        by_unit: dict[tuple[str, int], Hits] = defaultdict(dict)
        for t, places in hits.items():
            for name, offset in places:
                if offset >= 0:  # a regex has no position: it belongs to no one unit
                    by_unit[name, fields[name].unit_of(offset, unit)].setdefault(t, []).append((name, offset))
        groups = last[2][unit] = dict(sorted(by_unit.items(), key=_quote_order))
    return groups


def in_lead(hits: Hits, fields: dict[str, TextField]) -> Hits:
    """The hits of the lead: the headline's, and those of the lead paragraph of every other field."""
    headline = fields["title"].folded if "title" in fields else ""
    leads = {n: 0 if n == "title" else f.lead_paragraph(headline) for n, f in fields.items()}
    lead: Hits = {}
    for t, found in hits.items():
        places = [(n, o) for n, o in found if n == "title" or fields[n].unit_of(o, "paragraph") == leads[n]]
        if places:
            lead[t] = places
    return lead


def in_headline(hits: Hits) -> Hits:
    """The hits of the headline (the title field)."""
    headline: Hits = {}
    for t, found in hits.items():
        places = [(n, o) for n, o in found if n == "title" and o >= 0]
        if places:
            headline[t] = places
    return headline


def _quote_order(group: tuple[tuple[str, int], Hits]) -> tuple[int, int]:
    """Where a unit's group comes: its field in quote order, then its number."""
    (name, unit), _ = group
    return QUOTE_ORDER.index(name), unit
