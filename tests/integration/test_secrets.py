"""Secrets never leak: quoted env values, their percent-encoded forms, and API keys in feed URLs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from service.ops import logs
from service.storage.schema import feeds as feeds_table
from service.storage.schema import metadata
from tests.conftest import AppFactory, write_config
from tests.integration.test_cli import env, newswatch
from tests.integration.test_interactions import command
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import APP_TOKEN, SlackServer

KEY = "apikey=SECRETKEY42"


async def dump(app: Any) -> str:
    """Every row of every table, as text."""
    async with app.engine.connect() as conn:
        return " ".join([str(row) for table in metadata.sorted_tables for row in (await conn.execute(sa.select(table))).all()])


async def test_a_webhook_url_written_with_quotes_is_used_without_them_and_never_leaks(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    url = feeds.serve("f.rss", rss([Entry("1", "border news", "https://example.org/1")]))
    rules = {
        "destinations": {"hook": {"type": "slack_webhook"}},
        "rules": [{"id": "r", "destinations": ["hook"], "match": {"any": ["border"]}}],
    }
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], rules)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    quoted = f'"{slack.webhook_url}"'  # KEY="…" in an env file: Docker and systemd keep the quotes
    logs.setup("DEBUG", "json", [quoted])
    try:
        app = await make_app(environ={"SLACK_WEBHOOK_URL": quoted})
        await app.poll_once()
        logging.getLogger("newswatch.test").error("as an HTTP library writes it: %s", quoted.replace('"', "%22"))
    finally:
        root.handlers[:], root.level = saved
    logged = capfd.readouterr().err
    assert len(slack.webhook_messages) == 1  # the alert went out through the webhook
    assert logged.count("SLACK_WEBHOOK_URL is written with quotes around it: they were removed") == 1
    assert "webhooksecret123" not in await dump(app) and "webhooksecret123" not in logged
    assert "as an HTTP library writes it: [redacted]" in logged


@pytest.mark.parametrize("full", [False, True])
async def test_an_api_key_in_a_feed_url_is_shown_nowhere_unless_the_operator_asks(
    tmp_path: Path,
    feeds: FeedServer,
    slack: SlackServer,
    make_app: AppFactory,
    database_url: str,
    capfd: pytest.CaptureFixture[str],
    full: bool,
) -> None:
    feeds.serve("api/feed.rss", b"", status=302, headers={"Location": "javascript:void(0)"})  # any failure that quotes the URL
    url = feeds.url(f"api/feed.rss?{KEY}")
    rules = {
        "destinations": {"ops": {"type": "slack", "channel": "#other"}},
        "operations": {"destination": "ops", "after_failures": 1},
        "rules": [{"id": "r", "destinations": ["ops"], "match": {"any": ["border"]}}],
    }
    config = write_config(tmp_path / "config", [{"id": "api", "url": url}], rules)
    if full:
        (config / "feeds.yaml").write_text((config / "feeds.yaml").read_text(encoding="utf-8") + "show_full_urls: true\n", encoding="utf-8")
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.setup("INFO", "text", [])
    try:
        app = await make_app(slack_app_token=APP_TOKEN)
        assert app.interactions is not None
        await app.interactions.start()
        await app.poll_once()
        status = await command(slack, "status")
    finally:
        root.handlers[:], root.level = saved
    async with app.engine.connect() as conn:
        error = (await conn.execute(sa.select(feeds_table.c.last_error))).scalar_one()
    [notice] = slack.messages["other"]
    code, out, err = await newswatch("feeds", "--format", "json", environ=env(config, database_url))
    assert code == 0, err
    [listed] = [json.loads(line) for line in out.splitlines()]
    shown = {
        "the feed's error": error,
        "/newswatch status": status,
        "the notice": notice["text"],
        "newswatch feeds": listed["url"] + " " + listed["last_error"],
        "the log": capfd.readouterr().err,
    }
    for where, text in shown.items():
        assert ("SECRETKEY42" in text) is full, where
    if not full:
        assert error == f"redirect: redirect to a malformed or non-HTTP URL from {feeds.url('api/feed.rss')}?…"
