"""Who may do what from Slack: clicks and commands from another workspace are refused; feed errors are for admins."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from service.storage.schema import feedback
from tests.conftest import AppFactory, write_config
from tests.integration.test_interactions import RULES, alerted, command, entry, rows, until
from tests.support.feedgen import rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import APP_TOKEN, SlackServer


async def test_a_click_or_command_from_another_workspace_is_refused(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = await alerted(tmp_path, feeds, make_app)
    caplog.set_level(logging.WARNING, "newswatch.slack")
    [message] = slack.messages["desk"]
    await slack.click("desk", message["ts"], "mute_rule", "U1", option="604800", team="T999")  # the same user id, another team
    await until(lambda: any("a click from another workspace" in r.getMessage() for r in caplog.records))
    assert await rows(app, feedback) == [] and slack.updates == []
    assert await command(slack, "status", user="U1", team="T999") == "This newswatch answers only the Slack workspace it posts to."
    await slack.click("desk", message["ts"], "relevant", "U1")  # from our workspace: recorded
    await until(lambda: len(slack.updates) == 1)
    assert [r.user_id for r in await rows(app, feedback)] == ["U1"]


async def test_status_shows_feed_errors_to_admins_only_when_admins_are_named(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    good = feeds.serve("f.rss", rss([entry(0)]))
    config = [
        {"id": "f", "url": good, "first_poll_alerts": "all"},
        {"id": "intranet", "name": "Intranet wire", "url": "http://wire.corp.internal:8080/rss"},  # its error names a host of ours
    ]
    write_config(tmp_path / "config", config, {**RULES, "slack": {"admins": ["U0ADMIN"]}})
    app = await make_app(slack_app_token=APP_TOKEN, fetch_timeout=2.0)
    assert app.interactions is not None
    await app.interactions.start()
    await app.poll_once()
    admin = await command(slack, "status", user="U0ADMIN")
    other = await command(slack, "status", user="U1")
    assert admin.splitlines()[1].startswith("• Intranet wire (`intranet`): ") and "wire.corp.internal" in admin
    assert other.splitlines()[1] == "• Intranet wire (`intranet`): _its errors are shown to the admins_"
    assert "corp.internal" not in other


async def test_newswatch_test_refusals_do_not_say_what_a_name_resolves_to(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    write_config(tmp_path / "config", [], RULES)
    app = await make_app(slack_app_token=APP_TOKEN)  # the real guard: loopback is not public
    assert app.interactions is not None
    await app.interactions.start()
    page = feeds.url("admin.html").replace("127.0.0.1", "localhost")
    answer = await command(slack, f"test {page}")
    assert answer == f"Could not read {page}: refused {page}: localhost is not a public address"
    assert "127.0.0.1" not in answer and feeds.hits == {}
