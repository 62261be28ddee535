"""Slack at start-up, with slack-sdk's real clients against the strict Slack server: the bot token checked and named,
Socket Mode failures backed off on one log line each, shown on /healthz, /readyz and /metrics, buttons only while it works.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from alerts.slack.health import Backoff, BotCheck
from alerts.slack.interactive import SlackInteractions
from service.ops import web
from service.ops.worker import Worker
from tests.conftest import AppFactory, write_config
from tests.integration.test_cli import env, free_port, service_run
from tests.integration.test_interactions import RULES, entry, until
from tests.support.feedgen import rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import APP_TOKEN, TOKEN, SlackServer


def recorder() -> tuple[list[float], Callable[[float], Awaitable[None]]]:
    """A sleep that records what it was asked to wait and hardly waits: backoff seen without waiting it out."""
    asked: list[float] = []

    async def sleep(seconds: float) -> None:
        asked.append(seconds)
        await asyncio.sleep(0.01)

    return asked, sleep


def client(slack: SlackServer, token: str) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=slack.url, timeout=15, retry_handlers=[])


def slack_lines(caplog: Any, start: str) -> list[logging.LogRecord]:
    """The log records of the newswatch.slack loggers whose message starts with `start`."""
    return [r for r in caplog.records if r.name.startswith("newswatch.slack") and r.getMessage().startswith(start)]


async def test_the_bot_token_is_checked_at_start_up_and_who_it_posts_as_is_logged_once(slack: SlackServer, caplog: Any) -> None:
    check = BotCheck(client(slack, TOKEN))
    with caplog.at_level(logging.INFO, logger="newswatch.slack"):
        await check.run()
    [line] = slack_lines(caplog, "Slack: ")
    assert line.getMessage() == "Slack: alerts are posted as @newswatch (bot B000) in the workspace Newsroom (T000)"
    assert check.health.ok and check.health.as_dict()["team"] == "Newsroom"


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("xoxb-mistyped", "SLACK_BOT_TOKEN was refused (invalid_auth)"),
        ("revoked", "SLACK_BOT_TOKEN was revoked (token_revoked)"),
        (APP_TOKEN, "SLACK_BOT_TOKEN is the wrong kind of token (not_allowed_token_type)"),  # auth.test takes it; it names no bot
    ],
    ids=["mistyped", "revoked", "app-token"],
)
async def test_a_refused_bot_token_is_asked_again_with_backoff_one_line_each_time_until_it_works(
    slack: SlackServer, caplog: Any, token: str, says: str
) -> None:
    if token == "revoked":
        token = TOKEN
        slack.revoked.add(TOKEN)
    asked, sleep = recorder()
    check = BotCheck(client(slack, token), Backoff(1.0, 600.0), sleep)
    with caplog.at_level(logging.INFO, logger="newswatch.slack"):
        running = asyncio.create_task(check.run())
        await until(lambda: len(asked) >= 4)
        if token == TOKEN:  # the token is valid again (the workspace re-installed the app, say): the check ends
            slack.revoked.clear()
            await asyncio.wait_for(running, 30)
            assert check.health.ok
        else:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            assert check.health.state == "failing" and says in str(check.health.error)
    failures = slack_lines(caplog, "Slack: SLACK_BOT_TOKEN")
    assert len(failures) == len(asked) and all(says in r.getMessage() and r.exc_info is None for r in failures)
    assert all(later >= 1.8 * earlier for earlier, later in itertools.pairwise(asked))  # exponential


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("xapp-1-A000-mistyped", "SLACK_APP_TOKEN was refused (invalid_auth)"),
        ("revoked", "SLACK_APP_TOKEN was revoked (token_revoked)"),
        (TOKEN, "SLACK_APP_TOKEN is the wrong kind of token (not_allowed_token_type)"),  # the bot token pasted as the app token
    ],
    ids=["mistyped", "revoked", "bot-token"],
)
async def test_socket_mode_that_cannot_connect_backs_off_exponentially_on_one_line_each_time(
    slack: SlackServer, caplog: Any, token: str, says: str
) -> None:
    if token == "revoked":
        token = APP_TOKEN
        slack.revoked.add(APP_TOKEN)
    asked, sleep = recorder()
    interactions = SlackInteractions(token, client(slack, TOKEN), actions=None, connection={"backoff": Backoff(1.0, 600.0), "sleep": sleep})  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG):
        await interactions.start()  # returns after the first attempt, failed
        assert not interactions.connected
        await until(lambda: len(asked) >= 5)
        await interactions.aclose()
    failures = slack_lines(caplog, "Slack Socket Mode: ")
    assert len(failures) == len(asked) and slack.connection_attempts >= len(asked)  # each refused attempt: one line, then a wait
    assert all(says in r.getMessage() and "\n" not in r.getMessage() and r.exc_info is None for r in failures)
    assert all(later >= 1.8 * earlier for earlier, later in itertools.pairwise(asked))  # 1, 2, 4, 8 s...
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING and not r.getMessage().startswith("Slack Socket Mode: ")]
    assert noisy == [] and all(r.exc_info is None for r in caplog.records)  # slack-sdk's own lines stay at DEBUG, no traceback
    health = interactions.connection.health.as_dict()
    assert health["state"] == "failing" and health["failures"] == len(asked) and says in health["error"]
    assert token not in str(health) and token not in caplog.text


async def test_alerts_carry_buttons_only_while_socket_mode_works(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    url = feeds.serve("f.rss", rss([entry(0)]))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], RULES)
    unanswered = await make_app(slack_app_token="xapp-1-A000-mistyped")
    assert unanswered.interactions is not None
    await unanswered.interactions.start()
    await unanswered.poll_once()
    [alert] = slack.messages["desk"]
    assert not any(b["type"] == "actions" for b in alert["blocks"])  # nothing would answer a click

    feeds.serve("f.rss", rss([entry(1), entry(0)]))
    answered = await make_app(slack_app_token=APP_TOKEN)
    assert answered.interactions is not None
    await answered.interactions.start()
    assert answered.interactions.connected
    await answered.poll_once()
    assert any(b["type"] == "actions" for b in slack.messages["desk"][-1]["blocks"])

    slack.revoked.add(APP_TOKEN)  # the app token is revoked, and Slack drops the connection
    for socket in list(slack.sockets):
        await socket.close()
    await until(lambda: answered.interactions is not None and answered.interactions.connection.health.state == "failing")
    feeds.serve("f.rss", rss([entry(2), entry(1), entry(0)]))
    await answered.poll_once()
    assert not any(b["type"] == "actions" for b in slack.messages["desk"][-1]["blocks"])


async def test_readyz_reports_a_refused_bot_token_and_healthz_and_metrics_the_slack_connections(
    tmp_path: Path, slack: SlackServer, make_app: AppFactory
) -> None:
    write_config(tmp_path / "config", [], RULES)
    app = await make_app(slack_token="xoxb-mistyped", slack_app_token="xapp-1-A000-mistyped")
    worker = Worker(app, poll_every=3600, deliver_every=3600, reload_every=3600)
    port = free_port()
    runner = await web.serve(worker, "127.0.0.1", port)
    worker.start()
    try:
        assert app.slack_bot is not None and app.interactions is not None
        await until(lambda: app.slack_bot.health.state == "failing" and app.interactions.connection.health.state == "failing")  # type: ignore[union-attr]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            ready, health, metrics = await http.get("/readyz"), await http.get("/healthz"), await http.get("/metrics")
    finally:
        await worker.stop(grace=1)
        await runner.cleanup()
    assert ready.status_code == 503 and ready.json()["checks"]["slack"] is False
    assert "SLACK_BOT_TOKEN was refused (invalid_auth)" in ready.json()["slack"]["bot"]["error"]
    assert health.status_code == 200  # alive: it keeps polling and keeps asking Slack
    socket = health.json()["slack"]["socket"]
    assert socket["state"] == "failing" and "SLACK_APP_TOKEN was refused (invalid_auth)" in socket["error"] and socket["failures"] >= 1
    assert 'newswatch_slack_connected{connection="socket"} 0.0' in metrics.text
    assert 'newswatch_slack_connected{connection="bot"} 0.0' in metrics.text
    assert 'newswatch_slack_connection_failures_total{connection="socket"} 1.0' in metrics.text


async def test_the_running_service_logs_no_traceback_when_socket_mode_cannot_connect(
    tmp_path: Path, slack: SlackServer, database_url: str
) -> None:
    config = write_config(tmp_path / "config", [], RULES)
    port = free_port()
    environ = env(config, database_url, slack, SLACK_APP_TOKEN=TOKEN, NEWSWATCH_HTTP_PORT=str(port))  # the bot token pasted twice
    async with service_run(environ, stderr=asyncio.subprocess.PIPE) as proc, httpx.AsyncClient() as http:
        socket: dict[str, Any] = {}
        for _ in range(1200):  # up to 60 s on a loaded machine
            with contextlib.suppress(httpx.TransportError):
                socket = (await http.get(f"http://127.0.0.1:{port}/healthz")).json().get("slack", {}).get("socket", {})
            if socket.get("state") == "failing":
                break
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert socket.get("state") == "failing" and "not_allowed_token_type" in socket["error"], socket
    text = err.decode()
    assert "Traceback" not in text and TOKEN not in text
    failures = [line for line in text.splitlines() if "Slack Socket Mode: SLACK_APP_TOKEN is the wrong kind of token" in line]
    assert 1 <= len(failures) <= 2  # one line per attempt, the next one 5 s later, not a flood
    posted_as = [line for line in text.splitlines() if "Slack: alerts are posted as @newswatch" in line]
    assert len(posted_as) == 1
    assert json.dumps(socket)  # what /healthz showed is plain data
