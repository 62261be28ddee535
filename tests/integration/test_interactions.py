"""Slack's buttons on alerts, through slack-sdk's Socket Mode client and the strict Slack-compatible server.

A click is acknowledged at once, recorded (feedback) or turned into a silence (mutes), and the
alert is updated in place to say so; mutes can be kept to `slack.admins`.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from alerts.slack.blocks import OUTCOME_BLOCK
from service.app import App
from service.ingest.guard import Guard
from service.ops.worker import Worker
from service.storage.schema import deliveries, feedback, items
from service.storage.silences import Silences
from tests.conftest import AppFactory, FakeClock, write_config
from tests.integration.test_cli import env, newswatch
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import APP_TOKEN, SlackServer

LOOPBACK_IS_PUBLIC = Guard(lambda address: ipaddress.ip_address(address).is_loopback)  # the test's servers play the internet

RULES: dict[str, Any] = {
    "destinations": {"desk": {"type": "slack", "channel": "#desk"}},
    "rules": [{"id": "border", "name": "Border news", "destinations": ["desk"], "match": {"any": ["border"]}}],
}


def entry(n: int) -> Entry:
    return Entry(f"s{n}", f"Cambodia border story {n}", f"https://example.org/s{n}", published=datetime.now(UTC))


async def until(done: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait until `done()` holds (a generous bound that only ends a hung test)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not done():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


async def rows(app: App, table: sa.Table) -> list[Any]:
    async with app.engine.connect() as conn:
        return list(await conn.execute(sa.select(table).order_by(table.c.id)))


async def alerted(tmp_path: Path, feeds: FeedServer, make_app: AppFactory, rules: dict[str, Any] = RULES) -> App:
    """An app with Socket Mode on, connected, that has sent one alert to #desk."""
    url = feeds.serve("f.rss", rss([entry(0)]))
    write_config(tmp_path / "config", [{"id": "f", "name": "Phnom Penh Wire", "url": url, "first_poll_alerts": "all"}], rules)
    app = await make_app(slack_app_token=APP_TOKEN)
    assert app.interactions is not None
    await app.interactions.start()
    await app.poll_once()
    return app


def outcome(message: dict[str, Any]) -> list[str]:
    """The outcome lines shown under an alert."""
    return [b["elements"][0]["text"] for b in message["blocks"] if b.get("block_id") == OUTCOME_BLOCK]


async def test_a_click_is_acknowledged_recorded_and_shown_in_place_and_the_last_choice_wins(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, database_url: str
) -> None:
    app = await alerted(tmp_path, feeds, make_app)
    [message] = slack.messages["desk"]
    assert any(b["type"] == "actions" for b in message["blocks"])
    envelope = await slack.click("desk", message["ts"], "not_relevant", "U1")
    await until(lambda: len(slack.updates) == 1)
    assert envelope in slack.acks and slack.missed_acks == []
    assert outcome(slack.message("desk", message["ts"])) == ["Marked not relevant by <@U1>"]
    [row] = await rows(app, feedback)
    [delivery] = await rows(app, deliveries)
    assert (row.delivery_id, row.item_id, row.user_id, row.choice, row.rule_ids) == (
        delivery.id,
        delivery.item_id,
        "U1",
        "not_relevant",
        ["border"],
    )

    await slack.click("desk", message["ts"], "relevant", "U1")  # the same person changes their mind
    await until(lambda: len(slack.updates) == 2)
    await slack.click("desk", message["ts"], "not_relevant", "U2")
    await until(lambda: len(slack.updates) == 3)
    shown = slack.message("desk", message["ts"])
    assert outcome(shown) == ["Marked not relevant by <@U2>"]  # one outcome line: the last click's
    assert any(b["type"] == "actions" for b in shown["blocks"])  # the buttons stay
    assert {(r.user_id, r.choice) for r in await rows(app, feedback)} == {("U1", "relevant"), ("U2", "not_relevant")}
    assert slack.missed_acks == [] and "unknown_envelope" not in slack.rejected

    code, out, err = await newswatch("feedback", "--rule", "border", environ=env(tmp_path / "config", database_url))
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split()[2:6] for line in lines[:2]] == [["UTC", "not_relevant", "border", "U2"], ["UTC", "relevant", "border", "U1"]]
    assert lines[2] == "border: 1 alerts rated, 0 relevant (precision 0.00)"  # an alert counts once, with its latest rating


