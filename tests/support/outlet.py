"""A local "outlet" with no feed: a robots.txt, a news sitemap index with two sitemaps, a listing page and article pages.

Its listing page is shaped like a Vietnamese outlet's section front: a header with a menu,
breadcrumbs, article cards (`<article>` with a headline link and a `<time>`), a "related" block and
a "most read" sidebar, and a footer. The menu, the related block and the sidebar link to border
stories on purpose, at article-shaped paths, with pages that would alert: only the cards may be
taken. Google News pieces (an aggregator feed, its article shell page and its `batchexecute`
answer) are built in the formats Google News serves, for the aggregator tests.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from html import escape

from service.ingest.parse import parse_article
from tests.conftest import FIXTURES
from tests.support.feedserver import FeedServer
from tests.support.pages import BORDER_HEADLINES, outlet_page

SEEDS = {  # as Viet Nam News headlined the two seed stories, and the paths it would give them
    "000_7a1b3c353e3e3acd": (
        "Acting FM holds phone talks with Cambodian Deputy PM Prak Sokhonn",
        "the-gioi/acting-fm-holds-phone-talks-4791001.html",
    ),
    "004_7dee21eaf8f7a444": (
        "PM Chính holds phone talks with Cambodian counterpart Hun Manet",
        "the-gioi/pm-chinh-phone-talks-hun-manet-4791002.html",
    ),
}
OLDER = [  # what the outlet had published before newswatch first looked
    ("Rice exports to the Philippines rise in nine months", "kinh-doanh/rice-exports-philippines-rise-4790001.html"),
    ("Hà Nội opens two new metro stations", "thoi-su/ha-noi-opens-two-new-metro-stations-4790002.html"),
]
TRAPS = [  # border stories linked from the menu, the related block and the sidebar: never items of the listing
    (BORDER_HEADLINES[0], "thoi-su/viet-nam-campuchia-hoan-thanh-phan-gioi-cam-moc-4780001.html"),
    (BORDER_HEADLINES[1], "thoi-su/tay-ninh-svay-rieng-tuan-tra-chung-bien-gioi-4780002.html"),
    (BORDER_HEADLINES[2], "thoi-su/moc-bai-bavet-cua-khau-quoc-te-moi-4780003.html"),
]
BORDER_TEXT = [
    "Việt Nam and Cambodia on Tuesday completed the demarcation of their land border and the planting of border markers.",
    "Officials of both countries said the border would be a line of peace, friendship and cooperation between Việt Nam and Cambodia.",
    "The two sides agreed to open more border gates and to patrol the border together.",
]
UNRELATED = ["The ministry said shipments rose by 12 per cent, led by the Mekong Delta provinces. " * 6]


@dataclass(frozen=True)
class Story:
    """One article of the outlet."""

    title: str
    path: str
    published: datetime


def seed(stem: str) -> tuple[str, list[str]]:
    """A seed article's headline and paragraphs."""
    item = parse_article((FIXTURES / f"{stem}.txt").read_text(encoding="utf-8"), stem)
    return SEEDS[stem][0], [p for p in item.content.split("\n") if p.strip()]


class Outlet:
    """The outlet's site on a feed server: stories are published by adding them, then `publish()` rewrites the indexes."""

    def __init__(self, server: FeedServer, now: datetime) -> None:
        self.server = server
        self.stories: list[Story] = [Story(t, p, now - timedelta(days=1, minutes=i)) for i, (t, p) in enumerate(OLDER)]
        for title, path in TRAPS:
            self._page(path, title, BORDER_TEXT)
        for title, path in OLDER:
            self._page(path, title, UNRELATED)
        server.serve(
            "robots.txt",
            f"User-agent: *\nDisallow: /private/\n\nSitemap: {server.url('sitemap-index.xml')}\n".encode(),
            content_type="text/plain",
            validators=False,
        )
        self.publish()

    def add_seeds(self, now: datetime) -> None:
        """Publish the two seed stories."""
        for i, stem in enumerate(SEEDS):
            title, paragraphs = seed(stem)
            path = SEEDS[stem][1]
            self._page(path, title, paragraphs)
            self.stories.append(Story(title, path, now - timedelta(minutes=30 - i)))
        self.publish()

    def _page(self, path: str, title: str, paragraphs: Sequence[str]) -> None:
        """An article page, in an outlet's page layout."""
        self.server.serve(path, outlet_page(title, paragraphs), content_type="text/html; charset=utf-8", validators=False)

    def publish(self) -> None:
        """Rewrite the sitemaps and the listing page from the stories."""
        newest = sorted(self.stories, key=lambda s: s.published, reverse=True)
        self.server.serve("sitemap-index.xml", sitemap_index([self.server.url("news-sitemap.xml"), self.server.url("pages-sitemap.xml")]))
        self.server.serve("news-sitemap.xml", news_sitemap([(self.server.url(s.path), s.title, s.published) for s in newest]))
        self.server.serve("pages-sitemap.xml", news_sitemap([(self.server.url("gioi-thieu/about-the-paper-and-its-staff"), "", None)]))
        self.server.serve("thoi-su", listing_page(newest), content_type="text/html; charset=utf-8")


