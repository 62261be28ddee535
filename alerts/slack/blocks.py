"""Slack's rendering: an alert, a thread reply, a digest or a notice as Block Kit with a plain-text fallback.

Feed content is untrusted: everything from a feed is cleaned (`alerts.display`: no control
characters, bidi overrides or stray invisible characters) and escaped for mrkdwn (`&`, `<`,
`>`), so a title like `<!channel>` pings nobody and `<http://evil|Reuters>` is no link; only
http(s) links are linked; every text respects Block Kit's limits, cut at word boundaries. A
link too long for a message is shown shortened, unlinked, with its host: the alert still goes.
"""

from __future__ import annotations

from typing import Any

from alerts.display import clean
from alerts.format import cut, digest_rules, rule_names, safe_link, when
from alerts.messages import Alert, Briefing, Digest, Message, Mode, Notice

HEADER_MAX = 150
SECTION_MAX = 3000
CONTEXT_MAX = 2000
FALLBACK_MAX = 3000
TITLE_MAX = 300
SNIPPET_MAX = 600
DIGEST_TITLE_MAX = 150
ARTICLE_LABEL = "_Matched in the article:_"  # the feed carried too little: the match came from the page
DIGEST_LINK_MAX = 300  # a longer link is shown unlinked: a digest's lines stay under ~650 characters each
LINK_MAX = 2000  # a longer link does not fit a section beside its title: shown shortened, unlinked
LINK_SHOWN = 80  # characters of a too-long link that are shown, its host first
BLOCK_PREFIX = "newswatch:"  # the actions block of an alert: "newswatch:<delivery id>"
OUTCOME_BLOCK = "newswatch-outcome"
RELEVANT, NOT_RELEVANT, MUTE_RULE, MUTE_SOURCE = "relevant", "not_relevant", "mute_rule", "mute_source"
DURATIONS = (("1 hour", 3600), ("1 day", 86_400), ("1 week", 604_800))


def escape(text: str) -> str:
    """Untrusted text cleaned (`alerts.display.clean`) and escaped for Slack mrkdwn and plain text fields."""
    return clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link_or_note(url: str, limit: int = LINK_MAX) -> tuple[str, str]:
    """The escaped link, or "" and the link shortened for reading (its host kept visible) when it is longer than `limit`."""
    link = escape(safe_link(url))
    if len(link) <= limit:
        return link, ""
    shown = link.split("://", 1)[-1]
    return "", f"`{shown[: LINK_SHOWN - 1]}…`"  # in code: Slack does not turn it into a (broken) link


def escaped(text: str, limit: int) -> str:
    """`text` cut at a word boundary and escaped, at most `limit` characters once escaped."""
    size = limit
    out = escape(cut(text, size))
    while len(out) > limit and size > 1:
        size = max(1, size - (len(out) - limit))
        out = escape(cut(text, size))
    return out


