"""Daily and weekly briefings through the whole service: one message per period, exactly once, across restarts.

The clock is a fake moved by hand; Slack is the strict Slack-compatible server; the feeds
are served on 127.0.0.1; the database is SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from service.app import App
from service.storage.schema import briefings, deliveries
from tests.conftest import AppFactory, FakeClock, write_config
from tests.integration.test_cli import env, newswatch
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import SlackServer

SAIGON_0730 = datetime(2026, 12, 3, 0, 30, tzinfo=UTC)  # 07:30 in Asia/Ho_Chi_Minh (UTC+7)
WORDS = [
    "river",
    "gate",
    "post",
    "market",
    "canal",
    "bridge",
    "patrol",
    "treaty",
    "survey",
    "marker",
    "road",
    "village",
    "school",
    "harbour",
    "rice",
    "rubber",
    "cattle",
    "timber",
]


def rules(**destination: Any) -> dict[str, Any]:
    morning = {"type": "slack", "channel": "#desk", "timezone": "Asia/Ho_Chi_Minh", "delivery": "daily", "at": "08:00", **destination}
    return {
        "destinations": {"morning": morning},
        "rules": [
            {"id": "border", "name": "Border news", "destinations": ["morning"], "match": {"any": ["border"]}},
            {"id": "mekong", "name": "Mekong news", "destinations": ["morning"], "match": {"any": ["mekong"]}},
        ],
    }


def story(n: int, when: datetime, subject: str = "border") -> Entry:
    """A report unlike the others (its own words), so that no two fold into one story."""
    words = random.Random(n).sample(WORDS, 8)
    title = f"{subject.capitalize()} report {n}: {' '.join(words[:4])}"
    return Entry(f"s{n}", title, f"https://example.org/{n}", summary=f"{subject} {' '.join(words)} number {n}", published=when)


async def started(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory, clock: FakeClock, entries: dict[str, list[Entry]], **spec: Any
) -> App:
    """The service at 07:30 Saigon time with these feeds, after its first poll (the alerts wait for 08:00)."""
    clock.now = SAIGON_0730
    config = [{"id": fid, "url": feeds.serve(f"{fid}.rss", rss(found)), "first_poll_alerts": "all"} for fid, found in entries.items()]
    write_config(tmp_path / "config", config, rules(**spec))
    app = await make_app()
    await app.poll_once()
    return app


async def rows(app: App, table: sa.Table) -> list[Any]:
    async with app.engine.connect() as conn:
        return list(await conn.execute(sa.select(table)))


def texts(message: dict[str, Any]) -> str:
    """All the text of a message's blocks."""
    out = []
    for block in message["blocks"]:
        for part in [block.get("text"), *block.get("elements", [])]:
            if isinstance(part, dict) and "text" in part:
                out.append(part["text"])
    return "\n".join(out)


async def test_a_daily_briefing_lists_each_story_once_by_rule_at_its_time_and_exactly_once(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock, database_url: str
) -> None:
    at = SAIGON_0730 - timedelta(hours=1)
    same = Entry(
        "a", "Border gate reopens at Moc Bai", "https://one.example/a", summary="The border gate at Moc Bai reopened.", published=at
    )
    copy = Entry(
        "b", "Border gate reopens at Moc Bai", "https://two.example/b", summary="The border gate at Moc Bai reopened.", published=at
    )
    app = await started(tmp_path, feeds, make_app, clock, {"one": [same, story(1, at, "mekong")], "two": [copy]})
    assert slack.all_messages() == []  # a briefing destination gets no alerts
    assert {(d.status, d.mode) for d in await rows(app, deliveries)} == {("pending", "briefed")}
    code, listing, _ = await newswatch("deliveries", environ=env(tmp_path / "config", database_url))
    assert code == 0 and listing.count("in the next briefing") == 3 and "3000" not in listing

    clock.advance(minutes=29)  # 07:59
    await app.poll_once()
    assert slack.all_messages() == []
    clock.advance(minutes=1, seconds=30)  # 08:00:30
    await app.poll_once()
    [briefing] = slack.messages["desk"]
    text = texts(briefing)
    assert text.startswith("Thu 3 Dec 2026".join(["Daily briefing · ", ""]))
    assert "3 stories" not in text and "2 stories" in text  # the copy from the second outlet folds into its story
    assert text.index("*Border news*") < text.index("Border gate reopens at Moc Bai") < text.index("+1 other report")
    assert "*Mekong news*" in text and "Mekong report 1" in text
    assert {d.status for d in await rows(app, deliveries)} == {"sent"}

    again = await make_app()  # a restart, or a second replica
    await again.poll_once()
    await app.poll_once()
    clock.advance(days=1)  # the next morning: nothing new, and an empty briefing is not sent
    await again.poll_once()
    assert len(slack.all_messages()) == 1


