"""Matching: every term of every rule in one index, so the cost per item grows with the item.

All terms go into Aho-Corasick automata per normal form (folded, exact; `_automata`: words
in one, the keys of scripts written without spaces one per script) and all regular
expressions into one RE2 set. An item's fields are normalised once and searched once, each
only by the automata whose keys it can hold (the exact form only where an exact term's
folded form occurs, a script's keys only where a letter of it does); only rules with
enough distinct terms present to possibly hold are evaluated, each through the evaluator
its operator tree compiled into (`service.rules.operators`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import ahocorasick

from service.ingest.model import Evidence, Item, MatchedTerm, RuleMatch
from service.rules import index, text
from service.rules.fields import BODY_FIELDS, DEFAULT_FIELDS, FIELDS, QUOTE_ORDER
from service.rules.index import Term
from service.rules.nodes import Evaluator, Hits, Node, Witness
from service.rules.prefilter import Prefilter

QUOTE_WIDTH = 320  # characters of an alert's quote: two or three lines in Slack


@dataclass(frozen=True)
class Rule:
    """A compiled rule: its tree over term numbers and where to search."""

    id: str
    name: str
    destinations: tuple[str, ...]
    tree: Node
    fields: tuple[str, ...] = DEFAULT_FIELDS
    feeds: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()


@dataclass
class Ruleset:
    """All rules of one configuration load, compiled once."""

    rules: list[Rule]
    terms: list[Term]
    version: str = ""
    prefilter: bool = True  # False: no shortcuts (every rule a term hits evaluated, every form searched): what tests compare against
    _rules_by_term: dict[int, list[int]] = field(default_factory=dict, repr=False)
    _evaluators: list[Evaluator | None] = field(default_factory=list, repr=False)
    _prefilter: Prefilter | None = field(default=None, repr=False)
    _positive: list[frozenset[int]] = field(default_factory=list, repr=False)
    _regexes: tuple[Any, list[int]] | None = field(default=None, repr=False)
    _searched: tuple[str, ...] = field(default=(), repr=False)
    _masked: frozenset[int] = field(default=frozenset(), repr=False)
    _masks: dict[int, frozenset[int]] = field(default_factory=dict, repr=False)
    _mask_terms: frozenset[int] = field(default=frozenset(), repr=False)
    # (automaton, exact form?, what a text must hold for any of its keys to occur: None, or its keys' script's `needles`)
    _automata: list[tuple[ahocorasick.Automaton, bool, index.Needles | None]] = field(default_factory=list, repr=False)
    _gate: ahocorasick.Automaton | None = field(default=None, repr=False)  # the folded forms of the exact terms' keys

    def __post_init__(self) -> None:
        self._searched = tuple(f for f in FIELDS if any(f in rule.fields for rule in self.rules))
        self._masked = frozenset(i for i, t in enumerate(self.terms) if t.masks)
        self._masks = {i: frozenset(self.terms[i].masks) for i in self._masked}
        self._mask_terms = frozenset(m for t in self.terms for m in t.masks)
        self._automata = index.automata(self.terms)
        self._gate = index.gate(self.terms)
        self._regexes = index.regex_set(self.terms)
        self._evaluators = [None] * len(self.rules)  # compiled on first use: most rules never are candidates
        self._positive = [rule.tree.positive_terms() for rule in self.rules]
        self._prefilter = Prefilter([rule.tree for rule in self.rules])
        self._rules_by_term = self._prefilter.rules_by_term

    def match(self, item: Item, scope: Iterable[str] = (), explain: bool = True) -> list[RuleMatch]:
        """Return the rules that `item` matches, each with the terms that made it match and what an alert quotes.

        `scope` names the item's feed for rules that list `feeds:` (`FeedContext.scope`: its id and tags).
        Without `explain`, only which rules match (no terms, no evidence): what a replay counts.
        """
        fields = item_fields(item, self._searched)
        hits, present = self.hits(fields)
        if not hits:
            return []
        candidates = self._candidates(hits)
        names = {item.feed_id, *scope}
        scoped_by_fields: dict[tuple[str, ...], Hits] = {}
        language: str | None = None
        out = []
        for r in candidates:
            rule = self.rules[r]
            if rule.feeds and not rule.feeds & names:
                continue
            if rule.languages:
                language = language if language is not None else item_language(item)
                if language not in rule.languages:
                    continue
            scoped = hits if present <= set(rule.fields) else scoped_by_fields.get(rule.fields)
            if scoped is None:
                scoped = scoped_by_fields[rule.fields] = _scope(hits, rule.fields)
            evaluate = self._evaluators[r] or self._compile(r)
            if scoped and evaluate(scoped, fields):
                out.append(self._explain(r, scoped, fields, evaluate) if explain else RuleMatch(rule.id, rule.name, rule.destinations, ()))
        return out

    def _candidates(self, hits: Hits) -> list[int]:
        """The rules worth evaluating: those the required-term prefilter lets through (`service.rules.prefilter`)."""
        if self.prefilter and self._prefilter is not None:
            return self._prefilter.candidates(hits.keys())
        return sorted({r for t in hits for r in self._rules_by_term.get(t, ())})

    def hinted_rules(self, item: Item, scope: Iterable[str] = ()) -> list[str]:
        """The rules in scope for the item that at least one of its terms hit: worth a closer look (the whole article)."""
        hits, _ = self.hits(item_fields(item, self._searched))
        names = {item.feed_id, *scope}
        hinted = {r for t in hits for r in self._rules_by_term.get(t, ())}
        return [self.rules[r].id for r in sorted(hinted) if not self.rules[r].feeds or self.rules[r].feeds & names]

    def _compile(self, r: int) -> Evaluator:
        """The evaluator of rule number `r`, built once."""
        evaluate = self._evaluators[r] = self.rules[r].tree.evaluator()
        return evaluate

    def hits(self, fields: dict[str, text.Field]) -> tuple[Hits, set[str]]:
        """Find every term occurrence in every field; also return the fields with a hit.

        The diacritic-preserving form of a field is made and searched only when the folded search
        met the folded form of an exact term: an exact term cannot occur where its folded form does not.
        """
        hits: Hits = defaultdict(list)
        present: set[str] = set()
        for name, f in fields.items():
            if self._automaton_hits(name, f, hits) | (self._regexes is not None and self._regex_hits(self._regexes, name, f, hits)):
                present.add(name)
        if self._mask_terms and not hits.keys().isdisjoint(self._mask_terms):  # a compound or name that masks a term
            self._unmask(hits)
        return hits, present

    def _automaton_hits(self, name: str, f: text.Field, hits: Hits) -> bool:
        """Add the occurrences of the automata's terms in one field; True if any."""
        found = False
        no_exact = self.prefilter and self._gate is not None and next(self._gate.iter(f.folded), None) is None
        encoded: dict[bool, bytes] = {}  # each form's UTF-8, made if a script's needles are looked for
        for automaton, exact, needs in self._automata:
            if exact and no_exact:  # no exact term's folded form is in the field: nor is the term
                continue
            haystack = f.exact if exact else f.folded
            if needs is not None and self.prefilter and not index.holds(haystack, needs, encoded, exact):
                continue
            for end, (mode, numbers) in automaton.iter(haystack):
                start = end - len(self.terms[numbers[0]].key) + 1
                if mode:
                    numbers = self._checked(haystack, start, end + 1, mode, numbers)
                    if not numbers:
                        continue
                found = True
                for n in numbers:
                    hits[n].append((name, start))
        return found

    @staticmethod
    def _regex_hits(regexes: tuple[Any, list[int]], name: str, f: text.Field, hits: Hits) -> bool:
        """Add the regular-expression terms found in one field; True if any was."""
        found = regexes[0].Match(f.plain)
        for i in found or ():
            hits[regexes[1][i]].append((name, -1))  # RE2 sets give no offsets
        return bool(found)

    def _checked(self, haystack: str, start: int, end: int, mode: str, numbers: tuple[int, ...]) -> tuple[int, ...]:
        """The terms of a key found at `haystack[start:end]` that really occur there (Term.mode)."""
        if mode == "cluster":
            return numbers if text.on_cluster_boundary(haystack, start, end) else ()
        rest = text.affix_rest(haystack, start, end, mode)
        if rest is None:
            return ()
        if text.ending_ok(rest, mode):
            return numbers
        return tuple(n for n in numbers if self.terms[n].prefix)  # only prefix terms take any ending

    def _unmask(self, hits: Hits) -> None:
        """Drop the occurrences of masked terms that lie inside an occurrence of one of their masks."""
        for t in self._masked & hits.keys():
            found = self._masks[t] & hits.keys()
            if not found:  # the usual case: no compound of this term in the item
                continue
            spans = [(name, s, s + len(self.terms[m].key)) for m in found for name, s in hits[m]]
            kept = [(name, o) for name, o in hits[t] if not any(n == name and s <= o < e for n, s, e in spans)]
            if kept:
                hits[t] = kept
            else:
                del hits[t]

    def _explain(self, r: int, hits: Hits, fields: dict[str, text.Field], evaluate: Evaluator) -> RuleMatch:
        """Describe which positive terms of rule number `r` occurred, where (first 20 positions), and its evidence."""
        rule = self.rules[r]
        matched = []
        positive = sorted(self._positive[r].intersection(hits))  # a group's hundreds of terms, an item's handful of hits
        for t in positive:
            places = hits[t]
            if places:
                where = sorted({name for name, _ in places}, key=FIELDS.index)
                offsets = [off for name, off in places if name == where[0] and off >= 0][:20]
                words = tuple(sorted({fields[where[0]].word_index(off) for off in offsets}))
                matched.append(MatchedTerm(term=self.terms[t].label, fields=tuple(where), positions=words))
        evidence = self._evidence(r, positive, hits, fields, evaluate)
        return RuleMatch(rule_id=rule.id, rule_name=rule.name, destinations=rule.destinations, terms=tuple(matched), evidence=evidence)

    def _evidence(self, r: int, positive: list[int], hits: Hits, fields: dict[str, text.Field], evaluate: Evaluator) -> Evidence:
        """The sentence(s) that made rule number `r` match, with its terms highlighted, and whether the article was needed.

        The sentence or nearness test that held, where the rule has one (`Node.witness`); else the
        sentence where the rule's terms weigh most (`_densest`). Body fields are quoted before the
        title, which an alert shows anyway.
        """
        in_article = any(name == "article" for t in positive for name, _ in hits[t]) and not evaluate(_without(hits, "article"), fields)
        witness = self.rules[r].tree.witness(hits, fields) or _densest(positive, hits, fields, evaluate)
        if witness is None:  # only terms without positions (regular expressions): the lead of the first field quoted
            name = next((f for f in QUOTE_ORDER if f in fields), "")
            lead = text.snippet(fields[name].raw, [], QUOTE_WIDTH)[0] if name else ""
            return Evidence(lead, (), name, in_article)
        name, first, last, _ = witness
        labels = [self.terms[t].label for t in positive if self.terms[t].regex is None and any(n == name for n, _ in hits[t])]
        quote, spans = text.snippet(fields[name].quote(first, last), labels, QUOTE_WIDTH)
        return Evidence(quote, tuple(spans), name, in_article)


