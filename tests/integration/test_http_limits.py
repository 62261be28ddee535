"""The health server's limits: half-sent requests never take the file descriptors the service polls with."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from tests.conftest import ROOT, AppFactory, seed_entries, write_config
from tests.integration.test_cli import env, free_port
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import SlackServer

RULES = {"destinations": {"d": {"type": "console"}}, "rules": [{"id": "r", "destinations": ["d"], "match": {"any": ["border"]}}]}
DESCRIPTORS = 1024  # a common container limit
HALF_SENT = 1100


def _limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTORS, DESCRIPTORS))


@contextlib.asynccontextmanager
async def limited_service(environ: dict[str, str], log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """`newswatch run` with at most DESCRIPTORS open files, its log in a file (a pipe nobody reads could fill and stop it)."""
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "service", "run", env=environ, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=err,
            preexec_fn=_limit_descriptors,
        )  # fmt: skip
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def until_answered(client: httpx.AsyncClient, url: str, attempts: int = 300) -> httpx.Response:
    """The first answer of `url` (a fresh connection each time), trying for up to about a minute on a loaded machine."""
    for _ in range(attempts):
        try:
            return await client.get(url, timeout=2.0)
        except httpx.TransportError:
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never answered")


async def half_sent(port: int) -> list[asyncio.StreamWriter]:
    """HALF_SENT connections, each with a request head that never ends."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * HALF_SENT)), hard))  # the test's own sockets
    held: list[asyncio.StreamWriter] = []
    for _ in range(HALF_SENT // 50):
        opened = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in range(50)), return_exceptions=True)
        for found in opened:
            if isinstance(found, BaseException):
                continue
            _, writer = found
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            held.append(writer)
    return held


async def test_a_thousand_half_sent_requests_neither_exhaust_descriptors_nor_silence_the_service(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer
) -> None:
    url = feeds.serve("seeds.rss", rss(seed_entries()))
    config = write_config(tmp_path / "config", [{"id": "seeds", "url": url, "first_poll_alerts": "all", "max_age": "off"}])
    port = free_port()
    environ = env(config, f"sqlite:///{tmp_path}/nw.db", slack, NEWSWATCH_HTTP_PORT=str(port))
    log = tmp_path / "service.log"
    async with limited_service(environ, log) as proc, httpx.AsyncClient() as client:
        await until_answered(client, f"http://127.0.0.1:{port}/healthz")
        held = await half_sent(port)
        try:
            assert len(held) > DESCRIPTORS  # enough to take every descriptor of a server that kept them all
            health = await until_answered(client, f"http://127.0.0.1:{port}/healthz")
            ready = await until_answered(client, f"http://127.0.0.1:{port}/readyz")
        finally:
            for writer in held:
                writer.close()
        assert proc.returncode is None
        assert health.status_code == 200 and ready.status_code == 200, ready.text
    logged = log.read_text(encoding="utf-8", errors="replace")
    assert "Too many open files" not in logged and "out of system resource" not in logged, logged[-2000:]


async def test_readyz_says_not_ready_when_the_database_refuses_writes(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory, database_url: str
) -> None:
    from service.ops import web
    from service.ops.worker import Worker

    url = feeds.serve("f.rss", rss([Entry("1", "border news", "https://example.org/1")]))
    write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], RULES)
    app = await make_app()
    await app.poll_once()

    def no_room(dbapi_connection: Any, _record: Any) -> None:
        """What a full disk (SQLite) or a read-only standby after a fail-over (PostgreSQL) does to every write."""
        cursor = dbapi_connection.cursor()
        if app.engine.dialect == "sqlite":
            cursor.execute("PRAGMA page_count")
            cursor.execute(f"PRAGMA max_page_count = {cursor.fetchone()[0]}")
        else:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        cursor.close()

    sa.event.listen(app.engine.writer.sync_engine, "connect", no_room)
    await app.engine.writer.dispose()  # the next connections are made with it
    feeds.serve("f.rss", rss([Entry(str(n), "border news " + "x" * 4000, f"https://example.org/{n}") for n in range(2, 40)]))
    with contextlib.suppress(sa.exc.DBAPIError):  # storing the new items fails: that is the fault
        await app.pipeline.poll_due(force=True)
    port = free_port()
    worker = Worker(app, poll_every=3600, deliver_every=3600, reload_every=3600)
    worker.start()
    runner = await web.serve(worker, "127.0.0.1", port)
    try:
        async with httpx.AsyncClient() as client:
            ready = await client.get(f"http://127.0.0.1:{port}/readyz")
    finally:
        await worker.stop()
        await runner.cleanup()
    assert ready.status_code == 503
    body = ready.json()
    assert body["checks"]["scheduler"] is True and body["checks"]["database"] is True  # it still answers SELECT 1...
    assert body["checks"]["database_writable"] is False  # ...and stores nothing
    assert body["database_error"].startswith(
        "writes refused (disk full)" if app.engine.dialect == "sqlite" else "writes refused (read-only)"
    )
