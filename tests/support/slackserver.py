"""A strict Slack-compatible server on 127.0.0.1 for the real slack-sdk client to talk to.

It enforces what Slack enforces (../shared/notes/slack.md): the bearer token, known channels,
text or blocks, Block Kit limits, one message per second per channel (429 + Retry-After),
`thread_ts` that exists; and it can inject faults: 5xx answers, outages, and connections
dropped after the message was stored.

Tokens as Slack checks them: none is `not_authed`, an unknown one `invalid_auth`, a revoked one
`token_revoked`, and the other kind of token `not_allowed_token_type` (a bot token for
`apps.connections.open`, an app-level token for `chat.postMessage`); `auth.test` takes either
and names a bot only for the bot token.

Socket Mode as Slack runs it: `apps.connections.open` takes only the app-level token and
hands out a WebSocket URL; the socket says hello, then carries the envelopes the test sends
(`click` builds a `block_actions` payload from a stored message, as Slack does when a button
or menu of that message is used) and records each ack, and an envelope not acknowledged within
3 seconds as `missed_acks`. `chat.update` needs a message that exists; `chat.postEphemeral` a
known channel and a user; `usergroups.users.list` a known group.

Channels have ids, as on Slack: a method takes a channel's name (`#name` too) or its id, and
answers with the id; `permalink` is the address Slack gives a message (`chat.getPermalink`),
in the workspace whose URL `auth.test` answers. Sign in with Slack: `tests.support.slackoidc`.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.support.slackoidc import SignInWithSlack

TOKEN = "xoxb-test-0000-secret-token"
TEAM = "T000"  # the workspace the tokens belong to
APP_TOKEN = "xapp-1-A000-test-secret-app-token"
WORKSPACE = "Newsroom"
ACK_DEADLINE = 3.0
WEBHOOK_PATH = "/services/T000/B000/webhooksecret123"
TEXT_LIMIT = 40_000
BLOCKS_TEXT_LIMIT = 12_000
WORKSPACE_URL = "https://newswatch-test.slack.com/"


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
        self.signin = SignInWithSlack()
        self.auth_tests = 0  # auth.test calls answered
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
        self.updates: list[dict[str, Any]] = []  # chat.update calls accepted, in order
        self.ephemeral: list[dict[str, Any]] = []  # chat.postEphemeral calls accepted
        self.groups: dict[str, list[str]] = {}  # user group id -> members
        self.sockets: list[web.WebSocketResponse] = []  # open Socket Mode connections
        self.connections_opened = 0
        self.connection_attempts = 0  # apps.connections.open calls, accepted or not
        self.revoked: set[str] = set()  # tokens revoked since they were issued: Slack answers token_revoked
        self.acks: dict[str, float] = {}  # envelope id -> seconds from sending to its ack
        self.missed_acks: list[str] = []  # envelopes not acknowledged within ACK_DEADLINE
        self._sent_at: dict[str, float] = {}
        self._envelopes = itertools.count(1)
        self._connected = asyncio.Event()
        self.command_answers: dict[str, list[dict[str, Any]]] = {}  # response_url id -> what was posted to it

    async def start(self) -> str:
        """Listen on a free loopback port; return the API base URL."""
        app = web.Application()
        app.router.add_post("/api/chat.postMessage", self._post_message)
        app.router.add_post("/api/auth.test", self._auth_test)
        app.router.add_post("/api/chat.update", self._update)
        app.router.add_post("/api/chat.postEphemeral", self._ephemeral)
        app.router.add_post("/api/apps.connections.open", self._connections_open)
        app.router.add_route("*", "/api/usergroups.users.list", self._group_members)  # slack-sdk reads it with GET
        app.router.add_get("/link", self._socket)
        app.router.add_post("/commands/{id}", self._command_answer)
        app.router.add_post(WEBHOOK_PATH, self._webhook)
        self.signin.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/api/"
        self.socket_url = f"ws://127.0.0.1:{port}/link"
        self.webhook_url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
        return self.url

    async def stop(self) -> None:
        """Stop listening."""
        for socket in list(self.sockets):
            await socket.close()
        if self._runner:
            await self._runner.cleanup()

    def all_messages(self) -> list[dict[str, Any]]:
        """Every accepted message, all channels."""
        return [m for msgs in self.messages.values() for m in msgs]

    @staticmethod
    def channel_id(name: str) -> str:
        """The id of the channel of that name (stable, C…)."""
        return "C" + hashlib.sha1(name.lstrip("#").encode()).hexdigest()[:10].upper()

    def permalink(self, channel: str, ts: str) -> str:
        """The address Slack gives message `ts` of a channel (name or id), as chat.getPermalink answers it."""
        name = self._channel({"channel": channel})
        link, thread = f"{WORKSPACE_URL}archives/{self.channel_id(name)}/p{ts.replace('.', '')}", self.message(name, ts).get("thread_ts")
        return f"{link}?thread_ts={thread}&cid={self.channel_id(name)}" if thread and thread != ts else link  # a reply: in its thread

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

    def _refusal(self, request: web.Request, wanted: str) -> str | None:
        """Slack's error for a call whose token is not the `wanted` one ("bot" or "app"), or None if it is."""
        header = request.headers.get("Authorization")
        token = header.removeprefix("Bearer ") if header else None
        if not token:
            return "not_authed"
        if token in self.revoked:
            return "token_revoked"
        if token not in (TOKEN, APP_TOKEN):
            return "invalid_auth"
        return None if token == (TOKEN if wanted == "bot" else APP_TOKEN) else "not_allowed_token_type"

    async def _auth_test(self, request: web.Request) -> web.Response:
        """Who the token is: any valid token (auth.test takes app-level tokens too); only a bot token names a bot."""
        self.auth_tests += 1
        error = self._refusal(request, "bot")
        if error == "not_allowed_token_type":  # an app-level token: the app and its workspace, no bot, no user
            return web.json_response({"ok": True, "team": WORKSPACE, "team_id": TEAM, "app_id": "A000", "app_name": "newswatch"})
        if error is not None:
            return web.json_response({"ok": False, "error": error})
        identity = {"url": WORKSPACE_URL, "team": WORKSPACE, "user": "newswatch", "team_id": TEAM, "user_id": "U0BOT", "bot_id": "B000"}
        return web.json_response({"ok": True, **identity, "is_enterprise_install": False})

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
        return web.json_response({"ok": True, "channel": self.channel_id(channel), "ts": ts, "message": {"text": args.get("text", "")}})

    async def _args(self, request: web.Request) -> dict[str, Any]:
        """Arguments from a JSON or form body, after the token check (a bot token's methods)."""
        error = self._refusal(request, "bot")
        if error is not None:
            raise Invalid(error)
        if request.method == "GET":
            return dict(request.query)
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        args: dict[str, Any] = dict(form)
        if isinstance(args.get("blocks"), str):
            args["blocks"] = json.loads(args["blocks"])
        return args

    def _channel(self, args: dict[str, Any]) -> str:
        """The name of the known channel the message is for (given by name or by id)."""
        channel = str(args.get("channel", "")).lstrip("#")
        named = next((name for name in self.channels if self.channel_id(name) == channel), channel)
        if named not in self.channels:
            raise Invalid("channel_not_found")
        return named

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

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """The stored message `ts` of `channel` (as last updated)."""
        return next(m for m in self.messages[channel] if m["ts"] == ts)

    async def wait_connected(self) -> None:
        """Until a Socket Mode client has connected."""
        await self._connected.wait()

    async def click(self, channel: str, ts: str, action_id: str, user: str, option: str | None = None, team: str = TEAM) -> str:
        """Send the `block_actions` envelope Slack sends when `user` uses `action_id` on a message; return its envelope id."""
        message = self.message(channel, ts)
        found = [
            (block, element)
            for block in message.get("blocks") or []
            if block.get("type") == "actions"
            for element in block.get("elements", [])
            if element.get("action_id") == action_id
        ]
        assert found, f"message {ts} has no element {action_id}: Slack cannot send this click"
        block, element = found[0]
        action: dict[str, Any] = {
            "type": element["type"],
            "action_id": action_id,
            "block_id": block["block_id"],
            "action_ts": f"{time.time():.6f}",
        }
        if element["type"] == "button":
            action["value"] = element.get("value")
        else:
            chosen = [o for o in element["options"] if o["value"] == option]
            assert chosen, f"{action_id} has no option {option}"
            action["selected_option"] = chosen[0]
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": team},
            "team": {"id": team},
            "channel": {"id": self.channel_id(channel), "name": channel},
            "container": {"type": "message", "message_ts": ts, "channel_id": self.channel_id(channel), "is_ephemeral": False},
            "message": {"type": "message", "ts": ts, "text": message.get("text", ""), "blocks": message.get("blocks")},
            "actions": [action],
            "trigger_id": "1.2.3",
        }
        return await self.send_envelope("interactive", payload)

    async def command(self, text: str, user: str, channel: str = "desk", team: str = TEAM) -> str:
        """Send the `slash_commands` envelope of `/newswatch TEXT` typed by `user`; return its response_url's id."""
        answer_id = f"cmd-{len(self.command_answers) + 1}"
        self.command_answers[answer_id] = []
        payload = {
            "command": "/newswatch",
            "text": text,
            "user_id": user,
            "channel_id": self.channel_id(channel),
            "team_id": team,
            "response_url": self.url.removesuffix("/api/") + f"/commands/{answer_id}",
            "trigger_id": "1.2.3",
        }
        await self.send_envelope("slash_commands", payload)
        return answer_id

    async def _command_answer(self, request: web.Request) -> web.Response:
        """A post to a command's response_url: JSON with text or blocks, at most five per URL (as Slack allows)."""
        posted = self.command_answers.get(request.match_info["id"])
        if posted is None:
            return web.Response(status=404, text="no_such_response_url")
        if len(posted) >= 5:
            return web.Response(status=400, text="used_too_many_times")
        body = await request.json()
        if not body.get("text") and not body.get("blocks"):
            return web.Response(status=400, text="no_text")
        if len(str(body.get("text", ""))) > TEXT_LIMIT:
            return web.Response(status=400, text="msg_too_long")
        posted.append(body)
        return web.Response(text="ok")

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Send one envelope on the open socket; a missing ack is recorded after ACK_DEADLINE."""
        assert self.sockets, "no Socket Mode client is connected"
        envelope_id = f"env-{next(self._envelopes)}"
        self._sent_at[envelope_id] = time.monotonic()
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        asyncio.get_running_loop().call_later(ACK_DEADLINE, self._check_ack, envelope_id)
        return envelope_id

    def _check_ack(self, envelope_id: str) -> None:
        if envelope_id not in self.acks:
            self.missed_acks.append(envelope_id)

    async def _connections_open(self, request: web.Request) -> web.Response:
        """A WebSocket URL for the app-level token only (a bot token is the wrong type)."""
        self.connection_attempts += 1
        error = self._refusal(request, "app")
        if error is not None:
            return web.json_response({"ok": False, "error": error})
        self.connections_opened += 1
        return web.json_response({"ok": True, "url": self.socket_url})

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self.sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": len(self.sockets), "connection_info": {"app_id": "A000"}})
        self._connected.set()
        try:
            async for frame in socket:
                if frame.type != WSMsgType.TEXT:
                    continue
                ack = json.loads(frame.data)
                envelope_id = ack.get("envelope_id")
                if envelope_id not in self._sent_at or envelope_id in self.acks:
                    self.rejected.append("unknown_envelope")
                    continue
                self.acks[envelope_id] = time.monotonic() - self._sent_at[envelope_id]
        finally:
            self.sockets.remove(socket)
            if not self.sockets:
                self._connected.clear()
        return socket

    async def _update(self, request: web.Request) -> web.Response:
        try:
            args = await self._args(request)
            channel = self._channel(args)
            matching = [m for m in self.messages[channel] if m["ts"] == args.get("ts")]
            if not matching:
                raise Invalid("message_not_found")
            if not args.get("text") and not args.get("blocks"):
                raise Invalid("no_text")
            if args.get("blocks") is not None:
                validate_blocks(args["blocks"])
        except Invalid as exc:
            self.rejected.append(exc.error)
            return web.json_response({"ok": False, "error": exc.error})
        matching[0].update({k: v for k, v in args.items() if k in ("text", "blocks")})
        self.updates.append({"channel": channel, **args})
        return web.json_response({"ok": True, "channel": self.channel_id(channel), "ts": args["ts"], "text": args.get("text", "")})

    async def _ephemeral(self, request: web.Request) -> web.Response:
        try:
            args = await self._args(request)
            channel = self._channel(args)
            if not args.get("user"):
                raise Invalid("user_not_in_channel")
            if not args.get("text") and not args.get("blocks"):
                raise Invalid("no_text")
        except Invalid as exc:
            self.rejected.append(exc.error)
            return web.json_response({"ok": False, "error": exc.error})
        self.ephemeral.append({"channel": channel, **args})
        return web.json_response({"ok": True, "message_ts": f"{time.time():.6f}"})

    async def _group_members(self, request: web.Request) -> web.Response:
        try:
            args = await self._args(request)
        except Invalid as exc:
            return web.json_response({"ok": False, "error": exc.error})
        group = str(args.get("usergroup", ""))
        if group not in self.groups:
            return web.json_response({"ok": False, "error": "no_such_subteam"})
        return web.json_response({"ok": True, "users": self.groups[group]})

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
        return _context_size(block, i)
    if kind in ("divider", "actions", "image"):
        if kind == "actions":
            _check_actions(block, i)
        return 0
    raise Invalid("invalid_blocks", f"unknown block type [json-pointer:/blocks/{i}/type]")


def _context_size(block: dict[str, Any], i: int) -> int:
    """A context block: 1 to 10 elements; return the length of its text."""
    elements = block.get("elements", [])
    if not 1 <= len(elements) <= 10:
        raise Invalid("invalid_blocks", f"must have 1 to 10 elements [json-pointer:/blocks/{i}/elements]")
    return sum(len(_text_object(e, f"/blocks/{i}/elements/{j}", 2000)) for j, e in enumerate(elements) if e.get("type") != "image")


def _check_actions(block: dict[str, Any], i: int) -> None:
    """An actions block: 1 to 25 interactive elements with unique action ids, Slack's lengths for texts and options."""
    elements = block.get("elements", [])
    if not 1 <= len(elements) <= 25:
        raise Invalid("invalid_blocks", f"must have 1 to 25 elements [json-pointer:/blocks/{i}/elements]")
    seen: set[str] = set()
    for j, element in enumerate(elements):
        pointer = f"/blocks/{i}/elements/{j}"
        action_id = element.get("action_id")
        if not isinstance(action_id, str) or not 0 < len(action_id) <= 255 or action_id in seen:
            raise Invalid("invalid_blocks", f"invalid action_id [json-pointer:{pointer}/action_id]")
        seen.add(action_id)
        if element.get("type") == "button":
            _text_object(element.get("text"), f"{pointer}/text", 75, plain_only=True)
            if len(str(element.get("value", ""))) > 2000:
                raise Invalid("invalid_blocks", f"must be less than 2001 characters [json-pointer:{pointer}/value]")
        elif element.get("type") == "static_select":
            _text_object(element.get("placeholder"), f"{pointer}/placeholder", 150, plain_only=True)
            options = element.get("options", [])
            if not 1 <= len(options) <= 100:
                raise Invalid("invalid_blocks", f"must have 1 to 100 options [json-pointer:{pointer}/options]")
            for k, option in enumerate(options):
                _text_object(option.get("text"), f"{pointer}/options/{k}/text", 75, plain_only=True)
                if not 0 < len(str(option.get("value", ""))) <= 150:
                    raise Invalid("invalid_blocks", f"invalid option value [json-pointer:{pointer}/options/{k}/value]")
        else:
            raise Invalid("invalid_blocks", f"unsupported element type [json-pointer:{pointer}/type]")


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
