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

import functools
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import ahocorasick
import re2

from service.ingest.model import Evidence, Item, MatchedTerm, RuleMatch
from service.rules import text
from service.rules.fields import BODY_FIELDS, DEFAULT_FIELDS, FIELDS, QUOTE_ORDER
from service.rules.nodes import Evaluator, Hits, Node, Witness
from service.rules.prefilter import Prefilter

QUOTE_WIDTH = 320  # characters of an alert's quote: two or three lines in Slack


@dataclass(frozen=True, slots=True)
class Term:
    """A searchable term; `key` is its normal form, padded with spaces unless it is matched as a substring."""

    label: str
    key: str
    exact: bool = False
    prefix: bool = False
    regex: str | None = None  # searched with RE2 in the plain text instead of the automaton
    substring: bool = False  # a script without spaces between words: found inside words, on cluster boundaries
    script: str = ""  # text.KOREAN or text.ARABIC: a word that may carry particles or clitics (text.affix_rest)
    masks: tuple[int, ...] = ()  # terms an occurrence must not lie inside (`not_in`): "sans frontières" for "frontière*"

    @classmethod
    def parse(cls, label: str, exact: bool = False) -> Term:
        """Build a term from its written form ('Việt Nam', 'demarcat*', 'ព្រំដែន', '국경')."""
        prefix = label.rstrip().endswith("*")
        body = label.rstrip().rstrip("*")
        key = text.exact(body) if exact else text.fold(body)
        if text.unsegmented(body):
            return cls(label=label, key=key.strip(), exact=exact, prefix=prefix, substring=True)
        script = text.affixed(body)
        if script:
            return cls(label=label, key=key.strip(), exact=exact, prefix=prefix, script=script)
        return cls(label=label, key=key[:-1] if prefix else key, exact=exact, prefix=prefix)

    @property
    def mode(self) -> str:
        """How an occurrence of the key is checked: 'cluster', a script with affixes, or '' (the padded key says it all)."""
        return "cluster" if self.substring else self.script

    @classmethod
    def pattern(cls, regex: str, case_sensitive: bool = False) -> Term:
        """A regular-expression term."""
        return cls(label=f"/{regex}/", key="", regex=regex if case_sensitive else f"(?i){regex}")


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
    _automata: list[tuple[ahocorasick.Automaton, bool, Needles | None]] = field(default_factory=list, repr=False)
    _gate: ahocorasick.Automaton | None = field(default=None, repr=False)  # the folded forms of the exact terms' keys

    def __post_init__(self) -> None:
        self._searched = tuple(f for f in FIELDS if any(f in rule.fields for rule in self.rules))
        self._masked = frozenset(i for i, t in enumerate(self.terms) if t.masks)
        self._masks = {i: frozenset(self.terms[i].masks) for i in self._masked}
        self._mask_terms = frozenset(m for t in self.terms for m in t.masks)
        self._automata = _automata(self.terms)
        self._gate = _gate(self.terms)
        self._regexes = _regex_set(self.terms)
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
            if needs is not None and self.prefilter and not _holds(haystack, needs, encoded, exact):
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


# The scripts whose words are found inside longer strings (unpadded keys), by their Unicode blocks: a key is
# searched only in a text that holds a letter of the script its first letter belongs to (`_needles`).
_SCRIPTS = {
    "thai": ((0x0E00, 0x0E7F),),
    "lao": ((0x0E80, 0x0EFF),),
    "myanmar": ((0x1000, 0x109F), (0xAA60, 0xAA7F), (0xA9E0, 0xA9FF)),
    "khmer": ((0x1780, 0x17FF), (0x19E0, 0x19FF)),
    "kana": ((0x3040, 0x30FF), (0x31F0, 0x31FF)),
    "han": ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F)),
    "hangul": ((0xAC00, 0xD7A3), (0x1100, 0x11FF), (0x3130, 0x318F)),
    "arabic": ((0x0600, 0x06FF), (0x0750, 0x077F)),
}
Needles = tuple[tuple[bytes, tuple[bytes, ...]], ...]  # (a leading byte, the longer leads starting with it, or none: it suffices)
ANY_BEYOND_ASCII: Needles = ((b"", ()),)  # the needles of keys of no known script: any text that is not ASCII may hold them


def _holds(haystack: str, needs: Needles, encoded: dict[bool, bytes], exact: bool) -> bool:
    """Whether a form of a field (its UTF-8 kept in `encoded`) holds a letter of the script of `needs` (its `needles`).

    Loops, not any(): this runs for every script of every text beyond ASCII. A leading byte is
    looked for first (one byte: memchr), the longer leads only in a text that holds it.
    """
    if haystack.isascii():
        return False
    raw = encoded.get(exact) or encoded.setdefault(exact, haystack.encode())
    for lead, longer in needs:
        if lead in raw:
            if not longer:
                return True
            for needle in longer:
                if needle in raw:
                    return True
    return False


