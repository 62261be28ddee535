"""The pure parts of sources: sitemap and listing parsing, aggregator links, OPML, and their config errors."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from service.config import load_config
from service.config.yamlfile import ConfigError
from service.ingest.model import Item, ParsedFeed
from service.ingest.parse import parse_feed
from service.ingest.sources.aggregator import (
    _unwrap_parsed,
    batch_answer,
    batch_request,
    google_news_id,
    is_redirector,
    unwrap,
    unwrap_feed,
)
from service.ingest.sources.base import parse_date, slug_title
from service.ingest.sources.listing import article_shaped, parse_listing, same_site
from service.ingest.sources.sitemap import Refused, parse_sitemap
from service.ops.opml import insert_entries, read_opml, write_opml
from tests.conftest import FIXTURES, write_config
from tests.support.outlet import (
    GN_ID,
    GN_OLD_ID,
    OLDER,
    SEEDS,
    TRAPS,
    Story,
    batchexecute_answer,
    google_news_feed,
    listing_page,
    news_sitemap,
)

NOW = datetime(2025, 9, 12, 8, 0, tzinfo=UTC)


def test_a_news_sitemap_gives_each_entry_its_news_title_date_and_language_newest_first() -> None:
    body = news_sitemap(
        [
            ("https://vnn.example/a/older-story-1.html?utm_source=x", "Older", datetime(2025, 9, 10, tzinfo=UTC)),
            ("https://vnn.example/a/newest-story-3.html", "Newest", datetime(2025, 9, 12, tzinfo=UTC)),
            ("https://vnn.example/a/middle-story-2.html", "Middle", datetime(2025, 9, 11, tzinfo=UTC)),
        ],
        language="vi",
    )
    found = parse_sitemap(body, "https://vnn.example/news-sitemap.xml", "vnn", 2, 3)
    assert found.kind == "urlset"
    assert [(i.title, i.language) for i in found.items] == [("Newest", "vi"), ("Middle", "vi")]
    assert found.items[0].key == "link:https://vnn.example/a/newest-story-3.html"
    assert found.items[0].published == datetime(2025, 9, 12, tzinfo=UTC)


def test_an_index_lends_its_news_sitemaps_first_then_the_newest() -> None:
    body = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://s.example/post-2019.xml</loc><lastmod>2019-01-01</lastmod></sitemap>
      <sitemap><loc>https://s.example/post-2025.xml</loc><lastmod>2025-09-01</lastmod></sitemap>
      <sitemap><loc>https://s.example/news-sitemap.xml</loc><lastmod>2020-01-01</lastmod></sitemap>
    </sitemapindex>"""
    found = parse_sitemap(body, "https://s.example/sitemap.xml", "s", 100, 2)
    assert (found.kind, found.children) == ("index", ["https://s.example/news-sitemap.xml", "https://s.example/post-2025.xml"])


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><urlset><url><loc>&a;</loc></url></urlset>', "DTD"),
        (b"<html><body>not a sitemap</body></html>", "no <urlset>"),
        (b"\x00\x01 binary", "not XML"),
        (gzip.compress(b"<urlset>" + b" " * 11_000_000 + b"</urlset>"), "inflates to more than"),
    ],
)
def test_what_is_not_a_sitemap_is_refused_with_its_reason(body: bytes, reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        parse_sitemap(body, "https://s.example/x.xml", "s", 10, 3)


def test_a_gzip_sitemap_is_read() -> None:
    body = gzip.compress(news_sitemap([("https://s.example/a/one-two-three-four", "One", NOW)]))
    assert [i.title for i in parse_sitemap(body, "https://s.example/s.xml.gz", "s", 10, 3).items] == ["One"]


@pytest.mark.parametrize(
    ("path", "article"),
    [
        ("/viet-nam-campuchia-hoan-thanh-phan-gioi-cam-moc-4791234.html", True),
        ("/the-gioi/acting-fm-holds-phone-talks-4791001.html", True),
        ("/2025/09/11/border-talks", True),
        ("/article/1234567.html", True),
        ("/index.php/en/localnews/12345-hun-manet.html", True),
        ("/thoi-su", False),
        ("/tag/bien-gioi-viet-nam-campuchia-moc", False),
        ("/category/world/asia", False),
        ("/author/nguyen-van-an-phong-vien", False),
        ("/news/0.html", False),
        ("/img/1234-photo.jpg", False),
        ("/", False),
    ],
)
def test_article_shaped_paths(path: str, article: bool) -> None:
    assert article_shaped(path) is article


def test_same_site_allows_www_and_subdomains_only() -> None:
    assert same_site("www.vnn.example", "vnn.example") and same_site("e.vnn.example", "www.vnn.example")
    assert not same_site("evil-vnn.example", "vnn.example") and not same_site("vnn.example.com", "vnn.example")


def test_a_listing_page_without_selectors_gives_its_cards_not_its_menu_related_sidebar_or_footer() -> None:
    stories = [Story(title, path, NOW) for title, path in [*SEEDS.values(), *OLDER]]
    parsed = parse_listing(listing_page(stories), "https://vnn.example/thoi-su", "text/html; charset=utf-8", "vnn", {})
    assert [i.title for i in parsed.items] == [s.title for s in stories]
    assert {i.link for i in parsed.items} == {f"https://vnn.example/{s.path}" for s in stories}
    assert not {i.title for i in parsed.items} & {t for t, _ in TRAPS}
    assert all(i.published == NOW and i.language == "vi" for i in parsed.items)


def test_listing_selectors_pick_items_links_titles_and_dates() -> None:
    page = b"""<html><body><nav><a href="/a/nav-story-one-two-three">Nav</a></nav>
      <div class="card"><a class="go" href="/x/1">Read</a><h2>First headline</h2><span class="d">11/09/2025 15:20</span></div>
      <div class="card"><a class="go" href="https://other.example/x/2">Read</a><h2>Second headline</h2></div></body></html>"""
    options = {"item": "div.card", "link": "a.go", "title": "h2", "date": "span.d"}
    parsed = parse_listing(page, "https://k.example/list", "text/html", "k", options)
    assert [(i.title, i.link) for i in parsed.items] == [
        ("First headline", "https://k.example/x/1"),
        ("Second headline", "https://other.example/x/2"),
    ]
    assert parsed.items[0].published == datetime(2025, 9, 11, 15, 20, tzinfo=UTC)


def test_a_page_with_no_article_links_says_so() -> None:
    parsed = parse_listing(b"<html><body><nav><a href='/thoi-su'>x</a></nav></body></html>", "https://k.example/", "text/html", "k", {})
    assert parsed.items == [] and parsed.warnings[-1] == "no article links found on the page"


def test_dates_and_slug_titles() -> None:
    assert parse_date("2025-09-11T15:20:00+07:00") == datetime(2025, 9, 11, 8, 20, tzinfo=UTC)
    assert parse_date("2025-09-11") == datetime(2025, 9, 11, tzinfo=UTC)
    assert parse_date("11/09/2025") == datetime(2025, 9, 11, tzinfo=UTC)
    assert parse_date("31/02/2025") is None and parse_date("yesterday") is None
    assert slug_title("https://vnn.example/viet-nam-campuchia-4791234.html") == "Viet nam campuchia"


def test_redirector_links_that_carry_their_target_are_unwrapped_offline() -> None:
    bing = "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=abc&url=https%3a%2f%2fwww.khmertimeskh.com%2f501234%2fborder%2f&c=1&mkt=en-us"
    assert unwrap(bing) == "https://www.khmertimeskh.com/501234/border/"
    alerts = "https://www.google.com/url?rct=j&sa=t&url=https://vnexpress.net/a-4791234.html&ct=ga&cd=x&usg=y"
    assert unwrap(alerts) == "https://vnexpress.net/a-4791234.html"
    yahoo = "https://r.search.yahoo.com/_ylt=x/RV=2/RE=1/RO=10/RU=https%3a%2f%2fwww.bangkokpost.com%2fworld%2f3001%2f/RK=2/RS=y-"
    assert unwrap(yahoo) == "https://www.bangkokpost.com/world/3001/"
    old = f"https://news.google.com/rss/articles/{GN_OLD_ID}?oc=5"
    assert unwrap(old) == "https://www.washingtonpost.com/world/2023/08/01/russia-ukraine-war-news/"
    new = f"https://news.google.com/rss/articles/{GN_ID}?oc=5"
    assert unwrap(new) is None and is_redirector(new) and google_news_id(new) == GN_ID  # a token: needs Google's answer
    assert not is_redirector("https://vnexpress.net/rss/articles/not-google-news-at-all-123")
    assert google_news_id(f"http://127.0.0.1:8080/rss/articles/{GN_ID}") == GN_ID  # any host serving Google News ids


LINK_PARTS = st.sampled_from(
    ["https://", "http://", "www.", "bing.com", "BING.COM", "news.google.com", "google.com.vn", "r.search.yahoo.com", "/", "/url",
     "/URL", "/news/apiclick.aspx", "/News/ApiClick.aspx", "/RU=", "/ru=", "/RK=0", "articles/", "Articles/", "rss/", "?", "&",
     "url=", "q=", "https%3A%2F%2Fvnexpress.net%2Fa.html", "CBMiSWh0dHBzOi8vd3d3LndhcGUuY29tL3dvcmxkLw", "#", "x", "=", "%"]
)  # fmt: skip


UNWRAPPED = (
    "https://www.BING.COM/News/ApiClick.aspx?url=https%3A%2F%2Fvnexpress.net%2Fa.html",
    "https://www.google.com.vn/url?q=https%3A%2F%2Fvnexpress.net%2Fa.html",
)


@given(st.lists(LINK_PARTS, max_size=12).map("".join))
@example(UNWRAPPED[0])
@example(UNWRAPPED[1])
def test_the_quick_refusal_of_unwrap_refuses_only_links_that_carry_no_target(link: str) -> None:
    """`unwrap` refuses most links without parsing them: never one that the full test would unwrap."""
    assert unwrap(link) == _unwrap_parsed(link)
    if link in UNWRAPPED:  # the examples: targets, not refusals
        assert unwrap(link) == "https://vnexpress.net/a.html"


def test_an_aggregator_feed_keeps_its_outlets_and_cuts_them_from_titles() -> None:
    feed = google_news_feed(
        [
            ("Border talks", f"https://news.google.com/rss/articles/{GN_OLD_ID}?oc=5", "The Post", "https://www.washingtonpost.com", NOW),
            ("Gate opens", f"https://news.google.com/rss/articles/{GN_ID}?oc=5", "Khmer Times", "https://www.khmertimeskh.com", NOW),
        ]
    )
    parsed = unwrap_feed(parse_feed(feed, "https://news.google.com/rss/search?q=x", "gn"))
    old, new = parsed.items
    assert (old.title, old.outlet, old.outlet_url) == ("Border talks", "The Post", "https://www.washingtonpost.com/")
    assert (
        old.link.startswith("https://www.washingtonpost.com/")
        and old.via.startswith("https://news.google.com/")
        and old.key == "guid:" + GN_OLD_ID
    )
    assert (new.title, new.link, new.via) == ("Gate opens", f"https://news.google.com/rss/articles/{GN_ID}?oc=5", "")


def test_a_guidless_item_is_keyed_by_the_link_it_was_unwrapped_to() -> None:
    link = "http://www.bing.com/news/apiclick.aspx?tid=1&url=https%3a%2f%2fk.example%2fa-123456"
    item = Item(feed_id="b", key="link:" + link, title="t", link=link)
    (out,) = unwrap_feed(ParsedFeed("", [item])).items
    assert (out.link, out.key, out.via) == ("https://k.example/a-123456", "link:https://k.example/a-123456", link)


def test_google_news_batch_request_and_answer() -> None:
    request = batch_request(GN_ID, 1757577600, "sig")
    assert '"Fbv4je"' in request and GN_ID in request and "1757577600" in request and "sig" in request
    assert batch_answer(batchexecute_answer("https://vnn.example/a?display=1")) == "https://vnn.example/a?display=1"
    assert batch_answer(b')]}\'\n\n[["er",null]]') is None and batch_answer(b"<html>") is None
    assert batch_answer(batchexecute_answer("javascript:alert(1)")) is None


def test_opml_from_freshrss_becomes_entries_with_folder_tags_and_known_feeds_left_out() -> None:
    data = (FIXTURES / "opml" / "freshrss.opml").read_bytes()
    imported = read_opml(data, {"kiripost"}, {"https://www.khmertimeskh.com/feed/": "khmer-times"})
    entries = {i.entry["url"]: i.entry for i in imported if i.entry}
    assert entries["https://kiripost.com/feed"] == {
        "id": "kiripost-2",
        "url": "https://kiripost.com/feed",
        "name": "Kiripost",
        "tags": ["campuchia"],
    }
    listing = entries["https://baotayninh.vn/thoi-su/"]
    assert listing["kind"] == "listing" and listing["tags"] == ["tin-tuc-viet-nam"]
    assert [i.note for i in imported if i.entry is None] == ["Khmer Times: already in feeds.yaml as 'khmer-times'"]


def test_opml_export_imports_back_to_the_same_feeds(tmp_path: Path) -> None:
    feeds = [
        {"id": "vnn", "url": "https://vnn.example/rss", "name": "VNN", "tags": ["vietnam", "en"], "interval": "10m", "max_age": "off"},
        {"id": "tn", "kind": "sitemap", "url": "https://tn.example/", "tags": ["vietnam"], "sitemap": {"newest": 20}, "language": "vi"},
        {"id": "fn", "kind": "listing", "url": "https://fn.example/l", "listing": {"item": "div.c", "title": "h2"}, "article": "always"},
    ]
    config = load_config(write_config(tmp_path / "config", feeds))
    opml = write_opml(config.feeds)
    assert b"urn:newswatch:opml:1" in opml and b'type="link"' in opml
    back = {i.entry["id"]: i.entry for i in read_opml(opml, set(), {}) if i.entry}
    assert back["vnn"] == {
        "id": "vnn",
        "url": "https://vnn.example/rss",
        "name": "VNN",
        "tags": ["vietnam", "en"],
        "interval": 600,
        "max_age": "off",
    }
    assert back["tn"] == {
        "id": "tn",
        "url": "https://tn.example/",
        "tags": ["vietnam"],
        "language": "vi",
        "kind": "sitemap",
        "sitemap": {"newest": 20},
    }
    assert back["fn"]["listing"] == {"item": "div.c", "title": "h2"} and back["fn"]["article"] == "always"


def test_opml_with_entities_is_refused() -> None:
    with pytest.raises(ValueError, match="DTD"):
        read_opml(b'<!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]><opml><body/></opml>', set(), {})


def test_entries_are_inserted_after_the_feeds_list_leaving_comments_and_the_rest_as_they_were() -> None:
    source = "# my feeds\nfeeds:\n    - id: a   # first\n      url: https://a.example/rss\n      tags: [x]\n\n# hosts below\nhosts:\n  a.example: {concurrency: 4}\n"
    out = insert_entries(source, [{"id": "b", "url": "https://b.example/rss"}], "feeds.yaml")
    assert out == source.replace("tags: [x]\n", "tags: [x]\n    - id: b\n      url: https://b.example/rss\n")


@pytest.mark.parametrize(
    ("feed", "message"),
    [
        ({"kind": "listing", "listing": {"item": "div[", "link": "a"}}, "'div[' is not a CSS selector"),
        ({"kind": "listing", "listing": {"title": "h2"}}, "give 'item' too"),
        ({"kind": "feed", "sitemap": {"newest": 5}}, "'sitemap:' options need 'kind: sitemap'"),
        ({"kind": "sitemap", "sitemap": {"newest": 0}}, "must be at least 1"),
        ({"kind": "page"}, "expected 'feed', 'sitemap' or 'listing'"),
    ],
)
def test_bad_source_options_are_config_errors_with_their_place(tmp_path: Path, feed: dict[str, object], message: str) -> None:
    write_config(tmp_path, [{"id": "x", "url": "https://x.example/", **feed}])
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    (problem,) = caught.value.problems
    assert problem.file.endswith("feeds.yaml") and problem.line > 1 and message in problem.message


def test_every_feeds_yaml_example_in_docs_sources_md_is_valid() -> None:
    import re

    import yaml

    from service.config.schema import FeedsFile

    text = (FIXTURES.parent.parent / "docs" / "sources.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert len(blocks) == 5  # sitemap, listing, Google News, Bing News, GDELT
    for block in blocks:
        document = yaml.safe_load(block if block.startswith("feeds:") else "feeds:\n" + block)
        spec = FeedsFile.model_validate(document)
        assert spec.feeds and all(f.url.startswith("https://") for f in spec.feeds)


def test_links_that_cannot_be_parsed_are_left_out_not_fatal() -> None:
    page = b'<html><body><article><a href="http://[broken/a-b-c-d-e">Broken</a></article><article><a href="/x/one-two-three-four">Fine</a></article></body></html>'
    assert [i.title for i in parse_listing(page, "https://k.example/", "text/html", "k", {}).items] == ["Fine"]
    sitemap = news_sitemap([("http://[broken/a", "Broken", NOW), ("https://k.example/a/fine-one-two", "Fine", NOW)])
    assert [i.title for i in parse_sitemap(sitemap, "https://k.example/s.xml", "k", 10, 3).items] == ["Fine"]
    link = "http://www.bing.com/news/apiclick.aspx?url=http%3a%2f%2f%5bbroken%2fa"
    assert unwrap(link) is None and unwrap_feed(ParsedFeed("", [Item(feed_id="b", key="k", title="t", link=link)])).items[0].link == link
