"""Hostile sources: each is bounded, recorded on its own source, and never touches the others polled with it."""

from __future__ import annotations

import gzip
import ipaddress
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from service.ingest.guard import Guard
from service.storage.schema import feeds as feeds_table
from service.storage.schema import items
from tests.conftest import AppFactory, FakeClock, seed_entries, write_config
from tests.support.feedgen import rss
from tests.support.feedserver import FeedServer
from tests.support.outlet import GN_ID, batchexecute_answer, google_news_feed, google_news_shell, sitemap_index
from tests.support.slackserver import SlackServer

HTML = {"content_type": "text/html; charset=utf-8", "validators": False}
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY secret SYSTEM "file:///etc/passwd">
]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://x.example/&lol9;&secret;</loc></url></urlset>
"""


async def feed_rows(app: Any) -> dict[str, Any]:
    """Every feed's row by id."""
    async with app.engine.connect() as conn:
        return {r.id: r for r in await conn.execute(sa.select(feeds_table))}


async def item_count(app: Any, feed_id: str) -> int:
    """How many items a feed has stored."""
    async with app.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).where(items.c.feed_id == feed_id))).scalar_one())


def urlset(feeds: FeedServer, count: int, now: Any) -> bytes:
    """A sitemap of `count` URLs, one minute apart, newest last (dated by <lastmod>: 50,000 fit in the size cap)."""
    rows = "".join(
        f"<url><loc>{feeds.url(f'a/{i}-story.html')}</loc><lastmod>{(now - timedelta(minutes=count - i)).isoformat()}</lastmod></url>"
        for i in range(count)
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>'.encode()


async def test_sitemap_bombs_and_a_page_of_ten_thousand_links_cost_their_own_poll_only(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    children = [feeds.url(f"child-{i}.xml") if i % 20_000 else feeds.url(f"news-{i}.xml") for i in range(60_000)]
    feeds.serve("huge-index.xml", sitemap_index(children))
    for i in (0, 20_000, 40_000):  # the news sitemaps among them: read first
        feeds.serve(f"news-{i}.xml", urlset(feeds, 3, clock.now))
    feeds.serve("many-urls.xml", urlset(feeds, 50_000, clock.now))
    feeds.serve("laughs.xml", LAUGHS)
    feeds.serve("inflates.xml.gz", gzip.compress(b"<urlset>" + b" " * 30_000_000 + b"</urlset>"), content_type="application/x-gzip")
    cards = "".join(f'<article><a href="/a/an-article-with-a-long-slug-{i}.html">Story {i}</a></article>' for i in range(10_000))
    feeds.serve("ten-thousand.html", f"<html><body>{cards}</body></html>".encode(), **HTML)
    sources = {
        "huge-index": {"kind": "sitemap", "url": feeds.url("huge-index.xml")},
        "many-urls": {"kind": "sitemap", "url": feeds.url("many-urls.xml")},
        "laughs": {"kind": "sitemap", "url": feeds.url("laughs.xml")},
        "inflates": {"kind": "sitemap", "url": feeds.url("inflates.xml.gz")},
        "ten-thousand": {"kind": "listing", "url": feeds.url("ten-thousand.html")},
    }
    seeds = {"id": "seeds", "url": feeds.serve("seeds.rss", rss(seed_entries())), "first_poll_alerts": "all", "max_age": "off"}
    write_config(tmp_path / "config", [{"id": name, **spec} for name, spec in sources.items()] + [seeds])
    app = await make_app(article_pace=0.0)
    await app.poll_once()

    found = await feed_rows(app)
    assert found["seeds"].consecutive_failures == 0 and len(slack.messages["vn-kh-border"]) == 2  # the others never touched it
    assert sum(n for path, n in feeds.hits.items() if path.startswith(("child-", "news-"))) == 3  # 3 sitemaps of 60,000
    assert (
        "more than 50,000 entries" in found["huge-index"].last_warning and await item_count(app, "huge-index") == 3
    )  # the same three in each
    assert found["many-urls"].consecutive_failures == 0 and await item_count(app, "many-urls") == 100  # the newest 100
    async with app.engine.connect() as conn:
        links = {r.link for r in await conn.execute(sa.select(items.c.link).where(items.c.feed_id == "many-urls"))}
    assert links == {feeds.url(f"a/{i}-story.html") for i in range(49_900, 50_000)}
    assert found["laughs"].last_error.startswith("not_a_sitemap:") and "DTD" in found["laughs"].last_error
    assert found["inflates"].last_error.startswith("not_a_sitemap:") and "inflates to more than" in found["inflates"].last_error
    assert await item_count(app, "laughs") == 0 and await item_count(app, "inflates") == 0
    assert await item_count(app, "ten-thousand") == 50 and "more than 5,000 links" in found["ten-thousand"].last_warning
    assert not any("lol" in (r.last_error or "") + (r.last_warning or "") for r in found.values())


@pytest.fixture
async def private() -> AsyncIterator[FeedServer]:
    """A server on 127.0.0.2: a private address for the guard of these tests, where 127.0.0.1 plays the internet."""
    server = FeedServer("127.0.0.2")
    await server.start()
    yield server
    await server.stop()


ONLY_127_0_0_1_IS_PUBLIC = Guard(lambda address: ipaddress.ip_address(address) == ipaddress.ip_address("127.0.0.1"))


async def test_redirectors_that_loop_or_lead_to_private_addresses_fail_their_own_item_only(
    tmp_path: Path, feeds: FeedServer, private: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    private_page = private.serve("secret.html", b"<html><body><p>" + b"Internal border report. " * 40 + b"</p></body></html>", **HTML)
    private_link = private.url(f"rss/articles/{GN_ID}?oc=5")
    private.serve(f"rss/articles/{GN_ID}", google_news_shell(GN_ID), **HTML)
    loop_id = GN_ID[:-4] + "LOOP"
    feeds.serve(f"rss/articles/{loop_id}", b"", status=302, headers={"Location": feeds.url(f"rss/articles/{loop_id}")}, validators=False)
    to_private = GN_ID[:-4] + "PRIV"
    feeds.serve(f"rss/articles/{to_private}", google_news_shell(to_private, signature="to-private"), **HTML)
    feeds.serve("POST _/DotsSplashUi/data/batchexecute", batchexecute_answer(private_page), content_type="application/json")
    items_ = [
        ("Loop: Việt Nam and Cambodia talk border markers", feeds.url(f"rss/articles/{loop_id}?oc=5")),
        ("Private: Việt Nam and Cambodia talk border markers", feeds.url(f"rss/articles/{to_private}?oc=5")),
        ("Behind: Việt Nam and Cambodia talk border markers", private_link),
    ]
    feed = google_news_feed([(t, link, "Outlet", feeds.url("/"), clock.now - timedelta(minutes=i)) for i, (t, link) in enumerate(items_)])
    write_config(
        tmp_path / "config", [{"id": "gn", "url": feeds.serve("rss/search", feed), "first_poll_alerts": "all", "article": "always"}]
    )
    app = await make_app(article_pace=0.0, guard=ONLY_127_0_0_1_IS_PUBLIC)
    await app.poll_once()

    async with app.engine.connect() as conn:
        stored = {r.title: r for r in await conn.execute(sa.select(items))}
    loop, leaked, behind = (stored[t] for t, _ in items_)
    assert loop.article_status == "failed" and loop.article_detail.startswith("link not resolved: redirect: more than 5 redirects")
    assert leaked.article_status == "failed" and "not a public address" in leaked.article_detail and leaked.via
    assert behind.article_status == "failed" and behind.article_detail.startswith("link not resolved: not_public")
    assert private.hits == {}  # nothing on the private address was ever asked for
    assert len(slack.messages["vn-kh-border"]) == 3  # each matched on what the aggregator carried
    assert (await feed_rows(app))["gn"].consecutive_failures == 0
