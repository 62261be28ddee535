"""Keeping the Socket Mode connection up: one attempt at a time, exponential backoff, one log line per failure.

slack-sdk's own client retries a failed connection every few seconds forever and logs a
traceback each time (a mistyped, revoked or wrong kind of app token fills the log). Here the
client's own reconnection is off and its log lines are kept at DEBUG without tracebacks;
`Connection` asks for a WebSocket URL itself (`apps.connections.open`, where a bad token
shows), connects, watches the connection, and after a failure waits longer each time. Its
`Health` is what /healthz and /metrics show, and whether alerts carry buttons.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypedDict

from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from alerts.base import redact
from alerts.slack.health import NETWORK_ERRORS, Backoff, Health, Sleep, api_error, problem

log = logging.getLogger("newswatch.slack")
SDK_LOG = "newswatch.slack.sdk"  # slack-sdk's own lines: DEBUG only, without tracebacks
CONNECT_TIMEOUT = 20.0  # seconds one attempt may take to open the WebSocket
WATCH_EVERY = 5.0  # seconds between looks at a working connection


class QuietSdk(logging.Filter):
    """slack-sdk's log lines at DEBUG, without tracebacks: `Connection` logs the state once, in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info, record.exc_text = None, None
        return logging.getLogger("newswatch").isEnabledFor(logging.DEBUG)


def sdk_logger() -> logging.Logger:
    """The logger to give slack-sdk's Socket Mode client."""
    logger = logging.getLogger(SDK_LOG)
    if not any(isinstance(f, QuietSdk) for f in logger.filters):
        logger.addFilter(QuietSdk())
    return logger


class ConnectionOptions(TypedDict, total=False):
    """How a `Connection` waits and reports (the bootstrap's metrics; tests' sleep)."""

    backoff: Backoff
    sleep: Sleep
    observe: Callable[[Health], None]


class Connection:
    """Connects a Socket Mode client and keeps it connected, backing off after failures."""

    def __init__(
        self,
        client: SocketModeClient,
        web: AsyncWebClient,
        app_token: str,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
        observe: Callable[[Health], None] | None = None,
    ) -> None:
        self._client = client
        self._web = web
        self._token = app_token
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._observe = observe or (lambda health: None)
        self.health = Health()
        self.attempted = asyncio.Event()  # set once the first attempt has ended, either way

    async def run(self) -> None:
        """Until cancelled: connect, watch, and after a failure or a lost connection wait, then connect again."""
        while not self._client.closed:
            if self.health.ok and await self._client.is_connected():
                await self._sleep(WATCH_EVERY)
                continue
            if self.health.ok:
                self.health.lost()
                self._observe(self.health)
                log.warning("Slack Socket Mode: the connection was lost; buttons on alerts are off until it is back")
            delay = await self._attempt()
            self.attempted.set()
            if delay:
                await self._sleep(delay)

    async def _attempt(self) -> float:
        """One connection attempt; the seconds to wait before the next (0 once connected)."""
        try:
            self._client.wss_uri = await self._url()
            await asyncio.wait_for(self._client.connect(), CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]
            if not await self._client.is_connected():
                raise ConnectionError("the WebSocket closed as soon as it opened")
        except SlackApiError as exc:
            return self._failed(problem(api_error(exc), "SLACK_APP_TOKEN"))
        except (*NETWORK_ERRORS, ConnectionError) as exc:
            return self._failed(f"cannot connect to Slack ({type(exc).__name__}: {exc or 'no answer'})")
        except Exception as exc:  # whatever else went wrong, the connection is tried again later, not given up
            return self._failed(f"connecting failed ({type(exc).__name__}: {exc})")
        self.health.succeeded()
        self._observe(self.health)
        log.info("Slack Socket Mode connected: alerts carry buttons, and /newswatch answers")
        return 0.0

    async def _url(self) -> str:
        """A WebSocket URL from `apps.connections.open`, asked with the app-level token."""
        response = await self._web.apps_connections_open(app_token=self._token)
        return str(response["url"])

    def _failed(self, error: str) -> float:
        """Record and log one failure (one line); the seconds to wait."""
        delay = self._backoff.delay(self.health.failures + 1)
        error = redact(error, [self._token, self._web.token])  # shown on /healthz too
        self.health.failed(error, delay)
        self._observe(self.health)
        log.error("Slack Socket Mode: %s; buttons on alerts are off; trying again in %.0f s", error, delay)
        return delay
