"""The contract every sink keeps, run against every kind in the destination registry (service.destinations.KINDS).

Each sink is built through the registry, as the service builds it, and talks to the real
thing where there is one: the strict Slack-compatible server on 127.0.0.1 through the real
slack-sdk clients. A new kind of destination must add its `Remote` here and pass this file.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest

from alerts.base import DeliveryCode, DeliveryError, Sink
from alerts.messages import Alert, AlertRule, Digest, Message, Notice
from service.destinations import KINDS, SinkContext, Unavailable, build_sink
from service.settings import Settings
from tests.support.slackserver import TOKEN, WEBHOOK_PATH, SlackServer


@dataclass
class Remote:
    """How one kind is set up against its test server, and what it can do."""

    spec: dict[str, Any]
    settings: Callable[[SlackServer], dict[str, Any]]
    secrets: Callable[[SlackServer], list[str]]
    threads: bool  # a reply goes into a thread (else it goes out on its own)
    remote: bool  # it talks to a server that can fail (else it never fails)
    payloads: Callable[[SlackServer], list[dict[str, Any]]]


REMOTES: dict[str, Remote] = {
    "slack": Remote(
        {"type": "slack", "channel": "#desk"},
        lambda s: {"slack_bot_token": TOKEN, "slack_api_url": s.url},
        lambda s: [TOKEN],
        threads=True,
        remote=True,
        payloads=lambda s: s.messages["desk"],
    ),
    "slack_webhook": Remote(
        {"type": "slack_webhook", "url_env": "DESK_HOOK"},  # any variable name
        lambda s: {"environ": {"DESK_HOOK": s.webhook_url}},
        lambda s: [s.webhook_url, WEBHOOK_PATH],
        threads=False,
        remote=True,
        payloads=lambda s: s.webhook_messages,
    ),
    "console": Remote({"type": "console"}, lambda s: {}, lambda s: [], threads=False, remote=False, payloads=lambda s: []),
}
KIND_NAMES = sorted(KINDS)
REMOTE_KINDS = [k for k in KIND_NAMES if REMOTES[k].remote]


def test_every_registered_kind_has_a_contract_setup() -> None:
    assert set(REMOTES) == set(KINDS)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def sink(
    kind: str, slack: SlackServer, session: aiohttp.ClientSession, stdout: io.StringIO | None = None, settings: Settings | None = None
) -> Sink:
    """A sink of `kind` built through the registry."""
    remote = REMOTES[kind]
    spec = KINDS[kind].spec.model_validate(remote.spec)
    settings = settings or Settings(**remote.settings(slack))
    return build_sink("desk", spec, SinkContext(settings, session, stdout or io.StringIO()))


def alert(n: int = 1, title: str = "Việt Nam and Cambodia finish border demarcation") -> Alert:
    return Alert(
        delivery_id=n,
        destination="desk",
        title=title,
        link=f"https://example.org/{n}?a=1&b=2",
        source="VNA",
        published=datetime(2025, 9, 11, tzinfo=UTC),
        snippet="the land border demarcation and marker planting",
        highlights=((9, 15),),
        rules=(AlertRule("vn-kh", "Việt Nam–Cambodia border", ("border",)),),
    )


MESSAGES: list[Message] = [
    alert(),
    Digest("desk", tuple(alert(n) for n in range(1, 4))),
    Notice(9, "desk", "Feed vnexpress failing since 2026-12-01 08:00 UTC, last error: http_503"),
]


@pytest.mark.parametrize("kind", KIND_NAMES)
@pytest.mark.parametrize("message", MESSAGES, ids=["alert", "digest", "notice"])
async def test_delivers_every_message_type(kind: str, message: Message, slack: SlackServer, session: aiohttp.ClientSession) -> None:
    out = io.StringIO()
    remote_id = await sink(kind, slack, session, out).send(message)
    remote = REMOTES[kind]
    if remote.remote:
        assert len(remote.payloads(slack)) == 1
        assert (remote_id is not None) == remote.threads  # a message id where the sink can thread
    else:
        assert out.getvalue() and remote_id is None


@pytest.mark.parametrize("kind", KIND_NAMES)
async def test_feed_content_cannot_ping_or_fake_links_or_control_the_terminal(
    kind: str, slack: SlackServer, session: aiohttp.ClientSession
) -> None:
    out = io.StringIO()
    await sink(kind, slack, session, out).send(alert(title="<!channel> <http://evil.example|Reuters> \x1b[31mred"))
    rendered = json.dumps(REMOTES[kind].payloads(slack), ensure_ascii=False) + out.getvalue()
    assert "\x1b" not in rendered
    if REMOTES[kind].remote:  # Slack's markup: the title must not ping the channel or link elsewhere
        assert "<!channel>" not in rendered and "<http://evil.example|" not in rendered


@pytest.mark.parametrize("kind", REMOTE_KINDS)
@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (502, True)])
async def test_server_errors_are_retryable(
    kind: str, status: int, retryable: bool, slack: SlackServer, session: aiohttp.ClientSession
) -> None:
    slack.faults.fail_next, slack.faults.fail_status = 1, status
    with pytest.raises(DeliveryError) as error:
        await sink(kind, slack, session).send(alert())
    assert error.value.retryable is retryable


@pytest.mark.parametrize("kind", REMOTE_KINDS)
@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_a_rate_limit_is_retryable_after_what_the_server_says(
    kind: str, form: str, slack: SlackServer, session: aiohttp.ClientSession
) -> None:
    wait = 42
    header = str(wait) if form == "seconds" else format_datetime(datetime.now(UTC) + timedelta(seconds=wait), usegmt=True)
    slack.faults.fail_next, slack.faults.fail_status, slack.faults.fail_headers = 1, 429, {"Retry-After": header}
    with pytest.raises(DeliveryError) as error:
        await sink(kind, slack, session).send(alert())
    assert error.value.retryable and error.value.retry_after is not None
    assert wait - 3 <= error.value.retry_after <= wait  # an HTTP date has a resolution of one second


@pytest.mark.parametrize("kind", REMOTE_KINDS)
async def test_a_permanent_error_is_not_retryable_and_names_no_secret(
    kind: str, slack: SlackServer, session: aiohttp.ClientSession
) -> None:
    broken = {  # a revoked token, a revoked webhook
        "slack": Settings(slack_bot_token="xoxb-revoked-9999", slack_api_url=slack.url),
        "slack_webhook": Settings(environ={"DESK_HOOK": slack.webhook_url + "-revoked"}),
    }[kind]
    with pytest.raises(DeliveryError) as error:
        await sink(kind, slack, session, settings=broken).send(alert())
    assert not error.value.retryable
    for secret in ["xoxb-revoked-9999", slack.webhook_url, WEBHOOK_PATH, "webhooksecret123"]:
        assert secret not in str(error.value)


@pytest.mark.parametrize("kind", KIND_NAMES)
async def test_a_reply_to_a_thread_that_is_gone(kind: str, slack: SlackServer, session: aiohttp.ClientSession) -> None:
    reply = replace(alert(), mode="reply", thread_ts="1700000000.000001")  # no such message
    target = sink(kind, slack, session)
    if REMOTES[kind].threads:
        with pytest.raises(DeliveryError) as error:
            await target.send(reply)
        assert error.value.code == DeliveryCode.THREAD_GONE  # the loop then sends it on its own
    else:
        assert await target.send(reply) is None  # a sink that cannot thread posts it on its own


@pytest.mark.parametrize("kind", [k for k in KIND_NAMES if k != "console"])
async def test_a_destination_without_its_credential_is_unavailable_not_broken(kind: str, session: aiohttp.ClientSession) -> None:
    spec = KINDS[kind].spec.model_validate(REMOTES[kind].spec)
    with pytest.raises(Unavailable):
        build_sink("desk", spec, SinkContext(Settings(), session))
