"""The web server of a running service: /healthz, /readyz and /metrics always; the pages and /api/v1 when access allows.

`check(settings)` says whether the pages are served and refuses settings that would show them to
anyone who can reach the port (`access.check`); `serve` starts the server. Pages and API read
through `desk` (itself over `service.storage.views`) and act through `service.ops.actions`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from service.ops.actions import Admins
from service.ops.web import health, server
from service.ops.web.access import Access, Refused, User, check
from service.ops.web.advice import Advice
from service.ops.web.health import WORKER
from service.ops.web.playground import Playground
from service.ops.web.slack_signin import SlackSignIn
from service.ops.web.slacklinks import SlackLinks
from service.ops.worker import Worker

if TYPE_CHECKING:
    from service.app import App

__all__ = ["WEB", "Refused", "Web", "build", "check", "serve"]
STATIC = Path(__file__).with_name("static")
log = logging.getLogger("newswatch.web")


@dataclass
class Web:
    """What the pages' handlers share: the worker (and its App), access, the playground, suggestions, Slack sign-in."""

    worker: Worker
    access: Access
    admins: Admins
    playground: Playground
    links: SlackLinks
    advice: Advice
    signin: SlackSignIn | None = None

    @property
    def app(self) -> App:
        """The service's App."""
        return self.worker.app


WEB = web.AppKey("web", Web)


def build(worker: Worker, pages: bool = True) -> web.Application:
    """The application: health and metrics, and with `pages` the pages and /api/v1."""
    app = web.Application(client_max_size=1 << 20)
    app[WORKER] = worker
    health.add_routes(app)
    if pages:
        _pages(app, worker)
    return app


def _pages(app: web.Application, worker: Worker) -> None:
    """Wire the pages, the API, the playground and sign-in."""
    from service.ops.web import api, pages, signin, tools

    client = _slack_client(worker)
    admins = Admins(worker.app.config, client)

    async def may_change(user: User) -> bool:
        """Anyone let in without Slack may change things; Slack users if `slack.admins` allows."""
        return user.via != "slack" or await admins.allows(user.id)

    access = Access(worker.app.settings, may_change)
    shared = Web(worker, access, admins, Playground(worker.app), SlackLinks(client), Advice(worker.app), signin.slack(worker.app))
    app[WEB] = shared

    async def stop_advice(_: web.Application) -> None:
        shared.advice.close()

    app.on_cleanup.append(stop_advice)
    app.middlewares.append(shared.access.middleware)
    for module in (pages, tools, api, signin):
        module.add_routes(app)
    app.router.add_static("/static/", STATIC, append_version=True)


def _slack_client(worker: Worker) -> Any:
    """slack-sdk's client with the bot token (to read the user groups `slack.admins` names), if there is a token."""
    settings = worker.app.settings
    token = settings.slack_bot_token or settings.environ.get("SLACK_BOT_TOKEN")
    if not token:
        return None
    from slack_sdk.web.async_client import AsyncWebClient

    from service.destinations import SLACK_API

    base = (settings.slack_api_url or SLACK_API).rstrip("/") + "/"
    return AsyncWebClient(token=token, base_url=base, session=worker.app.slack_session, timeout=15, retry_handlers=[])


async def serve(worker: Worker, host: str, port: int) -> web.AppRunner:
    """Start serving (the pages too when `check` allows); the caller cleans up the returned runner."""
    pages = check(worker.app.settings.model_copy(update={"http_host": host, "http_port": port or 1}))
    if not pages and worker.app.settings.web != "off":
        log.warning("web pages are off on %s: no access control is set (NEWSWATCH_WEB=auto; see docs/web.md)", host)
    return await server.start(build(worker, pages), host, port)