def fallback(message: Message, timezone: str = "UTC") -> str:
    """The plain `text` of a Slack message: notifications and screen readers read this."""
    if isinstance(message, Notice):
        return escaped(f"[newswatch] {message.text}", FALLBACK_MAX)
    if isinstance(message, Briefing):
        titles = "; ".join(cut(s.alert.title or "(untitled)", 80) for _, stories in message.sections for s in stories)
        return escape(cut(f"{message.title}: {message.count} stories" + (f": {titles}" if titles else ""), FALLBACK_MAX))
    if isinstance(message, Digest):
        titles = "; ".join(cut(a.title or "(untitled)", 80) for a in message.alerts)
        return escape(cut(f"[digest] {len(message.alerts)} alerts ({digest_rules(message)}): {titles}", FALLBACK_MAX))
    link, note = link_or_note(message.link, FALLBACK_MAX // 2)  # Slack reads `&amp;` in a link as `&`
    link = link or note
    prefix = f"Also reported by {message.source}:" if message.mode == Mode.REPLY else f"[{rule_names(message)}]"
    line = f"{prefix} {cut(message.title, TITLE_MAX)} ({message.source}, {when(message.published, timezone)})"
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


def _context(text: str) -> dict[str, Any]:
    """A context block of one mrkdwn element (text already escaped)."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, CONTEXT_MAX)}]}


def _linked(title: str, url: str, limit: int) -> str:
    """A bold title, linked when the link is safe; a link too long to fit follows it shortened, unlinked."""
    link, note = link_or_note(url)  # Slack reads `&amp;` in a link as `&`; a raw `&` is left to chance
    text = escaped(title or "(untitled)", limit)
    if note:
        return f"*{text}*\n:link: {note} (too long to link)"
    return f"*<{link}|{text}>*" if link else f"*{text}*"


def blocks(message: Message, timezone: str = "UTC", buttons: bool = False) -> list[dict[str, Any]]:
    """The Block Kit message: an alert (with the feedback buttons if `buttons`), a thread reply or a digest."""
    if isinstance(message, Notice):
        icon = ":white_check_mark:" if " recovered " in message.text else ":warning:"
        return [{"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} {escaped(message.text, SECTION_MAX - 30)}"}}]
    if isinstance(message, Digest):
        return digest_blocks(message, timezone)
    if isinstance(message, Briefing):
        return briefing_blocks(message, timezone)
    if message.mode == Mode.REPLY:
        return reply_blocks(message, timezone)
    return alert_blocks(message, timezone) + ([actions_block(message.delivery_id)] if buttons else [])


def reply_blocks(alert: Alert, timezone: str = "UTC") -> list[dict[str, Any]]:
    """A thread reply: the same story from another outlet (or updated), kept short."""
    out: list[dict[str, Any]] = [
        _context(f":link: Also reported by *{escape(cut(alert.source, 200))}* · {when(alert.published, timezone)}"),
        {"type": "section", "text": {"type": "mrkdwn", "text": _linked(alert.title, alert.link, TITLE_MAX)}},
    ]
    if alert.snippet:
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": highlighted(alert, SNIPPET_MAX // 2)}})
    return out


def digest_blocks(digest: Digest, timezone: str = "UTC") -> list[dict[str, Any]]:
    """A digest: one line per alert (linked title, source, time, rules), packed into sections."""
    held = f" ({digest.held} held back by a rule's throttle)" if digest.held else ""
    out: list[dict[str, Any]] = [
        _context(f":newspaper: *Digest: {len(digest.alerts)} alerts*{held} · {escaped(digest_rules(digest), 300)}"),
    ]
    section = ""
    for line in (_digest_line(a, timezone) for a in digest.alerts):
        if section and len(section) + 1 + len(line) > SECTION_MAX:
            out.append({"type": "section", "text": {"type": "mrkdwn", "text": section}})
            section = ""
        section = f"{section}\n{line}" if section else line
    if section:
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": section}})
    return out


def briefing_blocks(briefing: Briefing, timezone: str = "UTC") -> list[dict[str, Any]]:
    """A briefing: headline, count, then each rule's stories (linked title, source, time, other reports) in sections."""
    part = f" · part {briefing.page} of {briefing.pages}" if briefing.pages > 1 else ""
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(briefing.title, HEADER_MAX)}},
        _context(f":newspaper: {briefing.count} stories{part}"),
    ]
    if not briefing.sections:
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": "Nothing matched the rules in this period."}})
    for rule, stories in briefing.sections:
        section = f"*{escaped(rule, 200)}*"
        for story in stories:
            line = _digest_line(story.alert, timezone, rules=False)
            if story.also:
                line += f" · _+{story.also} other report{'s' if story.also > 1 else ''}_"
            if len(section) + 1 + len(line) > SECTION_MAX:
                out.append({"type": "section", "text": {"type": "mrkdwn", "text": section}})
                section = line
            else:
                section = f"{section}\n{line}"
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": section}})
    return out


def _digest_line(alert: Alert, timezone: str, rules: bool = True) -> str:
    """One alert in a digest (or a briefing, where the rule heads the section)."""
    link = alert.link if len(escape(safe_link(alert.link))) <= DIGEST_LINK_MAX else ""
    names = f" · _{escaped(rule_names(alert), 100)}_" if rules else ""
    source = escaped(alert.source, 60)
    return f"• {_linked(alert.title, link, DIGEST_TITLE_MAX)} — {source} · {when(alert.published, timezone)}{names}"


def alert_blocks(alert: Alert, timezone: str = "UTC") -> list[dict[str, Any]]:
    """An alert: rules, linked title, source and time, snippet, matched terms."""
    meta = f"{escape(cut(alert.source, 200))} · {when(alert.published, timezone)}"
    out: list[dict[str, Any]] = [
        _context(f":mag: {escape(rule_names(alert))}"),
        {"type": "section", "text": {"type": "mrkdwn", "text": _linked(alert.title, alert.link, TITLE_MAX)}},
        _context(meta),
    ]
    if alert.snippet:
        label = ARTICLE_LABEL + " " if alert.in_article else ""
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": label + highlighted(alert, SNIPPET_MAX - len(label))}})
    if alert.terms:
        terms = ", ".join(f"`{escape(t)}`" for t in alert.terms)
        out.append(_context(f"Matched: {terms}"))
    return out


def actions_block(delivery_id: int) -> dict[str, Any]:
    """The buttons under an alert."""

    def menu(action: str, label: str) -> dict[str, Any]:
        options = [{"text": {"type": "plain_text", "text": text}, "value": str(seconds)} for text, seconds in DURATIONS]
        return {"type": "static_select", "action_id": action, "placeholder": {"type": "plain_text", "text": label}, "options": options}

    return {
        "type": "actions",
        "block_id": f"{BLOCK_PREFIX}{delivery_id}",
        "elements": [
            {"type": "button", "action_id": RELEVANT, "text": {"type": "plain_text", "text": "Relevant"}, "value": RELEVANT},
            {"type": "button", "action_id": NOT_RELEVANT, "text": {"type": "plain_text", "text": "Not relevant"}, "value": NOT_RELEVANT},
            menu(MUTE_RULE, "Mute rule…"),
            menu(MUTE_SOURCE, "Mute source…"),
        ],
    }
