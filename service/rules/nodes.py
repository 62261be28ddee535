"""The node algebra that rule operators compile into (`service.rules.operators`).

A node knows which terms it needs (so that the matcher can skip rules whose terms are absent)
and compiles into an evaluator: a function of an item's term hits and fields that says
whether the node holds. `Within` and `Near` look at positions: one sentence or paragraph, or
a number of words.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from service.rules.fields import QUOTE_ORDER
from service.rules.text import Field as TextField

Hits = dict[int, list[tuple[str, int]]]  # term number -> (field, offset of the key) pairs; offset -1: a regex
Evaluator = Callable[[Hits, dict[str, TextField]], bool]
Witness = tuple[str, int, int]  # a field's name and the numbers of the first and last word that made a node hold


def _best(witnesses: Iterable[Witness | None]) -> Witness | None:
    """The witness to quote: from the field an alert quotes first (`QUOTE_ORDER`), the earliest in it."""
    found = [w for w in witnesses if w is not None]
    return min(found, key=lambda w: (QUOTE_ORDER.index(w[0]), w[1], w[2])) if found else None


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

        None for a node without such a test (plain terms hold anywhere in the item).
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

    def positive_terms(self) -> frozenset[int]:
        return frozenset().union(*(c.positive_terms() for c in self.children))

    def all_terms(self) -> frozenset[int]:
        return frozenset().union(*(c.all_terms() for c in self.children))

    def min_hits(self) -> int:
        counts = [c.min_hits() for c in self.children]
        sets = [c.positive_terms() for c in self.children if c.min_hits()]
        disjoint = sum(len(t) for t in sets) == len(frozenset().union(*sets)) if sets else True
        return sum(counts) if disjoint else max(counts, default=0)

    def needs_a_hit(self) -> bool:
        return any(c.needs_a_hit() for c in self.children)

    def evaluator(self) -> Evaluator:
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

    def positive_terms(self) -> frozenset[int]:
        return frozenset().union(*(c.positive_terms() for c in self.children))

    def all_terms(self) -> frozenset[int]:
        return frozenset().union(*(c.all_terms() for c in self.children))

    def min_hits(self) -> int:
        return min((c.min_hits() for c in self.children), default=0)

    def needs_a_hit(self) -> bool:
        return all(c.needs_a_hit() for c in self.children)

    def evaluator(self) -> Evaluator:
        terms, others = _split(self.children)
        if not others:
            return lambda hits, fields: not hits.keys().isdisjoint(terms)
        return lambda hits, fields: not hits.keys().isdisjoint(terms) or any(c(hits, fields) for c in others)

    def witness(self, hits: Hits, fields: dict[str, TextField]) -> Witness | None:
        return _best(c.witness(hits, fields) for c in self.children if not isinstance(c, TermNode) and c.evaluator()(hits, fields))


@dataclass(frozen=True, slots=True)
class NoneOf:
    """Holds when no child holds."""

    children: tuple[Node, ...]

    def positive_terms(self) -> frozenset[int]:
        return frozenset()

    def all_terms(self) -> frozenset[int]:
        return frozenset().union(*(c.all_terms() for c in self.children))

    def min_hits(self) -> int:
        return 0

    def needs_a_hit(self) -> bool:
        return False

    def evaluator(self) -> Evaluator:
        terms, others = _split(self.children)
        return lambda hits, fields: hits.keys().isdisjoint(terms) and not any(c(hits, fields) for c in others)

    def witness(self, hits: Hits, fields: dict[str, TextField]) -> Witness | None:
        return None


@dataclass(frozen=True, slots=True)
class Within:
    """Holds when `inner` holds on the hits of one sentence or paragraph of one field."""

    unit: str
    inner: Node

    def positive_terms(self) -> frozenset[int]:
        return self.inner.positive_terms()

    def all_terms(self) -> frozenset[int]:
        return self.inner.all_terms()

    def min_hits(self) -> int:
        return self.inner.min_hits()

    def needs_a_hit(self) -> bool:
        return self.inner.needs_a_hit()

    def evaluator(self) -> Evaluator:
        inner, positive = self.inner.evaluator(), self.inner.positive_terms()

        def evaluate(hits: Hits, fields: dict[str, TextField]) -> bool:
            return any(inner(group, fields) for group in self._groups(hits, fields).values() if not positive.isdisjoint(group))

        return evaluate

    def witness(self, hits: Hits, fields: dict[str, TextField]) -> Witness | None:
        inner, positive = self.inner.evaluator(), self.inner.positive_terms()
        held = [k for k, group in self._groups(hits, fields).items() if not positive.isdisjoint(group) and inner(group, fields)]
        if not held:
            return None
        name, unit = min(held, key=lambda k: (QUOTE_ORDER.index(k[0]), k[1]))
        return (name, *fields[name].unit_words(unit, self.unit))

    def _groups(self, hits: Hits, fields: dict[str, TextField]) -> dict[tuple[str, int], Hits]:
        """The hits of each (field, sentence or paragraph)."""
        groups: dict[tuple[str, int], Hits] = defaultdict(dict)
        for t in self.inner.all_terms() & hits.keys():
            for name, offset in hits[t]:
                groups[name, fields[name].unit_of(offset, self.unit)].setdefault(t, []).append((name, offset))
        return groups


def _split(children: Sequence[Node]) -> tuple[frozenset[int], list[Evaluator]]:
    """Plain term children become one C-level set test; the others keep their evaluators."""
    terms = frozenset(c.term for c in children if isinstance(c, TermNode))
    return terms, [c.evaluator() for c in children if not isinstance(c, TermNode)]


@dataclass(frozen=True, slots=True)
class Near:
    """Holds when a place of the first slot has a place of every other slot close to it in the same field."""

    slots: tuple[tuple[int, ...], ...]  # each slot: alternative terms (a group gives several)
    within: int | str

    def positive_terms(self) -> frozenset[int]:
        return frozenset(t for slot in self.slots for t in slot)

    def all_terms(self) -> frozenset[int]:
        return self.positive_terms()

    def min_hits(self) -> int:
        return 1

    def needs_a_hit(self) -> bool:
        return True

    def evaluator(self) -> Evaluator:
        return self._holds

    def _holds(self, hits: Hits, fields: dict[str, TextField]) -> bool:
        return self._found(hits, fields, ordered=False) is not None

    def witness(self, hits: Hits, fields: dict[str, TextField]) -> Witness | None:
        return self._found(hits, fields, ordered=True)

    def _found(self, hits: Hits, fields: dict[str, TextField], ordered: bool) -> Witness | None:
        """A place of the first slot with every other slot close to it (the one to quote if `ordered`), as the words they span."""
        places = [[p for t in slot for p in hits.get(t, ()) if p[1] >= 0] for slot in self.slots]
        if not all(places):
            return None
        anchors = sorted(places[0], key=lambda p: (QUOTE_ORDER.index(p[0]), p[1])) if ordered else places[0]
        for name, offset in anchors:
            f = fields[name]
            anchor = self._position(f, offset)
            chosen = [next((o for n, o in other if n == name and self._close(f, o, anchor)), None) for other in places[1:]]
            if all(o is not None for o in chosen):
                words = [f.word_index(o) for o in (offset, *chosen) if o is not None]
                return name, min(words), max(words)
        return None

    def _position(self, f: TextField, offset: int) -> int:
        """A word's number, or its sentence's or paragraph's."""
        return f.unit_of(offset, self.within) if isinstance(self.within, str) else f.word_index(offset)

    def _close(self, f: TextField, offset: int, anchor: int) -> bool:
        """Within reach of the anchor."""
        reach = 0 if isinstance(self.within, str) else self.within
        return abs(self._position(f, offset) - anchor) <= reach
