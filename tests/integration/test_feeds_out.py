"""Feeds of matches over HTTP, on both databases: read back by feedparser, 304 on a repeat, a token, one entry per story."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import feedparser
import jsonschema
from multidict import CIMultiDict

from service.storage.silences import Silences
from tests.conftest import AppFactory, FakeClock, write_config
from tests.integration.test_floods import story_entries
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.kinds import FEED_TOKEN, served

JSON_FEED = {  # JSON Feed 1.1 (jsonfeed.org/version/1.1): what a reader relies on
    "type": "object",
    "required": ["version", "title", "items"],
    "properties": {
        "version": {"const": "https://jsonfeed.org/version/1.1"},
        "title": {"type": "string"},
        "feed_url": {"type": "string", "format": "uri"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "anyOf": [{"required": ["content_html"]}, {"required": ["content_text"]}],
                "properties": {
                    "id": {"type": "string"},
                    "url": {"type": "string"},
                    "title": {"type": "string"},
                    "content_html": {"type": "string"},
                    "date_published": {"type": "string", "format": "date-time"},
                    "date_modified": {"type": "string", "format": "date-time"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
AUTH = {"Authorization": f"Bearer {FEED_TOKEN}"}


def feed(feed_id: str, url: str) -> dict[str, Any]:
    return {"id": feed_id, "url": url, "name": feed_id.upper(), "first_poll_alerts": "all", "interval": 60}


def rules(**spec: Any) -> dict[str, Any]:
    return {
        "destinations": {"matches": {"type": "feed", **spec}, "ops": {"type": "console"}},
        "rules": [
            {"id": "kh", "name": "Cambodia", "destinations": ["matches"], "match": {"any": ["Cambodia*"]}},
            {"id": "rice", "name": "Rice", "destinations": ["matches"], "match": {"any": ["rice"]}},
            {"id": "other", "destinations": ["ops"], "match": {"any": ["Laos"]}},
        ],
    }


def news() -> list[Entry]:
    now = datetime.now(UTC)
    return [
        Entry(
            "r1", "Rice prices <b>climb</b> & fall", "https://example.org/rice", summary="Rice exports rose in the Mekong.", published=now
        ),
        Entry(
            "k1",
            "Cambodia opens a new border gate",
            "https://example.org/gate",
            summary="Cambodia opened a border gate today.",
            published=now,
        ),
    ]


async def get(url: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
    async with aiohttp.ClientSession() as client, client.get(url, headers=headers) as response:
        return response.status, CIMultiDict(response.headers), await response.read()


async def started(tmp_path: Path, feeds: FeedServer, make_app: AppFactory, entries: list[Entry], **spec: Any) -> Any:
    write_config(tmp_path / "config", [feed("f", feeds.serve("f.rss", rss(entries)))], rules(**spec))
    app = await make_app(environ={"NEWSWATCH_FEED_TOKEN": FEED_TOKEN})
    await app.poll_once()
    return app


async def test_both_formats_read_back_with_evidence_and_terms_and_a_repeat_is_304(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory
) -> None:
    app = await started(tmp_path, feeds, make_app, news())
    async with served(app) as base:
        status, headers, body = await get(f"{base}/feeds/matches.atom", **AUTH)
        again = await get(f"{base}/feeds/matches.atom", **AUTH, **{"If-None-Match": headers["ETag"]})
        since = await get(f"{base}/feeds/matches.atom", **AUTH, **{"If-Modified-Since": headers["Last-Modified"]})
        _, json_headers, json_body = await get(f"{base}/feeds/matches.json?token={FEED_TOKEN}")
    parsed = feedparser.parse(body)
    assert status == 200 and headers["Content-Type"].startswith("application/atom+xml") and not parsed.bozo
    assert sorted(e.title for e in parsed.entries) == ["Cambodia opens a new border gate", "Rice prices climb & fall"]
    rice = next(e for e in parsed.entries if e.link == "https://example.org/rice")
    assert "<strong>Rice</strong>" in rice.content[0].value and "Matched: rice" in rice.content[0].value
    assert [t.term for t in rice.tags] == ["rice"]
    assert again[0] == 304 and again[2] == b"" and since[0] == 304
    document = json.loads(json_body)
    jsonschema.validate(document, JSON_FEED)  # feedparser 6.0 reads no JSON Feed: the spec's required members, as a schema
    assert json_headers["Content-Type"].startswith("application/feed+json") and len(document["items"]) == 2
    items = document["items"]
    assert {i["_newswatch"]["reports"][0]["evidence"]["text"] for i in items} == {
        "Rice exports rose in the Mekong.",
        "Cambodia opened a border gate today.",
    }


async def test_a_feed_needs_its_token_and_names_only_feed_destinations_and_their_rules(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory
) -> None:
    app = await started(tmp_path, feeds, make_app, news())
    async with served(app) as base:
        assert (await get(f"{base}/feeds/matches.atom"))[0] == 401
        assert (await get(f"{base}/feeds/matches.atom?token=wrong-token-000000000"))[0] == 401
        assert (await get(f"{base}/feeds/ops.atom", **AUTH))[0] == 404  # a console, not a feed
        assert (await get(f"{base}/feeds/matches/other.atom", **AUTH))[0] == 404  # a rule that does not send there
        assert (await get(f"{base}/feeds/matches.rss", **AUTH))[0] == 404
        status, _, body = await get(f"{base}/feeds/matches/rice.atom", **AUTH)
    assert status == 200 and [e.link for e in feedparser.parse(body).entries] == ["https://example.org/rice"]


async def test_a_later_report_joins_its_story_and_the_feed_changes(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory, clock: FakeClock
) -> None:
    original, syndicated = story_entries()
    write_config(tmp_path / "config", [feed("a", feeds.serve("a.rss", rss([original]))), feed("b", feeds.serve("b.rss", rss([])))], rules())
    app = await make_app(environ={"NEWSWATCH_FEED_TOKEN": FEED_TOKEN})
    await app.poll_once()
    async with served(app) as base:
        _, first, body = await get(f"{base}/feeds/matches.atom", **AUTH)
        [entry] = feedparser.parse(body).entries
        clock.advance(hours=2)
        feeds.serve("b.rss", rss([syndicated]))
        await app.poll_once()
        status, later, body = await get(f"{base}/feeds/matches.atom", **AUTH, **{"If-None-Match": first["ETag"]})
    [joined] = feedparser.parse(body).entries
    assert status == 200 and later["ETag"] != first["ETag"]
    assert joined.id == entry.id and joined.link == original.link  # the story's entry, by its first report
    assert "vna.example/chinh-hun-manet" in joined.content[0].value and joined.updated_parsed >= entry.updated_parsed


async def test_silenced_alerts_stay_out_and_a_daily_feed_fills_at_its_briefing(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 3, 7, 30, tzinfo=UTC)
    write_config(tmp_path / "config", [feed("f", feeds.serve("f.rss", rss(news())))], rules(delivery="daily", at="08:00"))
    app = await make_app(environ={"NEWSWATCH_FEED_TOKEN": FEED_TOKEN})
    await Silences(app.engine).add("rule", "rice", clock() + timedelta(days=1), "", clock())
    await app.poll_once()
    async with served(app) as base:
        _, _, before = await get(f"{base}/feeds/matches.json", **AUTH)
        clock.advance(minutes=31)
        await app.poll_once()
        _, _, after = await get(f"{base}/feeds/matches.json", **AUTH)
    assert json.loads(before)["items"] == []  # waiting for the briefing
    assert [i["url"] for i in json.loads(after)["items"]] == ["https://example.org/gate"]  # rice was muted


async def test_operations_notices_are_entries_of_their_own(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory, clock: FakeClock
) -> None:
    config = rules()
    config["operations"] = {"destination": "matches", "after_failures": 2}
    write_config(tmp_path / "config", [feed("f", feeds.serve("f.rss", b"", status=500))], config)
    app = await make_app(environ={"NEWSWATCH_FEED_TOKEN": FEED_TOKEN})
    for _ in range(3):
        await app.poll_once()
        clock.advance(hours=7)  # past the longest backoff
    async with served(app) as base:
        _, _, body = await get(f"{base}/feeds/matches.atom", **AUTH)
    [notice] = feedparser.parse(body).entries
    assert notice.title.startswith("Feed F (f) failing since") and "http_500" in notice.title
