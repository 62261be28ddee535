"""Discord through a channel webhook, with `?wait=true` so that Discord answers with the message it stored.

The remote id is what a later report of the same story is posted into (`thread_id`): in a
forum channel (`forum: true`) every alert opens a post (a thread) and the id is that thread's;
in a text channel it is the message's own id, which is also the id of a thread someone starts
on it. A reply whose thread does not exist (nobody started one, or it was deleted) comes back
as "Unknown Channel" and goes out on its own. A 429 is retried after the `retry_after` of its
body (seconds, fractional). Feed text is escaped for Discord's Markdown and no mention pings.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import urlencode

import aiohttp

from alerts import http
from alerts.base import DeliveryCode, DeliveryError
from alerts.format import cut, digest_rules, marked, match_page, one_line, rule_names, safe_link, when
from alerts.messages import Alert, Briefing, Digest, Message, Mode, Notice

MIN_INTERVAL = 2.0  # a channel webhook takes about 30 messages a minute
UNKNOWN_CHANNEL = 10003  # Discord's code for a thread (channel) that does not exist
THREAD_LOCKED = 160005
AUTH_CODES = {10015, 50027}  # Unknown Webhook, Invalid Webhook Token
DESCRIPTION_MAX = 4096
TITLE_MAX = 256
FIELD_MAX = 1024
THREAD_NAME_MAX = 100
EMBED_TOTAL_MAX = 6000
LIST_MAX = 10  # embeds per message
_MARKDOWN = re.compile(r"([\\*_~`|>#\-\[\]()<@])")


class DiscordSink:
    """Executes a Discord webhook; returns the message id (or, in a forum channel, the post's thread id)."""

    min_interval = MIN_INTERVAL

    def __init__(
        self, session: aiohttp.ClientSession, url: str, timezone: str = "UTC", web_url: str | None = None, forum: bool = False
    ) -> None:
        self.rate_key = "discord:" + hashlib.sha256(url.encode()).hexdigest()[:16]
        self._session = session
        self._url = url.split("?", 1)[0]
        self._timezone = timezone
        self._web_url = web_url
        self._forum = forum

    async def send(self, message: Message) -> str | None:
        """Post the message (into its story's thread where it has one)."""
        thread = _thread_of(message)
        body = render(message, self._timezone, self._web_url)
        if self._forum and thread is None:
            body["thread_name"] = _thread_name(message)
        query = {"wait": "true", **({"thread_id": thread} if thread else {})}
        answer = await http.post(self._session, f"{self._url}?{urlencode(query)}", json.dumps(body).encode(), {}, [self._url], "discord")
        if 200 <= answer.status < 300:
            return self._remote_id(answer)
        raise _error(answer, self._url, bool(thread))

    def _remote_id(self, answer: http.Answer) -> str | None:
        """Where a later report of the story goes: the post's thread in a forum, else the message itself."""
        try:
            stored = json.loads(answer.text)
        except json.JSONDecodeError:
            return None
        key = "channel_id" if self._forum else "id"
        return str(stored.get(key) or "") or None if isinstance(stored, dict) else None

    async def aclose(self) -> None:
        """Nothing to release: the HTTP session belongs to whoever made the sink."""


def _thread_of(message: Message) -> str | None:
    """The thread a reply (or a later briefing page) goes into."""
    if isinstance(message, Alert) and message.mode == Mode.REPLY:
        return message.thread_ts
    return message.thread_ts if isinstance(message, Briefing) else None


def _error(answer: http.Answer, url: str, threaded: bool) -> DeliveryError:
    """Discord's answer as a DeliveryError: its JSON `code` says a thread is gone or the webhook refused."""
    try:
        data = json.loads(answer.text)
    except json.JSONDecodeError:
        data = {}
    data = data if isinstance(data, dict) else {}
    code, text = data.get("code"), str(data.get("message") or "")
    if answer.status == 429:
        wait = data.get("retry_after")
        after = float(wait) if isinstance(wait, int | float) and wait >= 0 else answer.retry_after()
        return DeliveryError(f"discord: rate limited: {text}".strip(), retryable=True, retry_after=after, code=DeliveryCode.RATE_LIMITED)
    if threaded and code in (UNKNOWN_CHANNEL, THREAD_LOCKED):
        return DeliveryError(f"discord: {text or 'thread not found'}", retryable=False, code=DeliveryCode.THREAD_GONE, remote=str(code))
    error = http.status_error("discord", answer, [url], f"{code} {text}".strip() if code else "")
    if code in AUTH_CODES:
        error.code = DeliveryCode.AUTH
    error.remote = str(code or "")
    return error


def escape(text: str) -> str:
    """Untrusted text for Discord's Markdown: every markup character backslash-escaped, on one line."""
    return _MARKDOWN.sub(r"\\\1", one_line(text))


def render(message: Message, timezone: str = "UTC", web_url: str | None = None) -> dict[str, Any]:
    """The webhook body of one message: content for notifications, embeds for the rest; no mention pings."""
    if isinstance(message, Notice):
        content, embeds = cut("newswatch notice: " + escape(message.text), 2000), []
    elif isinstance(message, Digest):
        held = f", {message.held} held back by a rule's throttle" if message.held else ""
        content = cut(f"{len(message.alerts)} alerts{held} · {escape(digest_rules(message))}", 2000)
        embeds = [_listed(a, timezone) for a in message.alerts[:LIST_MAX]]
    elif isinstance(message, Briefing):
        content, embeds = _briefing(message, timezone)
    else:
        content, embeds = _alert(message, timezone, web_url)
    return {"content": content, "embeds": embeds, "allowed_mentions": {"parse": []}}


def _alert(alert: Alert, timezone: str, web_url: str | None) -> tuple[str, list[dict[str, Any]]]:
    """An alert: a line to notify with, and one embed with its evidence and terms."""
    lead = f"Also reported by {escape(alert.source)}" if alert.mode == Mode.REPLY else escape(rule_names(alert))
    lines = []
    if alert.snippet:
        quote = "".join(f"**{escape(t)}**" if hit else escape(t) for t, hit in marked(alert.snippet, alert.highlights, 1000))
        lines.append(("*Matched in the article:* " if alert.in_article else "") + quote)
    if alert.terms:
        lines.append("Matched: " + ", ".join(escape(t) for t in alert.terms))
    if page := match_page(web_url, alert):
        lines.append(f"[Why it matched]({page})")
    embed: dict[str, Any] = {
        "title": escape(cut(alert.title or "(untitled)", TITLE_MAX // 2 - 8)),
        "description": cut("\n".join(lines), DESCRIPTION_MAX) if lines else None,
        "footer": {"text": cut(f"{one_line(alert.source)} · {when(alert.published, timezone)}", 2048)},
    }
    if link := safe_link(alert.link):
        embed["url"] = link
    return cut(lead, 2000), [{k: v for k, v in embed.items() if v is not None}]


def _listed(alert: Alert, timezone: str) -> dict[str, Any]:
    """A digest's alert as a small embed."""
    embed: dict[str, Any] = {
        "title": escape(cut(alert.title or "(untitled)", TITLE_MAX // 2 - 8)),
        "description": cut(f"{escape(alert.source)} · {when(alert.published, timezone)} · {escape(rule_names(alert))}", 500),
    }
    if link := safe_link(alert.link):
        embed["url"] = link
    return embed


def _briefing(briefing: Briefing, timezone: str) -> tuple[str, list[dict[str, Any]]]:
    """A briefing page: a heading to notify with, and its rules and stories (links without previews) in one embed."""
    part = f" · part {briefing.page} of {briefing.pages}" if briefing.pages > 1 else ""
    lines = [] if briefing.sections else ["Nothing matched the rules in this period."]
    for rule, stories in briefing.sections:
        lines.append(f"__{escape(rule)}__")
        for story in stories:
            a = story.alert
            also = f" (+{story.also} other report{'s' if story.also > 1 else ''})" if story.also else ""
            title, link = escape(cut(a.title or "(untitled)", 150)), safe_link(a.link)
            lines.append(f"• [{title}](<{link}>){also}" if link else f"• {title}{also}")
    shown: list[str] = []
    for i, line in enumerate(lines):
        if sum(len(s) + 1 for s in shown) + len(line) > DESCRIPTION_MAX - 40:
            shown.append(f"…and {len(lines) - i} more lines")
            break
        shown.append(line)
    heading = cut(f"**{escape(briefing.title)}** · {briefing.count} stories{part}", 2000)
    return heading, [{"description": "\n".join(shown)}]


def _thread_name(message: Message) -> str:
    """A forum post's name: the alert's title, or what the message is."""
    if isinstance(message, Alert):
        return cut(one_line(message.title) or "(untitled)", THREAD_NAME_MAX)
    if isinstance(message, Briefing):
        return cut(one_line(message.title), THREAD_NAME_MAX)
    return "newswatch digest" if isinstance(message, Digest) else "newswatch notice"
