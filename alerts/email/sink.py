"""The e-mail sink: one multipart (text and HTML) message per alert, digest, notice or briefing page, over SMTP.

The SMTP URL says how to connect: `smtp://` upgrades with STARTTLS (and fails if the server
does not offer it), `smtps://` is TLS from the first byte, `smtp+insecure://` sends in clear
(a relay on the same host only). SMTP's answers map onto the outbox: 4xx and a dropped
connection are retried, 5xx is permanent. The remote id is the Message-ID, so a later report of a
story names it in `In-Reply-To` and `References` and mail readers thread it. The Message-ID is
made from the message itself, so a retry after a dropped connection repeats it and mailboxes that
already hold it can tell.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import unquote, urlsplit

import aiosmtplib

from alerts.base import DeliveryCode, DeliveryError, redact
from alerts.email.render import render
from alerts.messages import Alert, Briefing, Message, Mode

log = logging.getLogger("newswatch.delivery")
TIMEOUT = 15.0  # seconds for one SMTP conversation
SCHEMES = {"smtp": "starttls", "smtps": "tls", "smtp+insecure": "none"}
PORTS = {"starttls": 587, "tls": 465, "none": 25}


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to hand mail over: host, port, TLS mode, and the login if any."""

    host: str
    port: int
    tls: str  # starttls, tls or none
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None  # trust this CA bundle instead of the system's (a relay with an internal CA)


def parse_smtp_url(url: str, password: str | None = None, ca_file: str | None = None) -> SmtpTarget:
    """An SMTP URL (smtp://user@host:587, smtps://host, smtp+insecure://localhost:25) as a target; ValueError if it is not one."""
    parts = urlsplit(url.strip())
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError("not an SMTP URL: use smtp://[user@]host[:port] (STARTTLS), smtps:// (TLS) or smtp+insecure:// (no TLS)")
    tls = SCHEMES[parts.scheme]
    user = unquote(parts.username) if parts.username else None
    secret = password or (unquote(parts.password) if parts.password else None)
    return SmtpTarget(parts.hostname, parts.port or PORTS[tls], tls, user, secret, ca_file)


