"""Silences: muted matches are stored and marked, never sent; silences expire by themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from service.storage.schema import deliveries, matches
from service.storage.silences import Silences
from tests.conftest import AppFactory, FakeClock, write_config
from tests.integration.test_cli import env, newswatch
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import SlackServer

RULES = {
    "destinations": {"desk": {"type": "slack", "channel": "#desk"}, "other": {"type": "slack", "channel": "#other"}},
    "rules": [
        {"id": "border", "destinations": ["desk"], "match": {"any": ["border"]}},
        {"id": "cambodia", "destinations": ["other"], "match": {"any": ["cambodia"]}},
    ],
}


def entry(n: int) -> Entry:
    return Entry(f"s{n}", f"Cambodia border story {n}", f"https://example.org/s{n}", published=datetime.now(UTC))


async def table(app: Any, t: sa.Table) -> list[Any]:
    async with app.engine.connect() as conn:
        return list(await conn.execute(sa.select(t).order_by(t.c.id)))


async def test_muted_rule_and_destination_are_stored_not_sent_and_expire(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    url = feeds.serve("f.rss", rss([entry(0)]))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], RULES)
    app = await make_app()
    silences = Silences(app.engine)
    await silences.add("rule", "border", clock() + timedelta(hours=2), "drill", clock())
    await app.poll_once()
    assert slack.messages["desk"] == [] and len(slack.messages["other"]) == 1
    assert {m.rule_id: m.suppressed for m in await table(app, matches)} == {"border": "muted", "cambodia": None}
    await silences.add("destination", "other", clock() + timedelta(hours=1), "", clock())
    feeds.serve("f.rss", rss([entry(1), entry(0)]))
    clock.advance(minutes=30)
    await app.poll_once()
    assert slack.messages["desk"] == [] and len(slack.messages["other"]) == 1
    # Every silenced copy is stored muted, whatever the silence covers: `deliveries --status muted` lists them.
    assert [(d.destination, d.status) for d in await table(app, deliveries)] == [
        ("desk", "muted"),
        ("other", "sent"),
        ("desk", "muted"),
        ("other", "muted"),
    ]
    clock.advance(hours=3)  # both silences expired by themselves
    feeds.serve("f.rss", rss([entry(2), entry(1), entry(0)]))
    await app.poll_once()
    assert len(slack.messages["desk"]) == 1 and len(slack.messages["other"]) == 2


async def test_a_backlog_waiting_on_an_outage_is_silenced_too(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    url = feeds.serve("f.rss", rss([entry(0)]))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], RULES)
    app = await make_app()
    slack.faults.outage = True
    await app.poll_once()
    await Silences(app.engine).add("destination", "desk", clock() + timedelta(hours=1), "", clock())
    slack.faults.outage = False
    clock.advance(minutes=20)
    await app.poll_once()
    assert slack.messages["desk"] == [] and len(slack.messages["other"]) == 1
    assert {d.destination: d.status for d in await table(app, deliveries)} == {"desk": "muted", "other": "sent"}


async def test_deliveries_muted_lists_what_matches_shows_as_muted(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock, database_url: str
) -> None:
    import json

    url = feeds.serve("f.rss", rss([entry(0), entry(1)]))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], RULES)
    app = await make_app()
    await Silences(app.engine).add("rule", "border", clock() + timedelta(hours=2), "drill", clock())
    await Silences(app.engine).add("feed", "f", clock() + timedelta(hours=2), "drill", clock())
    await app.poll_once()
    assert slack.all_messages() == []
    environ = env(tmp_path / "config", database_url)
    code, out, err = await newswatch("matches", "--format", "json", environ=environ)
    assert code == 0, err
    muted_matches = {(m["link"], m["rule"]) for m in map(json.loads, out.splitlines()) if "muted" in m["status"]}
    assert len(muted_matches) == 4  # two items, each matched by both rules
    code, out, err = await newswatch("deliveries", "--status", "muted", "--format", "json", environ=environ)
    assert code == 0, err
    listed = [json.loads(line) for line in out.splitlines()]
    assert {(d["link"], rule) for d in listed for rule in d["rules"]} == muted_matches
    assert {d["status"] for d in listed} == {"muted"}


async def test_mute_commands(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path / "config", [{"id": "desk", "url": "http://127.0.0.1:9/f.rss"}], RULES)
    environ = env(config, database_url)
    assert (await newswatch("db", "upgrade", environ=environ))[0] == 0  # commands other than run, poll and db upgrade make no database
    code, out, err = await newswatch("mute", "border", "--for", "2h", "--reason", "drill", environ=environ)
    assert code == 0 and out.startswith("muted rule border until"), err
    code, _, err = await newswatch("mute", "nowhere", "--for", "1h", environ=environ)
    assert code == 2 and "'nowhere' is not a rule id, a destination or a feed id" in err
    code, _, err = await newswatch("mute", "desk", "--for", "1h", environ=environ)  # a destination and a feed
    assert code == 2 and "write destination:desk or feed:desk" in err
    code, out, err = await newswatch("mute", "feed:desk", "--for", "1h", environ=environ)
    assert code == 0 and out.startswith("muted feed desk until"), err
    code, out, _ = await newswatch("mutes", environ=environ)
    assert [line.split()[1:3] for line in out.splitlines()] == [["feed", "desk"], ["rule", "border"]]  # soonest to end first
    code, out, _ = await newswatch("unmute", out.split()[0], environ=environ)
    assert code == 0
    code, out, _ = await newswatch("mutes", environ=environ)
    [line] = out.splitlines()
    assert "rule" in line and "border" in line and "drill" in line
    code, out, _ = await newswatch("unmute", line.split()[0], environ=environ)
    assert code == 0 and out.strip().endswith("ended")
    code, out, _ = await newswatch("mutes", environ=environ)
    assert out.strip() == "no silences in force"
