"""Watch rules compiled into one index over all terms of all rules.

The rule operators (the extension point of the rule language):

- a term: a word, a phrase of several words, or a prefix (`demarcat*`); it holds when its
  token sequence occurs in one of the rule's fields, on word boundaries, diacritics folded
  unless the term is `exact`;
- `all`: every child holds; `any`: at least one holds; `none`: no child holds;
- `near`: every listed term (or group) occurs within `within` words of the first, in one field.

Every term of every rule goes into one Aho-Corasick automaton per normal form, so the
cost of matching an item grows with the item and its hits, not with the number of rules.
Only rules with a term that hit are evaluated.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any
from urllib.parse import urlsplit

import ahocorasick
import re2

from service import text
from service.model import Item, MatchedTerm, RuleMatch

FIELDS = ("title", "summary", "content", "author", "link", "domain")
DEFAULT_FIELDS = ("title", "summary", "content")


@dataclass(frozen=True, slots=True)
class Term:
    """A searchable term; `key` is its padded normal form."""

    label: str
    key: str
    exact: bool = False
    prefix: bool = False
    regex: str | None = None  # searched with RE2 in the plain text instead of the automaton

    @classmethod
    def parse(cls, label: str, exact: bool = False) -> Term:
        """Build a term from its written form ('Việt Nam', 'demarcat*')."""
        prefix = label.rstrip().endswith("*")
        body = label.rstrip().rstrip("*")
        key = text.exact(body) if exact else text.fold(body)
        return cls(label=label, key=key[:-1] if prefix else key, exact=exact, prefix=prefix)

    @classmethod
    def pattern(cls, regex: str, case_sensitive: bool = False) -> Term:
        """A regular-expression term."""
        return cls(label=f"/{regex}/", key="", regex=regex if case_sensitive else f"(?i){regex}")


@dataclass(frozen=True, slots=True)
class TermNode:
    term: int


@dataclass(frozen=True, slots=True)
class AllOf:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class NoneOf:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Near:
    slots: tuple[tuple[int, ...], ...]  # each slot: alternative terms (a group gives several)
    within: int


Node = TermNode | AllOf | AnyOf | NoneOf | Near


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


Hits = dict[int, list[tuple[str, int]]]  # term number -> (field, offset of the key) pairs


@dataclass
class Ruleset:
    """All rules of one configuration load, compiled once."""

    rules: list[Rule]
    terms: list[Term]
    version: str = ""
    _folded: ahocorasick.Automaton | None = field(default=None, repr=False)
    _exact: ahocorasick.Automaton | None = field(default=None, repr=False)
    _rules_by_term: dict[int, list[int]] = field(default_factory=dict, repr=False)
    _evaluators: list[Evaluator | None] = field(default_factory=list, repr=False)
    _min_hits: list[int] = field(default_factory=list, repr=False)
    _positive: list[list[int]] = field(default_factory=list, repr=False)
    _regexes: tuple[Any, list[int]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._folded = _automaton(self.terms, exact=False)
        self._exact = _automaton(self.terms, exact=True)
        self._regexes = _regex_set(self.terms)
        self._evaluators = [None] * len(self.rules)  # compiled on first use: most rules never are candidates
        self._positive = [sorted(positive_terms(rule.tree)) for rule in self.rules]
        self._min_hits = [min_hits(rule.tree) for rule in self.rules]
        by_term: dict[int, list[int]] = defaultdict(list)
        for r, rule in enumerate(self.rules):
            for t in sorted(positive_terms(rule.tree)):
                by_term[t].append(r)
        self._rules_by_term = dict(by_term)

    def match(self, item: Item, feed_tags: Iterable[str] = ()) -> list[RuleMatch]:
        """Return the rules that `item` matches, each with the terms that made it match."""
        fields = {name: text.Field.of(value) for name, value in _fields(item).items() if value}
        hits, present = self._hits(fields)
        if not hits:
            return []
        counts = Counter(chain.from_iterable(self._rules_by_term.get(t, ()) for t in hits))
        candidates = sorted(r for r, n in counts.items() if n >= self._min_hits[r])
        scope = {item.feed_id, *feed_tags}
        scoped_by_fields: dict[tuple[str, ...], Hits] = {}
        language: str | None = None
        out = []
        for r in candidates:
            rule = self.rules[r]
            if rule.feeds and not rule.feeds & scope:
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
                out.append(self._explain(r, scoped, fields))
        return out

    def _compile(self, r: int) -> Evaluator:
        """The evaluator of rule number `r`, built once."""
        evaluate = self._evaluators[r] = _evaluator(self.rules[r].tree)
        return evaluate

    def _hits(self, fields: dict[str, text.Field]) -> tuple[Hits, set[str]]:
        """Find every term occurrence in every field; also return the fields with a hit."""
        hits: Hits = defaultdict(list)
        present: set[str] = set()
        for name, f in fields.items():
            for automaton, exact in ((self._folded, False), (self._exact, True)):
                if automaton is None:
                    continue
                for end, numbers in automaton.iter(f.exact if exact else f.folded):
                    start = end - len(self.terms[numbers[0]].key) + 1
                    present.add(name)
                    for n in numbers:
                        hits[n].append((name, start))
            if self._regexes is not None:
                found = self._regexes[0].Match(f.plain)
                if found:
                    present.add(name)
                    for i in found:
                        hits[self._regexes[1][i]].append((name, -1))  # RE2 sets give no offsets
        return hits, present

    def _explain(self, r: int, hits: Hits, fields: dict[str, text.Field]) -> RuleMatch:
        """Describe which positive terms of rule number `r` occurred, where (first 20 positions)."""
        rule = self.rules[r]
        matched = []
        for t in self._positive[r]:
            places = hits.get(t)
            if places:
                where = sorted({name for name, _ in places}, key=FIELDS.index)
                offsets = [off for name, off in places if name == where[0] and off >= 0][:20]
                words = tuple(sorted({fields[where[0]].word_index(off) for off in offsets}))
                matched.append(MatchedTerm(term=self.terms[t].label, fields=tuple(where), positions=words))
        return RuleMatch(rule_id=rule.id, rule_name=rule.name, destinations=rule.destinations, terms=tuple(matched))


def _regex_set(terms: Sequence[Term]) -> tuple[Any, list[int]] | None:
    """One RE2 set over every regular-expression term, with the term number of each entry."""
    numbers = [i for i, t in enumerate(terms) if t.regex is not None]
    if not numbers:
        return None
    regexes = re2.Set.SearchSet(regex_options())
    for i in numbers:
        regexes.Add(terms[i].regex)
    regexes.Compile()
    return regexes, numbers


def regex_options() -> Any:
    """RE2 options: UTF-8, errors raised rather than printed, a memory cap per pattern."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 8 << 20
    return options


