"""The web pages and /api/v1 of a service that polled the seed feed, on both databases: views, handlers, access, escaping."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import ipaddress
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import sqlalchemy as sa
from slack_sdk.web.async_client import AsyncWebClient

from service.app import App
from service.config.load import load_config, load_rule
from service.ingest.guard import Guard
from service.ops import web
from service.ops.web.access import Refused, check
from service.ops.web.playground import Playground
from service.ops.web.slacklinks import SlackLinks, permalink
from service.ops.worker import Worker
from service.settings import Settings
from service.storage.schema import feedback, items, mutes
from tests.conftest import ROOT, AppFactory, seed_entries, write_config
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.pages import outlet_page
from tests.support.slackserver import TOKEN, SlackServer
from tests.support.webpages import csrf_of, pages

HOSTILE = "<script>alert(1)</script> {{7*7}} border"
LOOPBACK_IS_PUBLIC = Guard(lambda address: ipaddress.ip_address(address).is_loopback)
RICE = ["Vietnam and Cambodia signed a rice trade agreement in Phnom Penh on Monday.", "The deal covers 500,000 tonnes a year."]
PAGES = ["/", "/matches", "/stories", "/feeds", "/rules", "/playground", "/missed", "/silences", "/deliveries?status=all"]


def feeds_of(feeds: FeedServer) -> list[dict[str, Any]]:
    """The seed articles from two outlets (the same stories), and a feed whose title and item are hostile."""
    entries = seed_entries()
    copies = [dataclasses.replace(e, guid=e.guid + ":copy", link=e.link + "-copy", title=e.title + " (wire)") for e in entries]
    hostile = [
        Entry("h1", HOSTILE, "https://example.org/h1", summary="Cambodia and Vietnam border gate talks: " + HOSTILE),
        Entry("h2", "Weather in Hà Nội", "https://example.org/h2", summary="Heavy rain is expected in Hà Nội this week."),
    ]
    opts = {"first_poll_alerts": "all", "max_age": "off", "article": "never"}
    return [
        {"id": "seeds", "name": "Seed outlet", "url": feeds.serve("seeds.rss", rss(entries)), **opts},
        {"id": "wire", "name": "Wire outlet", "url": feeds.serve("wire.rss", rss(copies)), **opts},
        {"id": "hostile", "name": HOSTILE, "url": feeds.serve("h.rss", rss(hostile, title=HOSTILE)), **opts},
    ]


@pytest.fixture
async def served(tmp_path: Path, feeds: FeedServer, make_app: AppFactory) -> AsyncIterator[tuple[str, App]]:
    """A service that polled the seed feeds, its pages on a loopback port without access control."""
    write_config(tmp_path / "config", feeds_of(feeds))
    app = await make_app(guard=LOOPBACK_IS_PUBLIC)  # the test's servers play the internet (the missed-story page fetches)
    await app.poll_once()
    async with pages(app) as base:
        yield base, app


async def test_every_page_answers_and_feed_text_shows_as_text(served: tuple[str, App]) -> None:
    base, _ = served
    async with httpx.AsyncClient() as client:
        for path in PAGES:
            response = await client.get(base + path)
            assert response.status_code == 200, (path, response.text[:300])
            assert "<script>alert(1)" not in response.text, path
        matches = (await client.get(f"{base}/matches")).text
        feeds = (await client.get(f"{base}/feeds")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{7*7}}" in matches and "49" not in matches.split("{{7*7}}")[0][-5:]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{7*7}}" in feeds
    assert "also reported by 1 outlet" in matches  # the seed and its wire copy are one story
    assert "<mark>" in matches


async def test_the_api_gives_what_the_pages_show_and_names_every_route_in_its_openapi_document(served: tuple[str, App]) -> None:
    base, app = served
    async with httpx.AsyncClient() as client:
        listed = (await client.get(f"{base}/api/v1/matches")).json()["matches"]
        one = (await client.get(f"{base}/api/v1/matches/{listed[0]['id']}")).json()
        document = (await client.get(f"{base}/api/v1/openapi.json")).json()
        page = (await client.get(f"{base}/matches/{listed[0]['id']}")).text
        stories = (await client.get(f"{base}/api/v1/stories")).json()["stories"]
        searched = (await client.get(f"{base}/api/v1/matches", params={"q": "(WIRE)"})).json()["matches"]
    assert {m["feed"] for m in listed} == {"seeds", "wire", "hostile"}
    assert searched and {m["feed"] for m in searched} == {"wire"}  # words of the title, any case
    assert one["evidence"] == listed[0]["evidence"] and one["evidence"]["text"]
    assert listed[0]["title"].replace("<", "&lt;").replace(">", "&gt;") in page
    assert len(stories) == len(seed_entries()) and all(len(s["items"]) == 2 for s in stories)
    routed = {
        r.resource.canonical for r in web.build(Worker(app)).router.routes() if r.resource and r.resource.canonical.startswith("/api/")
    }
    assert routed == set(document["paths"]), "every /api/v1 route is in the OpenAPI document, and only those"


async def test_relevant_writes_the_same_feedback_row_as_slack_and_silences_record_who(served: tuple[str, App]) -> None:
    base, app = served
    async with httpx.AsyncClient(follow_redirects=True) as client:
        csrf = await csrf_of(client, base)
        match = (await client.get(f"{base}/api/v1/matches")).json()["matches"][0]
        rated = await client.post(f"{base}/matches/{match['id']}/feedback", data={"choice": "relevant"}, headers={"X-CSRF-Token": csrf})
        assert rated.status_code == 200 and "Marked relevant by local" in rated.text
        added = await client.post(
            f"{base}/silences", data={"csrf": csrf, "target": "rule:vn-kh-border", "duration": "1d", "reason": "quiet"}
        )
        assert added.status_code == 200 and "vn-kh-border" in added.text  # followed the redirect to the list
        [silence] = (await client.get(f"{base}/api/v1/silences")).json()["in_force"]
        expired = await client.post(f"{base}/silences/{silence['id']}/expire", data={"csrf": csrf})
        assert expired.status_code == 200
    async with app.engine.connect() as conn:
        [row] = list(await conn.execute(sa.select(feedback)))
        [mute] = list(await conn.execute(sa.select(mutes)))
    assert (row.delivery_id, row.user_id, row.choice, row.rule_ids) == (match["rate"], "web:local", "relevant", [match["rule"]])
    assert (mute.created_by, mute.ended_by, mute.reason) == ("web:local", "web:local", "quiet")


async def test_a_write_without_the_csrf_token_is_refused_and_changes_nothing(served: tuple[str, App]) -> None:
    base, app = served
    async with httpx.AsyncClient() as client:
        await csrf_of(client, base)
        refused = await client.post(f"{base}/silences", data={"target": "rule:vn-kh-border", "duration": "1d"})
        wrong = await client.post(f"{base}/silences", data={"csrf": "guess", "target": "rule:vn-kh-border", "duration": "1d"})
    assert refused.status_code == wrong.status_code == 403 and "CSRF" in refused.text
    async with app.engine.connect() as conn:
        assert list(await conn.execute(sa.select(mutes))) == []


async def test_the_playground_replays_an_edit_and_reports_problems_where_they_were_typed(served: tuple[str, App]) -> None:
    base, _ = served
    rule = "id: vn-kh-border\ndestinations: [border-desk]\nmatch:\n  any: [wire, rain]\n"
    async with httpx.AsyncClient() as client:
        csrf = await csrf_of(client, base)
        bad = await client.post(
            f"{base}/playground/check",
            data={"source": "id: x\ndestinations: [nowhere]\nmatch: {any: [a]}\n"},
            headers={"X-CSRF-Token": csrf},
        )
        assert "rule:2:16: undefined destination &#39;nowhere&#39;" in bad.text
        started = (
            await client.post(f"{base}/api/v1/rules/preview", json={"rule": rule, "days": 30}, headers={"X-CSRF-Token": csrf})
        ).json()
        url = f"{base}{started['progress']}"
        result = (await client.get(url)).json()
        while not result["finished"]:
            await asyncio.sleep(0.05)
            result = (await client.get(url)).json()
    entries = len(seed_entries())
    assert result["error"] is None and result["items"] == 2 * entries + 2
    assert (result["new"], result["lost"], result["unchanged"]) == (1, entries + 1, entries)  # rain is new; only the wire copies stay
    [new] = result["new_items"]
    assert new["title"] == "Weather in Hà Nội" and new["evidence"]["highlights"] and "rain" in new["evidence"]["text"].lower()


def test_a_non_loopback_bind_without_access_control_refuses_to_start_and_says_why() -> None:
    with pytest.raises(
        Refused, match=re.escape("NEWSWATCH_HTTP_HOST=0.0.0.0 serves the web pages beyond this machine, and no access control is set")
    ):
        check(Settings(http_host="0.0.0.0"))
    assert check(Settings(http_host="0.0.0.0", web="auto")) is False  # the container's setting: health and metrics only
    assert check(Settings(http_host="0.0.0.0", web_token="t" * 32)) is True
    assert check(Settings(http_host="127.0.0.1")) is True
    with pytest.raises(Refused, match="SLACK_CLIENT_SECRET, SLACK_TEAM_ID, NEWSWATCH_WEB_URL"):
        check(Settings(http_host="127.0.0.1", slack_client_id="1.2"))


def missed_story(feeds: FeedServer) -> str:
    """A story no shipped rule catches (a rice deal, not the border), on an outlet's page whose sidebar names border stories."""
    return feeds.serve(
        "news/rice-deal.html", outlet_page("Vietnam and Cambodia sign a rice deal", RICE), content_type="text/html; charset=utf-8"
    )


