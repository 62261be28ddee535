"""Text normalisation shared by rules and items: NFKC, lower case, diacritic folding, tokens.

Rules and items go through the same functions, so a term and a text meet whenever
their normalised token sequences meet. A normalised text is its tokens joined by
single spaces and padded with one space on each side, so that a term's key
(" viet nam ") can only be found on word boundaries.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

# Letters, digits and the combining marks of scripts written without precomposed forms
# (Thai, Khmer), so that a Khmer word stays one token.
_WORD = re.compile(r"[\w\u0e31-\u0e4e\u17b4-\u17d3]+")
_WORD_CHAR = re.compile(r"[\w\u0e31-\u0e4e\u17b4-\u17d3]")
_NOT_LATIN = re.compile(r"[^\x00-\x7f\u0300-\u036f]")
_TABLE_SIZE = 0x3000  # Latin, Greek, Cyrillic, Thai, Khmer, Vietnamese, punctuation; beyond: unchanged
_COMMON_PUNCTUATION = "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00a0\u00ab\u00bb\u00b7"


def _tables() -> tuple[list[str], list[str], bytes]:
    """Translation tables: lower case, separators to spaces, and (folded) diacritics removed.

    Each character maps to at most one character, so the folded and exact forms of a text
    have the same tokens at the same offsets.
    """
    exact_table, folded_table = [], []
    for cp in range(_TABLE_SIZE):
        char = chr(cp)
        lower = char.lower()
        if 0x0300 <= cp < 0x0370:  # a stray combining mark: dropped
            exact, folded = "", ""
        elif not _WORD_CHAR.match(char):
            exact = folded = " "
        elif len(lower) != 1:
            exact = folded = char
        else:
            base = unicodedata.normalize("NFD", lower)[0]
            exact, folded = lower, base if base.isascii() and base.isalpha() else lower
        exact_table.append(exact)
        folded_table.append(folded)
    for char, base in (("đ", "d"), ("Đ", "d"), ("ø", "o"), ("Ø", "o"), ("ł", "l"), ("Ł", "l"), ("ı", "i")):
        folded_table[ord(char)] = base
    ascii_table = bytes(ord(folded_table[b]) if folded_table[b] else 32 for b in range(128)) + bytes(range(128, 256))
    return exact_table, folded_table, ascii_table


_EXACT, _FOLDED, _ASCII = _tables()
_ALIGNED = [f or chr(i) for i, f in enumerate(_FOLDED)]  # like _FOLDED but never drops a character


def _words(text: str, table: list[str]) -> str:
    """The padded form: ' w1 w2 … ' after NFKC and the table."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():  # English with curly quotes and dashes can still take the fast path
        for mark in _COMMON_PUNCTUATION:
            if mark in text:
                text = text.replace(mark, " ")
    # ASCII: lower-casing and separators in one C pass over bytes
    mapped = text.encode().translate(_ASCII).decode() if text.isascii() else text.translate(table)
    return " " + " ".join(mapped.split()) + " "


def fold(text: str) -> str:
    """Padded, lower-cased, diacritics folded: "Việt Nam’s" -> " viet nam s "."""
    if not text.isascii():
        latin = text.replace("đ", "d").replace("Đ", "D")
        for mark in _COMMON_PUNCTUATION:
            if mark in latin:
                latin = latin.replace(mark, " ")
        decomposed = unicodedata.normalize("NFKD", latin)
        if not _NOT_LATIN.search(decomposed):  # Latin letters and their marks only: strip marks in C
            mapped = decomposed.encode("ascii", "ignore").translate(_ASCII).decode()
            return " " + " ".join(mapped.split()) + " "
    return _words(text, _FOLDED)


def exact(text: str) -> str:
    """Padded and lower-cased, diacritics kept: "Việt Nam" -> " việt nam "."""
    return _words(text, _EXACT)


def tokens(text: str) -> list[str]:
    """The words of a text (any form)."""
    return _WORD.findall(text)


