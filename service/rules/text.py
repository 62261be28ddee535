"""Searchable fields of an item: the normalised forms (`service.rules.normalise`), sentences and paragraphs, snippets.

A field keeps its raw text with its folded and exact forms (`Field`). Scripts written without
spaces between words (Thai, Lao, Khmer, Myanmar, Chinese, Japanese) are matched as substrings,
on grapheme-cluster boundaries (`on_cluster_boundary`); Korean and Arabic words with their
affixes (`affix_rest`). A text is split into sentences and paragraphs for rules that ask for
nearness within one (`Field.unit_of`).
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from itertools import accumulate, count
from operator import add

from service.rules.normalise import ALIGNED, CONTINUES, JOINS_NEXT, MARKS, TABLE_SIZE, exact, fold, tokens, unsegmented

# Scripts written with spaces whose words carry affixes: Korean nouns take particles after them
# ("국경에서": at the border), Arabic words take clitics before and after ("وكمبوديا": and Cambodia).
_HANGUL = re.compile("[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f]")
KOREAN, ARABIC = "ko", "ar"
# A Korean noun's ending: an optional plural or bound noun (army, side, between, person, within, direction,
# and after a place name province, state, city), then up to two particles (case, topic, additive, copula
# forms), as in 캄보디아군과 (with the Cambodian army), 안장성 (An Giang province) or 국경에서는 (at the border).
_KO_BOUND = ("들", "측", "간", "군", "인", "내", "쪽", "성", "주", "시")
_KO_PARTICLES = (
    "이", "가", "은", "는", "을", "를", "의", "에", "에서", "서", "에게", "께", "와", "과", "로", "으로", "도", "만",
    "까지", "부터", "보다", "처럼", "이나", "나", "랑", "이랑", "하고", "마다", "조차", "이다", "이며", "이고", "이라는",
    "라는", "이라고", "라고", "으로서", "로서",
)  # fmt: skip
_KO_ENDING = re.compile("(?:" + "|".join(_KO_BOUND) + ")?(?:" + "|".join(sorted(_KO_PARTICLES, key=len, reverse=True)) + "){0,2}")
# Arabic proclitics: a conjunction (wa-, fa-), a preposition (bi-, li-, ka-), the article (al-; li- + al- = lil-).
_AR_BEFORE = frozenset(c + ("لل" if p == "ل" and a else p + a) for c in ("", "و", "ف") for p in ("", "ب", "ل", "ك") for a in ("", "ال"))
# Arabic enclitics and endings kept by a whole-word term: possessive pronouns, the relative adjective (-i, -iya).
_AR_AFTER = frozenset(("", "ه", "ها", "هما", "هم", "هن", "ك", "كم", "نا", "ي", "يه", "يين", "يون", "يات"))


def affixed(term: str) -> str:
    """KOREAN or ARABIC if `term` is written in a script whose words carry affixes; else ''."""
    if _HANGUL.search(term):
        return KOREAN
    if _ARABIC.search(term):
        return ARABIC
    return ""


def affix_rest(text: str, start: int, end: int, script: str) -> str | None:
    """The rest of the word after `text[start:end]`, or None if the text before it in the word is no proclitic.

    `text` is a padded normal form: a Korean term must begin its word; an Arabic one may follow
    a proclitic. Whether the rest is an acceptable ending is `ending_ok`'s question.
    """
    word_start = text.rfind(" ", 0, start) + 1
    if word_start != start and (script == KOREAN or text[word_start:start] not in _AR_BEFORE):
        return None
    return text[end : text.find(" ", end)]


def ending_ok(rest: str, script: str) -> bool:
    """True if `rest` is an ending the script lets a whole word take (a particle, an enclitic), or nothing."""
    if not rest:
        return True
    return _KO_ENDING.fullmatch(rest) is not None if script == KOREAN else rest in _AR_AFTER


def _katakana(char: str) -> bool:
    """True for a katakana letter or the long-vowel mark; the middle dot ・ separates words."""
    return ("\u30a1" <= char <= "\u30ff" and char != "\u30fb") or "\u31f0" <= char <= "\u31ff"


def _is_mark(char: str) -> bool:
    """True for a combining mark: a dependent vowel, a tone mark, a sign."""
    return char in _MARK_SET or (ord(char) >= TABLE_SIZE and unicodedata.category(char).startswith("M"))


_MARK_SET = frozenset(MARKS)


def on_cluster_boundary(text: str, start: int, end: int) -> bool:
    """True if `text[start:end]` begins and ends between grapheme clusters, not inside one.

    In Khmer a subscript consonant (after coeng) and dependent vowels belong to the cluster
    before them; in Thai and Lao a leading vowel belongs to the consonant after it, and
    some following vowels are letters that still end the syllable. In Japanese a katakana
    word is whole: タイ (Thai) is not found in タイニン (Tây Ninh) or タイヤ (tyre).
    """
    if start > 0 and (text[start - 1] in JOINS_NEXT or (_katakana(text[start]) and _katakana(text[start - 1]))):
        return False
    if 0 < end < len(text) and _katakana(text[end]) and _katakana(text[end - 1]):
        return False
    if start < len(text) and _is_mark(text[start]):
        return False
    if end > start and text[end - 1] in JOINS_NEXT:
        return False
    return end >= len(text) or not (_is_mark(text[end]) or text[end] in CONTINUES)


# A sentence ends at . ! ? … (and the Khmer, Myanmar and CJK full stops) followed by space, closing quotes allowed.
_SENTENCE_END = re.compile(r"(?<=[.!?…\u17d4\u17d5\u104b])[\"'\u201d\u2019\u00bb)\]]*\s+|(?<=[\u3002\uff01\uff1f])")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "no",
        "nos",
        "gen",
        "lt",
        "col",
        "maj",
        "capt",
        "sen",
        "rep",
        "gov",
        "jr",
        "sr",
        "co",
        "corp",
        "inc",
        "ltd",
        "vs",
        "etc",
        "approx",
        "dept",
        "est",
        "fig",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "tp",
        "ts",
        "ths",
        "pgs",
        "gs",
        "ông",
        "bà",
    ]
)
UNITS = ("sentence", "paragraph")


def units(raw: str, kind: str) -> list[str]:
    """The paragraphs (lines) or sentences of a text, in order."""
    paragraphs = [p for p in raw.split("\n") if p.strip()]
    if kind == "paragraph":
        return paragraphs
    sentences: list[str] = []
    for paragraph in paragraphs:
        start = 0
        for end in _SENTENCE_END.finditer(paragraph):
            words = paragraph[start : end.start()].rsplit(None, 1)  # the last word is all it needs
            last = words[-1].rstrip(".!?…\"'\u201d\u2019\u00bb)]").lower() if words else ""
            if (len(last) == 1 and last.isalpha()) or last in _ABBREVIATIONS or "." in last:
                continue  # an initial (H. Sen), an abbreviation (Mr., TP.), or U.S.
            sentences.append(paragraph[start : end.end()])
            start = end.end()
        sentences.append(paragraph[start:])
    return sentences


@dataclass(slots=True)
class Field:
    """One field of an item, normalised once; the exact form is computed only if asked."""

    raw: str
    folded: str
    _exact: str | None = field(default=None, repr=False)
    _plain: str | None = field(default=None, repr=False)
    _starts: list[int] | None = field(default=None, repr=False)
    _units: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _unit_cache: dict[tuple[int, str], int] = field(default_factory=dict, repr=False)  # rules ask again and again
    _lead: int | None = field(default=None, repr=False)

    @classmethod
    def of(cls, raw: str) -> Field:
        """Normalise `raw` for diacritic-insensitive search."""
        return cls(raw=raw, folded=fold(raw))

    @property
    def exact(self) -> str:
        """The diacritic-preserving form, aligned with `folded` token for token."""
        if self._exact is None:
            # ASCII has no diacritics to keep: both forms come from the same byte table.
            self._exact = self.folded if self.raw.isascii() else exact(self.raw)
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
        if self._starts is None:  # the offsets of the spaces: the words' lengths summed, one more per space before (in C)
            words = self.folded.split(" ")
            words.pop()
            self._starts = list(map(add, accumulate(map(len, words)), count()))
        return bisect.bisect_right(self._starts, offset) - 1

    def unit_of(self, offset: int, kind: str) -> int:
        """The number of the sentence or paragraph (`kind`) that holds the word at `offset`."""
        unit = self._unit_cache.get((offset, kind))
        if unit is None:
            unit = self._unit_cache[offset, kind] = bisect.bisect_right(self._starts_of(kind), self.word_index(offset)) - 1
        return unit

    def _starts_of(self, kind: str) -> list[int]:
        """The number of the first word of each sentence or paragraph."""
        starts = self._units.get(kind)
        if starts is None:
            starts = self._units[kind] = _unit_starts(self.raw, self.folded, kind)
        return starts

    def unit_words(self, unit: int, kind: str) -> tuple[int, int]:
        """The numbers of the first and last word of sentence or paragraph number `unit`."""
        starts = self._starts_of(kind)
        last = starts[unit + 1] - 1 if unit + 1 < len(starts) else len(self.folded.split()) - 1
        return starts[unit], last

    def quote(self, first_word: int, last_word: int) -> str:
        """The sentence(s) of the raw text that hold the words numbered `first_word` to `last_word`."""
        starts = self._starts_of("sentence")
        if starts == [0]:  # one unit, or sentences that could not be aligned with the words: the whole text
            return self.raw
        first = bisect.bisect_right(starts, first_word) - 1
        last = bisect.bisect_right(starts, last_word) - 1
        return " ".join(s.strip() for s in units(self.raw, "sentence")[first : last + 1])

    def lead_paragraph(self, headline: str) -> int:
        """The paragraph that leads this field: the first, or the second when the first repeats the headline (a folded text).

        An article page often starts with its headline; the lead is the paragraph after it.
        """
        if self._lead is None:
            self._lead = 0
            if "\n" in self.raw and headline.strip():
                paragraphs = units(self.raw, "paragraph")
                self._lead = 1 if len(paragraphs) > 1 and fold(paragraphs[0]) == headline else 0
        return self._lead


def _unit_starts(raw: str, folded: str, kind: str) -> list[int]:
    """The index of the first word of each sentence or paragraph; one unit if the counts cannot be aligned."""
    if "\n" not in raw and (kind == "paragraph" or not _SENTENCE_END.search(raw)):
        return [0]  # one paragraph (a feed's summary, mostly), or one sentence: nothing to count
    starts, words = [], 0
    for unit in units(raw, kind):
        starts.append(words)
        words += len(fold(unit).split())
    return starts if words == len(folded.split()) and starts else [0]


def snippet(raw: str, needles: list[str], width: int = 280) -> tuple[str, list[tuple[int, int]]]:
    """Return a window of `raw` around the first needle and the needles' spans within it."""
    text = " ".join(unicodedata.normalize("NFKC", raw).split())
    spans = _find_spans(text.translate(ALIGNED), needles)
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
        pattern, inside_words = _needle(needle)
        if pattern is None:
            continue
        if inside_words:  # found inside words, on cluster boundaries, as the matcher does
            spans.extend(m.span() for m in pattern.finditer(aligned) if on_cluster_boundary(aligned, m.start(), m.end()))
            continue
        spans.extend(m.span() for m in pattern.finditer(aligned))
    spans.sort(key=lambda span: (span[0], -span[1]))  # at one start, the longest term wins
    kept: list[tuple[int, int]] = []
    for s, e in spans:
        if not kept or s >= kept[-1][1]:
            kept.append((s, e))
    return kept


@functools.lru_cache(maxsize=4096)
def _needle(needle: str) -> tuple[re.Pattern[str] | None, bool]:
    """The pattern of a term's label in an aligned folded text, and whether it is found inside words (`_find_spans`)."""
    words = [re.escape(w) for w in tokens(fold(needle.rstrip().rstrip("*")))]
    if not words:
        return None, False
    if unsegmented(needle):
        return re.compile(r"\W+".join(words)), True
    tail = r"\w*" if needle.rstrip().endswith("*") else r"(?!\w)"
    return re.compile(r"(?<!\w)" + r"\W+".join(words) + tail), False


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
