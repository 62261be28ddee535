"""Rendering: escaping of untrusted feed content, Block Kit limits, readable fallbacks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from alerts import console
from alerts.delivery import DIGEST_SIZE
from alerts.messages import Alert, AlertRule, Digest
from alerts.slack import blocks as render
from tests.support.slackserver import validate_blocks


def alert(**changes: object) -> Alert:
    base: dict[str, object] = {
        "delivery_id": 1,
        "destination": "desk",
        "title": "Việt Nam and Cambodia finish border demarcation",
        "link": "https://example.org/a?x=1&y=2",
        "source": "VNA",
        "published": datetime(2025, 9, 11, 3, 0, tzinfo=UTC),
        "snippet": "Both sides finished the border demarcation.",
        "highlights": ((24, 30),),
        "rules": (AlertRule("vn-kh-border", "Việt Nam–Cambodia border", ("border", "Cambodia")),),
    }
    return Alert(**(base | changes))  # type: ignore[arg-type]


def all_text(blocks: list[dict[str, object]]) -> str:
    return repr(blocks)


def test_blocks_link_title_show_source_time_snippet_and_terms() -> None:
    blocks = render.blocks(alert(), timezone="Asia/Ho_Chi_Minh")
    validate_blocks(blocks)
    heading = blocks[1]["text"]["text"]  # type: ignore[index]
    assert heading == "*<https://example.org/a?x=1&amp;y=2|Việt Nam and Cambodia finish border demarcation>*"
    assert "2025-09-11 10:00 +07" in all_text(blocks)
    assert "*border*" in blocks[3]["text"]["text"]  # type: ignore[index]
    assert "`border`, `Cambodia`" in all_text(blocks)
    assert render.fallback(alert()).startswith("[Việt Nam–Cambodia border] Việt Nam and Cambodia finish border demarcation (VNA,")


@pytest.mark.parametrize("hostile", ["<!channel> urgent", "<http://evil.example|Reuters>", "<@U123> & <#C1|general>"])
def test_feed_content_cannot_ping_or_fake_links(hostile: str) -> None:
    a = alert(title=hostile, snippet=hostile, source=hostile, highlights=())
    rendered = all_text(render.blocks(a)) + render.fallback(a)
    assert "<!channel>" not in rendered and "<http://evil" not in rendered and "<@U123>" not in rendered
    assert "&lt;" in rendered


@pytest.mark.parametrize("link", ["javascript:alert(1)", "ftp://example.org/x", "data:text/html,hi", ""])
def test_only_http_links_are_linked(link: str) -> None:
    blocks = render.blocks(alert(link=link))
    assert blocks[1]["text"]["text"] == "*Việt Nam and Cambodia finish border demarcation*"  # type: ignore[index]


def test_a_link_cannot_break_out_of_its_mrkdwn_link() -> None:
    heading = render.blocks(alert(link="https://example.org/a|<!channel>"))[1]["text"]["text"]  # type: ignore[index]
    assert "<!channel>" not in heading and heading.count("|") == 1


def test_huge_fields_are_cut_at_word_boundaries_within_slack_limits() -> None:
    words = "border " * 2000
    a = alert(title=words, snippet=words[:10_000], source=words, rules=(AlertRule("r", "R" * 3000, ("border",) * 300),))
    blocks = render.blocks(a)
    validate_blocks(blocks)
    assert len(render.fallback(a)) <= 3000
    assert blocks[1]["text"]["text"].rstrip("*>").endswith("…")  # type: ignore[index]


def test_console_rendering_is_readable_and_strips_terminal_escapes() -> None:
    out = console.render(alert(title="Title \x1b[31mred\x1b[0m"))
    assert "\x1b" not in out
    assert "[border]" in out and "VNA · 2025-09-11 03:00 UTC" in out and "https://example.org/a?x=1&y=2" in out
    assert "**" not in out  # not Markdown: a terminal shows it literally


def test_console_highlights_are_bold_on_a_terminal_and_feed_text_cannot_fake_them() -> None:
    bold = console.render(alert(), bold=True)
    assert "\x1b[1mborder\x1b[22m" in bold and bold.count("\x1b") == 2
    faked = console.render(alert(snippet="\ue000x\ue001 " + alert().snippet), bold=True)
    assert faked.count("\x1b") == 2


def digest(n: int, **changes: object) -> Digest:
    return Digest("desk", tuple(alert(delivery_id=i, **changes) for i in range(1, n + 1)))


def test_a_digest_lists_every_alert_with_its_link_within_block_kit_limits() -> None:
    hostile = digest(
        DIGEST_SIZE,
        title="<!channel> " + "very long headline " * 40,
        link="https://example.org/" + "x" * 250,
        source="<http://evil|Reuters> " * 10,
    )
    blocks = render.blocks(hostile)
    validate_blocks(blocks)
    text = all_text(blocks)
    assert text.count("https://example.org/xxx") == DIGEST_SIZE
    assert "<!channel>" not in text and "<http://evil" not in text
    assert f"Digest: {DIGEST_SIZE} alerts" in text


def test_a_digest_shows_an_overlong_link_unlinked_and_a_javascript_link_not_at_all() -> None:
    blocks = render.blocks(
        Digest("desk", (alert(delivery_id=1, link="https://e.org/" + "y" * 3000), alert(delivery_id=2, link="javascript:alert(1)")))
    )
    validate_blocks(blocks)
    assert "yyyy" not in all_text(blocks) and "javascript" not in all_text(blocks)


def test_a_digest_says_how_many_a_throttle_held_back() -> None:
    held = Digest("desk", digest(3).alerts, held=2)
    assert "2 held back" in all_text(render.blocks(held)) and "2 held back" in console.render(held)


def test_digest_fallback_and_console_name_every_title() -> None:
    d = Digest("desk", (alert(delivery_id=1, title="First <b>"), alert(delivery_id=2, title="Second")))
    assert "First &lt;b&gt;" in render.fallback(d) and "Second" in render.fallback(d)
    printed = console.render(d)
    assert printed.count("https://example.org/a?x=1&y=2") == 2 and "First <b>" in printed


def test_a_reply_says_also_reported_by_with_the_linked_title() -> None:
    reply = alert(mode="reply", thread_ts="1700000000.000100", source="Vietnam+ <!here>")
    blocks = render.blocks(reply)
    validate_blocks(blocks)
    text = all_text(blocks)
    assert "Also reported by *Vietnam+ &lt;!here&gt;*" in text and "<https://example.org/a?x=1&amp;y=2|" in text
    assert render.fallback(reply).startswith("Also reported by Vietnam+ &lt;!here&gt;:")
    assert "also reported by Vietnam+" in console.render(reply)


def test_a_digest_of_worst_case_text_stays_within_slacks_total() -> None:
    worst = digest(DIGEST_SIZE, title="&" * 500, source="<" * 500, link="https://e.org/" + "&" * 280)
    worst = Digest("desk", tuple(replace(a, rules=(AlertRule("r", ">" * 300, ()),)) for a in worst.alerts))
    validate_blocks(render.blocks(worst))