def sitemap_index(locations: Sequence[str], lastmod: str = "2025-09-12T08:00:00+07:00") -> bytes:
    """A sitemap index naming `locations`."""
    rows = "".join(f"<sitemap><loc>{escape(u)}</loc><lastmod>{lastmod}</lastmod></sitemap>\n" for u in locations)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{rows}</sitemapindex>\n'.encode()


def news_sitemap(entries: Sequence[tuple[str, str, datetime | None]], language: str = "en") -> bytes:
    """A Google News sitemap: one <url> per (link, title, published); entries without a title are plain ones."""
    rows = []
    for link, title, published in entries:
        news = (
            f"<news:news><news:publication><news:name>Việt Nam News</news:name><news:language>{language}</news:language>"
            f"</news:publication><news:publication_date>{published.isoformat()}</news:publication_date>"
            f"<news:title>{escape(title)}</news:title></news:news>"
            if title and published
            else ""
        )
        rows.append(f"<url><loc>{escape(link)}</loc>{news}</url>\n")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n' + "".join(rows) + "</urlset>\n"
    ).encode()


def listing_page(stories: Sequence[Story]) -> bytes:
    """A section front: menu, breadcrumbs, cards, a related block, a most-read sidebar and a footer."""
    cards = "".join(
        f'<article class="item-news"><h3 class="title-news"><a href="/{s.path}" title="{escape(s.title)}">{escape(s.title)}</a></h3>'
        f'<time datetime="{s.published.isoformat()}">{s.published:%d/%m/%Y}</time>'
        f'<a class="thumb" href="/{s.path}"><img src="/img/{i}.jpg" alt=""></a></article>\n'
        for i, s in enumerate(stories)
    )
    trap = [f'<li><a href="/{path}">{escape(title)}</a></li>' for title, path in TRAPS]
    return f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>Thời sự - Việt Nam News</title></head>