async def test_mute_rule_from_slack_silences_it_until_it_expires_and_a_second_click_moves_the_end(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    app = await alerted(tmp_path, feeds, make_app)
    ts = slack.messages["desk"][0]["ts"]
    await slack.click("desk", ts, "mute_rule", "U1", option="604800")
    await until(lambda: len(slack.updates) == 1)
    await slack.click("desk", ts, "mute_rule", "U1", option="86400")  # changed their mind: a day, not a week
    await until(lambda: len(slack.updates) == 2)
    [silence] = await Silences(app.engine).listing(clock())
    assert (silence.kind, silence.target, silence.created_by) == ("rule", "border", "slack:U1")
    assert silence.until == clock() + timedelta(days=1)
    until_text = f"{clock() + timedelta(days=1):%Y-%m-%d %H:%M} UTC"
    assert outcome(slack.message("desk", ts)) == [f"Rule *Border news* muted for 1 day by <@U1>, until {until_text}"]

    feeds.serve("f.rss", rss([entry(1), entry(0)]))
    clock.advance(hours=23)
    await app.poll_once()
    assert len(slack.messages["desk"]) == 1  # muted: stored, not sent
    feeds.serve("f.rss", rss([entry(2), entry(1), entry(0)]))
    clock.advance(hours=2)  # the silence has ended by itself
    await app.poll_once()
    assert [m["text"] for m in slack.messages["desk"][1:]] and "story 2" in slack.messages["desk"][1]["text"]
    assert len(slack.messages["desk"]) == 2


async def test_mute_source_from_slack_silences_that_feed_only(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    other = feeds.serve("g.rss", rss([]))
    url = feeds.serve("f.rss", rss([entry(0)]))
    config = [
        {"id": "f", "name": "Phnom Penh Wire", "url": url, "first_poll_alerts": "all"},
        {"id": "g", "url": other, "first_poll_alerts": "all"},
    ]
    write_config(tmp_path / "config", config, RULES)
    app = await make_app(slack_app_token=APP_TOKEN)
    assert app.interactions is not None
    await app.interactions.start()
    await app.poll_once()
    ts = slack.messages["desk"][0]["ts"]
    await slack.click("desk", ts, "mute_source", "U1", option="3600")
    await until(lambda: len(slack.updates) == 1)
    assert outcome(slack.message("desk", ts))[0].startswith("Source *Phnom Penh Wire* muted for 1 hour by <@U1>")
    [silence] = await Silences(app.engine).listing(clock())
    assert (silence.kind, silence.target) == ("feed", "f")

    feeds.serve("f.rss", rss([entry(1), entry(0)]))
    feeds.serve("g.rss", rss([Entry("g1", "Border crossing reopens", "https://example.org/g1", published=datetime.now(UTC))]))
    clock.advance(minutes=30)
    await app.poll_once()
    titles = [m["text"] for m in slack.messages["desk"]]
    assert len(titles) == 2 and "Border crossing reopens" in titles[1]  # the other feed still alerts
    feed_of = {i.id: i.feed_id for i in await rows(app, items)}
    statuses = sorted((feed_of[d.item_id], d.status) for d in await rows(app, deliveries))
    assert statuses == [("f", "muted"), ("f", "sent"), ("g", "sent")]  # the muted feed's new item is stored muted, never sent


async def test_only_admins_and_members_of_admin_groups_may_mute(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    slack.groups["S0ADMINS"] = ["U5"]
    rules = {**RULES, "slack": {"admins": ["U09", "S0ADMINS"]}}
    app = await alerted(tmp_path, feeds, make_app, rules)
    ts = slack.messages["desk"][0]["ts"]
    await slack.click("desk", ts, "mute_rule", "U1", option="3600")
    await until(lambda: len(slack.ephemeral) == 1)
    assert slack.ephemeral[0]["user"] == "U1" and "Only the admins" in slack.ephemeral[0]["text"]
    assert await Silences(app.engine).listing(clock()) == [] and slack.updates == []

    await slack.click("desk", ts, "relevant", "U1")  # feedback is open to everyone
    await until(lambda: len(slack.updates) == 1)
    await slack.click("desk", ts, "mute_rule", "U5", option="3600")  # U5 is in the admins' user group
    await until(lambda: len(slack.updates) == 2)
    assert [s.target for s in await Silences(app.engine).listing(clock())] == ["border"]


async def test_a_click_on_an_alert_the_database_no_longer_has_is_answered_privately(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    app = await alerted(tmp_path, feeds, make_app)
    ts = slack.messages["desk"][0]["ts"]
    async with app.engine.begin() as conn:
        await conn.execute(deliveries.delete())
    await slack.click("desk", ts, "relevant", "U1")
    await until(lambda: len(slack.ephemeral) == 1)
    assert "no longer knows this alert" in slack.ephemeral[0]["text"] and slack.updates == []
    assert await rows(app, feedback) == []


async def test_the_running_service_connects_over_socket_mode_and_without_an_app_token_alerts_have_no_buttons(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    url = feeds.serve("f.rss", rss([entry(0)]))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], RULES)
    plain = await make_app()
    assert plain.interactions is None
    await plain.poll_once()
    assert not any(b["type"] == "actions" for b in slack.messages["desk"][0]["blocks"])

    app = await make_app(slack_app_token=APP_TOKEN)
    worker = Worker(app, poll_every=3600, deliver_every=3600, reload_every=3600)
    worker.start()
    try:
        await asyncio.wait_for(slack.wait_connected(), 30)
        assert slack.connections_opened == 1
    finally:
        await worker.stop(grace=1)
    await until(lambda: not slack.sockets)  # stopping closes the socket


async def command(slack: SlackServer, text: str, user: str = "U1", team: str = "T000") -> str:
    """Type `/newswatch TEXT` in Slack (in workspace `team`); return the answer posted to the command's response_url."""
    answer_id = await slack.command(text, user, team=team)
    await until(lambda: len(slack.command_answers[answer_id]) == 1)
    [answer] = slack.command_answers[answer_id]
    assert answer["response_type"] == "ephemeral"
    return str(answer["text"])


async def test_slash_command_status_mutes_mute_and_unmute(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    good = feeds.serve("f.rss", rss([entry(0)]))
    config = [
        {"id": "f", "name": "Phnom Penh Wire", "url": good, "first_poll_alerts": "all"},
        {"id": "gone", "name": "Gone Daily", "url": feeds.url("missing.rss")},
    ]
    write_config(tmp_path / "config", config, RULES)
    app = await make_app(slack_app_token=APP_TOKEN)
    assert app.interactions is not None
    await app.interactions.start()
    slack.faults.outage = True  # the alert waits in the outbox
    await app.poll_once()
    status = await command(slack, "status")
    lines = status.splitlines()
    assert lines[0] == "*1 feeds failing*" and lines[1].startswith("• Gone Daily (`gone`): ") and "404" in lines[1]
    assert status.splitlines()[-1] == "Alerts: 1 pending."
    slack.faults.outage = False

    assert await command(slack, "mutes") == "No silences in force."
    answer = await command(slack, "mute border 2h drill")
    until_text = f"{clock() + timedelta(hours=2):%Y-%m-%d %H:%M} UTC"
    assert answer.startswith(f"Muted rule *border* until {until_text} (silence `")
    [silence] = await Silences(app.engine).listing(clock())
    assert (silence.kind, silence.target, silence.reason, silence.created_by) == ("rule", "border", "drill", "slack:U1")
    assert await command(slack, "mutes") == f"`{silence.id}` rule *border* until {until_text} – drill (by <@U1>)"
    assert await command(slack, "mute nowhere 2h") == "'nowhere' is not a rule id, a destination or a feed id"
    assert "is not a duration" in await command(slack, "mute border soon")
    assert await command(slack, f"unmute {silence.id}") == f"Silence {silence.id} ended."
    assert await command(slack, f"unmute {silence.id}") == f"No silence {silence.id} is in force."
    assert (await command(slack, "frobnicate")).startswith("`/newswatch status`")  # the usage
    assert slack.missed_acks == []


async def test_slash_command_test_runs_the_rules_on_a_page_with_its_whole_article_and_only_admins_may(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    from tests.support.pages import outlet_page

    html = {"content_type": "text/html; charset=utf-8"}
    about = feeds.serve(
        "news/border.html", outlet_page("Acting FM holds talks", ["Both sides agreed to finish border demarcation."] * 3), **html
    )
    sidebar = feeds.serve("news/rice.html", outlet_page("Rice exports rise", ["Rice exports to the Philippines rose again."] * 3), **html)
    write_config(tmp_path / "config", [], {**RULES, "slack": {"admins": ["U0ADMIN"]}})
    app = await make_app(slack_app_token=APP_TOKEN, guard=LOOPBACK_IS_PUBLIC)
    assert app.interactions is not None
    await app.interactions.start()
    assert await command(slack, f"test <{about}>", user="U0ADMIN") == "• Acting FM holds talks (whole article): *Border news* (`border`)"
    assert (
        await command(slack, f"test {sidebar}", user="U0ADMIN") == "• Rice exports rise (whole article): no rule matches"
    )  # the sidebar's border headlines are not the article
    assert (await command(slack, "test file:/etc/passwd", user="U0ADMIN")) == "Give an http(s) URL of a page or a feed."
    assert "Could not read" in await command(slack, f"test {feeds.url('missing.html')}", user="U0ADMIN")
    refused = await command(slack, "test http://10.20.30.40/intranet", user="U0ADMIN")
    assert refused.startswith("Could not read http://10.20.30.40/intranet: ") and refused.endswith("10.20.30.40 is not a public address")
    assert (await command(slack, f"test {about}", user="U1")).startswith("Only the admins")
    assert (await command(slack, "mute border 1h", user="U1")).startswith("Only the admins")
    assert (await command(slack, "status", user="U1")).startswith("No feed is failing.")  # reading is open to everyone


async def test_slash_command_test_reaches_public_addresses_only(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    page = feeds.serve("admin/status.html", b"<html><body><p>internal border status</p></body></html>", content_type="text/html")
    write_config(tmp_path / "config", [], RULES)
    app = await make_app(slack_app_token=APP_TOKEN)  # the real guard: the loopback feed server is not public
    assert app.interactions is not None
    await app.interactions.start()
    answer = await command(slack, f"test {page}")
    assert answer.startswith(f"Could not read {page}: ") and answer.endswith("127.0.0.1 is not a public address")
    assert feeds.hits == {}  # refused before connecting


async def test_feedback_becomes_per_rule_precision_metrics_and_labelled_set_lines(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, database_url: str
) -> None:
    import json

    from prometheus_client import generate_latest

    url = feeds.serve("f.rss", rss([entry(1), entry(0)]))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], RULES)
    app = await make_app(slack_app_token=APP_TOKEN)
    assert app.interactions is not None
    await app.interactions.start()
    await app.poll_once()
    first, second = sorted(slack.messages["desk"], key=lambda m: m["text"])  # story 0, story 1
    await slack.click("desk", first["ts"], "relevant", "U1")
    await slack.click("desk", second["ts"], "not_relevant", "U1")
    await until(lambda: len(slack.updates) == 2)

    environ = env(tmp_path / "config", database_url)
    code, out, err = await newswatch("rules", "stats", "--format", "json", environ=environ)
    assert code == 0, err
    [stats] = [json.loads(line) for line in out.splitlines()]
    assert (stats["rule"], stats["sent"], stats["rated"], stats["relevant"], stats["precision"]) == ("border", 2, 2, 1, 0.5)
    assert stats["last_false_alarm_title"] == "Cambodia border story 1"

    code, out, err = await newswatch("feedback", "export", environ=environ)
    assert code == 0, err
    exported = {item["title"]: item for item in map(json.loads, out.splitlines())}
    assert (
        exported["Cambodia border story 0"]["labels"] == ["border"] and exported["Cambodia border story 0"]["class"] == "feedback-relevant"
    )
    assert exported["Cambodia border story 1"]["labels"] == [] and exported["Cambodia border story 1"]["source"] == "https://example.org/s1"
    assert set(exported["Cambodia border story 1"]) == {"id", "source", "lang", "title", "summary", "labels", "class", "published"}

    await Worker(app).feedback()
    text = generate_latest(app.metrics.registry).decode()
    assert 'newswatch_rule_precision{rule="border"} 0.5' in text and 'newswatch_rule_alerts_rated{rule="border"} 2.0' in text
