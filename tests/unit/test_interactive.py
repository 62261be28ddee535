"""Slack's buttons: what a click payload must hold to be acted on, and how the outcome line replaces the last one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.messages import Alert, AlertRule
from alerts.slack.blocks import OUTCOME_BLOCK, actions_block, blocks
from alerts.slack.interactive import Click, parse_click, with_outcome
from tests.support.slackserver import Invalid, validate_blocks


def payload(action: dict[str, Any], user: str = "U1") -> dict[str, Any]:
    return {"type": "block_actions", "user": {"id": user}, "actions": [action]}


def test_clicks_on_our_buttons_and_menus_are_parsed() -> None:
    assert parse_click(payload({"action_id": "relevant", "block_id": "newswatch:42"})) == Click(42, "relevant", "U1")
    menu = {"action_id": "mute_source", "block_id": "newswatch:7", "selected_option": {"value": "86400"}}
    assert parse_click(payload(menu)) == Click(7, "mute_source", "U1", 86400)


@pytest.mark.parametrize(
    "action",
    [
        {"action_id": "relevant", "block_id": "someone-else:42"},  # another app's block
        {"action_id": "delete_everything", "block_id": "newswatch:42"},  # not one of our actions
        {"action_id": "relevant", "block_id": "newswatch:forty-two"},
        {"action_id": "mute_rule", "block_id": "newswatch:42"},  # a mute without a chosen duration
        {"action_id": "mute_rule", "block_id": "newswatch:42", "selected_option": {"value": "99999999"}},  # not an offered one
    ],
)
def test_foreign_or_malformed_clicks_are_ignored(action: dict[str, Any]) -> None:
    assert parse_click(payload(action)) is None


def test_a_click_without_a_user_or_of_another_type_is_ignored() -> None:
    assert parse_click(payload({"action_id": "relevant", "block_id": "newswatch:1"}, user="")) is None
    assert parse_click({"type": "view_submission", "user": {"id": "U1"}}) is None


def test_the_outcome_line_replaces_the_last_one_and_keeps_the_rest() -> None:
    first = with_outcome([{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}], "Marked relevant by <@U1>")
    second = with_outcome(first, "Marked not relevant by <@U2>")
    assert [b["type"] for b in second] == ["section", "context"]
    assert [b["elements"][0]["text"] for b in second if b.get("block_id") == OUTCOME_BLOCK] == ["Marked not relevant by <@U2>"]


def test_an_alert_with_buttons_is_valid_block_kit_and_a_broken_menu_is_not() -> None:
    alert = Alert(1, "desk", "Border <!channel>", "https://example.org/a", "Wire", datetime.now(UTC), "", (), (AlertRule("r", "R", ()),))
    rendered = blocks(alert, "UTC", buttons=True)
    validate_blocks(rendered)
    assert rendered[-1] == actions_block(1) and "actions" not in [b["type"] for b in blocks(alert, "UTC")]
    broken = actions_block(1)
    broken["elements"][2]["options"] = []
    with pytest.raises(Invalid):
        validate_blocks([broken])
