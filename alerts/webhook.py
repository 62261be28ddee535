"""The generic webhook: each message as signed JSON (schema in `SCHEMA`, docs/destinations.md), for other systems.

Headers: `Idempotency-Key` (the delivery ids the message settles, which a retry repeats),
`X-Newswatch-Timestamp` (Unix seconds) and `X-Newswatch-Signature: sha256=HEX`, the HMAC-SHA256
of `TIMESTAMP.BODY` with the shared secret, so a receiver can refuse forged and replayed calls.
2xx is sent; 408, 429 and 5xx are retried (after Retry-After where given); other answers are
permanent. The remote id is the idempotency key: a later report of the same story carries the
first one's as `story.id`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import aiohttp

from alerts import http
from alerts.base import DeliveryError
from alerts.format import match_page, safe_link
from alerts.messages import Alert, Briefing, Digest, Message, Mode, Notice

VERSION = 1
MIN_INTERVAL = 0.2  # seconds between two calls to one URL: five a second at most
SIGNATURE = "X-Newswatch-Signature"
TIMESTAMP = "X-Newswatch-Timestamp"


class WebhookSink:
    """POSTs each message as signed JSON to one URL."""

    min_interval = MIN_INTERVAL

    def __init__(
        self, session: aiohttp.ClientSession, url: str, secret: str, web_url: str | None = None, user_agent: str = "newswatch"
    ) -> None:
        self.rate_key = "webhook:" + hashlib.sha256(url.encode()).hexdigest()[:16]
        self._session = session
        self._url = url
        self._secret = secret
        self._web_url = web_url
        self._user_agent = user_agent

    async def send(self, message: Message) -> str | None:
        """Post the message; return its idempotency key (the story id of later reports)."""
        key = idempotency_key(message)
        body = json.dumps(payload(message, self._web_url), ensure_ascii=False, separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        headers = {
            "Idempotency-Key": key,
            TIMESTAMP: stamp,
            SIGNATURE: sign(self._secret, stamp, body),
            "User-Agent": self._user_agent,
        }
        secrets = [self._url, self._secret]
        answer = await http.post(self._session, self._url, body, headers, secrets, "webhook")
        if 200 <= answer.status < 300:
            return key
        raise _error(answer, secrets)

    async def aclose(self) -> None:
        """Nothing to release: the HTTP session belongs to whoever made the sink."""


def _error(answer: http.Answer, secrets: list[str]) -> DeliveryError:
    """A refused call: 408, 429 and 5xx are retried; a redirect or another 4xx is permanent."""
    if 300 <= answer.status < 400:
        return DeliveryError(f"webhook: HTTP {answer.status}: the URL redirects; configure the final URL", retryable=False)
    return http.status_error("webhook", answer, secrets)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: sha256= and the HMAC-SHA256 hex digest of `timestamp.body`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def idempotency_key(message: Message) -> str:
    """The deliveries the message settles, comma-separated: the same on every retry of the same message."""
    return ",".join(str(i) for i in message.delivery_ids)


def payload(message: Message, web_url: str | None = None) -> dict[str, Any]:
    """The JSON body of one message (see `SCHEMA`)."""
    head: dict[str, Any] = {"version": VERSION, "destination": message.destination, "delivery_id": idempotency_key(message)}
    if isinstance(message, Notice):
        return {**head, "event": "notice", "text": message.text}
    if isinstance(message, Digest):
        return {**head, "event": "digest", "held": message.held, "alerts": [alert_data(a, web_url) for a in message.alerts]}
    if isinstance(message, Briefing):
        sections = [
            {"rule": name, "stories": [{**alert_data(s.alert, web_url), "also": s.also} for s in stories]}
            for name, stories in message.sections
        ]
        first_page = message.thread_ts if message.page > 1 else None
        return {
            **head,
            "event": "briefing",
            "title": message.title,
            "page": message.page,
            "pages": message.pages,
            "first_page": first_page,
            "sections": sections,
        }
    return {**head, "event": "alert", **alert_data(message, web_url)}


def alert_data(alert: Alert, web_url: str | None = None) -> dict[str, Any]:
    """One alert's rules, item, evidence and story."""
    reply = alert.mode == Mode.REPLY and alert.thread_ts is not None
    return {
        "alert_id": alert.delivery_id,
        "rules": [{"id": r.id, "name": r.name, "terms": list(r.terms)} for r in alert.rules],
        "item": {
            "title": alert.title,
            "link": safe_link(alert.link) or None,
            "source": alert.source,
            "published": alert.published.isoformat() if alert.published else None,
            "page": match_page(web_url, alert) or None,
        },
        "evidence": {"text": alert.snippet, "highlights": [list(h) for h in alert.highlights], "in_article": alert.in_article},
        "story": {"id": alert.thread_ts if reply else str(alert.delivery_id), "reply": reply},
    }


_STRING: dict[str, Any] = {"type": "string"}
_ALERT_REQUIRED = ["alert_id", "rules", "item", "evidence", "story"]
_ALERT_PROPERTIES: dict[str, Any] = {
    "alert_id": {"type": "integer"},
    "rules": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["id", "name", "terms"],
            "properties": {"id": _STRING, "name": _STRING, "terms": {"type": "array", "items": _STRING}},
        },
    },
    "item": {
        "type": "object",
        "required": ["title", "link", "source", "published", "page"],
        "properties": {
            "title": _STRING,
            "link": {"type": ["string", "null"]},
            "source": _STRING,
            "published": {"type": ["string", "null"], "format": "date-time"},
            "page": {"type": ["string", "null"]},
        },
    },
    "evidence": {
        "type": "object",
        "required": ["text", "highlights", "in_article"],
        "properties": {
            "text": _STRING,
            "highlights": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}},
            "in_article": {"type": "boolean"},
        },
    },
    "story": {"type": "object", "required": ["id", "reply"], "properties": {"id": _STRING, "reply": {"type": "boolean"}}},
}
_ALERT: dict[str, Any] = {"type": "object", "required": _ALERT_REQUIRED, "properties": _ALERT_PROPERTIES}
_BRIEFED: dict[str, Any] = {
    "type": "object",
    "required": [*_ALERT_REQUIRED, "also"],
    "properties": {**_ALERT_PROPERTIES, "also": {"type": "integer"}},
}
_HEAD: dict[str, Any] = {"version": {"const": VERSION}, "destination": _STRING, "delivery_id": _STRING}
_BRIEFING: dict[str, Any] = {
    **_HEAD,
    "event": {"const": "briefing"},
    "title": _STRING,
    "page": {"type": "integer"},
    "pages": {"type": "integer"},
    "first_page": {"type": ["string", "null"]},
    "sections": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["rule", "stories"],
            "properties": {"rule": _STRING, "stories": {"type": "array", "items": _BRIEFED}},
        },
    },
}
_DIGEST: dict[str, Any] = {**_HEAD, "event": {"const": "digest"}, "held": {"type": "integer"}, "alerts": {"type": "array", "items": _ALERT}}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "newswatch webhook call",
    "oneOf": [
        {
            "type": "object",
            "required": [*_HEAD, "event", *_ALERT_REQUIRED],
            "properties": {**_HEAD, "event": {"const": "alert"}, **_ALERT_PROPERTIES},
        },
        {"type": "object", "required": [*_HEAD, "event", "held", "alerts"], "properties": _DIGEST},
        {"type": "object", "required": [*_HEAD, "event", "title", "page", "pages", "first_page", "sections"], "properties": _BRIEFING},
        {"type": "object", "required": [*_HEAD, "event", "text"], "properties": {**_HEAD, "event": {"const": "notice"}, "text": _STRING}},
    ],
}