@functools.cache
def needles(script: str) -> Needles:
    """Byte strings, one of which the UTF-8 form of a text holds if it holds a letter of `script`.

    The leading bytes of its letters' UTF-8 forms: two or three bytes each, grouped by their
    first byte, or the first byte alone where that covers most of them (a few letters of other
    scripts then pass too: a search for nothing, never a key missed). `bytes in bytes` is a C
    search, where a regular expression's character class costs several microseconds per text.
    """
    prefixes: dict[bytes, set[bytes]] = {}
    for low, high in _SCRIPTS[script]:
        for block in range(low & ~63, high + 1, 64):  # the last byte holds a letter's low six bits: a block shares the rest
            encoded = chr(max(block, low)).encode()
            prefixes.setdefault(encoded[:1], set()).add(encoded[: len(encoded) - 1])
    return tuple((lead, () if len(found) >= 8 else tuple(sorted(found))) for lead, found in sorted(prefixes.items()))


def _script(key: str) -> str:
    """The script of a key's first letter, or "" if none of `_SCRIPTS`."""
    code = ord(key[0])
    return next((name for name, blocks in _SCRIPTS.items() if any(low <= code <= high for low, high in blocks)), "")


def _automata(terms: Sequence[Term]) -> list[tuple[ahocorasick.Automaton, bool, Needles | None]]:
    """The automata of both normal forms: padded keys in one, the others one per script, each with what a text must hold.

    Padded keys (" viet nam ") have their own automaton: its root has one child, the space.
    pyahocorasick scans a node's children one by one, so the hundreds of first letters of the
    unpadded keys (Khmer, Thai, Chinese, Korean, Arabic) would be scanned at every character of
    a text that falls back to the root; split by script, a Khmer text scans the Khmer keys only,
    and an English one none. A key occurs only where its first letter does, so this is exact.
    """
    out: list[tuple[ahocorasick.Automaton, bool, Needles | None]] = []
    for exact in (False, True):
        searched = [(i, t) for i, t in enumerate(terms) if t.exact == exact and t.regex is None and t.key.strip()]
        padded = _automaton([(i, t) for i, t in searched if t.key.startswith(" ")])
        if padded is not None:
            out.append((padded, exact, None))
        unpadded = [(i, t) for i, t in searched if not t.key.startswith(" ")]
        for script in sorted({_script(t.key) for _, t in unpadded}):
            automaton = _automaton([(i, t) for i, t in unpadded if _script(t.key) == script])
            if automaton is None:
                continue
            needs = needles(script) if script else None if _ascii_key(automaton) else ANY_BEYOND_ASCII
            out.append((automaton, exact, needs))
    return out


def _automaton(numbered: Sequence[tuple[int, Term]]) -> ahocorasick.Automaton | None:
    """Build the automaton of the terms (with their numbers in the ruleset), or None if there are none.

    Each key maps to (mode, term numbers): substring keys need a cluster-boundary check, keys
    of scripts with affixes a look at the rest of their word (Term.mode).
    """
    keys: dict[str, tuple[str, tuple[int, ...]]] = {}
    for i, term in numbered:
        mode, numbers = keys.get(term.key, (term.mode, ()))
        keys[term.key] = (mode, (*numbers, i))
    if not keys:
        return None
    automaton = ahocorasick.Automaton()
    for key, value in keys.items():
        automaton.add_word(key, value)
    automaton.make_automaton()
    return automaton


def _gate(terms: Sequence[Term]) -> ahocorasick.Automaton | None:
    """The folded forms of the exact terms' keys, padded as the keys are, or None if no term is exact.

    The folded and exact forms of a field are aligned character for character, so an exact key
    can only occur where its folded form does. Both ways of folding are added (`text.fold` takes
    Latin text through NFKD, mixed text through the table), so the gate never holds a key back.
    """
    keys = set()
    for term in terms:
        if term.exact and term.regex is None and term.key.strip():
            for folded in (text.fold(term.key), text.fold_by_table(term.key)):
                keys.add(" " * term.key.startswith(" ") + folded.strip() + " " * term.key.endswith(" "))
    if not keys:
        return None
    automaton = ahocorasick.Automaton()
    for key in keys:
        automaton.add_word(key, key)
    automaton.make_automaton()
    return automaton


def _ascii_key(automaton: ahocorasick.Automaton) -> bool:
    """Whether some key of the automaton is all ASCII (could be found in an ASCII text)."""
    return any(key.isascii() for key in automaton.keys())  # noqa: SIM118 (an Automaton is no dict: keys() lists its words)


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
