"""Text normalisation shared by rules and items: NFKC, lower case, diacritic folding, tokens.

Rules and items go through the same functions, so a term and a text meet whenever
their normalised token sequences meet. A normalised text is its tokens joined by
single spaces and padded with one space on each side, so that a term's key
(" viet nam ") can only be found on word boundaries.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Letters, digits and the combining marks of scripts written without precomposed forms
# (Thai, Khmer), so that a Khmer word stays one token.
_WORD = re.compile(r"[\w\u0e31-\u0e4e\u17b4-\u17d3]+")
_COMBINING = {cp: None for cp in range(0x0300, 0x0370)}


def _fold_table() -> dict[int, str | None]:
    """Map every precomposed Latin letter with a diacritic to its base letter."""
    table: dict[int, str | None] = dict(_COMBINING)
    for cp in list(range(0x00C0, 0x0250)) + list(range(0x1E00, 0x1F00)):
        base = unicodedata.normalize("NFD", chr(cp))[0]
        if base != chr(cp) and base.isascii() and base.isalpha():
            table[cp] = base.lower()
    table.update({ord("đ"): "d", ord("Đ"): "d", ord("ø"): "o", ord("ł"): "l", ord("ı"): "i"})
    return table


_FOLD = _fold_table()


def exact(text: str) -> str:
    """Return `text` in NFKC, lower-cased, keeping its diacritics."""
    return unicodedata.normalize("NFKC", text).lower().translate(_COMBINING)


def fold(text: str) -> str:
    """Return `text` in NFKC, lower-cased, with diacritics folded ("Việt Nam" -> "viet nam")."""
    return unicodedata.normalize("NFKC", text).lower().translate(_FOLD)


def tokens(text: str) -> list[str]:
    """Split already normalised text into word tokens."""
    return _WORD.findall(text)


def padded(words: list[str]) -> str:
    """Join tokens into the searchable form: ' w1 w2 ... '."""
    return " " + " ".join(words) + " " if words else " "


@dataclass(slots=True)
class Field:
    """One field of an item, normalised once; the exact form is computed only if asked."""

    raw: str
    folded: str
    _exact: str | None = field(default=None, repr=False)
    _starts: list[int] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, raw: str) -> Field:
        """Normalise `raw` for diacritic-insensitive search."""
        return cls(raw=raw, folded=padded(tokens(fold(raw))))

    @property
    def exact(self) -> str:
        """The diacritic-preserving form, aligned with `folded` token for token."""
        if self._exact is None:
            self._exact = padded(tokens(exact(self.raw)))
            if len(self._exact) != len(self.folded):  # a letter folded into two: re-align
                self._exact = self.folded
        return self._exact

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
    text = " ".join(raw.split())
    folded_text = fold(text)
    spans = _find_spans(folded_text, [fold(n) for n in needles]) if len(folded_text) == len(text) else []
    if not spans:
        return _cut(text, 0, width), []
    first = spans[0][0]
    start = max(0, first - width // 3)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    window = _cut(text[start:], 0, width)
    inside = [(s - start, e - start) for s, e in spans if s >= start and e - start <= len(window)]
    return ("…" if start else "") + window, [(s + (1 if start else 0), e + (1 if start else 0)) for s, e in inside]


def _find_spans(haystack: str, needles: list[str]) -> list[tuple[int, int]]:
    """Find whole-word occurrences of the needles; overlapping spans keep the earlier one."""
    spans: list[tuple[int, int]] = []
    for needle in {n for n in needles if n}:
        words = [re.escape(w) for w in tokens(needle)]
        if not words:
            continue
        prefix = needle.rstrip().endswith("*")
        pattern = r"(?<![\w])" + r"[^\w]+".join(words) + (r"\w*" if prefix else r"(?![\w])")
        spans.extend(m.span() for m in re.finditer(pattern, haystack))
    spans.sort()
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
