"""Every kind of destination through the whole service, on both databases, against real local peers.

The seed articles go to an inbox (a real SMTP server), a signed webhook, a Teams Workflows
trigger, a Discord webhook and a feed of matches; a later report of the same story threads in
each that can. Under 20 % injected faults every alert arrives, and duplicates never exceed the
connections dropped after the peer stored the message. Digests, briefings, silences and
operations notices work for every kind.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import feedparser
import pytest
import sqlalchemy as sa
from multidict import CIMultiDict

from service.storage.schema import deliveries
from service.storage.silences import Silences
from tests.conftest import AppFactory, FakeClock, seed_entries, write_config
from tests.integration.test_floods import story_entries
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.kinds import FEED_TOKEN, PUSH_KINDS, WEB_URL, destination, environ, received, served
from tests.support.receiver import Receiver
from tests.support.smtpserver import SmtpServer

SEED_004 = "https://example.org/seeds/004_7dee21eaf8f7a444"
ALL = ["inbox", "hook", "teams", "discord", "matches"]


def feed(feed_id: str, url: str) -> dict[str, Any]:
    return {"id": feed_id, "url": url, "name": feed_id.upper(), "first_poll_alerts": "all", "max_age": "off", "interval": 60}


def seed_rules(smtp: SmtpServer) -> dict[str, Any]:
    kinds = {"inbox": "email", "hook": "webhook", "teams": "teams", "discord": "discord", "matches": "feed"}
    return {
        "destinations": {name: destination(kind, smtp) for name, kind in kinds.items()},
        "rules": [{"id": "kh", "name": "Cambodia", "destinations": ALL, "match": {"any": ["Cambodia*"]}}],
    }


async def get(url: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
    async with aiohttp.ClientSession() as client, client.get(url, headers=headers) as response:
        return response.status, CIMultiDict(response.headers), await response.read()


async def test_the_seed_alerts_reach_an_inbox_threaded_a_signed_webhook_a_teams_card_a_discord_message_and_a_feed(
    tmp_path: Path, feeds: FeedServer, receiver: Receiver, smtp: SmtpServer, make_app: AppFactory, clock: FakeClock
) -> None:
    _, syndicated = story_entries()  # seed 004 as another outlet republished it
    urls = feeds.serve("seeds.rss", rss(seed_entries())), feeds.serve("vna.rss", rss([]))
    write_config(tmp_path / "config", [feed("seeds", urls[0]), feed("vna", urls[1])], seed_rules(smtp))
    app = await make_app(environ=environ(receiver, smtp))
    await app.poll_once()
    assert len(smtp.mails) == len(receiver.webhook) == len(receiver.teams) == len(receiver.discord) == 2
    [original] = [m for m in smtp.mails if SEED_004 in m.message.get_body(("plain",)).get_content()]
    [posted] = [m for m in receiver.discord if m["embeds"][0].get("url") == SEED_004]
    receiver.discord_threads.add(posted["id"])  # someone starts a thread on the alert in Discord

    clock.advance(hours=1)
    feeds.serve("vna.rss", rss([syndicated]))
    await app.poll_once()
    reply = smtp.mails[2].message
    assert reply["In-Reply-To"] == reply["References"] == original.message["Message-ID"]
    assert smtp.mails[2].recipients == ["desk@example.org"] and "Also reported by VNA" in reply.get_body(("plain",)).get_content()
    assert reply.get_body(("html",)).get_content().count("<mark>") >= 1  # the evidence with its terms marked
    first_call = next(c for c in receiver.webhook if c["item"]["link"] == SEED_004)
    assert receiver.webhook[2]["story"] == {"id": first_call["delivery_id"], "reply": True}
    assert receiver.webhook[2]["evidence"]["text"] and receiver.webhook[2]["rules"][0]["terms"]
    assert receiver.webhook[2]["item"]["page"].startswith(f"{WEB_URL}/matches/")
    assert "vna.example/chinh-hun-manet" in json.dumps(receiver.teams[2])  # Teams cannot thread: a card of its own
    assert receiver.discord[2]["thread_id"] == posted["id"]
    async with served(app) as base:
        status, _, body = await get(f"{base}/feeds/matches.atom?token={FEED_TOKEN}")
    parsed = feedparser.parse(body)
    assert status == 200 and not parsed.bozo and len(parsed.entries) == 2  # one entry per story, not per report
    [story] = [e for e in parsed.entries if e.link == SEED_004]
    assert story.content[0].value.count("<strong>") >= 2 and "vna.example/chinh-hun-manet" in story.content[0].value


async def test_a_discord_reply_without_a_thread_goes_out_on_its_own(
    tmp_path: Path, feeds: FeedServer, receiver: Receiver, smtp: SmtpServer, make_app: AppFactory
) -> None:
    original, syndicated = story_entries()
    urls = feeds.serve("a.rss", rss([original])), feeds.serve("b.rss", rss([syndicated]))
    config = {
        "destinations": {"d": destination("discord", smtp)},
        "rules": [{"id": "kh", "destinations": ["d"], "match": {"any": ["Cambodia*"]}}],
    }
    write_config(tmp_path / "config", [feed("a", urls[0]), feed("b", urls[1])], config)
    app = await make_app(environ=environ(receiver, smtp))
    await app.poll_once()
    first, alone = receiver.discord
    assert first["thread_id"] is None and alone["thread_id"] is None and "Also reported by" not in alone["content"]
    async with app.engine.connect() as conn:
        assert {r.status for r in await conn.execute(sa.select(deliveries))} == {"sent"}


def arrived(kind: str, receiver: Receiver, smtp: SmtpServer) -> list[str]:
    """The link of each alert as it arrived, duplicates included."""
    if kind == "email":
        return [m.message.get_body(("plain",)).get_content().splitlines()[1] for m in smtp.mails]
    if kind == "webhook":
        return [c["item"]["link"] for c in receiver.webhook]
    if kind == "teams":
        return [
            a["url"] for card in receiver.teams for a in card["attachments"][0]["content"]["actions"] if a["title"] == "Open the article"
        ]
    if kind == "discord":
        return [m["embeds"][0]["url"] for m in receiver.discord]
    return [m["message"].split("\n")[2].strip() for m in receiver.apprise]


@pytest.mark.parametrize("kind", PUSH_KINDS)
async def test_under_20_percent_faults_every_alert_arrives_and_duplicates_never_exceed_drops_after_store(
    kind: str, tmp_path: Path, feeds: FeedServer, receiver: Receiver, smtp: SmtpServer, make_app: AppFactory, clock: FakeClock
) -> None:
    now = datetime.now(UTC)
    entries = [
        Entry(f"g{i}", f"Story {i} about Cambodia", f"https://example.org/{i}", summary=f"Report {i}.", published=now) for i in range(20)
    ]
    config = {
        "destinations": {"desk": destination(kind, smtp, digest="off", threads=False)},
        "rules": [{"id": "kh", "destinations": ["desk"], "match": {"any": ["Cambodia"]}}],
    }
    write_config(tmp_path / "config", [feed("f", feeds.serve("f.rss", rss(entries)))], config)
    app = await make_app(environ=environ(receiver, smtp))
    receiver.faults.random_rate = smtp.faults.random_rate = 0.2
    await app.poll_once()
    for _ in range(40):
        async with app.engine.connect() as conn:
            left = (await conn.execute(sa.select(sa.func.count()).where(deliveries.c.status != "sent"))).scalar()
        if not left:
            break
        clock.advance(minutes=11)  # past the longest backoff
        await app.poll_once()
    links = Counter(arrived(kind, receiver, smtp))
    assert set(links) == {f"https://example.org/{i}" for i in range(20)}  # every alert arrived
    dropped = smtp.dropped_after_store if kind == "email" else receiver.dropped_after_store
    assert sum(n - 1 for n in links.values()) <= dropped
    assert (smtp.injected if kind == "email" else sum(receiver.injected.values())) + dropped > 0  # the faults really happened


def news(n: int, start: int = 0) -> list[Entry]:
    now = datetime.now(UTC)
    return [
        Entry(
            f"g{i}", f"Cambodia story number {i}", f"https://example.org/{i}", summary=f"Distinct report {i} about Cambodia.", published=now
        )
        for i in range(start, start + n)
    ]


def one_rule(kind: str, smtp: SmtpServer, **options: Any) -> dict[str, Any]:
    return {
        "destinations": {"desk": destination(kind, smtp, **options)},
        "rules": [{"id": "kh", "name": "Cambodia", "destinations": ["desk"], "match": {"any": ["Cambodia"]}}],
    }


@pytest.mark.parametrize("kind", PUSH_KINDS)
async def test_a_burst_goes_out_as_one_digest_for_every_kind(
    kind: str, tmp_path: Path, feeds: FeedServer, receiver: Receiver, smtp: SmtpServer, make_app: AppFactory
) -> None:
    write_config(tmp_path / "config", [feed("f", feeds.serve("f.rss", rss(news(5))))], one_rule(kind, smtp, digest={"max_alerts": 2}))
    app = await make_app(environ=environ(receiver, smtp))
    await app.poll_once()
    [digest] = received(kind, receiver, smtp)
    assert ("5 alerts" in digest or digest.count('"alert_id"') == 5) and all(f"Cambodia story number {i}" in digest for i in range(5))


@pytest.mark.parametrize("kind", PUSH_KINDS)
async def test_a_daily_briefing_goes_out_once_at_its_time_for_every_kind(
    kind: str, tmp_path: Path, feeds: FeedServer, receiver: Receiver, smtp: SmtpServer, make_app: AppFactory, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 3, 7, 30, tzinfo=UTC)
    write_config(tmp_path / "config", [feed("f", feeds.serve("f.rss", rss(news(3))))], one_rule(kind, smtp, delivery="daily", at="08:00"))
    app = await make_app(environ=environ(receiver, smtp))
    await app.poll_once()
    assert received(kind, receiver, smtp) == []
    clock.advance(minutes=31)
    await app.poll_once()
    await app.poll_once()
    [briefing] = received(kind, receiver, smtp)
    assert "Daily briefing" in briefing and all(f"Cambodia story number {i}" in briefing for i in range(3))


@pytest.mark.parametrize("kind", PUSH_KINDS)
async def test_a_silenced_destination_gets_nothing_for_every_kind(
    kind: str, tmp_path: Path, feeds: FeedServer, receiver: Receiver, smtp: SmtpServer, make_app: AppFactory, clock: FakeClock
) -> None:
    write_config(tmp_path / "config", [feed("f", feeds.serve("f.rss", rss(news(2))))], one_rule(kind, smtp))
    app = await make_app(environ=environ(receiver, smtp))
    await Silences(app.engine).add("destination", "desk", clock() + timedelta(hours=1), "drill", clock())
    await app.poll_once()
    assert received(kind, receiver, smtp) == []
    async with app.engine.connect() as conn:
        assert {r.status for r in await conn.execute(sa.select(deliveries))} == {"muted"}


@pytest.mark.parametrize("kind", PUSH_KINDS)
async def test_an_operations_notice_reaches_every_kind(
    kind: str, tmp_path: Path, feeds: FeedServer, receiver: Receiver, smtp: SmtpServer, make_app: AppFactory, clock: FakeClock
) -> None:
    config = one_rule(kind, smtp)
    config["operations"] = {"destination": "desk", "after_failures": 2}
    write_config(tmp_path / "config", [feed("f", feeds.serve("f.rss", b"", status=500))], config)
    app = await make_app(environ=environ(receiver, smtp))
    for _ in range(3):
        await app.poll_once()
        clock.advance(hours=7)  # past the longest backoff
    [notice] = received(kind, receiver, smtp)
    assert "Feed F (f) failing since" in notice and "http_500" in notice
