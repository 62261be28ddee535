"""Microsoft Teams through a Workflows (Power Automate) webhook: each message as one Adaptive Card.

The Workflows trigger "When a Teams webhook request is received" takes a `message` with one
Adaptive Card attachment and answers 202 without a message id, so replies cannot thread:
a later report of a story is a card of its own that says so. The retired Office 365
connectors (MessageCard) are not supported. Text from feeds goes only into `TextRun`s of
`RichTextBlock`s, which Teams never reads as Markdown, so a title cannot make links or
formatting; links are `Action.OpenUrl` buttons with checked http(s) URLs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aiohttp

from alerts import http
from alerts.base import DeliveryError
from alerts.format import cut, digest_rules, marked, match_page, one_line, rule_names, safe_link, when
from alerts.messages import Alert, Briefing, Digest, Message, Mode, Notice

CARD_VERSION = "1.4"  # what Teams renders on desktop, web and mobile
MAX_BYTES = 28_000  # Teams refuses a message above about 28 KB
MIN_INTERVAL = 1.0  # Teams allows about four calls a second per webhook; a card a second keeps a channel readable
TITLE_MAX = 200
SNIPPET_MAX = 500
LIST_TITLE_MAX = 150


class TeamsSink:
    """Posts an Adaptive Card to a Workflows webhook; Teams returns no message id, so it never threads."""

    min_interval = MIN_INTERVAL

    def __init__(self, session: aiohttp.ClientSession, url: str, timezone: str = "UTC", web_url: str | None = None) -> None:
        self.rate_key = "teams:" + hashlib.sha256(url.encode()).hexdigest()[:16]
        self._session = session
        self._url = url
        self._timezone = timezone
        self._web_url = web_url

    async def send(self, message: Message) -> str | None:
        """Post the card; 2xx is sent, 408, 429 and 5xx are retried, the rest are permanent."""
        body = json.dumps(envelope(card(message, self._timezone, self._web_url)), ensure_ascii=False).encode()
        if len(body) > MAX_BYTES:
            raise DeliveryError(f"teams: the card is {len(body)} bytes, above Teams' {MAX_BYTES}", retryable=False)
        answer = await http.post(self._session, self._url, body, {}, [self._url], "teams")
        if 200 <= answer.status < 300:
            return None
        raise http.status_error("teams", answer, [self._url])

    async def aclose(self) -> None:
        """Nothing to release: the HTTP session belongs to whoever made the sink."""


def envelope(content: dict[str, Any]) -> dict[str, Any]:
    """The body a Workflows webhook takes: a message with one Adaptive Card attachment."""
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}],
    }


def card(message: Message, timezone: str = "UTC", web_url: str | None = None) -> dict[str, Any]:
    """The Adaptive Card of one message."""
    body: list[dict[str, Any]]
    actions: list[dict[str, Any]] = []
    if isinstance(message, Notice):
        body = [_text("newswatch notice", bold=True), _text(message.text)]
    elif isinstance(message, Digest):
        held = f", {message.held} held back by a rule's throttle" if message.held else ""
        body = [_text(f"{len(message.alerts)} alerts{held} · {digest_rules(message)}", bold=True, size="Medium")]
        body += [_listed(a, timezone) for a in message.alerts]
    elif isinstance(message, Briefing):
        body = _briefing(message, timezone)
    else:
        body, actions = _alert(message, timezone, web_url)
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        content["actions"] = actions
    return content


def _alert(alert: Alert, timezone: str, web_url: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """An alert's blocks and buttons: its title, source and time, rules, evidence and terms."""
    lead = f"Also reported by {one_line(alert.source)}" if alert.mode == Mode.REPLY else one_line(alert.source)
    body = [
        _text(cut(one_line(alert.title) or "(untitled)", TITLE_MAX), bold=True, size="Medium"),
        _text(f"{lead} · {when(alert.published, timezone)} · {one_line(rule_names(alert))}", subtle=True),
    ]
    if alert.snippet:
        label = [{"type": "TextRun", "text": "Matched in the article: ", "italic": True}] if alert.in_article else []
        runs = [_run(text, bold) for text, bold in marked(alert.snippet, alert.highlights, SNIPPET_MAX)]
        body.append({"type": "RichTextBlock", "inlines": label + runs})
    if alert.terms:
        body.append(_text("Matched: " + ", ".join(one_line(t) for t in alert.terms), subtle=True))
    actions = []
    if link := safe_link(alert.link):
        actions.append({"type": "Action.OpenUrl", "title": "Open the article", "url": link})
    if page := match_page(web_url, alert):
        actions.append({"type": "Action.OpenUrl", "title": "Why it matched", "url": page})
    return body, actions


def _briefing(briefing: Briefing, timezone: str) -> list[dict[str, Any]]:
    """A briefing page: its title, then each rule's stories."""
    part = f" · part {briefing.page} of {briefing.pages}" if briefing.pages > 1 else ""
    body = [_text(f"{one_line(briefing.title)} · {briefing.count} stories{part}", bold=True, size="Medium")]
    if not briefing.sections:
        body.append(_text("Nothing matched the rules in this period."))
    for rule, stories in briefing.sections:
        body.append(_text(one_line(rule), bold=True))
        for story in stories:
            also = f" (+{story.also} other report{'s' if story.also > 1 else ''})" if story.also else ""
            body.append(_listed(story.alert, timezone, also))
    return body


def _listed(alert: Alert, timezone: str, suffix: str = "") -> dict[str, Any]:
    """One alert as a line of a digest or briefing: its title (a link where safe), source and time."""
    title = _run(cut(one_line(alert.title) or "(untitled)", LIST_TITLE_MAX) + suffix, True)
    if link := safe_link(alert.link):
        title["selectAction"] = {"type": "Action.OpenUrl", "url": link}
    meta = _run(f"\n{one_line(alert.source)} · {when(alert.published, timezone)}", False)
    meta["isSubtle"] = True
    return {"type": "RichTextBlock", "inlines": [title, meta], "separator": True}


def _text(text: str, bold: bool = False, size: str = "Default", subtle: bool = False) -> dict[str, Any]:
    """A paragraph of plain text (a RichTextBlock: never read as Markdown)."""
    run = _run(text, bold)
    if size != "Default":
        run["size"] = size
    if subtle:
        run["isSubtle"] = True
    return {"type": "RichTextBlock", "inlines": [run]}


def _run(text: str, bold: bool) -> dict[str, Any]:
    """A TextRun (plain text), bold where it is a highlight or a heading."""
    run: dict[str, Any] = {"type": "TextRun", "text": text}
    if bold:
        run["weight"] = "Bolder"
    return run
