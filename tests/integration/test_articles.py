"""Whole-article matching on real parts: article pages served on 127.0.0.1 in the shape of real outlets' pages.

Feeds carry a headline and the first paragraph, as VnExpress and Viet Nam News do; the
sentence that makes the seed articles border news is in paragraph six of the page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from service.ingest.parse import parse_article
from service.storage.schema import feeds as feeds_table
from service.storage.schema import items, matches
from tests.conftest import FIXTURES, AppFactory, FakeClock, write_config
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.pages import outlet_page
from tests.support.slackserver import SlackServer

HEADLINES = {  # as Viet Nam News headlined the two seed stories
    "000_7a1b3c353e3e3acd": "Acting FM holds phone talks with Cambodian Deputy PM Prak Sokhonn",
    "004_7dee21eaf8f7a444": "PM Chính holds phone talks with Cambodian counterpart Hun Manet",
}
UNRELATED = [
    "Vietnam's rice exports to the Philippines rose in the first nine months, with shipments from the Mekong Delta provinces "
    "of An Giang and Đồng Tháp leading, the Ministry of Industry and Trade said on Monday.",
    "Exporters said prices held steady through September as buyers in Manila and Jakarta signed new contracts, and farmers "
    "expect a good winter-spring harvest. The ministry forecast exports of 8 million tonnes for the year.",
    "Traders in Cambodia and Thailand also raised their shipments, but Vietnamese rice kept its edge on price and quality, "
    "according to the Vietnam Food Association.",
]


def seed(stem: str) -> tuple[str, list[str]]:
    """A seed article's headline and paragraphs."""
    item = parse_article((FIXTURES / f"{stem}.txt").read_text(encoding="utf-8"), stem)
    return HEADLINES[stem], [p for p in item.content.split("\n") if p.strip()]


def feed_entry(feeds: FeedServer, stem: str, page: bytes | None = None, **route: Any) -> Entry:
    """A title + lead feed entry whose page the feed server serves (or not, with page=None)."""
    title, paragraphs = seed(stem)
    link = feeds.url(f"news/{stem}.html")
    if page is not None or not route.get("missing"):
        feeds.serve(f"news/{stem}.html", page if page is not None else outlet_page(title, paragraphs), **_html(route))
    return Entry(f"urn:{stem}", title, link, paragraphs[0], published=datetime(2025, 9, 12, tzinfo=UTC))


def _html(route: dict[str, Any]) -> dict[str, Any]:
    """Route options for an HTML page."""
    route.pop("missing", None)
    return {"content_type": "text/html; charset=utf-8", "validators": False, **route}


def configure(tmp_path: Path, url: str, **options: Any) -> None:
    """The shipped rules, one feed that alerts on its first poll."""
    write_config(tmp_path / "config", [{"id": "vns", "url": url, "interval": 60, "first_poll_alerts": "all", "max_age": "off", **options}])


async def stored(app: Any) -> dict[str, Any]:
    """Items by title, with their matched rules."""
    async with app.engine.connect() as conn:
        rows = list(await conn.execute(sa.select(items)))
        found = list(await conn.execute(sa.select(matches.c.item_id, matches.c.rule_id, matches.c.terms)))
    by_id = {r.id: r for r in rows}
    return {by_id[m.item_id].title: m for m in found} | {"_rows": {r.title: r for r in rows}}


