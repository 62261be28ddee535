"""E-mail rendering: a subject, a plain-text part and an HTML part for each message; feed text escaped.

HTML is written by hand with `html.escape` on every text from a feed or the config, and links
only to checked http(s) URLs: a title such as `<img src=x onerror=…>` shows as text. E-mail has
no buttons: where the destination names the web server (`web_url`), an alert links to the page
of its match instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from alerts.format import cut, digest_rules, marked, match_page, one_line, printable, rule_names, safe_link, when
from alerts.messages import Alert, Briefing, Digest, Message, Mode, Notice

SUBJECT_MAX = 150
TITLE_MAX = 300
_STYLE = "font-family:sans-serif;font-size:14px;line-height:1.4;color:#222"
_SUBTLE = "color:#666;font-size:12px"
_QUOTE = "border-left:3px solid #ccc;margin:8px 0;padding-left:8px"


@dataclass(frozen=True)
class Rendered:
    """One e-mail's subject and its two bodies."""

    subject: str
    text: str
    html: str


def render(message: Message, timezone: str = "UTC", web_url: str | None = None) -> Rendered:
    """The subject, text and HTML of one message."""
    if isinstance(message, Notice):
        text = printable(message.text)
        return Rendered(f"[newswatch] {cut(one_line(message.text), SUBJECT_MAX)}", text + "\n", _page(f"<p>{escape(text)}</p>"))
    if isinstance(message, Digest):
        return _digest(message, timezone)
    if isinstance(message, Briefing):
        return _briefing(message, timezone)
    return _alert(message, timezone, web_url)


def _alert(alert: Alert, timezone: str, web_url: str | None) -> Rendered:
    """An alert (or a later report of its story): title, link, source, rules, the evidence with its terms, the match page."""
    title = cut(one_line(alert.title) or "(untitled)", TITLE_MAX)
    link, page = safe_link(alert.link), match_page(web_url, alert)
    lead = f"Also reported by {one_line(alert.source)}" if alert.mode == Mode.REPLY else one_line(alert.source)
    meta = f"{lead} · {when(alert.published, timezone)} · {one_line(rule_names(alert))}"
    quote = marked(alert.snippet, alert.highlights, 800)
    label = "Matched in the article: " if alert.in_article else ""
    terms = ", ".join(one_line(t) for t in alert.terms)
    text = [title, link or "(no link)", meta]
    if quote:
        text += ["", label + "".join(f"[{t}]" if hit else t for t, hit in quote)]
    if terms:
        text.append(f"Matched: {terms}")
    if page:
        text.append(f"Why it matched: {page}")
    html = [f"<h2 style='font-size:18px;margin:0 0 4px'>{_link(title, link)}</h2>", f"<p style='{_SUBTLE}'>{escape(meta)}</p>"]
    if quote:
        marked_html = "".join(f"<mark><b>{escape(t)}</b></mark>" if hit else escape(t) for t, hit in quote)
        html.append(f"<blockquote style='{_QUOTE}'><i>{escape(label)}</i>{marked_html}</blockquote>")
    if terms:
        html.append(f"<p style='{_SUBTLE}'>Matched: {escape(terms)}</p>")
    if page:
        html.append(f"<p><a href='{escape(page, quote=True)}'>Why it matched</a></p>")
    subject = f"[newswatch] {cut(one_line(rule_names(alert)), 60)}: {title}"
    return Rendered(cut(subject, SUBJECT_MAX), "\n".join(text) + "\n", _page("\n".join(html)))


def _digest(digest: Digest, timezone: str) -> Rendered:
    """A digest: one entry per alert."""
    held = f", {digest.held} held back by a rule's throttle" if digest.held else ""
    heading = f"{len(digest.alerts)} alerts{held} · {one_line(digest_rules(digest))}"
    text, items = [heading, ""], []
    for a in digest.alerts:
        title, link = cut(one_line(a.title) or "(untitled)", TITLE_MAX), safe_link(a.link)
        meta = f"{one_line(a.source)} · {when(a.published, timezone)} · {one_line(rule_names(a))}"
        text += [f"• {title}", f"  {link or '(no link)'}", f"  {meta}"]
        items.append(f"<li>{_link(title, link)}<br><span style='{_SUBTLE}'>{escape(meta)}</span></li>")
    html = f"<h2 style='font-size:16px'>{escape(heading)}</h2><ul>{''.join(items)}</ul>"
    return Rendered(cut(f"[newswatch] {heading}", SUBJECT_MAX), "\n".join(text) + "\n", _page(html))


def _briefing(briefing: Briefing, timezone: str) -> Rendered:
    """A briefing page: each rule, then its stories, newest first."""
    part = f" · part {briefing.page} of {briefing.pages}" if briefing.pages > 1 else ""
    heading = f"{one_line(briefing.title)} · {briefing.count} stories{part}"
    text, html = [heading], [f"<h2 style='font-size:18px'>{escape(heading)}</h2>"]
    if not briefing.sections:
        text.append("Nothing matched the rules in this period.")
        html.append("<p>Nothing matched the rules in this period.</p>")
    for rule, stories in briefing.sections:
        text += ["", one_line(rule)]
        items = []
        for story in stories:
            a = story.alert
            title, link = cut(one_line(a.title) or "(untitled)", TITLE_MAX), safe_link(a.link)
            also = f" (+{story.also} other report{'s' if story.also > 1 else ''})" if story.also else ""
            meta = f"{one_line(a.source)} · {when(a.published, timezone)}{also}"
            text += [f"• {title}", f"  {link or '(no link)'}", f"  {meta}"]
            items.append(f"<li>{_link(title, link)}<br><span style='{_SUBTLE}'>{escape(meta)}</span></li>")
        html.append(f"<h3 style='font-size:15px'>{escape(one_line(rule))}</h3><ul>{''.join(items)}</ul>")
    return Rendered(cut(f"[newswatch] {heading}", SUBJECT_MAX), "\n".join(text) + "\n", _page("\n".join(html)))


def _link(title: str, link: str) -> str:
    """The title as a link where the URL is a plain http(s) one, else as text."""
    return f"<a href='{escape(link, quote=True)}'>{escape(title)}</a>" if link else escape(title)


def _page(body: str) -> str:
    """A whole HTML document around a body."""
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body style='{_STYLE}'>{body}</body></html>\n"
