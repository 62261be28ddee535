"""Health and metrics over HTTP: /healthz, /readyz, /metrics (open to whoever reaches the port, whatever the pages' access).

Feeds of matches (`service.ops.feeds_out`, under their own token) are served beside them.
"""

from __future__ import annotations

import sqlalchemy as sa
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.ops import feeds_out
from service.ops.worker import Worker
from service.storage.db import WRITE_FAILURE_SECONDS

WORKER = web.AppKey("worker", Worker)


def add_routes(app: web.Application) -> None:
    """The health and metrics routes."""
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    feeds_out.register(app, app[WORKER].app)  # feeds of matches: /feeds/...


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
