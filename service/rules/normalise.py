"""Text normalisation shared by rules and items: NFKC, lower case, diacritic folding, tokens.

Rules and items go through the same functions, so a term and a text meet whenever their
normalised token sequences meet. A normalised text is its tokens joined by single spaces and
padded with one space on each side, so that a term's key (" viet nam ") can only be found on
word boundaries. Two forms: folded (`fold`: diacritics removed) and exact (`exact`: kept),
aligned letter for letter. `service.rules.text` builds fields, units and snippets on them.
"""

from __future__ import annotations

import re
import unicodedata

TABLE_SIZE = 0x3040  # Latin, Greek, Cyrillic, Thai, Lao, Myanmar, Khmer, Vietnamese, punctuation, CJK punctuation
MARKS = "".join(chr(c) for c in range(TABLE_SIZE) if unicodedata.category(chr(c)).startswith("M") and not 0x300 <= c < 0x370)
_MARK_CLASS = re.escape(MARKS)
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
CONTINUES = frozenset("\u0e30\u0e32\u0e33\u0e45\u0eb0\u0eb2\u0eb3")
JOINS_NEXT = frozenset("\u17d2\u1039\u0e40\u0e41\u0e42\u0e43\u0e44\u0ec0\u0ec1\u0ec2\u0ec3\u0ec4")


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
    for cp in range(TABLE_SIZE):
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
ALIGNED = [f or chr(i) for i, f in enumerate(_FOLDED)]  # like _FOLDED but never drops a character


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
