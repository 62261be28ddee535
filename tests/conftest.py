"""Shared fixtures: real databases (SQLite and PostgreSQL), a feed server, a Slack server, apps."""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from service.app import App, build_app
from service.ingest.guard import Guard
from service.settings import Settings
from tests.support.feedserver import FeedServer
from tests.support.pooling import NestedCheckouts
from tests.support.receiver import Receiver
from tests.support.slackserver import TOKEN, SlackServer
from tests.support.smtpserver import SmtpServer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
POSTGRES_URL = os.environ.get("NEWSWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
CHANNELS = ["vn-kh-border", "kh-th-border", "desk", "other"]


class FakeClock:
    """A clock the test moves by hand; starts at the real time."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move forward."""
        self.now += timedelta(**delta)


async def _postgres_schema() -> tuple[str, str]:
    """Create a fresh schema; fail (never skip) when PostgreSQL is missing."""
    schema = f"nw_test_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is required for the test suite and is not reachable at {POSTGRES_URL}: {exc}")
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    return f"{POSTGRES_URL}?search_path={schema}", schema


async def _drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL, timeout=10)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL of an empty database of each kind, private to the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/newswatch.db"
        return
    url, schema = await _postgres_schema()
    yield url
    await _drop_schema(schema)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A private PostgreSQL schema, for tests about PostgreSQL itself (replicas, locking)."""
    url, schema = await _postgres_schema()
    yield url
    await _drop_schema(schema)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def slack() -> AsyncIterator[SlackServer]:
    server = SlackServer(CHANNELS)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """The strict receiver of signed webhooks, Teams cards, Discord messages and Apprise's json:// calls."""
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def smtp(tmp_path: Path) -> AsyncIterator[SmtpServer]:
    """A real SMTP server on loopback: STARTTLS, a login, faults on demand."""
    server = SmtpServer(tmp_path)
    await server.start()
    yield server
    await server.stop()


def write_config(directory: Path, feeds: list[dict[str, Any]], rules: dict[str, Any] | None = None) -> Path:
    """Write feeds.yaml and rules.yaml (the shipped rules unless given) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "feeds.yaml").write_text(yaml.safe_dump({"feeds": feeds}, allow_unicode=True), encoding="utf-8")
    if rules is None:
        shutil.copy(ROOT / "config" / "rules.yaml", directory / "rules.yaml")
        shutil.copytree(ROOT / "config" / "examples", directory / "examples", dirs_exist_ok=True)
    else:
        (directory / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return directory


AppFactory = Callable[..., Awaitable[App]]


@pytest.fixture
async def make_app(tmp_path: Path, database_url: str, clock: FakeClock, slack: SlackServer) -> AsyncIterator[AppFactory]:
    """Build started apps on the test's database; every app is closed at the end.

    A task that takes a second connection from a pool it holds one of fails the test: with a
    full pool (a small PostgreSQL pool under load) that waits forever.
    """
    apps: list[App] = []
    nested = NestedCheckouts()

    async def factory(config_dir: Path | None = None, slack_token: str | None = TOKEN, guard: Guard | None = None, **overrides: Any) -> App:
        settings = Settings(
            config_dir=config_dir or tmp_path / "config",
            database_url=database_url,
            instance=f"test-{len(apps)}",
            slack_bot_token=slack_token,
            slack_api_url=slack.url,
            fetch_timeout=overrides.pop("fetch_timeout", 5.0),
            environ=overrides.pop("environ", {}),
            parse_workers=overrides.pop("parse_workers", 0),  # in-process tests parse in a thread; the CLI tests use processes
            **overrides,
        )
        app = await build_app(settings, clock=clock, stdout=io.StringIO(), guard=guard)
        for engine in {app.engine.writer, app.engine.reader}:
            nested.watch(engine)
        await app.start()
        apps.append(app)
        return app

    yield factory
    for app in apps:
        await app.aclose()
    assert not nested.found, "a task took a second connection of a pool it held one of:\n" + "\n".join(nested.found)


def deliverer(app: App, owner: str, batch: int) -> Any:
    """A delivery loop over the app's database and sinks as another process (or a smaller batch) would run it."""
    from alerts.delivery import Deliverer
    from service.app import flood_policy, utcnow
    from service.ingest import story
    from service.storage.outbox import SqlQueue
    from service.storage.pacing import SqlPacer
    from service.storage.silences import SqlMuter

    return Deliverer(
        SqlQueue(app.engine, owner, app.clock),
        SqlPacer(app.engine, utcnow),
        SqlMuter(app.engine, app.clock),
        lambda: app.sinks,
        app.clock,
        policy_of=lambda destination: flood_policy(app.config(), destination),
        same_story=story.same_story,
        batch=batch,
    )


def seed_entries() -> list[Any]:
    """The seed articles as feed entries, as the fixture script builds them."""
    from scripts.build_fixture_feeds import seed_entries as build

    return build()
