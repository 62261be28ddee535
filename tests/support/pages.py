"""Article pages in the shape of real outlets' pages, for the feed server to serve.

A page has what news sites put around an article: a cookie banner, a menu, breadcrumbs,
share buttons, scripts and JSON-LD, a photo with its caption, a "related articles" list, a
"most read" sidebar, comments and a footer. The related list and the sidebar name other
border stories on purpose: whole-article matching must see the article, not the page.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from html import escape

MENU = ["Thời sự", "Thế giới", "Kinh doanh", "Khoa học", "Giải trí", "Thể thao", "Pháp luật", "Giáo dục", "Sức khỏe", "Đời sống"]
BORDER_HEADLINES = [
    "Vietnam, Cambodia finish land border demarcation and marker planting",
    "Border guards of Tây Ninh and Svay Rieng hold joint patrol along the border",
    "Cambodia and Vietnam open a new international border gate at Mộc Bài – Bavet",
]


def outlet_page(
    title: str,
    paragraphs: Sequence[str],
    *,
    outlet: str = "Việt Nam News",
    related: Sequence[str] = BORDER_HEADLINES,
    most_read: Sequence[str] = BORDER_HEADLINES,
    comments: Sequence[str] = ("Great news for both countries, finally the border question is settled!",),
    paywall: bool = False,
    charset: str = "utf-8",
) -> bytes:
    """An article page as an outlet serves it, encoded in `charset` (declared in a <meta> tag)."""
    body = "\n".join(f"<p>{escape(p)}</p>" for p in (paragraphs[:1] if paywall else paragraphs))
    if paywall:
        body += '\n<div class="paywall"><p>Subscribe to read the full story.</p><a href="/subscribe">Subscribe</a></div>'
    links = "".join(f'<li><a href="/news/{i}.html">{escape(h)}</a></li>' for i, h in enumerate(related))
    popular = "".join(f'<li><a href="/popular/{i}.html">{escape(h)}</a></li>' for i, h in enumerate(most_read))
    menu = "".join(f'<li><a href="/{i}">{escape(m)}</a></li>' for i, m in enumerate(MENU))
    said = "".join(f'<div class="comment"><span class="user">reader{i}</span><p>{escape(c)}</p></div>' for i, c in enumerate(comments))
    html = f"""<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="{charset}">
<title>{escape(title)} - {escape(outlet)}</title>
<meta property="og:title" content="{escape(title)}">
<link rel="stylesheet" href="/static/site.css">
<style>.cookie{{position:fixed}} .menu li{{display:inline}}</style>
<script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}} gtag('js', new Date());</script>
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle", "headline": "{escape(title)}"}}</script>
</head>
<body>
<div class="cookie-banner" id="cookie">We use cookies to improve your experience. <button>Accept all</button> <a href="/privacy">Privacy policy</a></div>
<header class="header"><a class="logo" href="/">{escape(outlet)}</a><nav class="menu"><ul>{menu}</ul></nav>
<form class="search"><input name="q" placeholder="Tìm kiếm"></form></header>
<div class="breadcrumb"><a href="/">Trang chủ</a> › <a href="/thoi-su">Thời sự</a></div>
<main class="container">
<article class="article">
<h1 class="title-detail">{escape(title)}</h1>
<div class="byline"><span class="author">VNA</span> <span class="date">Thứ năm, 11/9/2025, 15:20 (GMT+7)</span></div>
<div class="share"><a href="#fb">Facebook</a> <a href="#tw">Twitter</a> <a href="#copy">Copy link</a></div>
<figure class="image"><img src="/img/1.jpg" alt=""><figcaption>Photo: VNA</figcaption></figure>
<div class="fck_detail">
{body}
</div>
<div class="tags">Tags: <a href="/tag/ngoai-giao">ngoại giao</a></div>
</article>
<section class="related-news box-tinlienquan"><h3>Tin liên quan</h3><ul>{links}</ul></section>
<section class="comments" id="box_comment"><h3>Ý kiến bạn đọc</h3>{said}</section>
</main>
<aside class="sidebar"><div class="most-read"><h3>Đọc nhiều nhất</h3><ol>{popular}</ol></div>
<div class="ads"><script>loadAd('sidebar')</script></div></aside>
<footer class="footer"><p>© {escape(outlet)}. All rights reserved. Tel: 024 3825 2931.</p><a href="/contact">Contact</a> <a href="/rss">RSS</a></footer>
<script src="/static/app.js"></script>
</body>
</html>
"""
    return encode_1258(html) if charset.lower() in ("windows-1258", "cp1258") else html.encode(charset, errors="xmlcharrefreplace")


def encode_1258(text: str) -> bytes:
    """Vietnamese in windows-1258 as Vietnamese sites wrote it: a letter with its vowel mark, then a combining tone mark."""
    out = bytearray()
    for char in text:
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", char)
        vowel = "".join(c for c in parts if not unicodedata.combining(c) or c in "\u0302\u0306\u031b")  # â ê ô ă ơ ư
        tones = "".join(c for c in parts if unicodedata.combining(c) and c not in "\u0302\u0306\u031b")
        try:
            out += unicodedata.normalize("NFC", vowel).encode("cp1258") + tones.encode("cp1258")
        except UnicodeEncodeError:
            out += f"&#{ord(char)};".encode()
    return bytes(out)
