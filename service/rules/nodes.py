"""The node algebra that rule operators compile into (`service.rules.operators`).

A node knows which terms it needs (so that the matcher can skip rules whose terms are absent)
and compiles into an evaluator: a function of an item's term hits and fields that says
whether the node holds. `Within` and `Near` look at positions: one sentence or paragraph, or
a number of words.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from service.rules.fields import QUOTE_ORDER
from service.rules.text import Field as TextField
from service.rules.units import HEADLINE, HEADLINE_UNIT, LEAD, LEAD_UNIT, WHOLE, units_of
from service.rules.units import Hits as Hits  # re-exported: the matcher and explanations read it here

Evaluator = Callable[[Hits, dict[str, TextField]], bool]
# Where a node held: a field's name, the numbers of the first and last word that made it hold, and how
# telling that is (0: a sentence, a paragraph or nearness; 1: the lead, which often only names the sides).
Witness = tuple[str, int, int, int]


T = TypeVar("T")
MEMO: Any = field(default_factory=dict, init=False, repr=False, compare=False)  # what a compound node computed of itself


def _once(memo: dict[str, Any], key: str, make: Callable[[], T]) -> T:
    """`make()` the first time, the same answer after: a node's terms and evaluator are read per item matched."""
    if key not in memo:
        memo[key] = make()
    return memo[key]  # type: ignore[no-any-return]


def _best(witnesses: Iterable[Witness | None]) -> Witness | None:
    """The witness to quote: the most telling, from the field an alert quotes first (`QUOTE_ORDER`), the earliest in it."""
    found = [w for w in witnesses if w is not None]
    return min(found, key=lambda w: (w[3], QUOTE_ORDER.index(w[0]), w[1], w[2])) if found else None


class Node(Protocol):
    """A compiled rule node: what `service.rules.operators` builds from a rule's `match`."""

    def positive_terms(self) -> frozenset[int]:
        """The terms whose presence can make the node hold (those not under a `none`)."""

    def all_terms(self) -> frozenset[int]:
        """Every term the node looks at, negated ones included."""

    def min_hits(self) -> int:
        """A lower bound on how many distinct positive terms must occur for the node to hold."""

    def needs_a_hit(self) -> bool:
        """True if the node can only hold when at least one of its positive terms occurs."""

    def evaluator(self) -> Evaluator:
        """A function of an item's hits and fields that tells whether the node holds."""

    def witness(self, hits: Hits, fields: dict[str, TextField]) -> Witness | None:
        """Where a node that holds holds: the words of one field that a sentence or nearness test accepted.

        None for a node without such a test (plain terms hold anywhere in the item). Asked only of
        a rule that matched, to quote its evidence: it may take its time.
        """


@dataclass(frozen=True, slots=True)
class TermNode:
    """Holds when one term occurs."""

    term: int

    def positive_terms(self) -> frozenset[int]:
        return frozenset((self.term,))

    def all_terms(self) -> frozenset[int]:
        return frozenset((self.term,))

    def min_hits(self) -> int:
        return 1

    def needs_a_hit(self) -> bool:
        return True

    def evaluator(self) -> Evaluator:
        term = self.term
        return lambda hits, fields: term in hits

    def witness(self, hits: Hits, fields: dict[str, TextField]) -> Witness | None:
        return None


