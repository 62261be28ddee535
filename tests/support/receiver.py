"""A strict local receiver for the webhook-like destinations, on 127.0.0.1: a signed webhook, a Teams Workflows trigger,
a Discord channel webhook, and the JSON endpoint Apprise's `json://` posts to.

Each endpoint refuses what the real one refuses: the webhook checks the HMAC signature, the
timestamp's freshness, the idempotency key and the documented JSON schema; the Teams trigger
checks its `sig` and the Adaptive Card's shape and size; the Discord webhook checks its token,
`wait=true`, Discord's length limits, that no mention can ping, and that a `thread_id` names a
thread that exists (forum channels need a `thread_name` or `thread_id`). Faults are shared by all
endpoints: the next N answers failing with a status (429 with Retry-After; Discord's 429 also
with `retry_after` in its body), a random share of faults from a seeded generator, and
connections dropped after the message was stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jsonschema
from aiohttp import web

from alerts.format import retry_after_seconds
from alerts.webhook import SCHEMA

WEBHOOK_SECRET = "whsec-test-0123456789abcdef-secret"
TEAMS_SIG = "teamssig0123456789secret"
DISCORD_ID, DISCORD_TOKEN = "1300000000000000001", "discord-test-token-abcdef123456-secret"
TEAMS_MAX = 28_000
CARD_ELEMENTS = {"TextBlock", "RichTextBlock", "FactSet", "ColumnSet", "Container", "Image"}


@dataclass
class Faults:
    """Faults to inject, consumed as requests arrive."""

    fail_next: int = 0
    fail_status: int = 500
    fail_headers: dict[str, str] = field(default_factory=dict)
    drop_after_store: int = 0
    random_rate: float = 0.0  # share of requests that meet a fault, drawn from `rng`
    rng: random.Random = field(default_factory=lambda: random.Random(20))


class Receiver:
    """Records what each endpoint accepted; answers like the real services."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.webhook: list[dict[str, Any]] = []  # accepted bodies
        self.keys: Counter[str] = Counter()  # idempotency keys seen on accepted calls
        self.teams: list[dict[str, Any]] = []
        self.discord: list[dict[str, Any]] = []  # stored messages: the body, with id, channel_id and thread_id
        self.discord_threads: set[str] = set()  # threads that exist (started on a message, or forum posts)
        self.discord_forum = False
        self.apprise: list[dict[str, Any]] = []
        self.apprise_arrived = asyncio.Event()  # set when an Apprise call arrives
        self.apprise_hold: asyncio.Event | None = None  # while set to an unset event, Apprise calls wait for it
        self.requests = 0
        self.dropped_after_store = 0
        self.injected: Counter[str] = Counter()
        self.rejected: list[str] = []
        self._ids = itertools.count(1400000000000000000)
        self._runner: web.AppRunner | None = None
        self.base = ""

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/hook/{name}", self._webhook)
        app.router.add_post("/workflows/{flow}/triggers/manual/paths/invoke", self._teams)
        app.router.add_post("/api/webhooks/{id}/{token}", self._discord)
        app.router.add_post("/apprise/{name}", self._apprise)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner:
            await self._runner.cleanup()

    @property
    def webhook_url(self) -> str:
        return f"{self.base}/hook/desk"

    @property
    def teams_url(self) -> str:
        return f"{self.base}/workflows/0a1b2c/triggers/manual/paths/invoke?api-version=2016-06-01&sig={TEAMS_SIG}"

    @property
    def discord_url(self) -> str:
        return f"{self.base}/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}"

    @property
    def apprise_url(self) -> str:
        return f"json://{self.base.removeprefix('http://')}/apprise/desk"

    def _fault(self, discord: bool = False) -> web.Response | None:
        """An injected failure, if one is due."""
        f = self.faults
        status, headers = f.fail_status, dict(f.fail_headers)
        if f.fail_next > 0:
            f.fail_next -= 1
        elif f.random_rate and f.rng.random() < f.random_rate:
            status = f.rng.choice([429, 500, 502, 503, 0])  # 0: drop after store
            if status == 0:
                f.drop_after_store += 1
                return None
            headers = {"Retry-After": "1"} if status == 429 else {}
        else:
            return None
        self.injected[str(status)] += 1
        if discord and status == 429:
            given = headers.get("Retry-After", "1")  # Discord's body says it in fractional seconds, its header rounds up
            wait = float(given) if given.replace(".", "", 1).isdigit() else retry_after_seconds(given, datetime.now(UTC))
            headers["Retry-After"] = str(math.ceil(wait or 0))
            body = {"message": "You are being rate limited.", "retry_after": wait, "global": False}
            return web.json_response(body, status=429, headers=headers)
        return web.Response(status=status, text="upstream trouble", headers=headers)

    def _stored(self, request: web.Request) -> None:
        """After a store: drop the connection instead of answering, if a drop is due."""
        if self.faults.drop_after_store > 0:
            self.faults.drop_after_store -= 1
            self.dropped_after_store += 1
            assert request.transport is not None
            request.transport.abort()
            raise ConnectionResetError("dropped after store")

    def _refuse(self, status: int, reason: str) -> web.Response:
        self.rejected.append(reason)
        return web.Response(status=status, text=reason)

    async def _webhook(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        stamp, signature = request.headers.get("X-Newswatch-Timestamp", ""), request.headers.get("X-Newswatch-Signature", "")
        expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return self._refuse(401, "stale or missing timestamp")
        if not hmac.compare_digest(signature, expected):
            return self._refuse(401, "bad signature")
        if (fault := self._fault()) is not None:
            return fault
        data = json.loads(body)
        try:
            jsonschema.validate(data, SCHEMA)
        except jsonschema.ValidationError as exc:
            return self._refuse(400, f"schema: {exc.message}")
        if request.headers.get("Idempotency-Key") != data["delivery_id"]:
            return self._refuse(400, "idempotency key is not the delivery id")
        self.webhook.append({**data, "_headers": dict(request.headers)})
        self.keys[data["delivery_id"]] += 1
        self._stored(request)
        return web.json_response({"ok": True})

    async def _teams(self, request: web.Request) -> web.Response:
        self.requests += 1
        if request.query.get("sig") != TEAMS_SIG:
            return web.json_response({"error": {"code": "DirectApiAuthorizationRequired", "message": "bad signature"}}, status=401)
        if (fault := self._fault()) is not None:
            return fault
        raw = await request.read()
        if len(raw) > TEAMS_MAX:
            return self._refuse(413, "RequestEntityTooLarge")
        try:
            check_card(json.loads(raw))
        except ValueError as exc:
            return self._refuse(400, str(exc))
        self.teams.append(json.loads(raw))
        self._stored(request)
        return web.Response(status=202)

    async def _discord(self, request: web.Request) -> web.Response:
        self.requests += 1
        if request.match_info["token"] != DISCORD_TOKEN or request.match_info["id"] != DISCORD_ID:
            return web.json_response({"code": 50027, "message": "Invalid Webhook Token"}, status=401)
        if (fault := self._fault(discord=True)) is not None:
            return fault
        body = await request.json()
        thread = request.query.get("thread_id")
        try:
            check_discord(body, request.query.get("wait") == "true", self.discord_forum, thread)
        except ValueError as exc:
            self.rejected.append(str(exc))
            return web.json_response({"code": 50035, "message": f"Invalid Form Body: {exc}"}, status=400)
        if thread is not None and thread not in self.discord_threads:
            return web.json_response({"code": 10003, "message": "Unknown Channel"}, status=404)
        message_id = str(next(self._ids))
        channel = thread or (message_id if self.discord_forum else "1300000000000000002")
        if self.discord_forum and thread is None:
            self.discord_threads.add(channel)  # a forum post is a thread, named by thread_name
        self.discord.append({**body, "id": message_id, "channel_id": channel, "thread_id": thread})
        self._stored(request)
        return web.json_response({"id": message_id, "channel_id": channel, "content": body.get("content", "")})

    async def _apprise(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.apprise_arrived.set()
        if self.apprise_hold is not None:
            await self.apprise_hold.wait()
        if (fault := self._fault()) is not None:
            return fault
        body = await request.json()
        if not body.get("message"):
            return self._refuse(400, "no message")
        self.apprise.append(body)
        self._stored(request)
        return web.json_response({"ok": True})


def check_card(body: dict[str, Any]) -> None:
    """What a Workflows trigger that posts a card needs: a message with one Adaptive Card of known elements."""
    if body.get("type") != "message" or not isinstance(body.get("attachments"), list) or len(body["attachments"]) != 1:
        raise ValueError("expected a message with one attachment")
    attachment = body["attachments"][0]
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        raise ValueError("the attachment is not an Adaptive Card")
    card = attachment.get("content") or {}
    if card.get("type") != "AdaptiveCard" or card.get("version") not in ("1.0", "1.2", "1.3", "1.4", "1.5"):
        raise ValueError("not an Adaptive Card of a version Teams renders")
    if not card.get("body"):
        raise ValueError("the card has no body")
    for element in card["body"]:
        if element.get("type") not in CARD_ELEMENTS:
            raise ValueError(f"unknown element {element.get('type')}")
        if element["type"] == "RichTextBlock" and not all(i.get("type") == "TextRun" and i.get("text") for i in element["inlines"]):
            raise ValueError("a RichTextBlock holds TextRuns with text")
    for action in card.get("actions", []):
        if action.get("type") != "Action.OpenUrl" or not str(action.get("url", "")).startswith(("http://", "https://")):
            raise ValueError("only Action.OpenUrl with an http(s) URL")


def check_discord(body: dict[str, Any], wait: bool, forum: bool, thread: str | None) -> None:
    """Discord's limits on a webhook message."""
    if not wait:
        raise ValueError("wait=true is needed for a message id")
    if forum and thread is None and not body.get("thread_name"):
        raise ValueError("Webhooks posted to forum channels must have a thread_name or thread_id")
    if not forum and body.get("thread_name"):
        raise ValueError("Webhooks can only create threads in forum channels")
    if body.get("allowed_mentions") != {"parse": []}:
        raise ValueError("mentions could ping")
    content, embeds = body.get("content") or "", body.get("embeds") or []
    if not content and not embeds:
        raise ValueError("Cannot send an empty message")
    if len(content) > 2000 or len(embeds) > 10:
        raise ValueError("content or embeds too long")
    if sum(_embed_size(e) for e in embeds) > 6000:
        raise ValueError("embeds exceed 6000 characters")


def _embed_size(embed: dict[str, Any]) -> int:
    """One embed's characters, after checking its fields' limits."""
    for key, limit in {"title": 256, "description": 4096}.items():
        if len(embed.get(key, "")) > limit:
            raise ValueError(f"embed {key} too long")
    if "url" in embed and not embed["url"].startswith(("http://", "https://")):
        raise ValueError("embed url must be http(s)")
    return len(embed.get("title", "")) + len(embed.get("description", "")) + len(embed.get("footer", {}).get("text", ""))
