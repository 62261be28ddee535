"""Why an item does not match a rule, in one line: the rule's closest way to match, and what it lacks.

A rule often has several ways to match (an `any:` of clauses). Each way is scored on the item by
how many of its parts hold (a term or group that occurs, an `any:` of terms that has one; a
`none:` that excludes the item counts against it), parts of an `in: sentence | paragraph` counted
in the one unit where most of them meet; the way with the largest share comes closest, and its line names what
it lacks: a missing group or term, the `none:` that excluded the item (with its sentence), parts
that never meet in one sentence, or `near:` terms too far apart.

Built over the node algebra (`service.rules.nodes`) of the compiled rule, on the same hits the
matcher finds, so an explanation cannot disagree with a match. Besides the text, a rule may not
see an item at all: its feed is not polled, the rule reads other feeds (`feeds:`), or other
languages (`languages:`). The missed-story page shows these reasons for every rule.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from service.ingest.model import FeedContext, Item
from service.rules import text
from service.rules.fields import QUOTE_ORDER
from service.rules.index import Term
from service.rules.match import Rule, Ruleset, item_fields, item_language
from service.rules.nodes import AllOf, AnyOf, Hits, Near, Node, NoneOf, TermNode, Within
from service.rules.units import HEADLINE

SCOPE, MISSING, EXCLUDED, APART = "scope", "missing", "excluded", "apart"


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason a rule did not match: its kind (scope, missing, excluded, apart), a sentence, and the text concerned."""

    kind: str
    text: str
    quote: str = ""


@dataclass(frozen=True, slots=True)
class Explanation:
    """What one rule made of the item: matched, or why not."""

    rule_id: str
    rule_name: str
    matched: bool
    reasons: tuple[Reason, ...]


def explain(ruleset: Ruleset, item: Item, context: FeedContext | None) -> list[Explanation]:
    """Each rule of `ruleset` on `item`; `context` is the feed the item would come from, None when no polled feed carries it."""
    out = []
    for rule in ruleset.rules:
        scope = _scope_reasons(rule, item, context)
        fields = item_fields(item, rule.fields)
        hits = {t: kept for t, places in ruleset.hits(fields)[0].items() if (kept := [p for p in places if p[0] in rule.fields])}
        holds = bool(hits) and rule.tree.evaluator()(hits, fields)
        reasons = [] if holds else [_Judge(ruleset.terms, fields).closest(rule.tree, hits)]
        out.append(Explanation(rule.id, rule.name, holds and not scope, tuple(scope + reasons)))
    return out


def _scope_reasons(rule: Rule, item: Item, context: FeedContext | None) -> list[Reason]:
    """Why the rule would not even look at the item: the feed, the rule's `feeds:`, its `languages:`."""
    reasons = []
    if context is None:
        reasons.append(Reason(SCOPE, "no feed of feeds.yaml is on this site: newswatch never saw the story"))
    if rule.feeds and (context is None or not rule.feeds & set(context.scope)):
        feed = f"its feed '{context.feed_id}' is" if context else "it is"
        reasons.append(Reason(SCOPE, f"the rule reads only the feeds {_names(sorted(rule.feeds))}, and {feed} not among them"))
    if rule.languages:
        language = item.language or (context.language if context else "") or item_language(item)
        language = language.split("-")[0].lower()
        if language not in rule.languages:
            found = f"in '{language}'" if language else "in a language newswatch could not tell"
            reasons.append(Reason(SCOPE, f"the rule reads only items in {_names(sorted(rule.languages))}; this one is {found}"))
    return reasons


def _names(names: list[str]) -> str:
    """'a', 'b' and 'c'."""
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


@dataclass
class _Verdict:
    """How far a node got on an item: parts that hold out of its parts, what the others lack, and the text concerned."""

    held: int
    total: int
    missing: list[str] = field(default_factory=list)  # "@border", "“gate”", "one of @vietnam / @vn-side"
    excluded: list[str] = field(default_factory=list)  # "@thailand (“Thailand”)"
    apart: list[str] = field(default_factory=list)  # "its parts never meet in one sentence"
    quote: str = ""

    @property
    def share(self) -> float:
        return self.held / self.total if self.total else 0.0

    def add(self, other: _Verdict) -> None:
        self.held += other.held
        self.total += other.total
        self.missing += other.missing
        self.excluded += other.excluded
        self.apart += other.apart
        self.quote = self.quote or other.quote


