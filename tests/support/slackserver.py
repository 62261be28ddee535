"""A strict Slack-compatible server on 127.0.0.1 for the real slack-sdk client to talk to.

It enforces what Slack enforces (../shared/notes/slack.md): the bearer token, known channels,
text or blocks, Block Kit limits, one message per second per channel (429 + Retry-After),
`thread_ts` that exists; and it can inject faults: 5xx answers, outages, and connections
dropped after the message was stored.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "xoxb-test-0000-secret-token"
WEBHOOK_PATH = "/services/T000/B000/webhooksecret123"
TEXT_LIMIT = 40_000
BLOCKS_TEXT_LIMIT = 12_000


class Invalid(Exception):
    """A request Slack would refuse, with Slack's error code and details."""

    def __init__(self, error: str, *messages: str) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)


@dataclass
class Faults:
    """Faults to inject: counts are consumed as requests arrive."""

    fail_next: int = 0
    fail_status: int = 500
    fail_headers: dict[str, str] = field(default_factory=dict)  # Retry-After, say
    outage: bool = False
    drop_after_store: int = 0
    random_5xx: float = 0.0
    answer_delay: float = 0.0  # seconds between storing a message and answering
    slow_arrivals: list[float] = field(default_factory=list)  # delays before the next requests arrive (a slow network)
    rng: random.Random = field(default_factory=lambda: random.Random(7))