async def test_the_missed_story_page_says_for_each_rule_what_its_closest_way_lacks(served: tuple[str, App], feeds: FeedServer) -> None:
    base, _ = served
    async with httpx.AsyncClient() as client:
        csrf = await csrf_of(client, base)
        found = await client.post(f"{base}/missed", data={"url": missed_story(feeds), "csrf": csrf})
        wrong = await client.post(f"{base}/missed", data={"url": "ftp://example.org/x", "csrf": csrf})
    assert found.status_code == 200 and "Vietnam and Cambodia sign a rice deal" in found.text
    assert "from the polled feed <code>seeds</code>" in found.text  # a feed of feeds.yaml is on that site
    ways = {r.id: len(r.match.any or [None]) for r in load_config(ROOT / "config").rules_file.rules}  # the shipped rules' clauses
    assert f"closest of its {ways['vn-kh-border']} ways, the 1st (in one sentence): lacks @border" in found.text
    assert f"closest of its {ways['kh-th-border']} ways, the 1st (in one sentence): lacks @kh-th-th" in found.text
    assert "lacks @border<br><q>Vietnam and Cambodia sign a rice deal" in found.text  # the sentence that came closest
    assert "alternative" not in found.text and "Border guards of Tây Ninh" not in found.text  # the article, not the sidebar
    labelled = json.loads(html.unescape(found.text.split('<pre class="copy">')[2].split("</pre>")[0]))
    assert labelled["class"] == "missed-story" and labelled["labels"] == ["vn-kh-border", "kh-th-border"]
    example = html.unescape(found.text.split('<pre class="copy">')[1].split("</pre>")[0])
    assert example.startswith('examples:\n  match:\n    - title: "Vietnam and Cambodia sign a rice deal"\n')  # offered as a rule example
    assert "Vietnam and Cambodia signed a rice trade agreement in Phnom Penh on Monday. The deal" in example.split("summary: ", 1)[1]
    assert "Give the http(s) URL" in wrong.text


