"""Is Slack usable? The bot token checked with `auth.test` at start-up, and what each kind of refusal means.

`BotCheck` asks Slack once who the bot token posts as and logs it on one line; a token Slack
refuses (or a Slack it cannot reach) is reported on /readyz and asked again with exponential
backoff, one log line each time, until it works. `Health` is the state both this check and the
Socket Mode connection (`alerts.slack.socket`) show on /healthz and /metrics.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from alerts.base import redact

log = logging.getLogger("newswatch.slack")

Sleep = Callable[[float], Awaitable[None]]
NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)

# What a refusal of each token means, and what to do about it (Slack's error codes).
_WHERE_APP = "the app-level token (xapp-…, scope connections:write) under Basic Information → App-Level Tokens"
_WHERE_BOT = "the Bot User OAuth Token (xoxb-…) under OAuth & Permissions, after installing the app"
_FIXES = {
    "invalid_auth": "{name} was refused (invalid_auth): it is mistyped or no longer valid; set {name} to {where}",
    "token_revoked": "{name} was revoked (token_revoked): create a new one and set {name} to {where}",
    "token_expired": "{name} has expired (token_expired): set {name} to {where}",
    "account_inactive": "{name} belongs to a deactivated app or workspace (account_inactive): set {name} to {where}",
    "not_authed": "{name} is empty (not_authed): set it to {where}",
    "not_allowed_token_type": "{name} is the wrong kind of token (not_allowed_token_type): set {name} to {where}",
}


def problem(error: str, name: str) -> str:
    """What a Slack error about the token in variable `name` means, and what to do."""
    where = _WHERE_APP if name == "SLACK_APP_TOKEN" else _WHERE_BOT
    return _FIXES.get(error, "Slack refused {name} ({error})").format(name=name, where=where, error=error)


def api_error(exc: SlackApiError) -> str:
    """Slack's error code of a refused call."""
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    return str(data.get("error") or f"HTTP {exc.response.status_code}")


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: `base` seconds after the first failure, doubling, at most `cap`."""

    base: float = 5.0
    cap: float = 600.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure in a row."""
        return float(min(self.cap, self.base * 2.0 ** min(max(0, failures - 1), 30)) * random.uniform(1.0, 1.1))


@dataclass
class Health:
    """One Slack connection's state: `ok` (works), `failing` (with why, and when it tries again) or `connecting`."""

    state: str = "connecting"
    error: str | None = None
    failures: int = 0  # in a row
    retry_at: float | None = None  # time.monotonic() of the next attempt, while failing
    detail: dict[str, str] | None = None  # what it is connected as, once ok

    @property
    def ok(self) -> bool:
        """True while the connection works."""
        return self.state == "ok"

    def succeeded(self, detail: dict[str, str] | None = None) -> None:
        """It works (again)."""
        self.state, self.error, self.failures, self.retry_at, self.detail = "ok", None, 0, None, detail or self.detail

    def lost(self) -> None:
        """It worked and stopped working: connecting again."""
        self.state, self.retry_at = "connecting", None

    def failed(self, error: str, delay: float) -> None:
        """It failed; the next attempt is `delay` seconds from now."""
        self.state, self.error, self.failures, self.retry_at = "failing", error, self.failures + 1, time.monotonic() + delay

    def as_dict(self) -> dict[str, Any]:
        """For /healthz and /readyz."""
        shown: dict[str, Any] = {"state": self.state}
        if self.detail:
            shown |= self.detail
        if self.state == "failing":
            retry = max(0.0, (self.retry_at or 0.0) - time.monotonic())
            shown |= {"error": self.error, "failures": self.failures, "retry_in_seconds": round(retry, 1)}
        return shown


class BotCheck:
    """`auth.test` with the bot token: who alerts are posted as, asked again with backoff until Slack accepts the token."""

    def __init__(
        self,
        web: AsyncWebClient,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
        observe: Callable[[Health], None] | None = None,
    ) -> None:
        self._web = web
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._observe = observe or (lambda health: None)
        self.health = Health()

    async def run(self) -> None:
        """Check until the token is accepted (logged once, on one line); each failure is one line, then a longer wait."""
        while not await self.once():
            assert self.health.retry_at is not None
            await self._sleep(max(0.0, self.health.retry_at - time.monotonic()))

    async def once(self) -> bool:
        """One check; True when Slack accepted the token as a bot's."""
        try:
            found = (await self._web.auth_test()).data
            identity = found if isinstance(found, dict) else {}
            if not identity.get("bot_id"):  # an app-level or user token: accepted by auth.test, refused by chat.postMessage
                raise _NotABot
        except SlackApiError as exc:
            return self._failed(problem(api_error(exc), "SLACK_BOT_TOKEN"))
        except _NotABot:
            return self._failed(problem("not_allowed_token_type", "SLACK_BOT_TOKEN") + " (Slack names no bot for it)")
        except NETWORK_ERRORS as exc:
            return self._failed(f"cannot reach Slack to check SLACK_BOT_TOKEN ({type(exc).__name__}: {exc})")
        except Exception as exc:  # whatever else went wrong, it is asked again later
            return self._failed(f"checking SLACK_BOT_TOKEN failed ({type(exc).__name__}: {exc})")
        detail = {k: str(identity.get(k) or "") for k in ("team", "team_id", "user", "user_id", "bot_id")}
        self.health.succeeded(detail)
        self._observe(self.health)
        log.info(
            "Slack: alerts are posted as @%s (bot %s) in the workspace %s (%s)",
            detail["user"],
            detail["bot_id"],
            detail["team"],
            detail["team_id"],
        )
        return True

    def _failed(self, error: str) -> bool:
        """Record and log one failure; False."""
        delay = self._backoff.delay(self.health.failures + 1)
        error = redact(error, [self._web.token])  # shown on /healthz and /readyz too
        self.health.failed(error, delay)
        self._observe(self.health)
        log.error("Slack: %s; alerts to Slack cannot be sent; checking again in %.0f s", error, delay)
        return False


class _NotABot(Exception):
    """auth.test accepted the token, but it is not a bot's."""