@dataclass(slots=True)
class Field:
    """One field of an item, normalised once; the exact form is computed only if asked."""

    raw: str
    folded: str
    _exact: str | None = field(default=None, repr=False)
    _plain: str | None = field(default=None, repr=False)
    _starts: list[int] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, raw: str) -> Field:
        """Normalise `raw` for diacritic-insensitive search."""
        return cls(raw=raw, folded=fold(raw))

    @property
    def exact(self) -> str:
        """The diacritic-preserving form, aligned with `folded` token for token."""
        if self._exact is None:
            self._exact = exact(self.raw)
            if len(self._exact) != len(self.folded):  # cannot happen with 1:1 tables; stay safe
                self._exact = self.folded
        return self._exact

    @property
    def plain(self) -> str:
        """NFKC text with runs of white space collapsed: what regular expressions see."""
        if self._plain is None:
            self._plain = " ".join(unicodedata.normalize("NFKC", self.raw).split())
        return self._plain

    def word_index(self, offset: int) -> int:
        """Return the index of the word that starts at `offset` + 1 in the padded form."""
        if self._starts is None:
            self._starts = [i for i, ch in enumerate(self.folded) if ch == " "]
        lo, hi = 0, len(self._starts)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._starts[mid] <= offset:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1


def snippet(raw: str, needles: list[str], width: int = 280) -> tuple[str, list[tuple[int, int]]]:
    """Return a window of `raw` around the first needle and the needles' spans within it."""
    text = " ".join(unicodedata.normalize("NFKC", raw).split())
    spans = _find_spans(text.translate(_ALIGNED), needles)
    if not spans:
        return _cut(text, 0, width), []
    first = _densest(text, spans, width * 2 // 3)
    start = max(0, first - width // 3)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    window = _cut(text[start:], 0, width)
    shift = 1 if start else 0  # the leading ellipsis
    inside = [(s - start + shift, e - start + shift) for s, e in spans if s >= start and e - start <= len(window.rstrip("…"))]
    return ("…" if start else "") + window, inside


def _densest(text: str, spans: list[tuple[int, int]], reach: int) -> int:
    """The start of the span after which matched terms weigh most within `reach` characters.

    A term weighs 1 / (its occurrences in the text): the rare, specific terms of a match
    (demarcation, marker planting) outweigh the names that recur throughout an article.
    """
    seen = Counter(text[s:e].lower() for s, e in spans)
    best, best_score = spans[0][0], 0.0
    for i, (start, _) in enumerate(spans):
        found = {text[s:e].lower() for s, e in spans[i:] if s - start <= reach}
        score = sum(1 / seen[term] for term in found)
        if score > best_score + 1e-9:
            best, best_score = start, score
    return best


def _find_spans(aligned: str, needles: list[str]) -> list[tuple[int, int]]:
    """Whole-word occurrences of the needles in an aligned folded text; overlaps keep the first."""
    spans: list[tuple[int, int]] = []
    for needle in set(needles):
        words = [re.escape(w) for w in tokens(fold(needle.rstrip().rstrip("*")))]
        if not words:
            continue
        tail = r"\w*" if needle.rstrip().endswith("*") else r"(?!\w)"
        spans.extend(m.span() for m in re.finditer(r"(?<!\w)" + r"\W+".join(words) + tail, aligned))
    spans.sort(key=lambda span: (span[0], -span[1]))  # at one start, the longest term wins
    kept: list[tuple[int, int]] = []
    for s, e in spans:
        if not kept or s >= kept[-1][1]:
            kept.append((s, e))
    return kept


def _cut(text: str, start: int, width: int) -> str:
    """Cut `text[start:]` to at most `width` characters at a word boundary, with an ellipsis."""
    text = text[start:]
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, width)
    return text[: cut if cut > width // 2 else width].rstrip() + "…"


def truncate(text: str, width: int) -> str:
    """Truncate `text` to at most `width` characters at a word boundary."""
    return _cut(" ".join(text.split()), 0, width)