def item_language(item: Item) -> str:
    """The item's declared primary language subtag, else one detected from its text."""
    if item.language:
        return item.language.split("-")[0].split("_")[0].lower()
    return detect_language(f"{item.title} {item.summary[:500]}")


_VIETNAMESE = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")


def detect_language(sample: str) -> str:
    """A small script-based guess: 'vi', 'km', 'th', 'en', or '' when unsure."""
    letters = [c for c in sample.lower() if c.isalpha()]
    if not letters:
        return ""
    if sum(1 for c in letters if "\u1780" <= c <= "\u17ff") > len(letters) / 3:
        return "km"
    if sum(1 for c in letters if "\u0e00" <= c <= "\u0e7f") > len(letters) / 3:
        return "th"
    if sum(1 for c in letters if c in _VIETNAMESE) > len(letters) / 40:
        return "vi"
    return "en" if sum(1 for c in letters if c.isascii()) > len(letters) * 0.9 else ""


def item_fields(item: Item, names: Sequence[str] = FIELDS) -> dict[str, text.Field]:
    """The searchable fields of an item (those in `names`: what some rule reads), each normalised once; empty ones left out."""
    fields = {}
    for name in names:
        value = _value(item, name)
        if value:
            fields[name] = text.Field.of(value)
    return fields


