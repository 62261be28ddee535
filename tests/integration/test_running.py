"""A running worker: hot reload, health endpoints, metrics; secrets never leak."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from service.ops import logs, web
from service.ops.worker import Worker
from service.storage.schema import metadata
from tests.conftest import AppFactory, write_config
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import TOKEN, SlackServer

RULES = "destinations:\n  desk: {type: slack, channel: '#desk'}\nrules:\n  - id: r1\n    destinations: [desk]\n    match: {any: [border]}\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_edited_rules_apply_and_a_bad_edit_keeps_the_last_good_rules(tmp_path: Path, make_app: AppFactory) -> None:
    config = write_config(tmp_path / "config", [])
    (config / "rules.yaml").write_text(RULES, encoding="utf-8")
    app = await make_app()
    worker = Worker(app, poll_every=3600, deliver_every=3600, reload_every=0.1)
    port = free_port()
    worker.start()
    runner = await web.serve(worker, "127.0.0.1", port)
    try:
        (config / "rules.yaml").write_text(RULES.replace("r1", "r2"), encoding="utf-8")
        await _until(lambda: [r.id for r in app.config().ruleset.rules] == ["r2"])
        good = app.config().version
        (config / "rules.yaml").write_text(RULES.replace("[desk]", "[nowhere]"), encoding="utf-8")
        await _until(lambda: app.config.last_error is not None)
        await _until(lambda: app.slack_bot is not None and app.slack_bot.health.ok)  # readiness needs Slack to accept the bot token
        assert [r.id for r in app.config().ruleset.rules] == ["r2"] and app.config().version == good
        async with httpx.AsyncClient() as client:
            health = (await client.get(f"http://127.0.0.1:{port}/healthz")).json()
            ready = await client.get(f"http://127.0.0.1:{port}/readyz")
            metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        assert health["config_version"] == good and "undefined destination 'nowhere'" in health["config_error"]
        assert ready.status_code == 200 and ready.json()["checks"] == {
            "scheduler": True,
            "rules": True,
            "database": True,
            "database_writable": True,
            "slack": True,
        }
        assert "newswatch_config_valid 0.0" in metrics and 'newswatch_config_reloads_total{outcome="rejected"} 1.0' in metrics
    finally:
        await worker.stop()
        await runner.cleanup()
    assert not worker.running


async def _until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_secrets_never_reach_logs_errors_or_the_database(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    url = feeds.serve("f.rss", rss([Entry("1", "border news", "https://example.org/1")]))
    rules = {
        "destinations": {"gone": {"type": "slack", "channel": "#nowhere"}, "hook": {"type": "slack_webhook"}},
        "rules": [{"id": "r", "destinations": ["gone", "hook"], "match": {"any": ["border"]}}],
    }
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], rules)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    app = await make_app(environ={"SLACK_WEBHOOK_URL": slack.webhook_url + "-wrong"})
    logs.setup("DEBUG", "json", app.settings.secrets)  # as the entry point does, at the most talkative level
    try:
        await app.poll_once()
    finally:
        root.handlers[:], root.level = saved
    logged = capfd.readouterr().err
    assert "channel_not_found" in logged
    secrets = [TOKEN, "webhooksecret123"]
    async with app.engine.connect() as conn:
        dump = " ".join([str(row) for table in metadata.sorted_tables for row in (await conn.execute(sa.select(table))).all()])
    assert "channel_not_found" in dump and "HTTP 404" in dump  # the errors are recorded...
    for secret in secrets:  # ...without the secrets
        assert secret not in dump
        assert secret not in logged


async def test_metrics_count_polls_items_matches_by_rule_deliveries_and_failing_feeds(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    good = feeds.serve(
        "good.rss", rss([Entry("g1", "border news", "https://example.org/1"), Entry("g2", "weather", "https://example.org/2")])
    )
    bad = feeds.serve("bad.rss", b"", status=500)
    config = write_config(tmp_path / "config", [{"id": "good", "url": good, "first_poll_alerts": "all"}, {"id": "bad", "url": bad}])
    (config / "rules.yaml").write_text(RULES, encoding="utf-8")
    app = await make_app()
    worker = Worker(app, poll_every=3600, deliver_every=0.1, reload_every=3600)
    port = free_port()
    worker.start()
    runner = await web.serve(worker, "127.0.0.1", port)
    expected = (
        'newswatch_polls_total{outcome="ok"} 1.0',
        'newswatch_polls_total{outcome="http_500"} 1.0',
        "newswatch_new_items_total 2.0",
        'newswatch_matches_total{rule="r1"} 1.0',
        'newswatch_deliveries_total{destination="desk",outcome="sent"} 1.0',
        'newswatch_delivery_seconds_count{destination="desk"} 1.0',
        "newswatch_poll_seconds_count 2.0",
        "newswatch_failing_feeds 1.0",
    )
    try:
        async with httpx.AsyncClient() as client:  # wait for what is asserted: the counters, not the Slack message
            metrics = await _until_async(lambda: client.get(f"http://127.0.0.1:{port}/metrics"), expected)
    finally:
        await worker.stop()
        await runner.cleanup()
    assert len(slack.messages["desk"]) == 1
    for line in expected:
        assert line in metrics, line


async def _until_async(fetch, needles: tuple[str, ...], timeout: float = 20.0) -> str:  # type: ignore[no-untyped-def]
    """The first answer that holds every needle; fails with the ones still missing."""
    body = ""
    for _ in range(int(timeout / 0.05)):
        body = (await fetch()).text
        if all(n in body for n in needles):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"never saw {[n for n in needles if n not in body]!r}")


@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("DEBUG", True)])
async def test_a_tick_skipped_while_the_last_run_goes_on_is_not_a_warning(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory, capfd: pytest.CaptureFixture[str], level: str, shown: bool
) -> None:
    url = feeds.serve("slow.rss", rss([Entry("1", "weather", "https://example.org/1")]), delay=0.6)  # a poll outlasts its ticks
    rules = {"destinations": {"d": {"type": "console"}}, "rules": [{"id": "r", "destinations": ["d"], "match": {"any": ["border"]}}]}
    write_config(tmp_path / "config", [{"id": "slow", "url": url}], rules)
    app = await make_app()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.setup(level, "text", [])
    worker = Worker(app, poll_every=0.1, deliver_every=3600, reload_every=3600)
    chunks: list[str] = []

    def logged(text: str) -> bool:
        chunks.append(capfd.readouterr().err)
        return text in "".join(chunks)

    try:
        worker.start()
        await _until(lambda: worker.skipped["poll"] > 0, timeout=30)  # wait for what is asserted: a tick skipped while the poll went on
    finally:
        await worker.stop()
        root.handlers[:], root.level = saved
    logged("")
    said = "".join(chunks)
    assert "maximum number of running instances" not in said  # APScheduler never refuses a tick: nothing to filter
    assert ("tick skipped, its last run goes on" in said) is shown
