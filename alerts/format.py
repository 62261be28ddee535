"""Formatting every sink shares: times in a destination's zone, safe links, cut text, rule names, Retry-After.

A sink renders its own messages (`alerts.slack.blocks`, `alerts.console`) with these.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from alerts.display import clean
from alerts.messages import Alert, Digest


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


def digest_rules(digest: Digest) -> str:
    """The names of the rules behind a digest's alerts, each once."""
    return ", ".join(dict.fromkeys(r.name for a in digest.alerts for r in a.rules))


def printable(text: str) -> str:
    """Untrusted text fit for a terminal: escape sequences, control characters, bidi overrides removed (`alerts.display`)."""
    return clean(text)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (RFC 9110): delta-seconds or an HTTP date; None if absent or unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when_ = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when_.tzinfo is None:
        when_ = when_.replace(tzinfo=UTC)
    return max(0.0, (when_ - now).total_seconds())


MATCH_PATH = "/matches/{item}"  # the web page of a matched item, under a destination's `web_url`


def match_page(web_url: str | None, alert: Alert) -> str:
    """The web page of the alert's matched item, where the destination names the web server; else ''."""
    if not web_url or alert.item_id is None:
        return ""
    return web_url.rstrip("/") + MATCH_PATH.format(item=alert.item_id)


def pieces(snippet: str, highlights: tuple[tuple[int, int], ...]) -> list[tuple[str, bool]]:
    """The snippet cut at its highlights: (text, highlighted) pieces in order, for sinks that mark them up."""
    out: list[tuple[str, bool]] = []
    at = 0
    for start, end in sorted(highlights):
        start, end = max(start, at), min(end, len(snippet))
        if start >= end:
            continue
        if start > at:
            out.append((snippet[at:start], False))
        out.append((snippet[start:end], True))
        at = end
    if at < len(snippet):
        out.append((snippet[at:], False))
    return out


def marked(snippet: str, highlights: tuple[tuple[int, int], ...], limit: int = 600) -> list[tuple[str, bool]]:
    """The snippet's pieces for one paragraph, control characters and line breaks removed, at most about `limit` characters."""
    out: list[tuple[str, bool]] = []
    left = limit
    for text, highlighted in pieces(snippet, highlights):
        text = printable(text).replace("\n", " ")
        if len(text) > left:
            out.append((cut(text, left), highlighted))
            break
        out.append((text, highlighted))
        left -= len(text)
    return out


def one_line(text: str) -> str:
    """Untrusted text for a single line (a subject, a title): control characters and line breaks removed."""
    return " ".join(printable(text).split())
