"""The console sink: alerts printed readably to a text stream (standard output by default), control characters removed.

Used when no Slack credentials are configured, and by `make run`.
"""

from __future__ import annotations

import sys
from typing import TextIO

from alerts.format import cut, digest_rules, printable, rule_names, safe_link, when
from alerts.messages import Alert, Briefing, Digest, Message, Mode, Notice

_ON, _OFF = "\ue000", "\ue001"  # where a highlight starts and ends, until rendered (private-use characters)
_MARKS = {ord(_ON): "\ufffd", ord(_OFF): "\ufffd"}  # the same characters in feed text are replaced, not taken for marks
TITLE_MAX = 300
SNIPPET_MAX = 600
DIGEST_TITLE_MAX = 150


class ConsoleSink:
    """Prints each alert readably; never fails, never threads."""

    min_interval = 0.0

    def __init__(self, name: str, stream: TextIO | None = None, timezone: str = "UTC") -> None:
        self.rate_key = f"console:{name}"
        self._stream = stream
        self._timezone = timezone

    async def send(self, message: Message) -> str | None:
        """Print the alert or digest; a console has no message id, so it never threads."""
        stream = self._stream or sys.stdout
        stream.write(render(message, self._timezone, bold=stream.isatty()))
        stream.flush()
        return None

    async def aclose(self) -> None:
        """Nothing to release."""


def render(message: Message, timezone: str = "UTC", bold: bool = False) -> str:
    """A readable multi-line rendering for terminals; control characters removed.

    Matched terms are shown [like this], as `rules test` shows them, or in bold on a terminal (`bold`).
    """
    if isinstance(message, Notice):
        return printable(f"━━ newswatch notice → {message.destination} · {message.text}\n")
    if isinstance(message, Digest):
        return printable(_console_digest(message, timezone))
    if isinstance(message, Briefing):
        return printable(_console_briefing(message, timezone))
    if message.mode == Mode.REPLY:
        return printable(_console_reply(message, timezone))
    on, off = ("\x1b[1m", "\x1b[22m") if bold else ("[", "]")
    return printable(_console(message, timezone)).replace(_ON, on).replace(_OFF, off)  # after escapes are removed


def _console_digest(digest: Digest, timezone: str) -> str:
    """A digest for terminals: one block of three lines per alert."""
    held = f", {digest.held} held back by a rule's throttle" if digest.held else ""
    lines = [f"━━ newswatch digest → {digest.destination} · {len(digest.alerts)} alerts{held} · {digest_rules(digest)}"]
    for a in digest.alerts:
        lines += [
            f"   • {cut(a.title or '(untitled)', DIGEST_TITLE_MAX)}",
            f"     {safe_link(a.link) or '(no link)'}",
            f"     {a.source} · {when(a.published, timezone)} · {rule_names(a)}",
        ]
    return "\n".join(lines) + "\n"


def _console_briefing(briefing: Briefing, timezone: str) -> str:
    """A briefing for terminals: its rules, and under each its stories."""
    part = f" · part {briefing.page} of {briefing.pages}" if briefing.pages > 1 else ""
    lines = [f"━━ newswatch {briefing.title} → {briefing.destination} · {briefing.count} stories{part}"]
    if not briefing.sections:
        lines.append("   Nothing matched the rules in this period.")
    for rule, stories in briefing.sections:
        lines.append(f"   {rule}")
        for story in stories:
            a = story.alert
            also = f" (+{story.also} other report{'s' if story.also > 1 else ''})" if story.also else ""
            lines += [f"   • {cut(a.title or '(untitled)', DIGEST_TITLE_MAX)}{also}", f"     {safe_link(a.link) or '(no link)'}"]
            lines.append(f"     {a.source} · {when(a.published, timezone)}")
    return "\n".join(lines) + "\n"


def _console_reply(alert: Alert, timezone: str) -> str:
    """A thread reply for terminals."""
    return (
        f"   ↳ also reported by {alert.source} · {when(alert.published, timezone)} (thread {alert.thread_ts})\n"
        f"     {cut(alert.title or '(untitled)', TITLE_MAX)}\n"
        f"     {safe_link(alert.link) or '(no link)'}\n"
    )


def _console(alert: Alert, timezone: str) -> str:
    """The console text before control characters are removed."""
    rules = ", ".join(f"{r.name} ({r.id})" for r in alert.rules)
    snippet = alert.snippet.translate(_MARKS)  # the same length: the highlights' offsets still hold
    for start, end in reversed(alert.highlights):
        snippet = snippet[:start] + _ON + snippet[start:end] + _OFF + snippet[end:]
    lines = [
        f"━━ newswatch alert → {alert.destination} · {rules}",
        f"   {cut(alert.title or '(untitled)', TITLE_MAX)}",
        f"   {safe_link(alert.link) or '(no link)'}",
        f"   {alert.source} · {when(alert.published, timezone)}",
    ]
    if snippet:
        label = "matched in the article: " if alert.in_article else ""
        quote = cut(snippet, SNIPPET_MAX)
        lines.append(f"   {label}{quote}{_OFF if quote.count(_ON) > quote.count(_OFF) else ''}")  # a highlight cut short is closed
    if alert.terms:
        lines.append(f"   Matched: {', '.join(alert.terms)}")
    return "\n".join(lines) + "\n"
