"""The destination kinds beyond Slack as integration tests configure them, against the local peers, and what each received."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from service.app import App
from tests.support.receiver import WEBHOOK_SECRET, Receiver
from tests.support.smtpserver import PASSWORD, SmtpServer

FEED_TOKEN = "feed-token-for-the-desk-0123456789"
WEB_URL = "https://newswatch.example.org"
_UNESCAPE = re.compile(r"\\(.)")
PUSH_KINDS = ["email", "webhook", "teams", "discord", "apprise"]


def destination(kind: str, smtp: SmtpServer, **options: Any) -> dict[str, Any]:
    """A destination of `kind` for rules.yaml, unpaced (the tests' peers take any pace), named secrets by default."""
    specs: dict[str, dict[str, Any]] = {
        "email": {
            "type": "email",
            "password_env": "SMTP_PASSWORD",
            "from": "newswatch <alerts@example.org>",
            "to": ["desk@example.org"],
            "ca_file": str(smtp.ca_file),
            "pace": 0,
            "web_url": WEB_URL,
        },
        "webhook": {"type": "webhook", "pace": 0, "web_url": WEB_URL},
        "teams": {"type": "teams", "pace": 0, "web_url": WEB_URL},
        "discord": {"type": "discord", "pace": 0, "web_url": WEB_URL},
        "apprise": {"type": "apprise", "pace": 0},
        "feed": {"type": "feed", "web_url": WEB_URL},
    }
    return {**specs[kind], **options}


def environ(receiver: Receiver, smtp: SmtpServer) -> dict[str, str]:
    """The secrets every kind reads, under their default variable names."""
    return {
        "SMTP_URL": smtp.url(),
        "SMTP_PASSWORD": PASSWORD,
        "WEBHOOK_URL": receiver.webhook_url,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TEAMS_WEBHOOK_URL": receiver.teams_url,
        "DISCORD_WEBHOOK_URL": receiver.discord_url,
        "APPRISE_URL": receiver.apprise_url,
        "NEWSWATCH_FEED_TOKEN": FEED_TOKEN,
    }


def received(kind: str, receiver: Receiver, smtp: SmtpServer) -> list[str]:
    """Each message the kind's peer accepted, as one text (subject and body, or the JSON posted)."""
    if kind == "email":
        return [f"{m.message['Subject']}\n{m.message.get_body(('plain',)).get_content()}" for m in smtp.mails]
    if kind == "discord":  # as a reader sees it: Markdown escapes resolved
        texts = [[m["content"], *(f"{e.get('title', '')} {e.get('description', '')}" for e in m["embeds"])] for m in receiver.discord]
        return [_UNESCAPE.sub(r"\1", "\n".join(parts)) for parts in texts]
    found: list[Any] = {"webhook": receiver.webhook, "teams": receiver.teams, "apprise": receiver.apprise}[kind]
    return [json.dumps({k: v for k, v in m.items() if k != "_headers"}, ensure_ascii=False) for m in found]


@asynccontextmanager
async def served(app: App) -> AsyncIterator[str]:
    """The app's health server (with the feeds of matches) on a free loopback port; its base URL."""
    from service.ops import web as ops_web
    from service.ops.worker import Worker

    runner = web.AppRunner(ops_web.build(Worker(app)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
