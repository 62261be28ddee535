"""Health and metrics over HTTP: /healthz, /readyz, /metrics."""

from __future__ import annotations

import sqlalchemy as sa
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.ops import feeds_out
from service.ops.worker import Worker

WORKER = web.AppKey("worker", Worker)


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
    }


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers and its scheduler runs."""
    worker: Worker = request.app[WORKER]
    body = {"status": "ok" if worker.running else "stopping", **_state(worker)}
    return web.json_response(body, status=200 if worker.running else 503)


async def readyz(request: web.Request) -> web.Response:
    """Ready: database reachable, rules loaded, scheduler running."""
    worker: Worker = request.app[WORKER]
    checks = {"scheduler": worker.running, "rules": bool(worker.app.config().ruleset.rules)}
    try:
        async with worker.app.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        checks["database"] = True
    except Exception:
        checks["database"] = False
    ready = all(checks.values())
    return web.json_response(
        {"status": "ready" if ready else "not ready", "checks": checks, **_state(worker)}, status=200 if ready else 503
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format."""
    worker: Worker = request.app[WORKER]
    body = generate_latest(worker.app.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def serve(worker: Worker, host: str, port: int) -> web.AppRunner:
    """Start serving; the caller cleans up the returned runner."""
    runner = web.AppRunner(build(worker), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
