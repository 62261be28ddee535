"""Parsing: RSS and Atom fixtures, plain-text articles, keys, dates, links, HTML."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pytest

from service.ingest.parse import canonical_link, html_to_text, is_feed, parse_article, parse_feed, read_document, sniff
from tests.conftest import FIXTURES

SEED = FIXTURES / "000_7a1b3c353e3e3acd.txt"


def test_plain_text_article_reads_date_dateline_and_first_sentence() -> None:
    item = parse_article(SEED.read_text(encoding="utf-8"), SEED.name)
    assert item.published == datetime(2025, 9, 11, tzinfo=UTC)
    assert item.title.startswith("Acting Minister of Foreign Affairs Lê Hoài Trung on Thursday held phone talks")
    assert item.content.startswith("HÀ NỘI — Acting Minister")
    assert item.key == "file:000_7a1b3c353e3e3acd"


def test_rss_and_atom_fixtures_give_the_same_items() -> None:
    rss = parse_feed((FIXTURES / "feeds" / "seeds.rss").read_bytes(), "https://example.org/feed", "f", "application/rss+xml")
    atom = parse_feed((FIXTURES / "feeds" / "seeds.atom").read_bytes(), "https://example.org/feed", "f", "application/atom+xml")
    undated = "dates of 1 of 2 items: no date in the feed: dated when first seen"  # the second seed article has none
    assert rss.warnings == [undated] and atom.warnings == []  # Atom requires <updated>
    assert rss.items[1].published is None and rss.items[1].date_note == "no date in the feed: dated when first seen"
    assert [(i.key, i.title, i.link) for i in rss.items] == [(i.key, i.title, i.link) for i in atom.items]
    assert rss.items[0].published == datetime(2025, 9, 11, tzinfo=UTC)
    assert "land border demarcation" in rss.items[0].content


def test_entries_without_guid_or_link_get_a_content_key_and_links_are_resolved() -> None:
    doc = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>No id</title><description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;script&gt;x()&lt;/script&gt;&lt;/p&gt;</description></item>
    <item><title>Relative</title><link>/news/1?utm_source=rss&amp;id=3#top</link></item>
    </channel></rss>"""
    parsed = parse_feed(doc, "https://example.org/feeds/main.xml", "f", "application/rss+xml")
    first, second = parsed.items
    assert first.key.startswith("hash:") and first.summary == "Hello world"
    assert second.link == "https://example.org/news/1?id=3" and second.key == "link:https://example.org/news/1?id=3"


def test_links_follow_xml_base_absolute_relative_and_nested_and_unsafe_schemes_are_dropped() -> None:
    doc = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="%s"><title>t</title>
    <entry><id>1</id><title>x</title><link href="post1?utm_source=rss"/></entry>
    <entry xml:base="sub/"><id>2</id><title>y</title><link href="post2"/></entry>
    <entry><id>3</id><title>z</title><link href="javascript:alert(1)"/></entry></feed>"""
    url = "https://news.example.com/feeds/atom.xml"
    absolute = [i.link for i in parse_feed(doc % b"https://example.org/blog/", url, "f").items]
    assert absolute == ["https://example.org/blog/post1", "https://example.org/blog/sub/post2", ""]
    relative = [i.link for i in parse_feed(doc % b"/blog/", url, "f").items]
    assert relative == ["https://news.example.com/blog/post1", "https://news.example.com/blog/sub/post2", ""]
    plain = doc.replace(b' xml:base="%s"', b"").replace(b' xml:base="sub/"', b"")
    assert [i.link for i in parse_feed(plain, url, "f").items] == [f"https://news.example.com/feeds/post{n}" for n in (1, 2)] + [""]


def test_html_page_is_not_a_feed() -> None:
    parsed = parse_feed(b"<html><body><h1>Welcome</h1></body></html>", "https://example.org/", "f", "text/html")
    assert not is_feed(parsed)


def test_malformed_xml_is_recovered_with_a_warning() -> None:
    doc = b"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title><item><title>A &amp; B</title><link>https://e.org/1</link></item><item><title>Broken & bad</title></channel></rss>"
    parsed = parse_feed(doc, "https://example.org/f", "f", "application/rss+xml")
    assert parsed.warnings and is_feed(parsed)
    assert parsed.items[0].title == "A & B"


def test_external_entities_are_not_resolved(tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    doc = f"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>
    <rss version="2.0"><channel><title>t</title><item><title>a &x; b</title><link>https://e.org/1</link></item></channel></rss>""".encode()
    parsed = parse_feed(doc, "https://example.org/f", "f", "application/rss+xml")
    assert all("TOPSECRET" not in (i.title + i.summary) for i in parsed.items)


def test_helpers() -> None:
    assert html_to_text("<div>a<br>b</div><style>p{}</style>&amp; c") == "a\nb\n& c"
    assert canonical_link("javascript:alert(1)") == ""
    assert canonical_link("HTTPS://Example.ORG/a?fbclid=1#x") == "https://example.org/a"


@pytest.mark.parametrize("name", ["utf-16le-bom.xml", "utf-16be.xml", "utf-16le-autodetect.xml", "utf-32le-bom.xml"])
def test_utf16_and_utf32_feed_files_from_feedparsers_suite_are_sniffed_as_feeds(name: str) -> None:
    assert sniff((FIXTURES / "feedparser" / "encoding" / name).read_bytes()) == "feed"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_utf16_feed_is_read_as_a_feed_and_a_utf16_text_as_text(encoding: str) -> None:
    doc = "<?xml version='1.0'?><rss version='2.0'><channel><title>t</title><item><title>Biên giới Việt Nam</title><link>https://e.org/1</link></item></channel></rss>"
    [item] = read_document(doc.encode(encoding), "file:///f.rss", "f.rss")
    assert item.title == "Biên giới Việt Nam" and item.link == "https://e.org/1"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_a_plain_text_article_with_a_byte_order_mark_is_decoded_by_it(encoding: str) -> None:
    [article] = read_document("HÀ NỘI — Biên giới.\n".encode(encoding), "file:///a.txt", "a.txt")
    assert article.content == "HÀ NỘI — Biên giới."


def test_items_cross_to_the_service_as_their_fields_and_come_back_equal() -> None:
    import copy
    import pickle
    from datetime import UTC, datetime

    from service.ingest.model import Item, ParsedFeed

    item = Item(feed_id="f", key="k", title="t", link="https://e.org/", published=datetime(2026, 1, 2, tzinfo=UTC), via="v")
    parsed = ParsedFeed(title="T", items=[item, Item(feed_id="f", key="k2", title="u")], warnings=["w"], ttl_seconds=60)
    assert pickle.loads(pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL)) == parsed
    assert pickle.loads(pickle.dumps(item, protocol=0)) == item
    assert copy.copy(item) == item and copy.deepcopy(item) == item


def test_feeds_are_read_by_expat_even_where_libxml2s_sax_driver_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Feedparser prefers `drv_libxml2` when importable; a feed must go through expat all the same."""
    import types

    used: list[str] = []
    driver = types.ModuleType("drv_libxml2")

    def create_parser() -> None:
        used.append("drv_libxml2")
        raise AssertionError("libxml2's SAX driver was asked for")

    driver.create_parser = create_parser  # type: ignore[attr-defined]
    body = (FIXTURES / "feeds" / "seeds.rss").read_bytes()
    without = parse_feed(body, "https://example.org/feed", "seeds")
    monkeypatch.setitem(sys.modules, "drv_libxml2", driver)
    assert parse_feed(body, "https://example.org/feed", "seeds") == without
    assert used == [] and len(without.items) == 2
