"""HTML from feed fields reduced to plain text by lxml (libxml2's HTML parser, in C): pure, run in the parse workers.

What a reader would see is kept, in paragraphs: block elements become line breaks; scripts,
styles and the content of embeds (iframe, object, noscript, template) are left out. An embed
whose end tag is missing does not take the rest of the field with it: its start tag is
dropped before parsing, so what follows is read as the field's own text, which is what a
reader who is shown no embeds (a feed reader, a browser without plug-ins) sees as the
embed's fallback. `<iframe/>` and the like, written the XML way, are empty elements.
"""

from __future__ import annotations

import functools
import html as entities
import re
from typing import Any

_BLOCKS = "p|div|br|li|ul|ol|h1|h2|h3|h4|h5|h6|tr|blockquote|section|article"
_EMBEDS = ("noscript", "template", "iframe", "object")
BREAK = "\ufdd0"  # a noncharacter: marks a line break through the parse, becomes "\n" in the text
# A line break before every block start or end tag (and one more after `<br/>`, `<p/>`: a start and an end tag).
_BLOCK_TAG = re.compile(rf"<(?=/?(?:{_BLOCKS})[\s/>])", re.IGNORECASE)  # replaced by BREAK + "<": a literal, fast
_SELF_CLOSED_BLOCK = re.compile(rf"<(?=(?:{_BLOCKS})(?:\s[^<>]*)?/>)", re.IGNORECASE)  # [^<>]: linear on "<p <p <p"
# What the embed scan looks at: comments, scripts and styles (whose text is not markup) and embed tags.
_MARKUP = re.compile(r"<(?:(!--)|(script|style)\b|(/?)(iframe|object|noscript|template)\b[^<>]*>)", re.IGNORECASE)
_CLOSERS = {"!--": re.compile("-->"), "script": re.compile(r"</script", re.IGNORECASE), "style": re.compile(r"</style", re.IGNORECASE)}
MAX_DEPTH_HINT = 2_000  # fewer tags than this cannot nest deeper than libxml2 allows (2,048 with huge_tree)


@functools.cache
def _parser() -> Any:
    """One lxml HTML parser per process (parsers are reusable, not shareable between threads)."""
    from lxml import etree  # on first use: `rules check` parses no HTML

    return etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True, huge_tree=True)


def html_to_text(html: str) -> str:
    """Reduce an HTML fragment to plain text with paragraphs kept as blank-line breaks."""
    for drop in ("\x00", BREAK):  # a browser ignores NUL in text; BREAK is ours
        if drop in html:
            html = html.replace(drop, "")
    if "<" not in html:
        return tidy(entities.unescape(html) if "&" in html else html)
    from lxml import etree

    if "/>" in html:
        html = _SELF_CLOSED_BLOCK.sub(BREAK + "<", html)
    parser = _parser()
    root = etree.fromstring(_drop_embeds(_BLOCK_TAG.sub(BREAK + "<", html)).encode("utf-8", "surrogatepass"), parser)
    if root is None:  # nothing but comments, processing instructions or white space
        return ""
    if html.count("<") > MAX_DEPTH_HINT and _stopped_early(parser):
        return tidy(entities.unescape(re.sub(r"<[^>]*>", " ", html)))  # hostile nesting: the words, without the markup
    parts = []
    for top in (root, *root.itersiblings()):  # after a stray </html>, libxml2 starts another root; a browser reads on
        etree.strip_elements(top, "script", "style", with_tail=False)
        parts.append(etree.tostring(top, method="text", encoding="unicode", with_tail=False))
    return tidy("".join(parts).replace(BREAK, "\n"))


def _drop_embeds(html: str) -> str:
    """`html` without its embeds: a closed one goes with its content, an unclosed one loses only its start tag.

    The line breaks marked inside a dropped embed stay, so that the words around it do not run together.
    """
    lowered = html.lower()
    if not any(name in lowered for name in _EMBEDS):
        return html
    pieces, position = [], 0
    for start, end in _embeds(html):
        if start >= position:  # not inside an embed already cut
            pieces += [html[position:start], BREAK * html.count(BREAK, start, end)]
            position = end
    pieces.append(html[position:])
    return "".join(pieces)


def _embeds(html: str) -> list[tuple[int, int]]:
    """The spans to cut, in order: each closed embed with its content, and the start tag of each unclosed one.

    Linear in the length of `html`: a comment, script or style without its end runs to the end of the text.
    """
    open_tags: list[tuple[str, int, int]] = []  # (name, start, end) of each embed start tag not closed yet
    cuts: list[tuple[int, int]] = []
    position = 0
    while found := _MARKUP.search(html, position):
        position = found.end()
        if not found.group(4):  # a comment, a script or a style: skip to its end
            closed = _CLOSERS[found.group(1) or found.group(2).lower()].search(html, position)
            if closed is None:
                break
            position = closed.end()
            continue
        name = found.group(4).lower()
        if not found.group(3):
            if not found.group(0).endswith("/>"):
                open_tags.append((name, found.start(), found.end()))
            continue
        for i in range(len(open_tags) - 1, -1, -1):
            if open_tags[i][0] == name:  # closes this one, and those opened inside it
                cuts.append((open_tags[i][1], found.end()))
                del open_tags[i:]
                break
    return sorted(cuts + [(start, end) for _, start, end in open_tags])


def _stopped_early(parser: Any) -> bool:
    """Whether libxml2 gave up on the document (nesting deeper than it allows)."""
    return any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log)


def tidy(text: str) -> str:
    """Collapse runs of spaces within lines and of blank lines between paragraphs."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join([" ".join(line.split()) for line in text.split("\n")])
    while "\n\n\n" in text:  # str methods, not a regular expression: several times faster on paragraphs
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()
