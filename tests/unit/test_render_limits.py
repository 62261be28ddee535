"""Every Slack message stays within Block Kit's limits whatever the feed and config hold; nothing unsafe reaches the screen."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from alerts import console
from alerts.messages import Alert, AlertRule, Briefing, Digest, Mode, Notice, Story
from alerts.slack import blocks as render
from tests.support.slackserver import TEXT_LIMIT, validate_blocks

LONG_LINK = "https://news.example.org/" + "very-long-path/" * 400 + "?" + "&".join(f"utm_{i}=x" for i in range(200))
SPOOF = "\u202egpj.exe\u202c \x1b[31mAlert\x1b[0m Reu\u200bters"


def hostile(n: int = 1, link: str = LONG_LINK) -> Alert:
    """An alert with every field at its worst: a link of 8,000 characters, long names, many terms, spoofing characters."""
    rules = tuple(AlertRule(f"r{i}", f"{SPOOF} rule " + "x" * 300, tuple(f"term{j}" * 10 for j in range(30))) for i in range(12))
    return Alert(
        delivery_id=n,
        destination="desk",
        title=SPOOF + " border " * 200,
        link=link,
        source="Outlet " * 100,
        published=datetime(2025, 9, 11, tzinfo=UTC),
        snippet="border " * 400,
        highlights=((0, 6),),
        rules=rules,
    )


@pytest.mark.parametrize("mode", [Mode.ALERT, Mode.REPLY])
def test_an_alert_with_an_8000_character_link_fits_and_keeps_its_host_visible(mode: str) -> None:
    message = replace(hostile(), mode=mode, thread_ts="1.2" if mode == Mode.REPLY else None)
    blocks = render.blocks(message, buttons=True)
    validate_blocks(blocks)
    text = repr(blocks)
    assert LONG_LINK not in text and "news.example.org/very-long-path/" in text  # shortened, the host shown
    fallback = render.fallback(message)
    assert len(fallback) <= render.FALLBACK_MAX and "news.example.org" in fallback


def test_digests_briefings_and_notices_of_hostile_alerts_fit() -> None:
    alerts = tuple(hostile(n) for n in range(15))
    validate_blocks(render.blocks(Digest("desk", alerts)))
    stories = tuple(Story(a, also=3) for a in alerts)
    briefing = Briefing(1, "desk", "Daily " * 100, ((SPOOF * 50, stories[:8]), ("r2", stories[8:])))
    validate_blocks(render.blocks(briefing))
    notice = Notice(1, "desk", "Feed X failing: " + LONG_LINK)
    validate_blocks(render.blocks(notice))
    for message in (Digest("desk", alerts), briefing, notice):
        assert len(render.fallback(message)) <= TEXT_LIMIT


def test_spoofing_and_terminal_characters_reach_neither_slack_nor_the_console() -> None:
    message = hostile(link="https://example.org/a")
    for shown in (repr(render.blocks(message)), render.fallback(message), console.render(message)):
        assert "\u202e" not in shown and "\x1b" not in shown and "\u200b" not in shown
        assert "gpj.exe" in shown and "Reuters" in shown
