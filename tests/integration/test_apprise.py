"""Apprise (the optional extra, installed for the tests) against the local receiver's json:// endpoint."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest

from alerts import apprise as apprise_sink
from alerts.apprise import AppriseSink
from alerts.base import DeliveryError
from alerts.messages import Alert, AlertRule
from tests.support.receiver import Receiver


def alert(n: int = 1) -> Alert:
    return Alert(
        n,
        "desk",
        "Cambodia opens a border gate",
        "https://example.org/gate",
        "VNA",
        datetime(2026, 12, 3, tzinfo=UTC),
        "",
        (),
        (AlertRule("kh", "KH", ()),),
    )


async def test_a_slow_service_holds_a_pool_thread_never_the_event_loop(receiver: Receiver) -> None:
    receiver.apprise_hold = asyncio.Event()
    sending = asyncio.create_task(AppriseSink(receiver.apprise_url).send(alert()))
    await receiver.apprise_arrived.wait()  # the receiver, on this event loop, holds Apprise's request: the loop runs
    assert not sending.done()
    assert sum(t.name.startswith("apprise") for t in threading.enumerate()) <= apprise_sink.POOL_SIZE
    receiver.apprise_hold.set()
    assert await sending is None
    [call] = receiver.apprise
    assert call["title"].startswith("KH: Cambodia opens a border gate") and "https://example.org/gate" in call["message"]


async def test_a_service_that_does_not_answer_in_time_is_a_retryable_timeout(receiver: Receiver) -> None:
    receiver.apprise_hold = asyncio.Event()
    try:
        with pytest.raises(DeliveryError) as error:
            await AppriseSink(receiver.apprise_url, timeout=0.5).send(alert())
    finally:
        receiver.apprise_hold.set()
    assert error.value.retryable and "TIMEOUT" in str(error.value)


async def test_a_refusal_is_a_retryable_failure_and_an_unusable_url_is_permanent(receiver: Receiver) -> None:
    receiver.faults.fail_next, receiver.faults.fail_status = 1, 400  # Apprise cannot tell a refusal from an outage
    with pytest.raises(DeliveryError) as refused:
        await AppriseSink(receiver.apprise_url).send(alert())
    with pytest.raises(DeliveryError) as unusable:
        await AppriseSink("not-a-service://").send(alert())
    assert refused.value.retryable and refused.value.retry_after is None and "FAILURE" in str(refused.value)
    assert not unusable.value.retryable