def regex_error(pattern: str) -> str | None:
    """Why RE2 refuses `pattern`, or None if it compiles."""
    try:
        re2.compile(pattern, regex_options())
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return detail
    return None


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


def _automaton(terms: Sequence[Term], exact: bool) -> ahocorasick.Automaton | None:
    """Build the automaton of the terms of one normal form, or None if there are none."""
    keys: dict[str, tuple[int, ...]] = {}
    for i, term in enumerate(terms):
        if term.exact == exact and term.regex is None and term.key.strip():
            keys[term.key] = (*keys.get(term.key, ()), i)
    if not keys:
        return None
    automaton = ahocorasick.Automaton()
    for key, numbers in keys.items():
        automaton.add_word(key, numbers)
    automaton.make_automaton()
    return automaton


def _fields(item: Item) -> dict[str, str]:
    """The searchable fields of an item."""
    return {
        "title": item.title,
        "summary": item.summary,
        "content": item.content,
        "author": item.author,
        "link": item.link,
        "domain": urlsplit(item.link).hostname or "" if item.link else "",
    }


def _scope(hits: Hits, fields: Sequence[str]) -> Hits:
    """Keep the hits that fall in `fields`."""
    scoped: Hits = {}
    for t, places in hits.items():
        kept = [p for p in places if p[0] in fields]
        if kept:
            scoped[t] = kept
    return scoped


Evaluator = Callable[[Hits, dict[str, text.Field]], bool]


def _evaluator(node: Node) -> Evaluator:
    """Compile a rule tree into closures; plain term children become one C-level set test."""
    if isinstance(node, TermNode):
        term = node.term
        return lambda hits, fields: term in hits
    if isinstance(node, Near):
        return lambda hits, fields: _near(node, hits, fields)
    terms = frozenset(c.term for c in node.children if isinstance(c, TermNode))
    others = [_evaluator(c) for c in node.children if not isinstance(c, TermNode)]
    if isinstance(node, AllOf):
        if not others:
            return lambda hits, fields: hits.keys() >= terms
        return lambda hits, fields: hits.keys() >= terms and all(c(hits, fields) for c in others)
    if isinstance(node, AnyOf):
        if not others:
            return lambda hits, fields: not hits.keys().isdisjoint(terms)
        return lambda hits, fields: not hits.keys().isdisjoint(terms) or any(c(hits, fields) for c in others)
    return lambda hits, fields: hits.keys().isdisjoint(terms) and not any(c(hits, fields) for c in others)


def _near(node: Near, hits: Hits, fields: dict[str, text.Field]) -> bool:
    """True if every slot of `node` occurs within `node.within` words of the first slot, in one field."""
    places = [[p for t in slot for p in hits.get(t, ())] for slot in node.slots]
    if not all(places):
        return False
    for name, off in places[0]:
        anchor = fields[name].word_index(off)
        if all(_close(other, name, anchor, node.within, fields) for other in places[1:]):
            return True
    return False


def _close(places: list[tuple[str, int]], name: str, anchor: int, within: int, fields: dict[str, text.Field]) -> bool:
    """True if one of `places` is in field `name` within `within` words of `anchor`."""
    return any(n == name and abs(fields[n].word_index(o) - anchor) <= within for n, o in places)


def positive_terms(node: Node) -> set[int]:
    """The terms whose presence can make `node` hold (those not under a `none`)."""
    if isinstance(node, TermNode):
        return {node.term}
    if isinstance(node, Near):
        return {t for slot in node.slots for t in slot}
    if isinstance(node, NoneOf):
        return set()
    return set().union(*(positive_terms(c) for c in node.children))


def needs_a_hit(node: Node) -> bool:
    """True if `node` can only hold when at least one of its positive terms occurs."""
    if isinstance(node, (TermNode, Near)):
        return True
    if isinstance(node, NoneOf):
        return False
    if isinstance(node, AllOf):
        return any(needs_a_hit(c) for c in node.children)
    return all(needs_a_hit(c) for c in node.children)


def min_hits(node: Node) -> int:
    """A lower bound on how many distinct terms of `node` must occur for it to hold."""
    if isinstance(node, (TermNode, Near)):
        return 1
    if isinstance(node, NoneOf):
        return 0
    counts = [min_hits(c) for c in node.children]
    if isinstance(node, AnyOf):
        return min(counts)
    sets = [positive_terms(c) for c in node.children if min_hits(c)]
    disjoint = sum(len(t) for t in sets) == len(set().union(*sets)) if sets else True
    return sum(counts) if disjoint else max(counts)
