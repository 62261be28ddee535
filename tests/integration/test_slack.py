"""The real slack-sdk clients against the Slack-compatible server: outcomes and their mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from alerts.base import DeliveryError
from alerts.messages import Alert, AlertRule
from alerts.slack import SlackBotSink, SlackWebhookSink
from tests.support.slackserver import TOKEN, SlackServer


def alert(n: int = 1) -> Alert:
    return Alert(
        delivery_id=n,
        destination="desk",
        title=f"Border item {n}",
        link=f"https://example.org/{n}",
        source="Test",
        published=datetime(2025, 9, 11, tzinfo=UTC),
        snippet="the border was calm",
        highlights=((4, 10),),
        rules=(AlertRule("r", "Rule", ("border",)),),
    )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def bot(slack: SlackServer, session: aiohttp.ClientSession, channel: str = "#desk", token: str = TOKEN) -> SlackBotSink:
    client = AsyncWebClient(token=token, base_url=slack.url, session=session, retry_handlers=[], timeout=5)
    return SlackBotSink(client, channel)


async def test_post_returns_ts_and_channel_id_and_message_has_blocks_and_fallback(
    slack: SlackServer, session: aiohttp.ClientSession
) -> None:
    posted = await bot(slack, session).send(alert())
    [message] = slack.messages["desk"]
    assert posted is not None and posted.id == message["ts"] and posted.channel == slack.channel_id("desk")  # a permalink needs both
    assert message["text"].startswith("[Rule] Border item 1") and message["blocks"]
    assert message["unfurl_links"] is False


@pytest.mark.parametrize(
    ("setup", "error", "retryable"),
    [
        ({"token": "xoxb-wrong"}, "slack: invalid_auth", False),
        ({"channel": "#nowhere"}, "slack: channel_not_found", False),
    ],
)
async def test_permanent_errors(
    slack: SlackServer, session: aiohttp.ClientSession, setup: dict[str, str], error: str, retryable: bool
) -> None:
    with pytest.raises(DeliveryError) as exc:
        await bot(slack, session, **setup).send(alert())
    assert str(exc.value) == error and exc.value.retryable is retryable
    assert TOKEN not in str(exc.value)


async def test_server_errors_and_rate_limits_are_retryable(slack: SlackServer, session: aiohttp.ClientSession) -> None:
    sink = bot(slack, session)
    slack.faults.fail_next = 1
    with pytest.raises(DeliveryError) as failure:
        await sink.send(alert(1))
    assert failure.value.retryable and "HTTP 500" in str(failure.value)
    await sink.send(alert(2))
    with pytest.raises(DeliveryError) as limited:
        await sink.send(alert(3))  # within a second of the previous message
    assert limited.value.retryable and limited.value.retry_after == 1.0 and "ratelimited" in str(limited.value)


async def test_dropped_connection_after_store_is_retryable(slack: SlackServer, session: aiohttp.ClientSession) -> None:
    slack.faults.drop_after_store = 1
    with pytest.raises(DeliveryError) as exc:
        await bot(slack, session).send(alert())
    assert exc.value.retryable and str(exc.value).startswith("network error")
    assert len(slack.messages["desk"]) == 1  # it was stored: a retry will duplicate it, once at most


async def test_webhook_outcomes_keep_the_url_secret(slack: SlackServer, session: aiohttp.ClientSession) -> None:
    sink = SlackWebhookSink(AsyncWebhookClient(slack.webhook_url, session=session, retry_handlers=[]))
    assert await sink.send(alert()) is None
    assert slack.webhook_messages[0]["blocks"]
    slack.faults.fail_next = 1
    with pytest.raises(DeliveryError) as failure:
        await sink.send(alert(2))
    assert failure.value.retryable
    wrong = SlackWebhookSink(AsyncWebhookClient(slack.webhook_url + "x", session=session, retry_handlers=[]))
    with pytest.raises(DeliveryError) as missing:
        await wrong.send(alert(3))
    assert not missing.value.retryable and "HTTP 404" in str(missing.value)
    assert "webhooksecret" not in str(missing.value) + str(failure.value)
