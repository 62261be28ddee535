"""Start-up runs with the cyclic garbage collector off, and the process settles once it is over (`cli.settled`)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.ops import cli, commands
from service.settings import Settings
from tests.conftest import ROOT, write_config


@pytest.fixture(autouse=True)
def collector() -> Iterator[list[str]]:
    """The phases of every collection while the test runs; the collector as it was, afterwards."""
    seen: list[str] = []

    def record(phase: str, info: dict[str, int]) -> None:
        seen.append(phase)

    was_on = gc.isenabled()
    gc.callbacks.append(record)
    try:
        yield seen
    finally:
        gc.callbacks.remove(record)
        gc.unfreeze()
        if was_on:
            gc.enable()


def test_settled_turns_the_collector_on_and_moves_what_start_up_built_out_of_its_sight() -> None:
    gc.disable()
    before = gc.get_freeze_count()
    cli.settled()
    assert gc.isenabled()
    assert gc.get_freeze_count() > before


def test_a_command_that_is_not_the_service_runs_with_the_collector_on(collector: list[str]) -> None:
    """`rules check` compiles the rules: the collector runs meanwhile, and is on when `main` returns."""
    assert cli.main(["rules", "check", str(ROOT / "config")]) == cli.EXIT_OK
    assert "start" in collector
    assert gc.isenabled()


async def test_the_service_settles_once_it_has_started(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path / "config", [{"id": "f", "url": "http://127.0.0.1:9/feed.xml"}])
    settings = Settings(config_dir=config, database_url=database_url, instance="startup", environ={}, parse_workers=0)
    gc.disable()
    frozen = gc.get_freeze_count()
    async with commands.started(settings):
        assert gc.isenabled()
        assert gc.get_freeze_count() > frozen


PRELOAD_PROBE = """
import sys, threading
from service.ops import cli
code = cli.main(sys.argv[1:])  # a setting it refuses: it stops before importing anything of its own that uses aiohttp
for thread in threading.enumerate():
    if thread.name == "newswatch-preload":
        thread.join()
print(code, "aiohttp" in sys.modules)
"""


@pytest.mark.parametrize(("argv", "preloaded"), [(["poll", "--once"], True), (["run"], True), (["rules", "check"], False)])
def test_the_service_commands_import_aiohttp_in_a_thread_from_the_start(argv: list[str], preloaded: bool) -> None:
    """`run` and `poll --once` import aiohttp in a thread (its import reads the CA file twice, without the GIL); other commands do not."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")} | {"NEWSWATCH_POLL_CONCURRENCY": "many"}
    done = subprocess.run([sys.executable, "-c", PRELOAD_PROBE, *argv], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == [str(cli.EXIT_USAGE), str(preloaded)], done.stderr


HTTPX_PROBE = """
import sys
import service.app  # the service's modules, httpx among them
import httpx
try:
    httpx.main()
except SystemExit as refused:
    print("httpx" in sys.modules, "click" in sys.modules, "pygments" in sys.modules, "newswatch" in str(refused))
"""


def test_httpx_comes_without_its_command_line_client() -> None:
    """httpx's `main` is stood in for before httpx loads: click and pygments, which only its command line uses, stay out."""
    done = subprocess.run([sys.executable, "-c", HTTPX_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["True", "False", "False", "True"], done.stderr
