"""Issue 2's end-to-end cases: feed server → rules → database → the real slack-sdk → Slack server."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from service.ops.rulecmds import replay
from service.storage.schema import deliveries, feeds, items, matches
from tests.conftest import AppFactory, FakeClock, seed_entries, write_config
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import SlackServer


def feed(feed_id: str, url: str, **options: Any) -> dict[str, Any]:
    """A feeds.yaml entry."""
    return {"id": feed_id, "url": url, "interval": 60, **options}


def links(server: SlackServer, channel: str) -> list[str]:
    """The item links of the messages in a channel, in order."""
    return [_link(m) for m in server.messages[channel]]


def _link(message: dict[str, Any]) -> str:
    heading = message["blocks"][1]["text"]["text"]
    return heading.split("|", 1)[0].removeprefix("*<")


async def rows(app: Any, table: sa.Table) -> list[Any]:
    async with app.engine.connect() as conn:
        return list(await conn.execute(sa.select(table)))


async def test_seed_articles_alert_once_each_across_polls_and_restarts(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    url = feeds.serve("seeds.rss", rss(seed_entries()))
    write_config(tmp_path / "config", [feed("seeds", url, first_poll_alerts="all", max_age="off")])
    app = await make_app()
    await app.poll_once()
    assert sorted(links(slack, "vn-kh-border")) == [
        "https://example.org/seeds/000_7a1b3c353e3e3acd",
        "https://example.org/seeds/004_7dee21eaf8f7a444",
    ]
    await app.poll_once()
    restarted = await make_app()
    await restarted.poll_once()
    assert len(slack.messages["vn-kh-border"]) == 2
    assert len(await rows(app, items)) == 2
    assert feeds.conditional_hits.get("seeds.rss", 0) >= 1  # the later polls were conditional


async def test_first_poll_is_silent_and_a_later_item_alerts_once(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    old = Entry("old-1", "Rice prices steady in Mekong Delta", "https://example.org/rice", "Markets were calm.")
    url = feeds.serve("news.rss", rss([old]))
    write_config(tmp_path / "config", [feed("news", url)])
    app = await make_app()
    await app.poll_once()
    assert slack.all_messages() == []
    border = Entry(
        "new-1",
        "Việt Nam and Cambodia agree to speed up border demarcation",
        "https://example.org/border",
        "Hà Nội and Phnom Penh will finish marker planting on the land border.",
        published=datetime.now(UTC),
    )
    feeds.serve("news.rss", rss([border, old]))
    await app.poll_once()
    await app.poll_once()
    assert links(slack, "vn-kh-border") == ["https://example.org/border"]
    assert [m.suppressed for m in await rows(app, matches)] == [None]


async def test_a_new_feeds_backlog_is_stored_unmatched_and_replay_tells_it_apart(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Beyond `first_poll_alerts`, a first poll's items are stored without running the rules; the newest N still alert."""
    now = datetime.now(UTC)  # two articles about the Việt Nam-Cambodia border, both matching vn-kh-border; the first is the newest
    seeds = [dataclasses.replace(e, published=now - timedelta(hours=n)) for n, e in enumerate(seed_entries())]
    url = feeds.serve("seeds.rss", rss(seeds))
    write_config(tmp_path / "config", [feed("seeds", url, first_poll_alerts=1, max_age="off")])
    app = await make_app()
    await app.poll_once()
    stored = {r.link: r for r in await rows(app, items)}
    newest = seeds[0].link
    assert links(slack, "vn-kh-border") == [newest]
    assert {link: r.unmatched for link, r in stored.items()} == {e.link: e.link != newest for e in seeds}
    assert {m.item_id for m in await rows(app, matches)} == {stored[newest].id}  # the backlog has no match rows
    await replay(app.items, app.config(), datetime.now(UTC) - timedelta(days=1), "vn-kh-border", "text")
    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[0] for line in lines[:-1]) == ["=vn-kh-border", "~vn-kh-border"]
    assert "(0 not matched then, 1 stored unmatched as a new feed's backlog)" in lines[-1]


def _two_rules(same_channel: bool) -> dict[str, Any]:
    return {
        "destinations": {
            "a": {"type": "slack", "channel": "#desk"},
            "b": {"type": "slack", "channel": "#desk" if same_channel else "#other"},
        },
        "rules": [
            {"id": "border", "name": "Border", "destinations": ["a"], "match": {"any": ["border"]}},
            {"id": "cambodia", "name": "Cambodia", "destinations": ["a" if same_channel else "b"], "match": {"any": ["Cambodia"]}},
        ],
    }