class EmailSink:
    """Sends each message as one e-mail to the destination's recipients and those of the rules it carries."""

    def __init__(
        self,
        target: SmtpTarget,
        sender: str,
        recipients: Sequence[str],
        rule_recipients: Mapping[str, Sequence[str]] | None = None,
        timezone: str = "UTC",
        web_url: str | None = None,
        pace: float = 1.0,
        secrets: Sequence[str] = (),
    ) -> None:
        self.rate_key = f"smtp:{target.host}:{target.port}:{target.username or ''}"  # destinations sharing a relay share its pace
        self.min_interval = pace
        self._target = target
        self._sender = sender
        self._recipients = tuple(recipients)
        self._rule_recipients = {rule: tuple(to) for rule, to in (rule_recipients or {}).items()}
        self._timezone = timezone
        self._web_url = web_url
        self._secrets = [s for s in (*secrets, target.password) if s]
        self._domain = parseaddr(sender)[1].rpartition("@")[2] or "newswatch.invalid"

    async def send(self, message: Message) -> str | None:
        """Hand the message to the relay; return its Message-ID."""
        mail, message_id = self.compose(message)
        to = self.recipients(message)
        try:
            refused, _ = await aiosmtplib.send(
                mail,
                sender=parseaddr(self._sender)[1],
                recipients=list(to),
                hostname=self._target.host,
                port=self._target.port,
                username=self._target.username,
                password=self._target.password,
                use_tls=self._target.tls == "tls",
                start_tls=self._target.tls == "starttls",
                cert_bundle=self._target.ca_file,
                timeout=TIMEOUT,
                local_hostname=socket.gethostname(),
            )
        except aiosmtplib.SMTPException as exc:
            raise self._error(exc) from None
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryError(self._clean(f"smtp: network error: {type(exc).__name__}: {exc}"), retryable=True) from None
        if refused:  # the others have it: a retry would send it to them twice
            detail = "; ".join(f"{rcpt}: {answer.code} {answer.message}" for rcpt, answer in refused.items())
            log.warning("some recipients were refused: %s", self._clean(detail), extra={"destination": message.destination})
        return message_id

    def recipients(self, message: Message) -> tuple[str, ...]:
        """The destination's recipients, and those of each rule whose alert the message carries."""
        rules = {r.id for a in _alerts(message) for r in a.rules}
        extra = [addr for rule in sorted(rules) for addr in self._rule_recipients.get(rule, ())]
        return tuple(dict.fromkeys((*self._recipients, *extra)))

    def compose(self, message: Message) -> tuple[EmailMessage, str]:
        """The e-mail (headers, text and HTML parts) and its Message-ID."""
        rendered = render(message, self._timezone, self._web_url)
        mail = EmailMessage()
        message_id = self._message_id(message)
        mail["Subject"] = rendered.subject
        mail["From"] = self._sender
        mail["To"] = ", ".join(self.recipients(message))
        mail["Date"] = format_datetime(datetime.now(UTC))
        mail["Message-ID"] = message_id
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to alerts
        mail["X-Newswatch-Delivery"] = ",".join(str(i) for i in message.delivery_ids)
        if parent := _parent(message):
            mail["In-Reply-To"] = parent
            mail["References"] = parent
        mail.set_content(rendered.text)
        mail.add_alternative(rendered.html, subtype="html")
        return mail, message_id

    def _message_id(self, message: Message) -> str:
        """A Message-ID made from what the message is: a retry of the same message repeats it."""
        seed = "\0".join([message.destination, message.mode, *map(str, message.delivery_ids), *_identity(message)])
        digest = hashlib.sha256(seed.encode()).hexdigest()[:20]
        return f"<newswatch.{message.delivery_ids[0]}.{digest}@{self._domain}>"

    def _error(self, exc: aiosmtplib.SMTPException) -> DeliveryError:
        """SMTP's answer as a DeliveryError: 4xx can pass, 5xx will not; a dropped or refused connection is retried."""
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            codes = [e.code for e in exc.recipients]
            text = "; ".join(f"{e.recipient}: {e.code} {e.message}" for e in exc.recipients)
            return DeliveryError(self._clean(f"smtp: every recipient refused: {text}"), retryable=any(400 <= c < 500 for c in codes))
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            transient = 400 <= exc.code < 500
            code = DeliveryCode.AUTH if isinstance(exc, aiosmtplib.SMTPAuthenticationError) and not transient else DeliveryCode.OTHER
            text = self._clean(f"smtp: {exc.code} {' '.join(exc.message.split())}")
            return DeliveryError(text, retryable=transient or exc.code < 400, code=code, remote=str(exc.code))
        if isinstance(exc, aiosmtplib.SMTPNotSupported) or (type(exc) is aiosmtplib.SMTPException and "not supported" in str(exc)):
            return DeliveryError(self._clean(f"smtp: the server does not support what the URL asks: {exc}"), retryable=False)
        return DeliveryError(self._clean(f"smtp: {type(exc).__name__}: {exc}"), retryable=True)

    def _clean(self, text: str) -> str:
        """Remove the password (and any other secret of the destination) from a message."""
        return redact(text, self._secrets)

    async def aclose(self) -> None:
        """Nothing to release: every message opens and closes its own connection."""


def _alerts(message: Message) -> list[Alert]:
    """The alerts a message carries."""
    if isinstance(message, Alert):
        return [message]
    if isinstance(message, Briefing):
        return [s.alert for _, stories in message.sections for s in stories]
    return list(getattr(message, "alerts", ()))


def _parent(message: Message) -> str | None:
    """The Message-ID this message answers: a reply's story, or a later briefing page's first page.

    None where the thread's id is no Message-ID (the destination was of another kind when the story began).
    """
    parent = message.thread_ts if isinstance(message, Alert | Briefing) else None
    if isinstance(message, Alert) and message.mode != Mode.REPLY:
        parent = None
    return parent if parent and parent.startswith("<") and parent.endswith(">") and "@" in parent else None


def _identity(message: Message) -> list[str]:
    """What distinguishes this message from another with the same delivery ids (a database made anew)."""
    return [f"{a.link}\0{a.title}" for a in _alerts(message)] or [getattr(message, "text", "") or getattr(message, "title", "")]