class SlackServer:
    """Records accepted messages per channel; answers like Slack."""

    def __init__(self, channels: list[str], rate_interval: float = 1.0) -> None:
        self.channels = {c.lstrip("#") for c in channels}
        self.messages: dict[str, list[dict[str, Any]]] = {c: [] for c in self.channels}
        self.webhook_messages: list[dict[str, Any]] = []
        self.requests = 0
        self.dropped_after_store = 0
        self.rejected: list[str] = []
        self.rate_interval = rate_interval
        self.faults = Faults()
        self._last: dict[str, float] = {}
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        """Listen on a free loopback port; return the API base URL."""
        app = web.Application()
        app.router.add_post("/api/chat.postMessage", self._post_message)
        app.router.add_post("/api/auth.test", self._auth_test)
        app.router.add_post(WEBHOOK_PATH, self._webhook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/api/"
        self.webhook_url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
        return self.url

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner:
            await self._runner.cleanup()

    def all_messages(self) -> list[dict[str, Any]]:
        """Every accepted message, all channels."""
        return [m for msgs in self.messages.values() for m in msgs]

    def _fault(self, api: bool = True) -> web.Response | None:
        """An injected 5xx (or 429, as Slack sends it), if one is due."""
        f = self.faults
        if f.outage or f.fail_next > 0 or (f.random_5xx and f.rng.random() < f.random_5xx):
            f.fail_next = max(0, f.fail_next - 1)
            status = f.fail_status if not f.outage else 503
            if status == 429:
                if api:
                    return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers=f.fail_headers)
                return web.Response(status=429, text="rate_limited", headers=f.fail_headers)
            return web.Response(status=status, text="upstream trouble", headers=f.fail_headers)
        return None

    async def _auth_test(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response({"ok": True, "team": "T000", "user": "newswatch"})

    async def _post_message(self, request: web.Request) -> web.StreamResponse:
        if self.faults.slow_arrivals:
            await asyncio.sleep(self.faults.slow_arrivals.pop(0))
        self.requests += 1
        fault = self._fault()
        if fault is not None:
            return fault
        try:
            args = await self._args(request)
            channel = self._channel(args)
            self._validate(args, channel)
        except Invalid as exc:
            self.rejected.append(exc.error)
            meta = {"response_metadata": {"messages": exc.messages}} if exc.messages else {}
            return web.json_response({"ok": False, "error": exc.error, **meta})
        now = time.monotonic()
        last = self._last.get(channel)
        if last is not None and now - last < self.rate_interval * 0.95:
            self.rejected.append("ratelimited")
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"})
        self._last[channel] = now
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        message = {"ts": ts, "channel": channel, "received_at": time.time(), **{k: v for k, v in args.items() if k != "channel"}}
        self.messages[channel].append(message)
        if self.faults.answer_delay:
            await asyncio.sleep(self.faults.answer_delay)
        if self.faults.drop_after_store > 0:
            self.faults.drop_after_store -= 1
            self.dropped_after_store += 1
            assert request.transport is not None
            request.transport.abort()
            raise ConnectionResetError("dropped after store")
        return web.json_response({"ok": True, "channel": channel, "ts": ts, "message": {"text": args.get("text", "")}})

    async def _args(self, request: web.Request) -> dict[str, Any]:
        """Arguments from a JSON or form body, after the token check."""
        if request.headers.get("Authorization", "") != f"Bearer {TOKEN}":
            raise Invalid("not_authed" if "Authorization" not in request.headers else "invalid_auth")
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        args: dict[str, Any] = dict(form)
        if isinstance(args.get("blocks"), str):
            args["blocks"] = json.loads(args["blocks"])
        return args

    def _channel(self, args: dict[str, Any]) -> str:
        """The known channel the message is for."""
        channel = str(args.get("channel", "")).lstrip("#")
        if channel not in self.channels:
            raise Invalid("channel_not_found")
        return channel

    def _validate(self, args: dict[str, Any], channel: str) -> None:
        """Refuse what Slack refuses."""
        text, blocks = args.get("text"), args.get("blocks")
        if not text and not blocks:
            raise Invalid("no_text")
        if text and len(str(text)) > TEXT_LIMIT:
            raise Invalid("msg_too_long")
        if blocks is not None:
            validate_blocks(blocks)
        thread = args.get("thread_ts")
        if thread and not any(m["ts"] == thread for m in self.messages[channel]):
            raise Invalid("invalid_thread_ts")

    async def _webhook(self, request: web.Request) -> web.Response:
        self.requests += 1
        fault = self._fault(api=False)
        if fault is not None:
            return fault
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.Response(status=400, text="invalid_payload")
        if not body.get("text") and not body.get("blocks"):
            return web.Response(status=400, text="no_text")
        try:
            if body.get("blocks") is not None:
                validate_blocks(body["blocks"])
        except Invalid as exc:
            return web.Response(status=400, text=exc.error)
        self.webhook_messages.append(body)
        return web.Response(text="ok")


def validate_blocks(blocks: Any) -> None:
    """Block Kit limits that chat.postMessage enforces."""
    if not isinstance(blocks, list):
        raise Invalid("invalid_blocks_format")
    if len(blocks) > 50:
        raise Invalid("invalid_blocks", "must have at most 50 blocks [json-pointer:/blocks]")
    ids, total = set(), 0
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or "type" not in block:
            raise Invalid("invalid_blocks_format")
        block_id = block.get("block_id")
        if block_id is not None:
            if len(block_id) > 255 or block_id in ids:
                raise Invalid("invalid_blocks", f"invalid block_id [json-pointer:/blocks/{i}/block_id]")
            ids.add(block_id)
        total += _check_block(block, i)
    if total > BLOCKS_TEXT_LIMIT:
        raise Invalid("msg_blocks_too_long")


def _check_block(block: dict[str, Any], i: int) -> int:
    """Check one block; return the length of its text."""
    kind = block["type"]
    if kind == "header":
        text = _text_object(block.get("text"), f"/blocks/{i}/text", 150, plain_only=True)
        return len(text)
    if kind == "section":
        size = 0
        if "text" in block:
            size += len(_text_object(block["text"], f"/blocks/{i}/text", 3000))
        fields = block.get("fields", [])
        if len(fields) > 10:
            raise Invalid("invalid_blocks", f"must have at most 10 fields [json-pointer:/blocks/{i}/fields]")
        for j, f in enumerate(fields):
            size += len(_text_object(f, f"/blocks/{i}/fields/{j}", 2000))
        if "text" not in block and not fields:
            raise Invalid("invalid_blocks", f"must provide text or fields [json-pointer:/blocks/{i}]")
        return size
    if kind == "context":
        elements = block.get("elements", [])
        if not 1 <= len(elements) <= 10:
            raise Invalid("invalid_blocks", f"must have 1 to 10 elements [json-pointer:/blocks/{i}/elements]")
        return sum(len(_text_object(e, f"/blocks/{i}/elements/{j}", 2000)) for j, e in enumerate(elements) if e.get("type") != "image")
    if kind in ("divider", "actions", "image"):
        return 0
    raise Invalid("invalid_blocks", f"unknown block type [json-pointer:/blocks/{i}/type]")


def _text_object(obj: Any, pointer: str, limit: int, plain_only: bool = False) -> str:
    """Check a text object's type and length."""
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        raise Invalid("invalid_blocks", f"must be a text object [json-pointer:{pointer}]")
    if plain_only and obj["type"] != "plain_text":
        raise Invalid("invalid_blocks", f"must be plain_text [json-pointer:{pointer}/type]")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        raise Invalid("invalid_blocks", f"must be more than 0 characters [json-pointer:{pointer}/text]")
    if len(text) > limit:
        raise Invalid("invalid_blocks", f"must be less than {limit + 1} characters [json-pointer:{pointer}/text]")
    return text
