"""Health and metrics over HTTP: /healthz, /readyz, /metrics.

The server is bounded so that no client can take the process's file descriptors, and with
them its polling: at most MAX_CONNECTIONS connections are served at once (more are closed as
soon as they are accepted), a connection that has not sent a whole request within IDLE_SECONDS
(or stays idle that long between requests) is closed, and request heads are limited in size.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.ops import feeds_out
from service.ops.worker import Worker
from service.storage.db import WRITE_FAILURE_SECONDS

WORKER = web.AppKey("worker", Worker)
MAX_CONNECTIONS = 64  # served at once: health checks and scrapes need a few
IDLE_SECONDS = 10.0  # to send a whole request, or between two requests on one connection
MAX_HEADERS = 32  # header lines in a request
MAX_HEADER_LINE = 4096  # bytes in the request line or one header line
BACKLOG = 64  # connections the kernel holds before they are accepted


def build(worker: Worker) -> web.Application:
    """The health and metrics application of one worker."""
    app = web.Application()
    app[WORKER] = worker
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    feeds_out.register(app, worker.app)  # feeds of matches: /feeds/...
    return app


def _state(worker: Worker) -> dict[str, object]:
    """What every health answer reports."""
    config = worker.app.config
    return {
        "scheduler": "running" if worker.running else "stopped",
        "config_version": config().version,
        "config_error": config.last_error,
        "rules": len(config().ruleset.rules),
        "feeds": len(config().feeds),
    } | _slack(worker)


def _slack(worker: Worker) -> dict[str, object]:
    """The Slack connections, when configured: the bot token's check and the Socket Mode connection."""
    app, shown = worker.app, {}
    if app.slack_bot is not None:
        shown["bot"] = app.slack_bot.health.as_dict()
    if app.interactions is not None:
        shown["socket"] = app.interactions.connection.health.as_dict()
    return {"slack": shown} if shown else {}


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers and its scheduler runs."""
    worker: Worker = request.app[WORKER]
    body = {"status": "ok" if worker.running else "stopping", **_state(worker)}
    return web.json_response(body, status=200 if worker.running else 503)


async def readyz(request: web.Request) -> web.Response:
    """Ready: database reachable and writable, rules loaded, scheduler running."""
    worker: Worker = request.app[WORKER]
    checks = {"scheduler": worker.running, "rules": bool(worker.app.config().ruleset.rules)}
    if worker.app.slack_bot is not None:  # Slack accepts the bot token (a refused one is shown under "slack")
        checks["slack"] = worker.app.slack_bot.health.ok
    try:
        async with worker.app.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        checks["database"] = True
    except Exception:
        checks["database"] = False
    unwritable = worker.app.engine.unwritable()  # a full disk still answers SELECT 1
    checks["database_writable"] = unwritable is None
    ready = all(checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks, **_state(worker)}
    if unwritable:
        body["database_error"] = f"writes refused ({unwritable}) in the last {WRITE_FAILURE_SECONDS // 60} minutes"
    return web.json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format."""
    worker: Worker = request.app[WORKER]
    body = generate_latest(worker.app.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


class _Refused(asyncio.Protocol):
    """A connection over the limit: closed at once, so that it holds no file descriptor."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()  # type: ignore[attr-defined]


class LimitedSite(web.TCPSite):
    """A TCP site that serves at most MAX_CONNECTIONS connections at once and closes the others as they come."""

    async def start(self) -> None:
        """Listen, with the limit."""
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None

        def protocol() -> asyncio.BaseProtocol:
            return _Refused() if len(server.connections) >= MAX_CONNECTIONS else server()

        self._server = await asyncio.get_running_loop().create_server(protocol, self._host, self._port, backlog=self._backlog)


async def serve(worker: Worker, host: str, port: int) -> web.AppRunner:
    """Start serving; the caller cleans up the returned runner."""
    runner = web.AppRunner(
        build(worker),
        access_log=None,
        keepalive_timeout=IDLE_SECONDS,  # aiohttp also closes a connection that sends no whole request within it
        max_headers=MAX_HEADERS,
        max_line_size=MAX_HEADER_LINE,
        max_field_size=MAX_HEADER_LINE,
    )
    await runner.setup()
    try:
        await LimitedSite(runner, host, port, backlog=BACKLOG).start()
    except OSError:  # the port is taken: nothing left behind
        await runner.cleanup()
        raise
    return runner
