"""HTML to text: the output of the HTMLParser version kept, unclosed embeds handled, hostile markup bounded."""

from __future__ import annotations

import pytest

from service.ingest.markup import html_to_text, tidy
from service.ingest.parse import parse_feed
from tests.conftest import FIXTURES

# What the HTMLParser-based version gave, pinned: stored text and nearness units must not shift.
SAME_AS_BEFORE = [
    ("<div>a<br>b</div><style>p{}</style>&amp; c", "a\nb\n& c"),
    ("<p>One</p><p>Two <b>bold</b> and <i>it</i>.</p>", "One\n\nTwo bold and it."),
    ("Title<br/>Body", "Title\n\nBody"),  # a start and an end tag to HTMLParser: a paragraph break
    ("<ul><li>a</li><li>b</li></ul>tail", "a\n\nb\n\ntail"),
    ("<p>a<p>b", "a\nb"),
    ("x &lt;y&gt; &nbsp;z &copy2024 &#x1F600; &bogus;", "x <y> z ©2024 😀 &bogus;"),
    ("a < b and c > d", "a < b and c > d"),
    ("<h2>Head</h2>text<blockquote>q</blockquote>", "Head\ntext\nq"),
    ("<table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table>", "12\n\n3"),
    ("<script>var a = '<p>';</script>kept", "kept"),
    ("<P CLASS=x>Upper</P>", "Upper"),
    ("<p-custom>a</p-custom>b", "ab"),
    ("Mot\u00a0à\u2003mot", "Mot à mot"),
    ("<a href='x'>link</a> text <img alt='pic'> more", "link text more"),
    ("<section><article><h1>T</h1><p>x</p></article></section>", "T\n\nx"),
    ("<iframe src='v'></iframe>between<object data='o'><param name='a'></object>end", "betweenend"),
    ("plain text, no markup", "plain text, no markup"),
]


@pytest.mark.parametrize(("html", "text"), SAME_AS_BEFORE)
def test_output_is_what_it_was(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize("tag", ["iframe", "object", "noscript", "template"])
def test_an_unclosed_embed_keeps_the_text_after_it(tag: str) -> None:
    html = f"<p>Lead paragraph.</p><{tag} src='https://video.example/1'><p>The border talks resume on Monday.</p><p>Last.</p>"
    assert html_to_text(html) == "Lead paragraph.\n\nThe border talks resume on Monday.\n\nLast."


@pytest.mark.parametrize("tag", ["iframe", "object", "noscript", "template"])
def test_a_closed_embed_is_left_out_and_the_words_around_it_stay_apart(tag: str) -> None:
    assert html_to_text(f"before<{tag}>fallback</{tag}>after") == "beforeafter"
    assert html_to_text(f"before<{tag}><p>fallback</p></{tag}>after") == "before\n\nafter"


def test_an_embed_closed_around_an_unclosed_inner_element_ends_at_its_own_end_tag() -> None:
    # The shape of a real page (parcoabruzzo.it in trafilatura's evaluation set): libxml2 alone would not close it.
    assert html_to_text('<noscript><div id="x"></noscript><p>Body</p><noscript></div></noscript>') == "Body"
    assert html_to_text("<object><iframe src=v></object><p>Body</p>") == "Body"


def test_embeds_written_in_comments_and_scripts_are_not_markup() -> None:
    assert html_to_text("<!-- <iframe> -->text<script>document.write('<iframe>')</script> more") == "text more"


def test_text_after_a_stray_end_of_document_is_kept() -> None:
    assert html_to_text("<p>a</p></body></html><p>b</p>") == "a\n\nb"


def test_nul_and_line_endings_are_read_as_a_browser_does() -> None:
    assert html_to_text("<p>a\x00b</p>") == "ab"
    assert html_to_text("<p>one\r\ntwo</p>") == "one\ntwo"
    assert tidy("one\r\ntwo\rthree") == "one\ntwo\nthree"


def test_markup_that_never_ends_is_not_text() -> None:
    assert html_to_text("safe<!--") == "safe"
    assert html_to_text("<p>x</p><!DOCTYPE") == "x"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("item_description_object.xml", "safe description"),
        ("entry_summary_object.xml", "safe description"),
        ("entry_content_object.xml", "safe description"),
        ("item_content_encoded_object.xml", "safe description"),
        ("item_description_iframe.xml", "safe description"),  # <iframe/>: an empty element, as XML writes it
        ("item_content_encoded_iframe.xml", "safe description"),
        # A closed iframe's text is its fallback, which a browser does not show (feedparser's sanitizer keeps it).
        ("entry_summary_iframe.xml", "safe"),
        ("entry_content_iframe.xml", "safe"),
    ],
)
def test_feedparser_suite_embeds(name: str, text: str) -> None:
    parsed = parse_feed((FIXTURES / "feedparser" / name).read_bytes(), "https://example.org/feed", "f")
    [item] = parsed.items
    assert text in (item.summary, item.content)


@pytest.mark.parametrize(("name", "title"), [("xml_unclosed_comment.xml", "safe"), ("xml_malicious_comment.xml", "sa")])
def test_feedparser_suite_comments_that_never_end(name: str, title: str) -> None:
    assert parse_feed((FIXTURES / "feedparser" / name).read_bytes(), "https://example.org/feed", "f").title == title


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<div>" * 100_000 + "deep text", "deep text"),  # deeper than libxml2 goes: the words without the markup
        ("<object>" * 100_000 + "deep text", "deep text"),
        ("<script" * 100_000 + " iframe deep text", ""),  # a script that never ends, as a browser reads it
        ("<!--" * 100_000 + " object deep text", ""),
        ("<p " * 100_000 + "/> deep text", "deep text"),
    ],
)
def test_hostile_markup_is_read_in_one_pass(html: str, text: str) -> None:
    """Each of these took quadratic time in a naive scan (the suite's timeout is the bound)."""
    assert html_to_text(html) == text