@dataclass(frozen=True, slots=True)
class AllOf:
    """Holds when every child holds."""

    children: tuple[Node, ...]
    _memo: dict[str, Any] = MEMO

    def positive_terms(self) -> frozenset[int]:
        return _once(self._memo, "positive", lambda: frozenset().union(*(c.positive_terms() for c in self.children)))

    def all_terms(self) -> frozenset[int]:
        return _once(self._memo, "all", lambda: frozenset().union(*(c.all_terms() for c in self.children)))

    def min_hits(self) -> int:
        counts = [c.min_hits() for c in self.children]
        sets = [c.positive_terms() for c in self.children if c.min_hits()]
        disjoint = sum(len(t) for t in sets) == len(frozenset().union(*sets)) if sets else True
        return sum(counts) if disjoint else max(counts, default=0)

    def needs_a_hit(self) -> bool:
        return any(c.needs_a_hit() for c in self.children)

    def evaluator(self) -> Evaluator:
        return _once(self._memo, "evaluator", self._evaluator)

    def _evaluator(self) -> Evaluator:
        terms, others = _split(self.children)
        if not others:
            return lambda hits, fields: hits.keys() >= terms
        return lambda hits, fields: hits.keys() >= terms and all(c(hits, fields) for c in others)

    def witness(self, hits: Hits, fields: dict[str, TextField]) -> Witness | None:
        return _best(c.witness(hits, fields) for c in self.children)


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Holds when at least one child holds."""

    children: tuple[Node, ...]
    label: str = field(default="", compare=False)  # "@name" when it stands for a term group (explanations name it)
    _memo: dict[str, Any] = MEMO

    def positive_terms(self) -> frozenset[int]:
        return _once(self._memo, "positive", lambda: frozenset().union(*(c.positive_terms() for c in self.children)))

    def all_terms(self) -> frozenset[int]:
        return _once(self._memo, "all", lambda: frozenset().union(*(c.all_terms() for c in self.children)))

    def min_hits(self) -> int:
        return min((c.min_hits() for c in self.children), default=0)

    def needs_a_hit(self) -> bool:
        return all(c.needs_a_hit() for c in self.children)

    def evaluator(self) -> Evaluator:
        return _once(self._memo, "evaluator", self._evaluator)

    def _evaluator(self) -> Evaluator:
        terms, others = _split(_merge_within(self.children))
        if not others:
            return lambda hits, fields: not hits.keys().isdisjoint(terms)
        if len(others) == 1:
            [other] = others
            return lambda hits, fields: not hits.keys().isdisjoint(terms) or other(hits, fields)
        return lambda hits, fields: not hits.keys().isdisjoint(terms) or any(c(hits, fields) for c in others)

    def witness(self, hits: Hits, fields: dict[str, TextField]) -> Witness | None:
        return _best(c.witness(hits, fields) for c in self.children if not isinstance(c, TermNode) and _witnessed(c, hits, fields))


@dataclass(frozen=True, slots=True)
class NoneOf:
    """Holds when no child holds."""

    children: tuple[Node, ...]
    _memo: dict[str, Any] = MEMO

    def positive_terms(self) -> frozenset[int]:
        return frozenset()

    def all_terms(self) -> frozenset[int]:
        return _once(self._memo, "all", lambda: frozenset().union(*(c.all_terms() for c in self.children)))

    def min_hits(self) -> int:
        return 0

    def needs_a_hit(self) -> bool:
        return False

    def evaluator(self) -> Evaluator:
        return _once(self._memo, "evaluator", self._evaluator)

    def _evaluator(self) -> Evaluator:
        terms, others = _split(self.children)
        return lambda hits, fields: hits.keys().isdisjoint(terms) and not any(c(hits, fields) for c in others)

    def witness(self, hits: Hits, fields: dict[str, TextField]) -> Witness | None:
        return None


@dataclass(frozen=True, slots=True)
class Within:
    """Holds when `inner` holds on the hits of one sentence or paragraph of one field, or on those of the lead or the headline."""

    unit: str
    inner: Node
    _memo: dict[str, Any] = MEMO

    def positive_terms(self) -> frozenset[int]:
        return self.inner.positive_terms()

    def all_terms(self) -> frozenset[int]:
        return self.inner.all_terms()

    def min_hits(self) -> int:
        return self.inner.min_hits()

    def needs_a_hit(self) -> bool:
        return self.inner.needs_a_hit()

    def evaluator(self) -> Evaluator:
        return _once(self._memo, "evaluator", self._evaluator)

    def _evaluator(self) -> Evaluator:
        inner, unit = self.inner.evaluator(), self.unit
        positive = self.inner.positive_terms()
        possible = _necessary(self.inner)  # if it fails on the whole item, no one unit can hold
        if unit in WHOLE:
            key = LEAD_UNIT if unit == LEAD else HEADLINE_UNIT

            def in_whole(hits: Hits, fields: dict[str, TextField]) -> bool:
                if not possible(hits):
                    return False
                whole = units_of(hits, fields, unit)[key]
                return not positive.isdisjoint(whole) and inner(whole, fields)

            return in_whole

        def evaluate(hits: Hits, fields: dict[str, TextField]) -> bool:
            if not possible(hits):
                return False
            groups = units_of(hits, fields, unit).values()
            return any(not positive.isdisjoint(g) and possible(g) and inner(g, fields) for g in groups)

        return evaluate

    def witness(self, hits: Hits, fields: dict[str, TextField]) -> Witness | None:
        inner, positive = self.inner.evaluator(), self.inner.positive_terms()
        if self.unit == HEADLINE:  # the headline held: quote it
            if "title" not in fields or not self.evaluator()(hits, fields):
                return None
            return "title", 0, len(fields["title"].folded.split()) - 1, 0
        if self.unit == LEAD:  # the lead held as a whole: quote the lead paragraph of the first field that has a term of it
            places = sorted({n for t in positive & hits.keys() for n, o in hits[t] if o >= 0}, key=QUOTE_ORDER.index)
            if not places or not self.evaluator()(hits, fields):
                return None
            name = places[0]
            if name == "title":
                return name, 0, len(fields[name].folded.split()) - 1, 1
            headline = fields["title"].folded if "title" in fields else ""
            return (name, *fields[name].unit_words(fields[name].lead_paragraph(headline), "paragraph"), 1)
        groups = units_of(hits, fields, self.unit)  # every term's hits per unit: the inner node reads only its own
        for (name, unit), group in groups.items():  # in quote order: the first that holds
            if not positive.isdisjoint(group) and inner(group, fields):
                return (name, *fields[name].unit_words(unit, self.unit), 0)
        return None


def _witnessed(node: Node, hits: Hits, fields: dict[str, TextField]) -> bool:
    """Whether to ask a child of `any` for its witness: if it holds. A sentence, paragraph or nearness
    test has a witness exactly when it holds (the same units or places), so it is not evaluated twice."""
    if isinstance(node, Near) or (isinstance(node, Within) and node.unit not in WHOLE):
        return True
    return node.evaluator()(hits, fields)


def _necessary(node: Node) -> Callable[[Hits], bool]:
    """A quick test of the terms present that a node needs to hold on any part of the item: `none` and
    nearness left out, so it is true whenever the node holds on some unit (and often when it does not)."""
    if isinstance(node, TermNode):
        term = node.term
        return lambda hits: term in hits
    if isinstance(node, Near):
        slots = [frozenset(slot) for slot in node.slots]
        return lambda hits: all(not hits.keys().isdisjoint(slot) for slot in slots)
    if isinstance(node, Within):
        return _necessary(node.inner)
    if isinstance(node, AllOf | AnyOf):
        terms = frozenset(c.term for c in node.children if isinstance(c, TermNode))
        if isinstance(node, AllOf):
            needed = [_necessary(c) for c in node.children if not isinstance(c, TermNode | NoneOf)]
            return lambda hits: hits.keys() >= terms and all(c(hits) for c in needed)
        others = [_necessary(c) for c in node.children if not isinstance(c, TermNode)]
        if not others:
            return lambda hits: not hits.keys().isdisjoint(terms)
        return lambda hits: not hits.keys().isdisjoint(terms) or any(c(hits) for c in others)
    return lambda hits: True  # NoneOf, and any node type added later


def _merge_within(children: Sequence[Node]) -> list[Node]:
    """Alternatives that each hold within a sentence (paragraph) become one: "within some sentence, any of them".

    Same truth, one pass over the units instead of one per alternative.
    """
    by_unit: dict[str, list[Node]] = defaultdict(list)
    for c in children:
        if isinstance(c, Within) and c.unit not in WHOLE:
            by_unit[c.unit].append(c.inner)
    merged: list[Node] = [c for c in children if not (isinstance(c, Within) and len(by_unit.get(c.unit, ())) > 1)]
    merged += [Within(unit, AnyOf(tuple(inners))) for unit, inners in by_unit.items() if len(inners) > 1]
    return merged


def _split(children: Sequence[Node]) -> tuple[frozenset[int], list[Evaluator]]:
    """Plain term children become one C-level set test; the others keep their evaluators."""
    terms = frozenset(c.term for c in children if isinstance(c, TermNode))
    return terms, [c.evaluator() for c in children if not isinstance(c, TermNode)]


@dataclass(frozen=True, slots=True)
class Near:
    """Holds when a place of the first slot has a place of every other slot close to it in the same field."""

    slots: tuple[tuple[int, ...], ...]  # each slot: alternative terms (a group gives several)
    within: int | str
    labels: tuple[str, ...] = field(default=(), compare=False)  # each slot as written ("@name" or a term), for explanations
    _memo: dict[str, Any] = MEMO

    def positive_terms(self) -> frozenset[int]:
        return frozenset(t for slot in self.slots for t in slot)

    def all_terms(self) -> frozenset[int]:
        return self.positive_terms()

    def min_hits(self) -> int:
        return 1

    def needs_a_hit(self) -> bool:
        return True

    def evaluator(self) -> Evaluator:
        return _once(self._memo, "evaluator", self._evaluator)

    def _evaluator(self) -> Evaluator:
        slots = [frozenset(slot) for slot in self.slots]

        def holds(hits: Hits, fields: dict[str, TextField]) -> bool:
            places = []
            for slot in slots:  # a group may have hundreds of terms, an item a handful of hits
                found = [p for t in slot & hits.keys() for p in hits[t] if p[1] >= 0]
                if not found:
                    return False
                places.append(found)
            return self._holds(places, fields)

        return holds

    def witness(self, hits: Hits, fields: dict[str, TextField]) -> Witness | None:
        places = [[p for t in slot for p in hits.get(t, ()) if p[1] >= 0] for slot in self.slots]
        if not all(places):
            return None
        for name, offset in sorted(places[0], key=lambda p: (QUOTE_ORDER.index(p[0]), p[1])):
            f = fields[name]
            anchor = self._position(f, offset)
            chosen = [next((o for n, o in other if n == name and self._close(f, o, anchor)), None) for other in places[1:]]
            if all(o is not None for o in chosen):
                words = [f.word_index(o) for o in (offset, *chosen) if o is not None]
                return name, min(words), max(words), 0
        return None

    def _holds(self, places: list[list[tuple[str, int]]], fields: dict[str, TextField]) -> bool:
        """True if a place of the first slot has a place of every other slot close to it."""
        for name, offset in places[0]:
            anchor = self._position(fields[name], offset)
            if all(any(n == name and self._close(fields[n], o, anchor) for n, o in other) for other in places[1:]):
                return True
        return False

    def _position(self, f: TextField, offset: int) -> int:
        """A word's number, or its sentence's or paragraph's."""
        return f.unit_of(offset, self.within) if isinstance(self.within, str) else f.word_index(offset)

    def _close(self, f: TextField, offset: int, anchor: int) -> bool:
        """Within reach of the anchor."""
        reach = 0 if isinstance(self.within, str) else self.within
        return abs(self._position(f, offset) - anchor) <= reach
