"""The search index of a ruleset's terms: the terms, their Aho-Corasick automata and RE2 set.

Terms go into automata per normal form (folded, exact): padded keys (" viet nam ") in one, the
keys of scripts written without spaces (found inside words) one per script, each searched only
in a text that holds a letter of its script (`needles`); the exact form's automata only where
a `gate` automaton of the exact terms' folded forms finds one. Regular-expression terms go into
one RE2 set. `service.rules.match` searches an item's fields with them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick
import re2

from service.rules import normalise, text


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
        key = normalise.exact(body) if exact else normalise.fold(body)
        if normalise.unsegmented(body):
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


def regex_set(terms: Sequence[Term]) -> tuple[Any, list[int]] | None:
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


# The scripts whose words are found inside longer strings (unpadded keys), by their Unicode blocks: a key is
# searched only in a text that holds a letter of the script its first letter belongs to (`needles`).
SCRIPTS = {
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


def holds(haystack: str, needs: Needles, encoded: dict[bool, bytes], exact: bool) -> bool:
    """Whether a form of a field (its UTF-8 kept in `encoded`) holds a letter of the script of `needs` (its `needles`).

    Loops, not any(): this runs for every script of every text beyond ASCII. A leading byte is
    looked for first (one byte: memchr), the longer leads only in a text that holds it.
    """
    if haystack.isascii():
        return False
    raw = encoded.get(exact) or encoded.setdefault(exact, haystack.encode("utf-8", "surrogatepass"))  # a lone surrogate: bytes, no error
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
    for low, high in SCRIPTS[script]:
        for block in range(low & ~63, high + 1, 64):  # the last byte holds a letter's low six bits: a block shares the rest
            encoded = chr(max(block, low)).encode()
            prefixes.setdefault(encoded[:1], set()).add(encoded[: len(encoded) - 1])
    return tuple((lead, () if len(found) >= 8 else tuple(sorted(found))) for lead, found in sorted(prefixes.items()))


def script_of(key: str) -> str:
    """The script of a key's first letter, or "" if none of `SCRIPTS`."""
    code = ord(key[0])
    return next((name for name, blocks in SCRIPTS.items() if any(low <= code <= high for low, high in blocks)), "")


def automata(terms: Sequence[Term]) -> list[tuple[ahocorasick.Automaton, bool, Needles | None]]:
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
        padded = automaton_of([(i, t) for i, t in searched if t.key.startswith(" ")])
        if padded is not None:
            out.append((padded, exact, None))
        by_script: dict[str, list[tuple[int, Term]]] = {}
        for i, t in searched:
            if not t.key.startswith(" "):
                by_script.setdefault(script_of(t.key), []).append((i, t))
        for script, numbered in sorted(by_script.items()):
            automaton = automaton_of(numbered)
            if automaton is None:
                continue
            needs = needles(script) if script else None if ascii_key(automaton) else ANY_BEYOND_ASCII
            out.append((automaton, exact, needs))
    return out


def automaton_of(numbered: Sequence[tuple[int, Term]]) -> ahocorasick.Automaton | None:
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


def gate(terms: Sequence[Term]) -> ahocorasick.Automaton | None:
    """The folded forms of the exact terms' keys, padded as the keys are, or None if no term is exact.

    The folded and exact forms of a field are aligned character for character, so an exact key
    can only occur where its folded form does. Both ways of folding are added (`normalise.fold` takes
    Latin text through NFKD, mixed text through the table), so the gate never holds a key back.
    """
    keys = set()
    for term in terms:
        if term.exact and term.regex is None and term.key.strip():
            for folded in (normalise.fold(term.key), normalise.fold_by_table(term.key)):
                keys.add(" " * term.key.startswith(" ") + folded.strip() + " " * term.key.endswith(" "))
    if not keys:
        return None
    automaton = ahocorasick.Automaton()
    for key in keys:
        automaton.add_word(key, key)
    automaton.make_automaton()
    return automaton


def ascii_key(automaton: ahocorasick.Automaton) -> bool:
    """Whether some key of the automaton is all ASCII (could be found in an ASCII text)."""
    return any(key.isascii() for key in automaton.keys())  # noqa: SIM118 (an Automaton is no dict: keys() lists its words)
