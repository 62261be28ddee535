"""Slack's buttons on alerts and the `/newswatch` command, over Socket Mode: acknowledge at once, act, answer.

The app-level token (SLACK_APP_TOKEN) opens an outbound WebSocket with slack-sdk's own Socket
Mode client, so a container behind NAT needs no public URL. Every envelope is acknowledged
before anything else happens (Slack wants the ack within 3 seconds); the work then goes to
the `Actions` the service provides. A click's `Answer` either updates the alert in place
(`chat.update`, one outcome line under the buttons, the last click's) or, when only the
clicker should see it ("not allowed"), is posted ephemerally; a command's answer goes to the
command's `response_url`, seen only by whoever typed it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from alerts.slack.blocks import BLOCK_PREFIX, DURATIONS, MUTE_RULE, MUTE_SOURCE, NOT_RELEVANT, OUTCOME_BLOCK, RELEVANT
from alerts.slack.socket import Connection, ConnectionOptions, sdk_logger

log = logging.getLogger("newswatch.slack")


@dataclass(frozen=True)
class Click:
    """One button pressed on an alert: which alert, what choice, by whom (and for how long, for a mute)."""

    delivery_id: int
    choice: str  # RELEVANT, NOT_RELEVANT, MUTE_RULE or MUTE_SOURCE
    user: str
    seconds: int | None = None
    team: str = ""  # the workspace the click came from


@dataclass(frozen=True)
class Answer:
    """What the clicker is told: in the alert for everyone (`public`), or only to them."""

    text: str
    public: bool = True


class Actions(Protocol):
    """What the service does with clicks and commands."""

    async def click(self, click: Click) -> Answer:
        """Act on a click on an alert."""
        ...

    async def command(self, user: str, text: str, team: str = "") -> str:
        """Run `/newswatch TEXT` for `user` of workspace `team`; return the answer (mrkdwn)."""
        ...


def parse_click(payload: dict[str, Any]) -> Click | None:
    """The click in a `block_actions` payload, or None if it is not one of ours."""
    if payload.get("type") != "block_actions" or not payload.get("actions"):
        return None
    action = payload["actions"][0]
    block_id, choice = str(action.get("block_id", "")), action.get("action_id")
    if not block_id.startswith(BLOCK_PREFIX) or choice not in (RELEVANT, NOT_RELEVANT, MUTE_RULE, MUTE_SOURCE):
        return None
    try:
        delivery_id = int(block_id.removeprefix(BLOCK_PREFIX))
        seconds = int(action["selected_option"]["value"]) if choice in (MUTE_RULE, MUTE_SOURCE) else None
    except (KeyError, TypeError, ValueError):
        return None
    if seconds is not None and seconds not in {s for _, s in DURATIONS}:
        return None
    user = str((payload.get("user") or {}).get("id", ""))
    team = str((payload.get("team") or {}).get("id") or (payload.get("user") or {}).get("team_id") or "")
    return Click(delivery_id, choice, user, seconds, team) if user else None


def with_outcome(blocks: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The message's blocks with `text` as its one outcome line (replacing an earlier one)."""
    kept = [b for b in blocks if b.get("block_id") != OUTCOME_BLOCK]
    line = {"type": "context", "block_id": OUTCOME_BLOCK, "elements": [{"type": "mrkdwn", "text": text}]}
    return [*kept, line]


class SlackInteractions:
    """The Socket Mode connection: receives clicks and commands, acknowledges them, acts, shows the answer.

    The connection is kept up by `alerts.slack.socket.Connection` (backoff, one log line per
    failure, its `health`); slack-sdk's own reconnection is off.
    """

    def __init__(
        self, app_token: str, web: AsyncWebClient, actions: Actions, ping_interval: float = 5.0, connection: ConnectionOptions | None = None
    ) -> None:
        self._web = web
        self._actions = actions
        self._client = SocketModeClient(
            app_token=app_token, web_client=web, ping_interval=ping_interval, logger=sdk_logger(), auto_reconnect_enabled=False
        )
        self._client.socket_mode_request_listeners.append(self._on_request)
        self.connection = Connection(self._client, web, app_token, **(connection or {}))
        self._tasks: set[asyncio.Task[None]] = set()
        self._kept: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def connected(self) -> bool:
        """True while the connection works: only then do alerts carry buttons."""
        return self.connection.health.ok

    async def start(self) -> None:
        """Connect, and keep connecting in the background; return once the first attempt has ended, either way."""
        if self._kept is None:
            self._kept = asyncio.create_task(self.connection.run())
        await self.connection.attempted.wait()

    async def aclose(self) -> None:
        """Close the connection; let clicks being handled finish."""
        if self._closed:
            return
        self._closed = True
        if self._kept is not None:
            self._kept.cancel()
            await asyncio.gather(self._kept, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        await self._client.close()  # type: ignore[no-untyped-call]

    async def _on_request(self, client: Any, request: SocketModeRequest) -> None:
        """Acknowledge first, then act (in a task of its own, so a slow database never delays the next ack)."""
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        if request.type == "interactive":
            work = self._act(request.payload)
        elif request.type == "slash_commands":
            work = self._command(request.payload)
        else:
            return
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _command(self, payload: dict[str, Any]) -> None:
        """Run a `/newswatch` command and answer whoever typed it."""
        user, url = str(payload.get("user_id", "")), str(payload.get("response_url", ""))
        try:
            answer = await self._actions.command(user, str(payload.get("text", "")), str(payload.get("team_id", "")))
        except Exception:
            log.exception("the command %r failed", str(payload.get("text", ""))[:100])
            answer = "Sorry, that failed inside newswatch; its log says why."
        try:
            if url.startswith(("https://", "http://")):  # Slack's own, received over the authenticated socket
                response = await AsyncWebhookClient(url, session=self._web.session, timeout=15).send(text=answer, response_type="ephemeral")
                if response.status_code != 200:
                    log.warning("could not answer a command: HTTP %s", response.status_code)
            else:
                await self._web.chat_postEphemeral(channel=str(payload.get("channel_id", "")), user=user, text=answer)
        except Exception as exc:
            log.warning("could not answer a command: %s", exc)

    async def _act(self, payload: dict[str, Any]) -> None:
        """Act on one click and show the answer."""
        click = parse_click(payload)
        if click is None:
            return
        channel = str((payload.get("channel") or {}).get("id") or (payload.get("container") or {}).get("channel_id") or "")
        message = payload.get("message") or {}
        try:
            answer = await self._actions.click(click)
            if answer.public:
                await self._web.chat_update(
                    channel=channel,
                    ts=str(message.get("ts", "")),
                    text=message.get("text") or answer.text,
                    blocks=with_outcome(list(message.get("blocks") or []), answer.text),
                )
            else:
                await self._web.chat_postEphemeral(channel=channel, user=click.user, text=answer.text)
        except SlackApiError as exc:
            log.warning(
                "could not show the outcome of a click in Slack: %s", exc.response.get("error"), extra={"delivery": click.delivery_id}
            )
        except Exception:
            log.exception("a click could not be handled", extra={"delivery": click.delivery_id})
