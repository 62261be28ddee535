"""E-mail against a real SMTP server on loopback: TLS modes, logins, recipients per rule, refusals, threading, escaping."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from alerts.base import DeliveryCode, DeliveryError
from alerts.email import EmailSink, parse_smtp_url
from alerts.messages import Alert, AlertRule, Briefing, Story
from service.destinations import KINDS, SinkContext, Unavailable, build_sink
from service.settings import Settings
from tests.conftest import AppFactory, write_config
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.kinds import destination, environ
from tests.support.receiver import Receiver
from tests.support.smtpserver import PASSWORD, SmtpServer


def alert(n: int = 1, rule: str = "kh", title: str = "Cambodia opens a border gate") -> Alert:
    return Alert(
        n,
        "mail",
        title,
        f"https://example.org/{n}",
        "VNA",
        datetime(2026, 12, 3, tzinfo=UTC),
        "Cambodia opened a border gate",
        ((0, 8),),
        (AlertRule(rule, rule.upper(), ("Cambodia",)),),
        item_id=n,
    )


def sink(server: SmtpServer, **options: Any) -> EmailSink:
    target = parse_smtp_url(server.url(), PASSWORD if server.auth else None, str(server.ca_file))
    return EmailSink(target, "newswatch <alerts@example.org>", ["desk@example.org"], **options)


@pytest.mark.parametrize("mode", ["starttls", "tls", "none"])
async def test_each_tls_mode_delivers_a_multipart_message(tmp_path: Path, mode: str) -> None:
    server = SmtpServer(tmp_path, mode, auth=mode != "none")
    await server.start()
    try:
        message_id = await sink(server).send(alert())
    finally:
        await server.stop()
    [mail] = server.mails
    assert mail.message["Message-ID"] == message_id and mail.recipients == ["desk@example.org"]
    assert mail.message.get_body(("plain",)) is not None and mail.message.get_body(("html",)) is not None
    assert mail.message["Auto-Submitted"] == "auto-generated"


async def test_a_starttls_url_refuses_a_server_without_starttls(tmp_path: Path) -> None:
    plain = SmtpServer(tmp_path, "none", auth=False)
    await plain.start()
    target = parse_smtp_url(plain.url().replace("smtp+insecure://", "smtp://"), None, str(plain.ca_file))
    try:
        with pytest.raises(DeliveryError) as error:
            await EmailSink(target, "a@example.org", ["b@example.org"]).send(alert())
    finally:
        await plain.stop()
    assert not error.value.retryable and plain.mails == []  # never in clear when TLS was asked for


async def test_a_wrong_password_is_permanent_and_never_shown(smtp: SmtpServer) -> None:
    target = parse_smtp_url(smtp.url(), "not-the-password-123", str(smtp.ca_file))
    with pytest.raises(DeliveryError) as error:
        await EmailSink(target, "a@example.org", ["b@example.org"]).send(alert())
    assert not error.value.retryable and error.value.code == DeliveryCode.AUTH and "not-the-password-123" not in str(error.value)


async def test_4xx_is_retried_5xx_is_permanent_and_a_drop_after_data_is_retried(smtp: SmtpServer) -> None:
    target = sink(smtp)
    smtp.faults.fail_next, smtp.faults.fail_reply = 1, "452 4.3.1 Insufficient system storage"
    with pytest.raises(DeliveryError) as transient:
        await target.send(alert())
    smtp.faults.fail_next, smtp.faults.fail_reply = 1, "554 5.7.1 Message rejected"
    with pytest.raises(DeliveryError) as permanent:
        await target.send(alert())
    smtp.faults.drop_after_store = 1
    with pytest.raises(DeliveryError) as dropped:
        await target.send(alert())
    assert transient.value.retryable and not permanent.value.retryable and dropped.value.retryable
    assert "554 5.7.1 Message rejected" in str(permanent.value)
    again = await target.send(alert())  # the retry of the message the server stored before it dropped
    assert [m.message["Message-ID"] for m in smtp.mails] == [again, again]  # the same Message-ID: mailboxes can tell


async def test_rule_recipients_get_their_rules_alerts_and_a_refused_one_does_not_stop_the_rest(smtp: SmtpServer) -> None:
    target = sink(smtp, rule_recipients={"kh": ["border@example.org", "gone@example.org"]})
    smtp.faults.refuse_rcpt = {"gone@example.org": "550 5.1.1 No such user"}
    await target.send(alert(1, "kh"))
    await target.send(alert(2, "rice"))
    assert [m.recipients for m in smtp.mails] == [["desk@example.org", "border@example.org"], ["desk@example.org"]]
    assert smtp.mails[0].message["To"] == "desk@example.org, border@example.org, gone@example.org"
    smtp.faults.refuse_rcpt = {"desk@example.org": "450 4.2.1 Mailbox busy"}
    with pytest.raises(DeliveryError) as error:
        await target.send(alert(3, "rice"))  # every recipient refused, one of them for now: retried
    assert error.value.retryable


async def test_a_hostile_title_cannot_add_headers_or_markup(smtp: SmtpServer) -> None:
    await sink(smtp).send(alert(title="Gate\r\nBcc: spy@example.org\r\n<img src=x onerror=alert(1)>"))
    [mail] = smtp.mails
    assert mail.message["Bcc"] is None and mail.recipients == ["desk@example.org"]
    assert "\n" not in mail.message["Subject"]
    html = mail.message.get_body(("html",)).get_content()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


async def test_a_later_briefing_page_answers_the_first(smtp: SmtpServer) -> None:
    target = sink(smtp)
    pages = [Briefing(10 + page, "mail", "Daily briefing · Thu 3 Dec 2026", (("KH", (Story(alert(page)),)),), page, 2) for page in (1, 2)]
    first = await target.send(pages[0])
    await target.send(replace(pages[1], thread_ts=first))
    assert smtp.mails[1].message["In-Reply-To"] == first and "part 2 of 2" in smtp.mails[1].message["Subject"]
    await target.send(replace(alert(3), mode="reply", thread_ts="1700000000.000001"))  # a Slack ts: the destination changed kind
    assert smtp.mails[2].message["In-Reply-To"] is None and smtp.mails[2].message["References"] is None


async def test_the_registry_builds_the_relays_pace_and_refuses_a_bad_url(smtp: SmtpServer, tmp_path: Path) -> None:
    spec = KINDS["email"].spec.model_validate(destination("email", smtp, pace=2.5))
    async with aiohttp.ClientSession() as session:
        built = build_sink("mail", spec, SinkContext(Settings(environ={"SMTP_URL": smtp.url(), "SMTP_PASSWORD": PASSWORD}), session))
        assert (built.min_interval, built.rate_key) == (2.5, f"smtp:127.0.0.1:{smtp.port}:newswatch")
        with pytest.raises(Unavailable, match="SMTP_URL: not an SMTP URL"):
            build_sink(
                "mail",
                spec,
                SinkContext(Settings(environ={"SMTP_URL": "http://mail.example.org", "SMTP_PASSWORD": "x"}), session, io.StringIO()),
            )


async def test_rule_recipients_through_the_service(
    tmp_path: Path, feeds: FeedServer, receiver: Receiver, smtp: SmtpServer, make_app: AppFactory
) -> None:
    now = datetime.now(UTC)
    entries = [
        Entry("a", "Cambodia opens a border gate", "https://example.org/a", summary="Cambodia opened a gate.", published=now),
        Entry("b", "Rice prices climb", "https://example.org/b", summary="Rice exports rose.", published=now),
    ]
    mail = destination("email", smtp, rules={"kh": ["border@example.org"]})
    config = {
        "destinations": {"mail": mail},
        "rules": [
            {"id": "kh", "destinations": ["mail"], "match": {"any": ["Cambodia"]}},
            {"id": "rice", "destinations": ["mail"], "match": {"any": ["rice"]}},
        ],
    }
    write_config(tmp_path / "config", [{"id": "f", "url": feeds.serve("f.rss", rss(entries)), "first_poll_alerts": "all"}], config)
    app = await make_app(environ=environ(receiver, smtp))
    await app.poll_once()
    to = {m.message["Subject"].split(": ", 1)[1]: m.recipients for m in smtp.mails}
    assert to == {"Cambodia opens a border gate": ["desk@example.org", "border@example.org"], "Rice prices climb": ["desk@example.org"]}
