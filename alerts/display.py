"""What may be shown of untrusted text and of URLs: one place for Slack, the console, the CLI and the web pages.

Feed content reaches people's screens. Control characters and terminal escape sequences could
rewrite an operator's terminal; bidi overrides (U+202E) turn `gpj.exe` into `exe.jpg` and
reorder a title; invisible characters hide inside names. `clean` removes them (for Slack, the
console sink, web pages); `visible` writes them as `\\uXXXX` (for the CLI, whose JSON stays
exact). Zero-width joiners and spaces are kept where writing needs them: inside Khmer, Thai,
Indic or Persian words and in emoji sequences; elsewhere they are invisible noise. Matching
is not concerned: the matcher drops invisible characters itself (`service.rules.text`).

URLs may carry secrets (an API key in a feed's query string, a password in its userinfo):
`shown_url` and `urls_shown` keep the scheme, host and path, and drop the rest.
"""

from __future__ import annotations

import io
import re
import unicodedata
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, screen clears
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks, clipboard writes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # the 8-bit CSI
    r"|\x1b[@-Z\\-_]?"  # any other escape
)
_BIDI = {*range(0x202A, 0x202F), *range(0x2066, 0x206A)}  # embeddings, overrides, isolates
_JOINERS = {0x200B, 0x200C, 0x200D, 0x2060}  # zero-width space, non-joiner, joiner, word joiner
_INVISIBLE = {0x00AD, 0x034F, 0x180E, 0xFEFF, 0x3164, 0xFFA0, *range(0x2061, 0x2065), *range(0xFFF9, 0xFFFC)}
_ALPHABETS = ("LATIN", "GREEK", "CYRILLIC", "ARMENIAN", "DIGIT", "FULLWIDTH LATIN")  # scripts that never need a joiner
_URL = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)


def _unsafe(text: str, i: int) -> bool:
    """Whether the character at `i` must not reach a screen as it is."""
    cp = ord(text[i])
    if cp < 0x20:
        return cp not in (0x09, 0x0A)
    if 0x7F <= cp < 0xA0 or cp in _BIDI or cp in _INVISIBLE or cp in (0x2028, 0x2029):
        return True
    if 0xE0000 <= cp <= 0xE007F:  # tag characters: only inside a flag's emoji sequence
        return not _in_flag(text, i)
    return cp in _JOINERS and not _joins(text, i)


def _joins(text: str, i: int) -> bool:
    """A zero-width character between two characters of a word that needs it, or of an emoji sequence."""
    if i == 0 or i + 1 >= len(text) or ord(text[i - 1]) in _JOINERS:
        return False
    before, after = text[i - 1], text[i + 1]
    if ord(text[i]) == 0x200D and _emoji(before) and _emoji(after):
        return True
    return _word(before) and _word(after) and not (_alphabet(before) and _alphabet(after))


def _word(char: str) -> bool:
    return unicodedata.category(char)[0] in "LMN"


def _emoji(char: str) -> bool:
    return unicodedata.category(char) in ("So", "Sk", "Mn") or 0x1F000 <= ord(char) <= 0x1FAFF


def _alphabet(char: str) -> bool:
    return unicodedata.name(char, "").startswith(_ALPHABETS)


def _in_flag(text: str, i: int) -> bool:
    """A tag character in a subdivision flag (U+1F3F4 followed by tags)."""
    j = i
    while j > 0 and 0xE0000 <= ord(text[j - 1]) <= 0xE007F:
        j -= 1
    return j > 0 and ord(text[j - 1]) == 0x1F3F4


def clean(text: str) -> str:
    """Untrusted text fit to show: terminal escapes, control characters, bidi overrides and stray invisible characters removed.

    Tabs become spaces and line and paragraph separators line breaks; legitimate joiners stay.
    """
    text = _ESCAPES.sub("", text).replace("\t", " ").replace("\u2028", "\n").replace("\u2029", "\n")
    if text.isascii() and text.isprintable():
        return text
    return "".join(c for i, c in enumerate(text) if c == "\n" or not _unsafe(text, i))


def visible(text: str) -> str:
    """Text for a terminal, with what `clean` would remove written out as `\\uXXXX` (a JSON line stays exact)."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(c if c in "\n\t" or not _unsafe(text, i) else f"\\u{ord(c):04x}" for i, c in enumerate(text))


def shown_url(url: str) -> str:
    """A URL without what may be secret: its user:password and query string (`?…` says there was one)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return url.split("?", 1)[0].split("#", 1)[0]
    if not parts.scheme or not host:
        return url
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))


def urls_shown(text: str) -> str:
    """`text` with every http(s) URL in it as `shown_url` gives it (punctuation after a URL is not part of it)."""
    if "://" not in text:
        return text

    def one(found: re.Match[str]) -> str:
        url = found.group(0)
        core = url.rstrip(".,;:!?)]}")
        return shown_url(core) + url[len(core) :]

    return _URL.sub(one, text)


class VisibleStream(io.TextIOBase):
    """A text stream that writes through `visible`: nothing printed from feeds can drive the terminal it reaches."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream

    def write(self, text: str) -> int:
        """Write `text` with unsafe characters made visible; return how many characters were given."""
        self._stream.write(visible(text))
        return len(text)

    def flush(self) -> None:
        """Flush the stream beneath."""
        self._stream.flush()

    def fileno(self) -> int:
        """The stream beneath's file descriptor."""
        return self._stream.fileno()

    def isatty(self) -> bool:
        """Whether the stream beneath is a terminal."""
        return self._stream.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        """The stream beneath's encoding."""
        return self._stream.encoding
