"""Text normalisation shared by rules and items: NFKC, lower case, diacritic folding, tokens.

Rules and items go through the same functions, so a term and a text meet whenever
their normalised token sequences meet. A normalised text is its tokens joined by
single spaces and padded with one space on each side, so that a term's key
(" viet nam ") can only be found on word boundaries.

Scripts written without spaces between words (Thai, Lao, Khmer, Myanmar, Chinese,
Japanese) are matched as substrings instead, on grapheme-cluster boundaries
(`on_cluster_boundary`), and a text is split into sentences and paragraphs for rules
that ask for nearness within one (`Field.unit_of`).
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

_TABLE_SIZE = 0x3040  # Latin, Greek, Cyrillic, Thai, Lao, Myanmar, Khmer, Vietnamese, punctuation, CJK punctuation
_MARKS = "".join(chr(c) for c in range(_TABLE_SIZE) if unicodedata.category(chr(c)).startswith("M") and not 0x300 <= c < 0x370)
_MARK_CLASS = re.escape(_MARKS)
# Letters, digits and the combining marks of scripts whose marks are not precomposed
# (Thai, Lao, Khmer, Myanmar, Indic), so that such a word stays one token.
_WORD = re.compile(rf"[\w{_MARK_CLASS}]+")
_WORD_CHAR = re.compile(rf"[\w{_MARK_CLASS}]")
_NOT_LATIN = re.compile(r"[^\x00-\x7f\u0300-\u036f]")
# Letters of scripts whose compatibility decompositions stay in their own script (Cyrillic, Arabic, Thai, Lao,
# Myanmar, Khmer, kana, CJK ideographs, Hangul syllables): a text that holds one is not Latin, whatever NFKD makes of it.
_NEVER_LATIN = re.compile("[\u0400-\u04ff\u0600-\u06ff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7a3]")
_COMMON_PUNCTUATION = "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00a0\u00ab\u00bb\u00b7"
# Invisible characters inside words: soft hyphen, zero-width space (Khmer's word separator), joiners.
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
# Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, CJK (kana, ideographs, hangul excluded).
_UNSEGMENTED = re.compile(
    "[\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u19e0-\u19ff\uaa60-\uaa7f\ua9e0-\ua9ff"
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]"
)
# Characters that continue the cluster before them although they are letters (Thai and Lao following vowels),
# and characters after which the next consonant still belongs to the same cluster (Khmer coeng, Myanmar virama,
# Thai and Lao leading vowels).
_CONTINUES = frozenset("\u0e30\u0e32\u0e33\u0e45\u0eb0\u0eb2\u0eb3")
_JOINS_NEXT = frozenset("\u17d2\u1039\u0e40\u0e41\u0e42\u0e43\u0e44\u0ec0\u0ec1\u0ec2\u0ec3\u0ec4")


# Arabic: short-vowel marks and the tatweel are dropped from both forms (so they stay aligned);
# the folded form also writes every alef as a bare alef, alef maqsura as yeh and teh marbuta as heh.
_ARABIC_DROPPED = frozenset("\u0640\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0653\u0654\u0655\u0656\u0670")
_ARABIC_FOLDED = {"\u0622": "\u0627", "\u0623": "\u0627", "\u0625": "\u0627", "\u0671": "\u0627", "\u0649": "\u064a", "\u0629": "\u0647"}


def _tables() -> tuple[list[str], list[str], bytes]:
    """Translation tables: lower case, separators to spaces, and (folded) diacritics removed.

    Each character maps to at most one character, so the folded and exact forms of a text
    have the same tokens at the same offsets.
    """
    exact_table, folded_table = [], []
    for cp in range(_TABLE_SIZE):
        char = chr(cp)
        lower = char.lower()
        if 0x0300 <= cp < 0x0370 or char in _INVISIBLE or char in _ARABIC_DROPPED:  # a stray mark, a joiner: dropped
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
    for char, base in (("đ", "d"), ("Đ", "d"), ("ø", "o"), ("Ø", "o"), ("ł", "l"), ("Ł", "l"), ("ı", "i"), *_ARABIC_FOLDED.items()):
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
    return _padded(mapped)


def _padded(mapped: str) -> str:
    """' w1 w2 … ' from a text whose separators the tables made spaces: runs collapsed by C string scans, not a list of words."""
    if not mapped.isprintable():  # white space the tables leave (beyond them): split on it
        return " " + " ".join(mapped.split()) + " "
    inner = mapped.strip(" ")
    while "  " in inner:  # a run of n spaces takes log2(n) passes; prose has runs of two or three
        inner = inner.replace("  ", " ")
    return " " + inner + " "


def fold(text: str) -> str:
    """Padded, lower-cased, diacritics folded: "Việt Nam’s" -> " viet nam s "."""
    if not text.isascii():
        latin = text.replace("đ", "d").replace("Đ", "D")
        for mark in _COMMON_PUNCTUATION:
            if mark in latin:
                latin = latin.replace(mark, " ")
        if not _NEVER_LATIN.search(latin):  # a text with any Khmer, Thai, Cyrillic, ... letter is not Latin: no NFKD to try
            decomposed = unicodedata.normalize("NFKD", latin)
            if not _NOT_LATIN.search(decomposed):
                return _padded(decomposed.encode("ascii", "ignore").translate(_ASCII).decode())
    return _words(text, _FOLDED)


def fold_by_table(text: str) -> str:
    """Folded as a text that mixes scripts is (`fold` takes Latin-only text through NFKD: the two may differ, as on "ß")."""
    return _words(text, _FOLDED)


def exact(text: str) -> str:
    """Padded and lower-cased, diacritics kept: "Việt Nam" -> " việt nam "."""
    return _words(text, _EXACT)


def tokens(text: str) -> list[str]:
    """The words of a text (any form)."""
    return _WORD.findall(text)


def unsegmented(term: str) -> bool:
    """True if `term` is written in a script without spaces between words (Thai, Khmer, Chinese, …)."""
    return _UNSEGMENTED.search(term) is not None


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
    return char in _MARK_SET or (ord(char) >= _TABLE_SIZE and unicodedata.category(char).startswith("M"))


_MARK_SET = frozenset(_MARKS)


def on_cluster_boundary(text: str, start: int, end: int) -> bool:
    """True if `text[start:end]` begins and ends between grapheme clusters, not inside one.

    In Khmer a subscript consonant (after coeng) and dependent vowels belong to the cluster
    before them; in Thai and Lao a leading vowel belongs to the consonant after it, and
    some following vowels are letters that still end the syllable. In Japanese a katakana
    word is whole: タイ (Thai) is not found in タイニン (Tây Ninh) or タイヤ (tyre).
    """
    if start > 0 and (text[start - 1] in _JOINS_NEXT or (_katakana(text[start]) and _katakana(text[start - 1]))):
        return False
    if 0 < end < len(text) and _katakana(text[end]) and _katakana(text[end - 1]):
        return False
    if start < len(text) and _is_mark(text[start]):
        return False
    if end > start and text[end - 1] in _JOINS_NEXT:
        return False
    return end >= len(text) or not (_is_mark(text[end]) or text[end] in _CONTINUES)


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
