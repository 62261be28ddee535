"""The contract every sink keeps, run against every kind in the destination registry (service.destinations.KINDS).

Each sink is built through the registry, as the service builds it, and talks to a real peer on
127.0.0.1 where there is one: the strict Slack-compatible server through the real slack-sdk
clients, a real SMTP server (aiosmtpd) over STARTTLS with a login, and a strict receiver for
the signed webhook, the Teams Workflows trigger, the Discord webhook and Apprise's `json://`.
A new kind of destination must add its `Remote` here and pass this file.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from alerts.base import DeliveryCode, DeliveryError, Sink
from alerts.messages import Alert, AlertRule, Digest, Message, Notice
from service.destinations import KINDS, SinkContext, Unavailable, build_sink
from service.settings import Settings
from tests.support.receiver import DISCORD_TOKEN, TEAMS_SIG, WEBHOOK_SECRET, Receiver
from tests.support.slackserver import TOKEN, WEBHOOK_PATH, SlackServer
from tests.support.smtpserver import PASSWORD, SmtpServer

FEED_TOKEN = "feed-token-0123456789abcdef"


@dataclass
class Peers:
    """The local servers the sinks talk to."""

    slack: SlackServer
    receiver: Receiver
    smtp: SmtpServer


def _fail_http(p: Peers, status: int, headers: dict[str, str]) -> None:
    p.receiver.faults.fail_next, p.receiver.faults.fail_status, p.receiver.faults.fail_headers = 1, status, headers


def _fail_slack(p: Peers, status: int, headers: dict[str, str]) -> None:
    p.slack.faults.fail_next, p.slack.faults.fail_status, p.slack.faults.fail_headers = 1, status, headers


def _fail_smtp(p: Peers, status: int, headers: dict[str, str]) -> None:
    p.smtp.faults.fail_next, p.smtp.faults.fail_reply = 1, "451 4.3.0 Try again later"  # SMTP's "server trouble"


@dataclass
class Remote:
    """How one kind is set up against its peer, and what it can do."""

    spec: Callable[[Peers], dict[str, Any]]
    settings: Callable[[Peers], dict[str, Any]]
    secrets: Callable[[Peers], list[str]]
    threads: bool  # returns an id that a reply threads on (else it goes out on its own)
    remote: bool  # it talks to a peer that can fail (else it never fails)
    payloads: Callable[[Peers], list[Any]]
    fail: Callable[[Peers, int, dict[str, str]], None] | None = None  # the peer's next answer fails with this HTTP status
    retry_after: bool = False  # the peer can say when to retry
    broken: Callable[[Peers], Settings] | None = None  # a revoked credential: refused for good (None: the kind cannot tell)
    thread_gone: bool = False  # a reply to a thread that does not exist is refused (THREAD_GONE), else delivered as it is


def _mail_text(p: Peers) -> list[str]:
    return [m.message.as_string() for m in p.smtp.mails]


REMOTES: dict[str, Remote] = {
    "slack": Remote(
        lambda p: {"type": "slack", "channel": "#desk"},
        lambda p: {"slack_bot_token": TOKEN, "slack_api_url": p.slack.url},
        lambda p: [TOKEN],
        threads=True,
        remote=True,
        payloads=lambda p: p.slack.messages["desk"],
        fail=_fail_slack,
        retry_after=True,
        broken=lambda p: Settings(slack_bot_token="xoxb-revoked-9999", slack_api_url=p.slack.url),
        thread_gone=True,
    ),
    "slack_webhook": Remote(
        lambda p: {"type": "slack_webhook", "url_env": "DESK_HOOK"},  # any variable name
        lambda p: {"environ": {"DESK_HOOK": p.slack.webhook_url}},
        lambda p: [p.slack.webhook_url, WEBHOOK_PATH],
        threads=False,
        remote=True,
        payloads=lambda p: p.slack.webhook_messages,
        fail=_fail_slack,
        retry_after=True,
        broken=lambda p: Settings(environ={"DESK_HOOK": p.slack.webhook_url + "-revoked"}),
    ),
    "console": Remote(lambda p: {"type": "console"}, lambda p: {}, lambda p: [], threads=False, remote=False, payloads=lambda p: []),
    "email": Remote(
        lambda p: {
            "type": "email",
            "url_env": "DESK_SMTP",
            "password_env": "DESK_SMTP_PASSWORD",
            "from": "newswatch <alerts@example.org>",
            "to": ["desk@example.org"],
            "ca_file": str(p.smtp.ca_file),
        },
        lambda p: {"environ": {"DESK_SMTP": p.smtp.url(), "DESK_SMTP_PASSWORD": PASSWORD}},
        lambda p: [PASSWORD],
        threads=True,
        remote=True,
        payloads=_mail_text,
        fail=_fail_smtp,
        broken=lambda p: Settings(environ={"DESK_SMTP": p.smtp.url(), "DESK_SMTP_PASSWORD": "revoked-password-0"}),
    ),
    "webhook": Remote(
        lambda p: {"type": "webhook", "url_env": "DESK_HOOK_URL", "secret_env": "DESK_HOOK_SECRET"},
        lambda p: {"environ": {"DESK_HOOK_URL": p.receiver.webhook_url, "DESK_HOOK_SECRET": WEBHOOK_SECRET}},
        lambda p: [WEBHOOK_SECRET],
        threads=True,
        remote=True,
        payloads=lambda p: p.receiver.webhook,
        fail=_fail_http,
        retry_after=True,
        broken=lambda p: Settings(environ={"DESK_HOOK_URL": p.receiver.webhook_url, "DESK_HOOK_SECRET": "a-rotated-secret-000000"}),
    ),
    "teams": Remote(
        lambda p: {"type": "teams", "url_env": "DESK_TEAMS"},
        lambda p: {"environ": {"DESK_TEAMS": p.receiver.teams_url}},
        lambda p: [TEAMS_SIG],
        threads=False,
        remote=True,
        payloads=lambda p: p.receiver.teams,
        fail=_fail_http,
        retry_after=True,
        broken=lambda p: Settings(environ={"DESK_TEAMS": p.receiver.teams_url.replace(TEAMS_SIG, "revokedsig")}),
    ),
    "discord": Remote(
        lambda p: {"type": "discord", "url_env": "DESK_DISCORD"},
        lambda p: {"environ": {"DESK_DISCORD": p.receiver.discord_url}},
        lambda p: [DISCORD_TOKEN],
        threads=True,
        remote=True,
        payloads=lambda p: p.receiver.discord,
        fail=_fail_http,
        retry_after=True,
        broken=lambda p: Settings(environ={"DESK_DISCORD": p.receiver.discord_url.replace(DISCORD_TOKEN, "revoked-token")}),
        thread_gone=True,
    ),
    "apprise": Remote(
        lambda p: {"type": "apprise", "url_env": "DESK_APPRISE"},
        lambda p: {"environ": {"DESK_APPRISE": p.receiver.apprise_url}},
        lambda p: [],
        threads=False,
        remote=True,
        payloads=lambda p: p.receiver.apprise,
        fail=_fail_http,  # Apprise reports FAILURE whatever the status: retried, never timed by Retry-After
    ),
    "feed": Remote(
        lambda p: {"type": "feed", "token_env": "DESK_FEED_TOKEN"},
        lambda p: {"environ": {"DESK_FEED_TOKEN": FEED_TOKEN}},
        lambda p: [FEED_TOKEN],
        threads=True,
        remote=False,
        payloads=lambda p: [],
    ),
}
KIND_NAMES = sorted(KINDS)
FAILING = [k for k in KIND_NAMES if REMOTES[k].fail is not None]


def test_every_registered_kind_has_a_contract_setup() -> None:
    assert set(REMOTES) == set(KINDS)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def peers(slack: SlackServer, tmp_path: Path) -> AsyncIterator[Peers]:
    receiver, smtp = Receiver(), SmtpServer(tmp_path)
    await receiver.start()
    await smtp.start()
    yield Peers(slack, receiver, smtp)
    await smtp.stop()
    await receiver.stop()


def sink(kind: str, p: Peers, session: aiohttp.ClientSession, stdout: io.StringIO | None = None, settings: Settings | None = None) -> Sink:
    """A sink of `kind` built through the registry."""
    remote = REMOTES[kind]
    spec = KINDS[kind].spec.model_validate(remote.spec(p))
    settings = settings or Settings(**remote.settings(p))
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
async def test_delivers_every_message_type(kind: str, message: Message, peers: Peers, session: aiohttp.ClientSession) -> None:
    out = io.StringIO()
    remote_id = await sink(kind, peers, session, out).send(message)
    remote = REMOTES[kind]
    if remote.remote:
        assert len(remote.payloads(peers)) == 1
    if kind == "console":
        assert out.getvalue()
    assert (remote_id is not None) == remote.threads  # a message id where the sink can thread


HOSTILE = "<!channel> <http://evil.example|Reuters> [Reuters](http://evil.example) <script>alert(1)</script> @everyone \x1b[31mred"


@pytest.mark.parametrize("kind", KIND_NAMES)
async def test_feed_content_cannot_ping_or_fake_links_or_run_or_control_the_terminal(
    kind: str, peers: Peers, session: aiohttp.ClientSession
) -> None:
    out = io.StringIO()
    await sink(kind, peers, session, out).send(alert(title=HOSTILE))
    payloads = REMOTES[kind].payloads(peers)
    rendered = json.dumps(payloads, ensure_ascii=False) + out.getvalue()
    assert "\x1b" not in rendered
    if kind.startswith("slack"):  # Slack's markup: the title must not ping the channel or link elsewhere
        assert "<!channel>" not in rendered and "<http://evil.example|" not in rendered
    if kind == "email":  # HTML: the title is text
        [mail] = peers.smtp.mails
        html = mail.message.get_body(("html",)).get_content()
        assert "<script>" not in html and "&lt;script&gt;" in html
    if kind == "discord":  # Markdown: no masked link, no ping
        [message] = payloads
        assert "[Reuters](http://evil.example)" not in rendered and message["allowed_mentions"] == {"parse": []}
    if kind == "teams":  # a card's text from feeds is never Markdown
        assert '"TextBlock"' not in rendered


@pytest.mark.parametrize("kind", FAILING)
@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retryable(kind: str, status: int, peers: Peers, session: aiohttp.ClientSession) -> None:
    fail = REMOTES[kind].fail
    assert fail is not None
    fail(peers, status, {})
    with pytest.raises(DeliveryError) as error:
        await sink(kind, peers, session).send(alert())
    assert error.value.retryable


@pytest.mark.parametrize("kind", [k for k in FAILING if REMOTES[k].retry_after])
@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_a_rate_limit_is_retryable_after_what_the_server_says(
    kind: str, form: str, peers: Peers, session: aiohttp.ClientSession
) -> None:
    wait = 42
    header = str(wait) if form == "seconds" else format_datetime(datetime.now(UTC) + timedelta(seconds=wait), usegmt=True)
    fail = REMOTES[kind].fail
    assert fail is not None
    fail(peers, 429, {"Retry-After": header})
    with pytest.raises(DeliveryError) as error:
        await sink(kind, peers, session).send(alert())
    assert error.value.retryable and error.value.retry_after is not None
    assert wait - 3 <= error.value.retry_after <= wait  # an HTTP date has a resolution of one second


@pytest.mark.parametrize("kind", [k for k in FAILING if REMOTES[k].broken is not None])
async def test_a_permanent_error_is_not_retryable_and_names_no_secret(kind: str, peers: Peers, session: aiohttp.ClientSession) -> None:
    broken = REMOTES[kind].broken
    assert broken is not None
    with pytest.raises(DeliveryError) as error:
        await sink(kind, peers, session, settings=broken(peers)).send(alert())
    assert not error.value.retryable
    secrets = [
        "xoxb-revoked-9999",
        peers.slack.webhook_url,
        WEBHOOK_PATH,
        "webhooksecret123",
        "revoked-password-0",
        "revokedsig",
        "revoked-token",
    ]
    for secret in [*secrets, "a-rotated-secret-000000", *REMOTES[kind].secrets(peers)]:
        assert secret not in str(error.value)


@pytest.mark.parametrize("kind", FAILING)
async def test_a_dropped_connection_is_retryable_and_names_no_secret(kind: str, peers: Peers, session: aiohttp.ClientSession) -> None:
    peers.receiver.faults.drop_after_store = peers.smtp.faults.drop_after_store = peers.slack.faults.drop_after_store = 1
    if kind == "slack_webhook":  # the Slack server drops chat.postMessage only: stop it instead
        await peers.slack.stop()
    with pytest.raises(DeliveryError) as error:
        await sink(kind, peers, session).send(alert())
    assert error.value.retryable
    for secret in REMOTES[kind].secrets(peers):
        assert secret not in str(error.value)


@pytest.mark.parametrize("kind", KIND_NAMES)
async def test_a_reply_to_a_thread_that_is_gone(kind: str, peers: Peers, session: aiohttp.ClientSession) -> None:
    reply = replace(alert(), mode="reply", thread_ts="1700000000.000001")  # no such message
    target, remote = sink(kind, peers, session), REMOTES[kind]
    if remote.thread_gone:
        with pytest.raises(DeliveryError) as error:
            await target.send(reply)
        assert error.value.code == DeliveryCode.THREAD_GONE  # the loop then sends it on its own
    elif remote.threads:
        assert await target.send(reply) is not None  # its thread is only a reference (In-Reply-To, a story id)
    else:
        assert await target.send(reply) is None  # a sink that cannot thread posts it on its own


@pytest.mark.parametrize("kind", [k for k in KIND_NAMES if k != "console"])
async def test_a_destination_without_its_credential_is_unavailable_not_broken(
    kind: str, peers: Peers, session: aiohttp.ClientSession
) -> None:
    spec = KINDS[kind].spec.model_validate(REMOTES[kind].spec(peers))
    with pytest.raises(Unavailable):
        build_sink("desk", spec, SinkContext(Settings(), session))