async def test_alerts_sent_to_slack_link_to_their_message_and_the_workspace_is_asked_once(
    served: tuple[str, App], slack: SlackServer
) -> None:
    base, _ = served
    asked = slack.auth_tests
    async with httpx.AsyncClient() as client:
        listed = (await client.get(f"{base}/api/v1/matches")).json()["matches"]
        page = (await client.get(f"{base}/matches")).text
        one = (await client.get(f"{base}/matches/{listed[0]['id']}")).text
    linked = {d["permalink"] for m in listed for d in m["deliveries"] if d["status"] == "sent"}
    assert linked == {slack.permalink(m["channel"], m["ts"]) for m in slack.all_messages()}  # each alert, the message it became
    assert all(f'<a href="{html.escape(link)}" rel="noopener noreferrer">in Slack</a>' in page for link in linked)
    assert any(html.escape(link) in one for link in linked)
    assert slack.auth_tests == asked + 1  # the workspace's URL, read once


async def test_a_workspace_slack_will_not_name_gives_no_links(slack: SlackServer) -> None:
    async with aiohttp.ClientSession() as session:
        wrong = SlackLinks(AsyncWebClient(token="xoxb-wrong", base_url=slack.url, session=session, retry_handlers=[]))
        right = SlackLinks(AsyncWebClient(token=TOKEN, base_url=slack.url, session=session, retry_handlers=[]))
        assert await wrong.workspace() is None and await wrong.workspace() is None
        assert await right.workspace() == "https://newswatch-test.slack.com/"
    assert slack.auth_tests == 2  # a refusal is not asked again at once; an answer is kept
    assert permalink(None, "C1", "1.2") is None and permalink("https://w.slack.com/", None, "1.2") is None
    assert permalink("https://w.slack.com/", "C1", "1700000000.000200") == "https://w.slack.com/archives/C1/p1700000000000200"
    reply = permalink("https://w.slack.com/", "C1", "1700000000.000200", thread_ts="1700000000.000100")
    assert reply == "https://w.slack.com/archives/C1/p1700000000000200?thread_ts=1700000000.000100&cid=C1"


@pytest.mark.parametrize("workers", [0, 1])
async def test_a_replay_in_small_batches_over_threads_and_a_worker_process_tallies_every_item_in_order(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory, workers: int
) -> None:
    write_config(tmp_path / "config", feeds_of(feeds))
    app = await make_app(parse_workers=workers)  # with a parse worker, every other batch is matched in it
    await app.poll_once()
    edited = load_rule("id: vn-kh-border\ndestinations: [border-desk]\nmatch:\n  any: [wire, rain]\n", app.config())
    replay = Playground(app, batch=3).start("someone", edited, 30)
    assert replay.task is not None
    await replay.task
    entries = len(seed_entries())
    assert replay.error is None and replay.done == replay.total == 2 * entries + 2
    assert replay.counts == {"new": 1, "lost": entries + 1, "unchanged": entries}
    assert [i["title"] for i in replay.new] == ["Weather in Hà Nội"] and replay.new[0]["evidence"]["highlights"]
    async with app.engine.connect() as conn:
        stored = [r.title for r in await conn.execute(sa.select(items.c.title).where(items.c.feed_id != "wire").order_by(items.c.id))]
    assert [i["title"] for i in replay.lost] == [t for t in stored if t != "Weather in Hà Nội"]  # tallied in stored order