class _Judge:
    """Scores a rule's ways to match on an item's hits, and says what the closest one lacks."""

    def __init__(self, terms: list[Term], fields: dict[str, text.Field]) -> None:
        self._terms = terms
        self._fields = fields

    def closest(self, tree: Node, hits: Hits) -> Reason:
        """One line: the way that came closest (of several), and what it lacks; or the rule-wide `none:` that left it out."""
        if isinstance(tree, AllOf):  # `any:` with a rule-wide `none:` beside it
            guards = [c for c in tree.children if isinstance(c, NoneOf)]
            rest = [c for c in tree.children if not isinstance(c, NoneOf)]
            if guards and len(rest) == 1:
                if rest[0].evaluator()(hits, self._fields):  # one way held: the rule-wide exclusion took the item out
                    return self._left_out(guards, hits)
                tree = rest[0]
        ways = list(tree.children) if isinstance(tree, AnyOf) and not self._simple(tree) else [tree]
        verdicts = [self.judge(way, hits) for way in ways]
        best = max(range(len(ways)), key=lambda i: (verdicts[i].share, verdicts[i].held, -i))
        verdict = verdicts[best]
        what = self._lacks(verdict)
        unit = self._unit(ways[best])
        where = f" (in one {unit})" if unit and not verdict.apart else ""  # "apart" names the unit itself
        kind = EXCLUDED if verdict.excluded else APART if verdict.apart and not verdict.missing else MISSING
        if len(ways) > 1:
            return Reason(kind, f"closest of its {len(ways)} ways, the {_ordinal(best + 1)}{where}: {what}", verdict.quote)
        return Reason(kind, what[0].upper() + what[1:] + where, verdict.quote)

    def _left_out(self, guards: list[NoneOf], hits: Hits) -> Reason:
        """The rule-wide `none:` that left out an item one of the rule's ways matched, quoting the headline where it looked there."""
        verdict = _Verdict(0, 0)
        for guard in guards:
            verdict.add(self.judge(guard, hits))
        headline = any(isinstance(c, Within) and c.unit == HEADLINE for g in guards for c in g.children)
        quote = self._fields["title"].raw if headline and "title" in self._fields else verdict.quote
        return Reason(EXCLUDED, "one of its ways holds, but the rule-wide none: leaves it out: " + _and(verdict.excluded), quote)

    def judge(self, node: Node, hits: Hits) -> _Verdict:
        """How far `node` gets on `hits`."""
        if self._simple(node):
            holds = node.evaluator()(hits, self._fields)
            return _Verdict(1, 1) if holds else _Verdict(0, 1, missing=[self._name(node)])
        if isinstance(node, AllOf):
            verdict = _Verdict(0, 0)
            for child in node.children:
                verdict.add(self.judge(child, hits))
            return verdict
        if isinstance(node, AnyOf):
            options = [self.judge(child, hits) for child in node.children]
            return max(options, key=lambda v: (v.share, v.held))
        if isinstance(node, NoneOf):
            present = [c for c in node.children if c.evaluator()(hits, self._fields)]
            if not present:  # excluding nothing brings a way no closer
                return _Verdict(0, 0)
            terms = sorted(frozenset().union(*(c.positive_terms() for c in present)) & hits.keys())
            return _Verdict(0, 1, excluded=[self._excluded(c, hits) for c in present], quote=self._sentence(terms, hits))
        if isinstance(node, Within):
            return self._within(node, hits)
        if isinstance(node, Near):
            return self._near(node, hits)
        return _Verdict(0, 1, missing=["a condition of the rule"])

    def _within(self, node: Within, hits: Hits) -> _Verdict:
        """The inner parts judged in the one sentence (or paragraph) where most of them hold, quoted."""
        positive = node.inner.positive_terms()
        groups: dict[tuple[str, int], Hits] = defaultdict(dict)
        for t in node.inner.all_terms() & hits.keys():
            for name, offset in hits[t]:
                if offset >= 0:
                    groups[name, self._fields[name].unit_of(offset, node.unit)].setdefault(t, []).append((name, offset))
        candidates = [k for k, g in groups.items() if not positive.isdisjoint(g)]
        if not candidates:
            return self.judge(node.inner, {})
        judged = {k: self.judge(node.inner, groups[k]) for k in candidates}
        best = max(candidates, key=lambda k: (judged[k].share, judged[k].held, -QUOTE_ORDER.index(k[0]), -k[1]))
        verdict = judged[best]
        f = self._fields[best[0]]
        verdict.quote = verdict.quote if verdict.excluded else f.quote(*f.unit_words(best[1], node.unit))
        if verdict.missing and node.inner.evaluator()(hits, self._fields):
            verdict.apart.append(f"all of it occurs, but never in one {node.unit}")
            verdict.missing = []
        return verdict

    def _near(self, node: Near, hits: Hits) -> _Verdict:
        """Slots missing, or all present but too far apart."""
        if node.evaluator()(hits, self._fields):
            return _Verdict(1, 1)
        labels = node.labels or tuple(self._label(slot[0]) for slot in node.slots)
        missing = [label for label, slot in zip(labels, node.slots, strict=True) if not any(t in hits for t in slot)]
        if missing:
            return _Verdict(0, 1, missing=[f"near: {', '.join(missing)}"])
        reach = f"within {node.within} words" if isinstance(node.within, int) else f"in one {node.within}"
        return _Verdict(0, 1, apart=[f"{', '.join(labels)} all occur, but never {reach} of each other"])

    def _simple(self, node: Node) -> bool:
        """A term, a group, or an `any:` of those: one part of a way, present or not."""
        if isinstance(node, TermNode) or (isinstance(node, AnyOf) and node.label):
            return True
        return isinstance(node, AnyOf) and all(isinstance(c, TermNode) or (isinstance(c, AnyOf) and c.label) for c in node.children)

    def _name(self, node: Node) -> str:
        """A simple node as written: “term”, @group, or any of them."""
        if isinstance(node, TermNode):
            return self._label(node.term)
        assert isinstance(node, AnyOf)
        if node.label:
            return node.label
        names = [self._name(c) for c in node.children]
        return "one of " + " / ".join(names[:4]) + (" / …" if len(names) > 4 else "")

    def _unit(self, node: Node) -> str:
        """The unit a way is read in, if it is one `in:` clause."""
        return node.unit if isinstance(node, Within) else ""

    def _lacks(self, verdict: _Verdict) -> str:
        """What a verdict lacks, in a sentence."""
        parts = []
        if verdict.missing:
            parts.append("lacks " + _and(verdict.missing))
        if verdict.excluded:
            parts.append("excluded by none: " + _and(verdict.excluded))
        parts += verdict.apart
        return "; ".join(parts) or "a condition of the rule does not hold"

    def _excluded(self, child: Node, hits: Hits) -> str:
        """A `none:` child that holds, with the terms found."""
        present = sorted(child.positive_terms() & hits.keys())
        found = ", ".join(self._label(t) for t in present[:3])
        what = self._name(child) if self._simple(child) else "a condition"
        return f"{what} ({found})" if found and found != what else what

    def _label(self, term: int) -> str:
        """A term as written, quoted."""
        return f"“{self._terms[term].label}”"

    def _sentence(self, terms: list[int], hits: Hits) -> str:
        """The sentence of the first place (in quoting order) where one of `terms` occurs."""
        places = [(name, offset) for t in terms for name, offset in hits.get(t, ()) if offset >= 0]
        if not places:
            return ""
        name, offset = min(places, key=lambda p: (QUOTE_ORDER.index(p[0]), p[1]))
        f = self._fields[name]
        return f.quote(*f.unit_words(f.unit_of(offset, "sentence"), "sentence"))


def _and(parts: list[str]) -> str:
    """'a', 'a and b', 'a, b and c' (each part once)."""
    parts = list(dict.fromkeys(parts))
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")
