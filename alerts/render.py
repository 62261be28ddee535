"""Render an alert as Slack Block Kit with a plain-text fallback, or as console text.

Feed content is untrusted: everything from a feed is escaped for mrkdwn (`&`, `<`, `>`), so a
title like `<!channel>` pings nobody and `<http://evil|Reuters>` is no link; only http(s)
links are linked; every text respects Block Kit's limits, cut at word boundaries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from alerts.base import Alert

HEADER_MAX = 150
SECTION_MAX = 3000
CONTEXT_MAX = 2000
FALLBACK_MAX = 3000
TITLE_MAX = 300
SNIPPET_MAX = 600


def escape(text: str) -> str:
    """Escape untrusted text for Slack mrkdwn and plain text fields."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """Shorten `text` to at most `limit` characters at a word boundary, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    space = text.rfind(" ", 0, limit - 1)
    return text[: space if space > limit // 2 else limit - 1].rstrip(" ,;:") + "…"


def safe_link(url: str) -> str:
    """The URL if it is a plain http(s) URL, percent-encoding characters that would break mrkdwn."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return quote(url.strip(), safe=":/?#[]@!$&'()*+,;=%~-._")


def when(published: datetime | None, timezone: str = "UTC") -> str:
    """The publication time in the destination's time zone."""
    if published is None:
        return "time unknown"
    return published.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def rule_names(alert: Alert) -> str:
    """The names of the rules that matched."""
    return ", ".join(r.name for r in alert.rules)


def fallback(alert: Alert, timezone: str = "UTC") -> str:
    """The plain `text` of a Slack message: notifications and screen readers read this."""
    link = safe_link(alert.link)
    line = f"[{rule_names(alert)}] {cut(alert.title, TITLE_MAX)} ({alert.source}, {when(alert.published, timezone)})"
    return escape(cut(line, FALLBACK_MAX - len(link) - 3)) + (f" – {link}" if link else "")


def highlighted(alert: Alert, limit: int = SNIPPET_MAX) -> str:
    """The snippet, escaped, with matched terms in bold, cut to `limit`."""
    parts, last = [], 0
    for start, end in alert.highlights:
        if start < last or end > len(alert.snippet):
            continue
        parts.append(escape(alert.snippet[last:start]))
        word = alert.snippet[start:end].strip("*_~`")
        parts.append(f"*{escape(word)}*" if word else "")
        last = end
    parts.append(escape(alert.snippet[last:]))
    text = "".join(parts)
    return text if len(text) <= limit else cut(escape(alert.snippet), limit)


def blocks(alert: Alert, timezone: str = "UTC") -> list[dict[str, Any]]:
    """The Block Kit message: title, source and time, snippet, matched terms."""
    link = safe_link(alert.link)
    title = escape(cut(alert.title or "(untitled)", TITLE_MAX))
    heading = f"*<{link}|{title}>*" if link else f"*{title}*"
    meta = f"{escape(cut(alert.source, 200))} · {when(alert.published, timezone)}"
    out: list[dict[str, Any]] = [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(f":mag: {escape(rule_names(alert))}", CONTEXT_MAX)}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": heading}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": meta}]},
    ]
    if alert.snippet:
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": highlighted(alert)}})
    if alert.terms:
        terms = ", ".join(f"`{escape(t)}`" for t in alert.terms)
        out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(f"Matched: {terms}", CONTEXT_MAX)}]})
    return out


_CONTROL = {cp: None for cp in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if cp != 0x0A}


def printable(text: str) -> str:
    """Drop control characters (terminal escape sequences) from untrusted text."""
    return text.translate(_CONTROL)


def console(alert: Alert, timezone: str = "UTC") -> str:
    """A readable multi-line rendering for terminals; control characters removed."""
    return printable(_console(alert, timezone))


def _console(alert: Alert, timezone: str) -> str:
    """The console text before control characters are removed."""
    rules = ", ".join(f"{r.name} ({r.id})" for r in alert.rules)
    snippet = alert.snippet
    for start, end in reversed(alert.highlights):
        snippet = snippet[:start] + "**" + snippet[start:end] + "**" + snippet[end:]
    lines = [
        f"━━ newswatch alert → {alert.destination} · {rules}",
        f"   {cut(alert.title or '(untitled)', TITLE_MAX)}",
        f"   {safe_link(alert.link) or '(no link)'}",
        f"   {alert.source} · {when(alert.published, timezone)}",
    ]
    if snippet:
        lines.append(f"   {cut(snippet, SNIPPET_MAX)}")
    if alert.terms:
        lines.append(f"   Matched: {', '.join(alert.terms)}")
    return "\n".join(lines) + "\n"