async def test_two_rules_to_two_channels_send_one_message_each(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    entry = Entry("x", "Cambodia reopens border crossing", "https://example.org/x", "Traffic resumed.")
    url = feeds.serve("f.rss", rss([entry]))
    write_config(tmp_path / "config", [feed("f", url, first_poll_alerts="all")], _two_rules(same_channel=False))
    app = await make_app()
    await app.poll_once()
    assert links(slack, "desk") == ["https://example.org/x"]
    assert links(slack, "other") == ["https://example.org/x"]


async def test_two_rules_to_one_channel_send_one_message_naming_both(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    entry = Entry("x", "Cambodia reopens border crossing", "https://example.org/x", "Traffic resumed.")
    url = feeds.serve("f.rss", rss([entry]))
    write_config(tmp_path / "config", [feed("f", url, first_poll_alerts="all")], _two_rules(same_channel=True))
    app = await make_app()
    await app.poll_once()
    [message] = slack.messages["desk"]
    assert "Border" in message["text"] and "Cambodia" in message["text"].split("]")[0]
    assert slack.messages["other"] == []


async def test_broken_feeds_do_not_stop_the_others_and_are_recorded(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    good = feeds.serve("good.rss", rss(seed_entries()))
    failing = feeds.serve("fail.rss", b"", status=500)
    slow = feeds.serve("slow.rss", rss(seed_entries()), delay=5)
    malformed = feeds.serve("bad.rss", b"<?xml version='1.0'?><rss><channel><title>Half</title><item><title>A & B</ti")
    write_config(
        tmp_path / "config",
        [
            feed("good", good, first_poll_alerts="all", max_age="off"),
            feed("failing", failing),
            feed("slow", slow),
            feed("malformed", malformed),
        ],
    )
    app = await make_app(fetch_timeout=1.0)
    await app.poll_once()
    assert len(slack.messages["vn-kh-border"]) == 2
    state = {r.id: r for r in await rows(app, feeds_table())}
    assert state["failing"].last_error.startswith("http_500") and state["failing"].consecutive_failures == 1
    assert state["slow"].last_error.startswith("timeout")
    assert state["malformed"].last_error or state["malformed"].last_warning
    assert state["good"].last_error is None and state["good"].status == "ok"
    assert state["failing"].next_poll_at > app.clock()


async def test_a_new_feed_that_fails_is_retried_in_a_minute_and_one_that_worked_after_its_interval(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory, clock: FakeClock
) -> None:
    url = feeds.serve("f.rss", b"", status=503)
    write_config(tmp_path / "config", [feed("f", url, interval=3600)])
    app = await make_app()
    await app.pipeline.poll_due()
    [row] = await rows(app, feeds_table())
    assert timedelta(minutes=1) <= row.next_poll_at - clock() <= timedelta(minutes=1.1)  # not an hour: it never worked yet
    feeds.serve("f.rss", rss(seed_entries()))
    clock.advance(minutes=2)
    assert (await app.pipeline.poll_due()).new_items == 2
    feeds.serve("f.rss", b"", status=503)
    clock.advance(hours=2)
    await app.pipeline.poll_due()
    [row] = await rows(app, feeds_table())
    assert row.consecutive_failures == 1 and row.next_poll_at - clock() >= timedelta(hours=1)


def feeds_table() -> sa.Table:
    return feeds


async def test_slack_outage_delays_alerts_and_delivers_each_exactly_once(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    url = feeds.serve("seeds.rss", rss(seed_entries()))
    write_config(tmp_path / "config", [feed("seeds", url, first_poll_alerts="all", max_age="off")])
    app = await make_app()
    slack.faults.outage = True
    await app.poll_once()
    assert slack.all_messages() == []
    pending = await rows(app, deliveries)
    assert len(pending) >= 2 and all(d.status == "pending" and "HTTP 503" in d.last_error and d.attempts == 1 for d in pending)
    slack.faults.outage = False
    clock.advance(minutes=15)
    await app.poll_once()
    clock.advance(minutes=15)
    await app.poll_once()
    done = await rows(app, deliveries)
    assert {d.status for d in done} == {"sent"} and all(d.remote_id for d in done)
    channels = {"border-desk": "vn-kh-border", "regional-desk": "kh-th-border"}
    for destination, channel in channels.items():  # each delivery is exactly one message, no duplicates
        expected = sorted(d.item_id for d in done if d.destination == destination)
        assert len(slack.messages[channel]) == len(expected)
        assert len(set(links(slack, channel))) == len(expected)
    assert len(slack.messages["vn-kh-border"]) == 2


async def test_a_khmer_and_a_thai_item_of_the_labelled_set_alert_through_the_whole_service(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    import json

    from tests.conftest import FIXTURES

    labelled = {e["id"]: e for e in map(json.loads, (FIXTURES / "labelled" / "tuning.jsonl").read_text(encoding="utf-8").splitlines())}
    khmer, thai, other = labelled["kmth-073"], labelled["kmth-047"], labelled["kmth-081"]  # VN–KH border; KH–TH border; neither
    assert khmer["lang"] == "km" and thai["lang"] == "th" and not other["labels"]
    entries = [Entry(e["id"], e["title"], f"https://example.org/{e['id']}", e["summary"]) for e in (khmer, thai, other)]
    url = feeds.serve("kmth.rss", rss(entries))
    write_config(tmp_path / "config", [feed("kmth", url, first_poll_alerts="all", max_age="off")])
    app = await make_app()
    await app.poll_once()
    assert links(slack, "vn-kh-border") == ["https://example.org/kmth-073"]
    assert links(slack, "kh-th-border") == ["https://example.org/kmth-047"]
    assert "ស្វាយរៀង" in json.dumps(slack.messages["vn-kh-border"][0], ensure_ascii=False)  # the Khmer text reached Slack intact