<body>
<header class="header"><a class="logo" href="/">Việt Nam News</a>
<nav class="main-nav"><ul><li><a href="/thoi-su">Thời sự</a></li><li><a href="/the-gioi">Thế giới</a></li>
<li><a href="/kinh-doanh">Kinh doanh</a></li>{trap[0]}</ul></nav></header>
<div class="breadcrumb"><a href="/">Trang chủ</a> › <a href="/thoi-su">Thời sự</a></div>
<main class="container"><section class="list-news">
{cards}</section>
<section class="box-related"><h3>Tin liên quan</h3><ul>{trap[1]}</ul></section>
<div class="pagination"><a href="/thoi-su/p2">2</a> <a href="/thoi-su/p3">3</a></div>
</main>
<aside class="sidebar"><div class="most-read"><h3>Đọc nhiều</h3><ol>{trap[2]}</ol></div></aside>
<footer class="footer"><a href="/lien-he">Liên hệ</a> <a href="/rss">RSS</a> <a href="/{TRAPS[0][1]}">{escape(TRAPS[0][0])}</a></footer>
</body></html>""".encode()


# Google News, as it serves an aggregator feed, an article's shell page and the answer of its batchexecute call.
# The id below is a real new-style id (its payload is a token, `AU_yqL…`, not the URL), as published with the
# googlenewsdecoder package's example; the shell page and the answer are built in the shape that Google News
# serves them and that every decoder parses (data-n-a-sg / data-n-a-ts; `)]}'`, then a `wrb.fr` row holding
# `["garturlres", URL, 1]` as a JSON string). They are constructed, not byte-for-byte recordings.
GN_ID = (
    "CBMikwFBVV95cUxPYlZLN2dPQkFvMlhFQjE1d09VRk5VRkNlY0lXaXZEbFJTc2FJNmZMRHpoSlVzSGVEeGRsMXBTd0hDcHZhaUhYTUswbHJYVVpiSlkt"
    "bVVobWxsRWJ5aVluOV9TQ3hjYjdUQUZ1djg1SFdoTXI3aDEyemE5cWU2U3cxQ1N4LWZKY3BlMTJpSUx4LV9ELXc"
)
GN_OLD_ID = "CBMiSGh0dHBzOi8vd3d3Lndhc2hpbmd0b25wb3N0LmNvbS93b3JsZC8yMDIzLzA4LzAxL3J1c3NpYS11a3JhaW5lLXdhci1uZXdzL9IBAA"
GN_SIGNATURE = "AZ5r3eRCBQz3Uc2yQ2pQ5CUFNUqZ3_ZLuZrSZ8mNQkDaCjLLyDhQVp1JN8tx3nErP1ncPpM4WZgmWZ8FbqP2vLmXkGAQnq0EOSjD"


def google_news_feed(items: Sequence[tuple[str, str, str, str, datetime]]) -> bytes:
    """A Google News search feed: (title, article link, outlet, outlet site, published) per item."""
    rows = []
    for title, link, outlet, site, published in items:
        guid = link.split("/articles/", 1)[-1].split("?", 1)[0]
        description = escape(f'<a href="{link}" target="_blank">{title}</a>&nbsp;&nbsp;<font color="#6f6f6f">{outlet}</font>')
        rows.append(
            f"<item><title>{escape(title)} - {escape(outlet)}</title><link>{escape(link)}</link>"
            f'<guid isPermaLink="false">{guid}</guid><pubDate>{format_datetime(published)}</pubDate>'
            f'<description>{description}</description><source url="{escape(site)}">{escape(outlet)}</source></item>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
        '<channel><generator>NFE/5.0</generator><title>"Vietnam Cambodia border" - Google News</title>'
        "<link>https://news.google.com/search?q=Vietnam+Cambodia+border&amp;hl=en-US&amp;gl=US&amp;ceid=US:en</link>"
        "<language>en-US</language><webMaster>news-webmaster@google.com</webMaster>"
        "<copyright>2025 Google LLC</copyright><description>Google News</description>" + "".join(rows) + "</channel></rss>"
    ).encode()


def google_news_shell(article_id: str, timestamp: int = 1757577600, signature: str = GN_SIGNATURE) -> bytes:
    """The page Google News serves at /rss/articles/ID: a c-wiz shell whose attributes hold the decoding parameters."""
    return (
        '<!doctype html><html lang="en-US" dir="ltr"><head><base href="https://news.google.com/"><meta name="referrer" '
        'content="origin"><title>Google News</title></head><body jscontroller="ndtqQc" jsaction="rcuQ6b:npT2md">'
        '<c-wiz jsrenderer="NwQ3Vb" class="zQTmif SSPGKf" jsdata="deferred-i1" data-p="%.@.]"><div jscontroller="aLI87" '
        f'jsaction="JIbuQc:PiMRub" class="GwlgHe" data-n-a-id="{article_id}" data-n-a-ts="{timestamp}" '
        f'data-n-a-sg="{signature}" data-n-pr="rss" data-n-ca-it="1"><div class="m9zmoc">Opening...</div></div>'
        "</c-wiz></body></html>"
    ).encode()


def batchexecute_answer(url: str) -> bytes:
    """Google's answer to the Fbv4je call: an anti-JSON-hijacking prefix, then rows of JSON."""
    inner = json.dumps(["garturlres", url, 1], separators=(",", ":"))
    rows = [["wrb.fr", "Fbv4je", inner, None, None, None, "generic"], ["di", 27], ["af.httprm", 26, "-6011493217391284497", 3]]
    body = json.dumps(rows, separators=(",", ":"))
    return f")]}}'\n\n{body}".encode()
