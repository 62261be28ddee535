"""The desk's views (Now, Stories, Feeds) over a service's real state, on both databases: what each shows, and what it leaves out."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from service.app import App
from service.ops.actions import Actions
from service.ops.web import desk
from service.storage.schema import feeds as feeds_table
from service.storage.views import MatchQuery
from tests.conftest import AppFactory, FakeClock, write_config
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer

RULES = {
    "destinations": {"desk": {"type": "slack", "channel": "#desk"}, "lost": {"type": "slack", "channel": "#archived-long-ago"}},
    "rules": [
        {"id": "border", "name": "Border", "destinations": ["desk"], "match": {"any": ["border"]}},
        {"id": "cambodia", "name": "Cambodia", "destinations": ["lost"], "match": {"any": ["Cambodia"]}},
    ],
}
STORY = "Vietnam and Cambodia agreed on Monday to finish planting the last markers along their land border before the rainy season."
OTHER = "Border guards in Tây Ninh seized two tonnes of smuggled sugar at a crossing point late on Sunday night, officials said."
OPTS = {"first_poll_alerts": "all", "max_age": "off", "article": "never"}


def entry(guid: str, title: str, summary: str) -> Entry:
    return Entry(guid, title, f"https://example.org/{guid}", summary=summary)


def feed(feeds: FeedServer, feed_id: str, name: str, entries: list[Entry], **options: Any) -> dict[str, Any]:
    return {"id": feed_id, "name": name, "url": feeds.serve(f"{feed_id}.rss", rss(entries)), **OPTS, **options}


async def started(tmp_path: Path, make_app: AppFactory, specs: list[dict[str, Any]]) -> App:
    write_config(tmp_path / "config", specs, RULES)
    app = await make_app()
    await app.poll_once()
    return app


async def pause_articles(app: App, feed_id: str, until: Any, error: str) -> None:
    """As the pipeline leaves a feed whose article pages failed poll after poll."""
    async with app.engine.begin() as conn:
        await conn.execute(
            feeds_table.update().where(feeds_table.c.id == feed_id).values(article_failures=3, article_error=error, article_retry_at=until)
        )


async def test_now_shows_polling_failures_the_outbox_per_destination_silences_and_a_rejected_edit(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory, clock: FakeClock
) -> None:
    feeds.serve("broken.rss", b"", status=500)
    specs = [
        feed(feeds, "good", "Good outlet", [entry("g1", "Border markers", STORY)]),
        {"id": "broken", "name": "Broken outlet", "url": feeds.url("broken.rss"), **OPTS},
    ]
    app = await started(tmp_path, make_app, specs)
    await Actions(app.engine, app.config, app.clock).mute("rule:border", "2h", "quiet night", by="web:ops")
    await pause_articles(app, "good", clock() + timedelta(hours=1), "HTTP 403 on every page")
    version = app.config().version
    rules = (tmp_path / "config" / "rules.yaml").read_text(encoding="utf-8")
    (tmp_path / "config" / "rules.yaml").write_text(rules.replace("channel: '#desk'", "channel: '#desk'\n    colour: red"), "utf-8")
    assert app.config.reload() == "rejected"

    now = await desk.now_page(app)

    assert (now["feeds"], now["last_poll"]) == (2, clock())
    assert [(f["id"], f["name"]) for f in now["failing"]] == [("broken", "Broken outlet")] and "500" in now["failing"][0]["error"]
    assert [(p["id"], p["until"], p["error"]) for p in now["paused"]] == [("good", clock() + timedelta(hours=1), "HTTP 403 on every page")]
    assert [(o["destination"], o["counts"], o["error"]) for o in now["outbox"]] == [
        ("desk", {"sent": 1}, None),
        ("lost", {"dead": 1}, "slack: channel_not_found"),
    ]
    assert [(s["kind"], s["target"], s["created_by"], s["reason"]) for s in now["silences"]] == [
        ("rule", "border", "web:ops", "quiet night")
    ]
    assert now["config"]["version"] == version and now["config"]["rules"] == 2  # the last good rules stay in force
    assert any("rules.yaml:" in line and "colour" in line for line in now["config"]["rejected"])  # file:line:col of the edit


async def test_stories_gather_one_story_across_outlets_within_the_days_asked(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory, clock: FakeClock
) -> None:
    specs = [
        feed(feeds, "agency", "Agency", [entry("a1", "Border markers nearly done", STORY), entry("a2", "Sugar seized", OTHER)]),
        feed(feeds, "daily", "Daily", [entry("d1", "Vietnam, Cambodia to finish border markers", STORY)]),
    ]
    app = await started(tmp_path, make_app, specs)

    [story] = await desk.story_list(app, 3)

    assert story["outlets"] == ["Agency", "Daily"] and sorted(i["feed"] for i in story["items"]) == ["agency", "daily"]
    assert {i["title"] for i in story["items"]} == {"Border markers nearly done", "Vietnam, Cambodia to finish border markers"}
    assert [i["time"] for i in story["items"]] == sorted(i["time"] for i in story["items"]) and story["first"] <= story["last"]
    clock.advance(days=4)
    assert await desk.story_list(app, 3) == [] and len(await desk.story_list(app, 7)) == 1  # the sugar item stands alone: no story


async def test_feeds_show_each_feeds_health_items_per_day_and_article_state(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory, clock: FakeClock
) -> None:
    feeds.serve("broken.rss", b"", status=500)
    good = [entry("g1", "Border markers", STORY), entry("g2", "Sugar seized at the border", OTHER)]
    specs = [
        feed(feeds, "good", "Good outlet", good),
        {"id": "broken", "name": "Broken outlet", "url": feeds.url("broken.rss"), **OPTS},
        feed(feeds, "retired", "Retired outlet", [entry("r1", "Old border news", STORY)], article="always"),
    ]
    app = await started(tmp_path, make_app, specs)
    clock.advance(days=8)
    feeds.serve("good.rss", rss([*good, entry("g3", "A third border story", STORY + " Updated.")]))
    await app.poll_once()
    await pause_articles(app, "good", clock() + timedelta(minutes=30), "timeout")
    (tmp_path / "config" / "feeds.yaml").write_text(yaml.safe_dump({"feeds": specs[:2]}), encoding="utf-8")
    assert app.config.reload() == "loaded"
    await app.feeds.sync(app.config().feeds, clock())

    shown = {f["id"]: f for f in await desk.feed_list(app)}

    assert (shown["good"]["status"], shown["good"]["failures"], shown["good"]["error"]) == ("ok", 0, None)
    assert (shown["good"]["week"], shown["good"]["per_day"]) == (1, round(1 / 7, 1))  # only the last 7 days count
    assert shown["good"]["last_polled"] == clock()
    assert (shown["good"]["article"], shown["good"]["article_state"], shown["good"]["article_error"]) == ("never", "paused", "timeout")
    assert shown["broken"]["failures"] == 2 and "500" in shown["broken"]["error"] and shown["broken"]["week"] == 0
    assert shown["broken"]["last_success"] is None and shown["broken"]["status"] != "ok"
    assert (shown["retired"]["status"], shown["retired"]["week"], shown["retired"]["article"]) == ("removed", 0, None)
    async with app.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(feeds_table))).scalar_one() == 3


async def test_also_reported_counts_outlets_of_the_story_within_its_window_as_they_come(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory, clock: FakeClock
) -> None:
    specs = [feed(feeds, name, name.title(), []) for name in ("agency", "daily", "weekly")]
    app = await started(tmp_path, make_app, specs)

    async def reported() -> dict[str, int]:
        return {m["feed"]: m["also_reported"] for m in await desk.match_list(app, MatchQuery(rule="border"))}

    feeds.serve("agency.rss", rss([entry("a1", "Border markers nearly done", STORY)]))
    await app.poll_once()
    assert await reported() == {"agency": 0}
    clock.advance(hours=5)
    feeds.serve("daily.rss", rss([entry("d1", "Vietnam, Cambodia to finish border markers", STORY)]))
    await app.poll_once()
    assert await reported() == {"agency": 1, "daily": 1}  # a story still open gains its outlets
    clock.advance(days=4)
    assert await reported() == {"agency": 1, "daily": 1}  # closed now: the same answer, kept
    feeds.serve("weekly.rss", rss([entry("w1", "Markers on the border, a week on", STORY)]))
    await app.poll_once()
    assert await reported() == {"agency": 1, "daily": 1, "weekly": 0}  # four days later: another thread
