"""Hostile edits of the config never stop the service or pass in silence: each is a reported error, the last good rules stay."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from service.ops import web
from service.ops.worker import Worker
from tests.conftest import AppFactory, write_config
from tests.integration.test_cli import env, free_port, newswatch, service_run
from tests.integration.test_interactions import until

RULES = "destinations:\n  desk: {type: console}\nrules:\n  - id: r1\n    destinations: [desk]\n    match: {any: [border]}\n"
DEEP = "destinations: " + "[" * 100_000 + "]" * 100_000 + "\n"  # 200 KB that overflowed the YAML composer's C stack


def nested_all(levels: int) -> str:
    """A rule whose match is `levels` nested `all:` (which used to end the rule compiler in a RecursionError)."""
    match = "{all: [" * levels + "border" + "]}" * levels
    return f"destinations:\n  desk: {{type: console}}\nrules:\n  - id: r2\n    destinations: [desk]\n    match: {match}\n"


def alias_bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol"]'] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n" + RULES


async def test_rules_check_and_a_running_service_survive_a_rules_file_nested_100000_deep(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", [])
    (config / "rules.yaml").write_text(DEEP, encoding="utf-8")
    code, out, _ = await newswatch("rules", "check", str(config), environ=env(config, "sqlite://"))
    assert code == 1 and out.strip() == f"{config / 'rules.yaml'}:1:78: lists and mappings are nested more than 64 deep"

    (config / "rules.yaml").write_text(RULES, encoding="utf-8")
    port = free_port()
    environ = env(config, f"sqlite:///{tmp_path}/nw.db", NEWSWATCH_HTTP_PORT=str(port))
    async with service_run(environ) as proc, httpx.AsyncClient() as client:

        async def health() -> dict[str, object] | None:
            try:
                return dict((await client.get(f"http://127.0.0.1:{port}/healthz")).json())
            except httpx.TransportError:
                return None

        for _ in range(1200):  # started: up to 60 s on a loaded machine
            if await health() is not None:
                break
            await asyncio.sleep(0.05)
        (config / "rules.yaml").write_text(DEEP, encoding="utf-8")  # the next reload (every 2 s) reads it
        state = None
        for _ in range(1200):
            state = await health()
            if state is None or state["config_error"]:
                break
            await asyncio.sleep(0.05)
        assert proc.returncode is None and state is not None, "the service died at the reload"
        assert state["config_error"] == f"{config / 'rules.yaml'}:1:78: lists and mappings are nested more than 64 deep"
        assert state["rules"] == 1  # the last good rules are in force


@pytest.fixture
async def running(tmp_path: Path, make_app: AppFactory) -> AsyncIterator[tuple[Path, Worker, int]]:
    """A worker reloading every 0.1 s with its health server, on a config of one rule (r1)."""
    config = write_config(tmp_path / "config", [])
    (config / "rules.yaml").write_text(RULES, encoding="utf-8")
    app = await make_app()
    worker = Worker(app, poll_every=3600, deliver_every=3600, reload_every=0.1)
    port = free_port()
    worker.start()
    runner = await web.serve(worker, "127.0.0.1", port)
    yield config, worker, port
    await worker.stop()
    await runner.cleanup()


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ("destinations:\n  desk: {type: console}\nrules: !include more.yaml\n", "3:8: the tag '!include' is not allowed"),
        ("x: !!python/object/apply:os.system [id]\n" + RULES, "1:4: the tag '!!python/object/apply:os.system' is not allowed"),
        (nested_all(10_000), "lists and mappings are nested more than 64 deep"),
        (alias_bomb(8), "6:40: aliases stand for more than 100,000 values (an alias bomb?)"),
    ],
    ids=["include", "python-tag", "10000-nested-all", "alias-bomb"],
)
async def test_a_failed_reload_of_any_kind_is_reported_on_healthz_metrics_and_the_log_and_the_last_good_rules_stay(
    running: tuple[Path, Worker, int], caplog: pytest.LogCaptureFixture, edit: str, problem: str
) -> None:
    config, worker, port = running
    caplog.set_level(logging.ERROR, "newswatch.config")
    (config / "rules.yaml").write_text(edit, encoding="utf-8")
    await until(lambda: worker.app.config.last_error is not None)
    async with httpx.AsyncClient() as client:
        health = (await client.get(f"http://127.0.0.1:{port}/healthz")).json()
        metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    assert str(config / "rules.yaml") in health["config_error"] and problem in health["config_error"], health["config_error"]
    assert health["rules"] == 1 and [r.id for r in worker.app.config().ruleset.rules] == ["r1"]
    assert "newswatch_config_valid 0.0" in metrics and 'newswatch_config_reloads_total{outcome="rejected"} 1.0' in metrics
    assert [r.getMessage() for r in caplog.records if problem in r.getMessage()], "not in the log"


async def test_a_destinations_warning_is_logged_once_not_at_every_reload(
    tmp_path: Path, make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(tmp_path / "config", [])
    hook = RULES.replace("desk: {type: console}", "desk: {type: slack_webhook, url_env: NO_SUCH_HOOK}")
    (config / "rules.yaml").write_text(hook, encoding="utf-8")
    caplog.set_level(logging.WARNING, "newswatch")
    app = await make_app()
    worker = Worker(app, poll_every=3600, deliver_every=3600, reload_every=0.1)
    worker.start()
    try:
        for rule in ("r2", "r3"):  # two edits, each loaded and each rebuilding the sinks
            (config / "rules.yaml").write_text(hook.replace("r1", rule), encoding="utf-8")
            await until(lambda rule=rule: [r.id for r in app.config().ruleset.rules] == [rule])  # type: ignore[misc]
    finally:
        await worker.stop()
    warned = [r for r in caplog.records if "NO_SUCH_HOOK is not set" in r.getMessage()]
    assert len(warned) == 1
