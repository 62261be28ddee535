"""Sources without feeds, on real parts: a local outlet that has only a news sitemap and a listing page, and Google News.

Every kind yields its items once (a new link is a new item), is caught up silently on its first
poll, reads each item's page through the article step, and alerts on the seed stories through the
same prepare → match → route path as feeds; never on the menu's, the related block's or the
sidebar's border stories.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from service.storage.schema import feeds as feeds_table
from service.storage.schema import items
from tests.conftest import AppFactory, FakeClock, write_config
from tests.support.feedserver import FeedServer
from tests.support.outlet import (
    GN_ID,
    GN_SIGNATURE,
    OLDER,
    SEEDS,
    TRAPS,
    Outlet,
    batchexecute_answer,
    google_news_feed,
    google_news_shell,
    seed,
)
from tests.support.slackserver import SlackServer

HTML = {"content_type": "text/html; charset=utf-8", "validators": False}


async def rows(app: Any, feed_id: str | None = None) -> dict[str, Any]:
    """Stored items by title."""
    query = sa.select(items) if feed_id is None else sa.select(items).where(items.c.feed_id == feed_id)
    async with app.engine.connect() as conn:
        return {r.title: r for r in await conn.execute(query)}


async def feed_row(app: Any, feed_id: str) -> Any:
    """One feed's row."""
    async with app.engine.connect() as conn:
        return (await conn.execute(sa.select(feeds_table).where(feeds_table.c.id == feed_id))).one()


def alert_titles(slack: SlackServer, channel: str = "vn-kh-border") -> list[str]:
    """The titles the channel's alerts name, in order."""
    headlines = [title for title, _ in SEEDS.values()] + [title for title, _ in TRAPS] + [title for title, _ in OLDER]
    return [next((h for h in headlines if h in m["text"]), m["text"]) for m in slack.messages[channel]]