async def test_seeds_as_their_feed_carries_them_alert_once_each_from_the_article_and_the_sidebar_case_does_not(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    entries = [feed_entry(feeds, stem) for stem in HEADLINES]
    unrelated_link = feeds.serve(
        "news/rice.html",
        outlet_page("Rice exports to the Philippines rise", UNRELATED),  # its related list and sidebar name border stories
        content_type="text/html; charset=utf-8",
    )
    entries.append(Entry("urn:rice", "Rice exports to the Philippines rise", unrelated_link, UNRELATED[0]))
    configure(tmp_path, feeds.serve("vns.rss", rss(entries)))
    app = await make_app(article_pace=0.0)
    await app.poll_once()
    assert len(slack.messages["vn-kh-border"]) == 2
    # both seeds also report on the Cambodia–Thailand border (the GBC, the ceasefire): the other rule's news too
    assert len(slack.messages["kh-th-border"]) == 2
    assert not any("Rice" in m["text"] for channel in ("vn-kh-border", "kh-th-border") for m in slack.messages[channel])
    found = await stored(app)
    rows = found.pop("_rows")
    for title in HEADLINES.values():
        row = rows[title]
        assert row.article_status == "fetched" and "demarcation and marker planting" in row.article
        assert "Tin liên quan" not in row.article and "Great news" not in row.article and "cookies" not in row.article
        border_terms = [t for t in found[title].terms if t["term"] in ("border", "demarca*", "marker planting")]
        assert border_terms and all(t["fields"] == ["article"] for t in border_terms)  # the border was only in the article
    rice = rows["Rice exports to the Philippines rise"]
    assert rice.article_status == "fetched" and "demarcation" not in rice.article  # fetched (it names Vietnam), sidebar left out
    assert "Rice exports to the Philippines rise" not in found
    assert any(agent.startswith("newswatch/") for agent in feeds.user_agents)
    for message in slack.messages["vn-kh-border"]:  # the alert says the match came from the page, and quotes it
        section = next(b["text"]["text"] for b in message["blocks"] if "Matched in the article" in b.get("text", {}).get("text", ""))
        assert "*demarcation*" in section and "*marker planting*" in section
    await app.poll_once()  # nothing new: no page fetched again, no second alert
    assert len(slack.messages["vn-kh-border"]) == 2
    assert feeds.hits["news/000_7a1b3c353e3e3acd.html"] == 1


async def test_a_page_that_fails_in_any_way_leaves_the_item_matched_on_its_feed_text_with_the_reason(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    title, paragraphs = seed("000_7a1b3c353e3e3acd")
    cases = {
        "missing": (None, {"status": 404}),
        "huge": (outlet_page(title, paragraphs * 400), {}),
        "never-finishes": (outlet_page(title, paragraphs), {"delay": 30.0}),
        "pdf": (b"%PDF-1.7 not a page", {"content_type": "application/pdf"}),
        "robots": (outlet_page(title, paragraphs), {}),
    }
    entries = []
    for name, (page, route) in cases.items():
        link = feeds.serve(f"{name}/a.html", page or b"", **{"content_type": "text/html; charset=utf-8", "validators": False, **route})
        # the lead names Cambodia and the border: the item matches on what the feed carried
        entries.append(Entry(f"urn:{name}", f"{name}: Việt Nam and Cambodia talk border markers", link, paragraphs[0] + " Border talks."))
    feeds.serve("robots.txt", b"User-agent: *\nDisallow: /robots/\n", content_type="text/plain", validators=False)
    configure(tmp_path, feeds.serve("vns.rss", rss(entries)))
    app = await make_app(article_pace=0.0, article_timeout=1.0, max_feed_bytes=60_000)
    await app.poll_once()
    rows = (await stored(app))["_rows"]
    expected = {
        "missing": ("failed", "http_404"),
        "huge": ("failed", "too_large"),
        "never-finishes": ("timeout", "within 1 s"),
        "pdf": ("failed", "not an HTML page"),
        "robots": ("blocked", "robots.txt"),
    }
    for name, (status, reason) in expected.items():
        row = rows[f"{name}: Việt Nam and Cambodia talk border markers"]
        assert (row.article_status, row.article) == (status, ""), name
        assert reason in row.article_detail, (name, row.article_detail)
    assert feeds.hits.get("robots/a.html", 0) == 0
    assert len(slack.messages["vn-kh-border"]) == len(cases)  # every item alerted, on its feed text
    async with app.engine.connect() as conn:
        feed = (await conn.execute(sa.select(feeds_table).where(feeds_table.c.id == "vns"))).one()
    assert feed.article_failures == 1 and feed.consecutive_failures == 0  # the feed itself is fine


async def test_pages_in_legacy_encodings_and_paywalls_are_read(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    entries = []
    for stem, charset in zip(HEADLINES, ("windows-1258", "windows-1252"), strict=True):
        title, paragraphs = seed(stem)
        page = outlet_page(title, paragraphs, charset=charset)
        entries.append(feed_entry(feeds, stem, page, content_type="text/html"))  # the charset only in the page's <meta>
    title, paragraphs = seed("000_7a1b3c353e3e3acd")
    link = feeds.serve("paywall.html", outlet_page(title, paragraphs, paywall=True), content_type="text/html", validators=False)
    entries.append(Entry("urn:paywall", "Paywalled: " + title, link, "Acting FM talks to Cambodia."))
    configure(tmp_path, feeds.serve("vns.rss", rss(entries)))
    app = await make_app(article_pace=0.0)
    await app.poll_once()
    rows = (await stored(app))["_rows"]
    for headline in HEADLINES.values():
        assert "Việt Nam" in rows[headline].article and "demarcation and marker planting" in rows[headline].article
    paywalled = rows["Paywalled: " + title]
    assert paywalled.article_status == "fetched" and "Subscribe" not in paywalled.article and "demarcation" not in paywalled.article
    assert len(slack.messages["vn-kh-border"]) == 2  # the paywalled lead says nothing of the border


async def test_article_modes_first_poll_backlog_and_old_items_fetch_no_page(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    title, paragraphs = seed("000_7a1b3c353e3e3acd")
    long_lead = " ".join(paragraphs[:8])  # over 150 words: `auto` does not need the page
    cases = {  # feed options -> whether its page is fetched
        "never": ({"article": "never"}, paragraphs[0], 0),
        "backlog": ({"first_poll_alerts": 0}, paragraphs[0], 0),
        "old": ({"max_age": "1d"}, paragraphs[0], 0),
        "long-auto": ({}, long_lead, 0),
        "long-always": ({"article": "always"}, long_lead, 1),
        "short-auto": ({}, paragraphs[0], 1),
    }
    config = []
    for name, (options, lead, _) in cases.items():
        link = feeds.serve(f"{name}/page.html", outlet_page(title, paragraphs), content_type="text/html", validators=False)
        published = datetime(2025, 9, 12, tzinfo=UTC)
        url = feeds.serve(f"{name}.rss", rss([Entry(f"urn:{name}", title, link, lead, published=published)]))
        config.append({"id": name, "url": url, "interval": 60, "first_poll_alerts": "all", "max_age": "off"} | options)
    write_config(tmp_path / "config", config)
    app = await make_app(article_pace=0.0)
    await app.poll_once()
    assert {name: feeds.hits.get(f"{name}/page.html", 0) for name in cases} == {name: fetched for name, (_, _, fetched) in cases.items()}
    async with app.engine.connect() as conn:
        rows = {r.feed_id: r for r in await conn.execute(sa.select(items))}
    assert rows["never"].article_status == "disabled" and rows["backlog"].article_status == "disabled"
    assert rows["long-auto"].article_status == "not_needed" and "words" in rows["long-auto"].article_detail


async def test_a_site_whose_pages_keep_failing_is_paused_and_shown_in_feeds(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock, database_url: str
) -> None:
    from tests.integration.test_cli import env, newswatch

    url = feeds.url("vns.rss")
    configure(tmp_path, url)
    app = await make_app(article_pace=0.0)
    for n in range(5):  # every poll brings one new item whose page is missing (404)
        entry = Entry(f"urn:{n}", f"Talks with Cambodia, round {n}", feeds.url(f"missing/{n}.html"), "Officials met.")
        feeds.serve("vns.rss", rss([entry]))
        await app.poll_once()
        clock.advance(minutes=2)
    asked = [feeds.hits.get(f"missing/{n}.html", 0) for n in range(5)]
    assert asked == [1, 1, 1, 0, 0]  # after three polls whose pages all failed, pages are paused
    async with app.engine.connect() as conn:
        statuses = [r.article_status for r in await conn.execute(sa.select(items.c.article_status).order_by(items.c.id))]
    assert statuses == ["failed", "failed", "failed", "paused", "paused"]
    code, out, err = await newswatch("feeds", "--format", "json", environ=env(tmp_path / "config", database_url))
    assert code == 0, err
    [row] = [__import__("json").loads(line) for line in out.splitlines()]
    assert row["articles"] in ("paused", "failing") and row["article_failures"] == 3 and "http_404" in row["article_error"]
    assert row["status"] == "ok" and row["consecutive_failures"] == 0  # the feed itself polls fine


async def test_replay_sees_the_stored_article_and_retention_removes_it(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock, database_url: str
) -> None:
    import json

    from tests.integration.test_cli import env, newswatch

    configure(tmp_path, feeds.serve("vns.rss", rss([feed_entry(feeds, "000_7a1b3c353e3e3acd")])))
    app = await make_app(article_pace=0.0)
    await app.poll_once()
    code, out, err = await newswatch(
        "rules", "replay", "--since", "30d", "--format", "json", environ=env(tmp_path / "config", database_url)
    )
    assert code == 0, err
    [line] = [json.loads(x) for x in out.splitlines()]
    assert "vn-kh-border" in line["would_match"] and "vn-kh-border" in line["matched_then"]  # through the stored article text
    assert await app.items.prune(clock() + timedelta(days=1)) == 0  # it matched: the item stays...
    async with app.engine.connect() as conn:
        assert (await conn.execute(sa.select(items.c.article))).scalar_one() == ""  # ...its article text goes
