"""Slack sinks: chat.postMessage with the bot token, and incoming webhooks.

Both use slack-sdk's async clients with its retry handlers switched off: a blind retry after
a dropped connection can post twice, and the delivery loop already retries with backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from alerts.base import DeliveryCode, DeliveryError, Posted, redact
from alerts.format import retry_after_seconds
from alerts.messages import Alert, Briefing, Message, Mode
from alerts.slack import blocks as render

SLACK_MIN_INTERVAL = 1.0  # Slack allows about one message per second per channel
RETRYABLE_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
THREAD_ERRORS = {"invalid_thread_ts", "thread_not_found", "message_not_found"}
AUTH_ERRORS = {"not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired", "missing_scope"}
_NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)


def _code(status: int, error: str) -> DeliveryCode:
    """Slack's error as the generic code the delivery loop acts on (`alerts.base`)."""
    if error in THREAD_ERRORS:
        return DeliveryCode.THREAD_GONE
    if status == 429 or error == "ratelimited":
        return DeliveryCode.RATE_LIMITED
    return DeliveryCode.AUTH if error in AUTH_ERRORS else DeliveryCode.OTHER


def _retry_after(headers: object) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), if there is a usable one."""
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    return retry_after_seconds(str(value) if value is not None else None, datetime.now(UTC))


class SlackBotSink:
    """Posts to one channel with chat.postMessage; returns the message's `ts` and the channel's id, as Slack answers them."""

    min_interval = SLACK_MIN_INTERVAL

    def __init__(self, client: AsyncWebClient, channel: str, timezone: str = "UTC", buttons: Callable[[], bool] = bool) -> None:
        self.rate_key = f"slack:{channel}"
        self._client = client
        self._channel = channel
        self._timezone = timezone
        self._buttons = buttons  # feedback and mute buttons on alerts: only while something answers them (Socket Mode works)

    async def send(self, message: Message) -> Posted | None:
        """Post the alert, reply or digest; map Slack's answers to sent, retry later or give up."""
        thread_ts = message.thread_ts if isinstance(message, Alert) and message.mode == Mode.REPLY else None
        if isinstance(message, Briefing):  # a later page goes into the first page's thread
            thread_ts = message.thread_ts
        try:
            response = await self._client.chat_postMessage(
                channel=self._channel,
                text=render.fallback(message, self._timezone),
                blocks=render.blocks(message, self._timezone, self._buttons()),
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            raise self._api_error(exc) from None
        except _NETWORK_ERRORS as exc:
            raise DeliveryError(self._clean(f"network error: {type(exc).__name__}: {exc}"), retryable=True) from None
        ts = str(response.get("ts") or "")
        return Posted(ts, str(response.get("channel") or "") or None) if ts else None

    def _api_error(self, exc: SlackApiError) -> DeliveryError:
        """Translate a Slack API error."""
        status = exc.response.status_code
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        error = str(data.get("error") or f"HTTP {status}")
        detail = "; ".join(str(m) for m in (data.get("response_metadata") or {}).get("messages", []))
        message = self._clean(f"slack: {error}" + (f" ({detail})" if detail else ""))
        retryable = status == 429 or status >= 500 or error in RETRYABLE_ERRORS
        return DeliveryError(
            message, retryable=retryable, retry_after=_retry_after(exc.response.headers), code=_code(status, error), remote=error
        )

    def _clean(self, message: str) -> str:
        """Remove the token from a message."""
        return redact(message, [self._client.token])

    async def aclose(self) -> None:
        """Nothing to release: the HTTP session belongs to whoever made the client."""


class SlackWebhookSink:
    """Posts through an incoming webhook; webhooks return no message id."""

    min_interval = SLACK_MIN_INTERVAL

    def __init__(self, client: AsyncWebhookClient, timezone: str = "UTC") -> None:
        self.rate_key = "webhook:" + hashlib.sha256(client.url.encode()).hexdigest()[:12]
        self._client = client
        self._timezone = timezone

    async def send(self, message: Message) -> str | None:
        """Post the message (a webhook cannot thread); a non-200 answer is an error, retryable for 429 and 5xx."""
        try:
            response = await self._client.send(
                text=render.fallback(message, self._timezone),
                blocks=render.blocks(message, self._timezone),
                unfurl_links=False,
                unfurl_media=False,
            )
        except _NETWORK_ERRORS as exc:
            raise DeliveryError(self._clean(f"network error: {type(exc).__name__}: {exc}"), retryable=True) from None
        if response.status_code == 200:
            return None
        body = self._clean(str(response.body or "")[:200])
        retryable = response.status_code == 429 or response.status_code >= 500
        raise DeliveryError(
            f"slack webhook: HTTP {response.status_code} {body}".strip(),
            retryable=retryable,
            retry_after=_retry_after(response.headers),
        )

    def _clean(self, message: str) -> str:
        """Remove the webhook URL (a secret) from a message."""
        return redact(message, [self._client.url, urlpath(self._client.url)])

    async def aclose(self) -> None:
        """Nothing to release: the HTTP session belongs to whoever made the client."""


def urlpath(url: str) -> str:
    """The path of a URL, which in a webhook URL is the secret part."""
    rest = url.split("://", 1)[-1]
    return rest[rest.find("/") :] if "/" in rest else ""
