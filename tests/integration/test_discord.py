"""Discord specifics against the strict local webhook: forum posts and their threads, and the 429 body's retry_after."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import aiohttp
import pytest

from alerts.base import DeliveryError
from alerts.discord import DiscordSink
from alerts.messages import Alert, AlertRule, Notice
from tests.support.receiver import Receiver


def alert(n: int = 1) -> Alert:
    rule = AlertRule("kh", "Cambodia", ("Cambodia",))
    return Alert(
        n,
        "d",
        "Cambodia opens a border gate",
        "https://example.org/gate",
        "VNA",
        datetime(2026, 12, 3, tzinfo=UTC),
        "Cambodia opened",
        ((0, 8),),
        (rule,),
    )


async def test_in_a_forum_each_alert_opens_a_post_and_a_later_report_goes_into_it(receiver: Receiver) -> None:
    receiver.discord_forum = True
    async with aiohttp.ClientSession() as session:
        sink = DiscordSink(session, receiver.discord_url, forum=True)
        thread = await sink.send(alert())
        await sink.send(replace(alert(2), mode="reply", thread_ts=thread))
        await sink.send(Notice(3, "d", "Feed f failing"))
    post, reply, notice = receiver.discord
    assert post["thread_name"] == "Cambodia opens a border gate" and thread == post["channel_id"]
    assert reply["thread_id"] == thread and "thread_name" not in reply
    assert notice["thread_name"] == "newswatch notice"


async def test_a_429_waits_for_the_bodys_fractional_retry_after(receiver: Receiver) -> None:
    receiver.faults.fail_next, receiver.faults.fail_status, receiver.faults.fail_headers = 1, 429, {"Retry-After": "0.35"}
    async with aiohttp.ClientSession() as session:
        with pytest.raises(DeliveryError) as error:
            await DiscordSink(session, receiver.discord_url).send(alert())
    assert error.value.retryable and error.value.retry_after == pytest.approx(0.35)