async def test_a_long_briefing_continues_in_its_first_messages_thread(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    at = SAIGON_0730 - timedelta(hours=2)
    app = await started(tmp_path, feeds, make_app, clock, {"one": [story(n, at + timedelta(minutes=n)) for n in range(20)]})
    clock.advance(minutes=31)
    await app.poll_once()
    first, second = slack.messages["desk"]
    assert "20 stories" not in texts(first) and "15 stories · part 1 of 2" in texts(first)
    assert "5 stories · part 2 of 2" in texts(second) and second["thread_ts"] == first["ts"]
    assert "Border report 19" in texts(first) and "Border report 0:" in texts(second)  # newest first
    assert slack.rejected == []


async def test_a_briefing_due_while_the_service_was_down_or_slack_failing_goes_out_once_later(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    at = SAIGON_0730 - timedelta(hours=1)
    app = await started(tmp_path, feeds, make_app, clock, {"one": [story(1, at)]})
    await app.aclose()  # stopped at 07:30 ...
    clock.advance(hours=2)  # ... and started again at 09:30
    slack.faults.outage = True
    app = await make_app()
    await app.poll_once()
    assert slack.all_messages() == [] and len(await rows(app, briefings)) == 2  # made (the baseline and today's), not sent
    [page] = [d for d in await rows(app, deliveries) if d.mode == "briefing"]
    assert page.status == "pending" and page.last_error
    slack.faults.outage = False
    clock.advance(minutes=15)
    await app.poll_once()
    await (await make_app()).poll_once()
    [briefing] = slack.messages["desk"]
    assert "Border report 1" in texts(briefing)


async def test_an_empty_period_sends_nothing_unless_asked_and_going_back_to_instant_releases_waiting_alerts(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    app = await started(tmp_path, feeds, make_app, clock, {"one": []}, briefing_when_empty=True)
    clock.advance(minutes=31)
    await app.poll_once()
    [empty] = slack.messages["desk"]
    assert "Nothing matched the rules in this period." in texts(empty)

    feeds.serve("one.rss", rss([story(7, clock() - timedelta(minutes=5))]))
    await app.poll_once()  # briefed, for tomorrow's briefing
    assert len(slack.all_messages()) == 1
    changed = rules()
    changed["destinations"]["morning"]["delivery"] = "instant"
    (tmp_path / "config" / "rules.yaml").write_text(yaml.safe_dump(changed), encoding="utf-8")
    assert app.config.reload() == "loaded"
    await app.poll_once()
    assert len(slack.messages["desk"]) == 2 and "Border report 7" in slack.messages["desk"][1]["text"]  # an alert of its own


async def test_a_rule_can_ask_for_a_briefing_in_a_destination_that_gets_alerts_as_they_happen(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    clock.now = SAIGON_0730
    config = rules(delivery="instant")
    config["rules"][1]["delivery"] = "daily"  # Mekong news once a day; border news at once
    both = Entry(
        "both", "Border and Mekong", "https://example.org/both", summary="border mekong together", published=clock() - timedelta(hours=1)
    )
    found = [story(1, clock() - timedelta(hours=1)), story(2, clock() - timedelta(hours=1), "mekong"), both]
    write_config(tmp_path / "config", [{"id": "one", "url": feeds.serve("one.rss", rss(found)), "first_poll_alerts": "all"}], config)
    app = await make_app()
    await app.poll_once()
    await app.poll_once()
    alerts = [m["text"] for m in slack.messages["desk"]]
    assert len(alerts) == 2 and any("Border report 1" in a for a in alerts) and any("Border and Mekong" in a for a in alerts)

    clock.advance(minutes=31)  # 08:01
    await app.poll_once()
    await (await make_app()).poll_once()
    briefing = slack.messages["desk"][2]
    assert texts(briefing).startswith("Daily briefing") and "Mekong report 2" in texts(briefing)
    assert "Border" not in texts(briefing).replace("Border news", "")  # only the daily rule's story, not the instant alerts again
    assert len(slack.messages["desk"]) == 3