def _value(item: Item, name: str) -> str:
    """The text of one searchable field."""
    if name == "domain":
        return (urlsplit(item.link).hostname or "") if item.link else ""
    value: str = getattr(item, name)
    return value


def _densest(positive: Sequence[int], hits: Hits, fields: dict[str, text.Field], evaluate: Evaluator) -> Witness | None:
    """The sentence that best shows why a rule without a sentence test matched, a body field's before the title's.

    A sentence in which the whole rule holds by itself comes first. Among the rest, a term weighs
    1 / (its occurrences in the field): the rare, specific terms of a match (a neighbour named
    once, demarcation) outweigh the names that recur throughout an article.
    """
    occurrences = Counter((name, t) for t in positive for name, offset in hits[t] if offset >= 0)
    found: dict[tuple[str, int], Hits] = defaultdict(dict)
    for t in positive:
        for name, offset in hits[t]:
            if offset >= 0:
                found[name, fields[name].unit_of(offset, "sentence")].setdefault(t, []).append((name, offset))
    if not found:
        return None

    def rank(key: tuple[str, int]) -> tuple[bool, bool, float, int, int]:
        name, unit = key
        weight = sum(1 / occurrences[name, t] for t in found[key])
        return (name not in BODY_FIELDS, not evaluate(found[key], fields), -weight, QUOTE_ORDER.index(name), unit)

    name, unit = min(found, key=rank)
    return (name, *fields[name].unit_words(unit, "sentence"), 0)


def _without(hits: Hits, field: str) -> Hits:
    """The hits outside one field."""
    kept: Hits = {}
    for t, places in hits.items():
        rest = [p for p in places if p[0] != field]
        if rest:
            kept[t] = rest
    return kept


def _scope(hits: Hits, fields: Sequence[str]) -> Hits:
    """Keep the hits that fall in `fields`."""
    scoped: Hits = {}
    for t, places in hits.items():
        kept = [p for p in places if p[0] in fields]
        if kept:
            scoped[t] = kept
    return scoped