@pytest.mark.parametrize("kind", ["sitemap", "listing"])
async def test_the_seed_stories_of_an_outlet_without_a_feed_alert_once_each_and_its_menu_and_related_links_never(
    kind: str, tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    outlet = Outlet(feeds, clock.now)
    url = feeds.url("/") if kind == "sitemap" else feeds.url("thoi-su")  # a sitemap source given only the site
    write_config(tmp_path / "config", [{"id": "outlet", "kind": kind, "url": url, "interval": 60}])
    app = await make_app(article_pace=0.0)

    await app.poll_once()  # the first poll is caught up silently
    before = await rows(app)
    assert {title for title, _ in OLDER} <= set(before) and not slack.messages["vn-kh-border"]
    assert not set(before) & {title for title, _ in TRAPS}  # the menu, related and sidebar links are not items

    outlet.add_seeds(clock.now)
    clock.advance(minutes=2)
    await app.poll_once()
    assert sorted(alert_titles(slack)) == sorted(title for title, _ in SEEDS.values())
    stored = await rows(app)
    for title, path in SEEDS.values():
        row = stored[title]
        assert row.link == feeds.url(path) and row.key == "link:" + feeds.url(path)
        assert row.article_status == "fetched" and "demarcation and marker planting" in row.article
        assert row.published_at is not None
    assert not set(stored) & {title for title, _ in TRAPS}
    assert all(feeds.hits.get(path, 0) == 0 for _, path in TRAPS)  # never even fetched

    clock.advance(minutes=2)
    await app.poll_once()  # nothing new: no second alert, no page fetched again
    assert len(slack.messages["vn-kh-border"]) == 2
    assert all(feeds.hits[path] == 1 for _, path in SEEDS.values())
    assert (await feed_row(app, "outlet")).consecutive_failures == 0
    if kind == "sitemap":  # found through robots.txt; both sitemaps of the index read
        assert feeds.hits["robots.txt"] >= 1 and feeds.hits["news-sitemap.xml"] == 3 and feeds.hits["pages-sitemap.xml"] >= 1
        assert "About the paper and its staff" in stored  # a plain sitemap entry: titled from its link


async def test_a_news_sitemap_gives_title_date_and_language_and_only_its_newest_entries(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    outlet = Outlet(feeds, clock.now)
    outlet.add_seeds(clock.now)
    write_config(
        tmp_path / "config",
        [{"id": "vnn", "kind": "sitemap", "url": feeds.url("news-sitemap.xml"), "sitemap": {"newest": 2}, "first_poll_alerts": "all"}],
    )
    app = await make_app(article_pace=0.0)
    await app.poll_once()
    stored = await rows(app)
    assert set(stored) == {title for title, _ in SEEDS.values()}  # the two newest of four
    assert {r.language for r in stored.values()} == {"en"}
    first, _ = seed("000_7a1b3c353e3e3acd")
    assert stored[first].published_at == next(s.published for s in outlet.stories if s.title == first)
    assert sorted(alert_titles(slack)) == sorted(title for title, _ in SEEDS.values())
    await app.poll_once()  # a plain sitemap is read conditionally: unchanged, it is not parsed again
    assert feeds.conditional_hits.get("news-sitemap.xml") == 1


async def test_an_aggregator_item_is_matched_on_its_outlets_page_and_an_unresolvable_one_on_what_it_carried(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    outlet = Outlet(feeds, clock.now)
    outlet.add_seeds(clock.now)
    title, _ = seed("000_7a1b3c353e3e3acd")
    outlet_link = feeds.url(SEEDS["000_7a1b3c353e3e3acd"][1])
    resolvable = feeds.url(f"rss/articles/{GN_ID}?oc=5")
    feeds.serve(f"rss/articles/{GN_ID}", google_news_shell(GN_ID), **HTML)
    feeds.serve("POST _/DotsSplashUi/data/batchexecute", batchexecute_answer(outlet_link), content_type="application/json; charset=utf-8")
    gone = feeds.url(f"rss/articles/{GN_ID[:-4]}AAAA?oc=5")  # Google News does not know it: 404
    carried = "Việt Nam and Cambodia agree to finish land border demarcation"
    feed = google_news_feed(
        [
            (title, resolvable, "Việt Nam News", feeds.url("/"), clock.now - timedelta(minutes=10)),
            (carried, gone, "Khmer Times", "https://www.khmertimeskh.com", clock.now - timedelta(minutes=20)),
        ]
    )
    write_config(
        tmp_path / "config", [{"id": "gn", "name": "Google News", "url": feeds.serve("rss/search", feed), "first_poll_alerts": "all"}]
    )
    app = await make_app(article_pace=0.0)
    await app.poll_once()

    stored = await rows(app)
    row = stored[title]  # " - Việt Nam News" cut from the title
    assert (row.link, row.via, row.outlet, row.outlet_url) == (outlet_link, resolvable, "Việt Nam News", feeds.url("/"))
    assert row.article_status == "fetched" and "demarcation and marker planting" in row.article
    assert f"resolved from {resolvable}" in row.article_detail
    (form,) = feeds.posted["_/DotsSplashUi/data/batchexecute"]
    assert GN_ID in form["f.req"] and GN_SIGNATURE in form["f.req"] and "Fbv4je" in form["f.req"]
    unresolved = stored[carried]
    assert (unresolved.link, unresolved.article_status) == (gone, "failed")
    assert unresolved.article_detail.startswith("link not resolved: http_404")
    messages = {alert: m for alert, m in zip(alert_titles(slack), slack.messages["vn-kh-border"], strict=True)}
    assert set(messages) >= {title} and any(carried in m["text"] for m in slack.messages["vn-kh-border"])
    assert outlet_link in messages[title]["text"] and "Việt Nam News (via Google News)" in str(messages[title]["blocks"])

    await app.poll_once()  # nothing new, nothing resolved again
    assert len(feeds.posted["_/DotsSplashUi/data/batchexecute"]) == 1
    assert feeds.hits[f"rss/articles/{GN_ID}"] == 1
