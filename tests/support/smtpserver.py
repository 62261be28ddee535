"""A real SMTP server on 127.0.0.1 (aiosmtpd, in the test's event loop), with STARTTLS or TLS, login, and faults.

It speaks SMTP as a relay does: it requires STARTTLS before AUTH (aiosmtpd's default), refuses
a wrong login with 535, and can refuse the next messages with a 4xx or 5xx answer, refuse single
recipients, or store a message and drop the connection before answering (the client cannot
tell it arrived). A throwaway CA (trustme) signs its certificate; `ca_file` is that CA.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import functools
import random
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

USER, PASSWORD = "newswatch", "smtp-test-password-0123"


@functools.cache
def _authority() -> tuple[trustme.CA, trustme.LeafCert]:
    """One throwaway CA and server certificate for the whole test run (making keys is slow)."""
    ca = trustme.CA()
    return ca, ca.issue_cert("127.0.0.1", "localhost")


@dataclass
class Faults:
    """Answers to give instead of 250, consumed as messages arrive."""

    fail_next: int = 0
    fail_reply: str = "451 4.3.0 Try again later"
    drop_after_store: int = 0
    refuse_rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply
    random_rate: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(25))


@dataclass
class Mail:
    """One message the server accepted."""

    sender: str
    recipients: list[str]
    message: EmailMessage


class SmtpServer:
    """A relay on loopback: mode 'starttls', 'tls' or 'none'; login required unless `auth` is False."""

    def __init__(self, tmp: Path, mode: str = "starttls", auth: bool = True) -> None:
        self.mode = mode
        self.auth = auth
        self.faults = Faults()
        self.mails: list[Mail] = []
        self.attempts = 0
        self.dropped_after_store = 0
        self.injected = 0
        ca, cert = _authority()
        self.ca_file = tmp / "smtp-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self._context)
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        """Listen on a free loopback port."""
        loop = asyncio.get_running_loop()
        starttls = self._context if self.mode == "starttls" else None
        self._server = await loop.create_server(
            lambda: SMTP(
                self,
                hostname="localhost",
                tls_context=starttls,
                require_starttls=starttls is not None,
                auth_required=self.auth and self.mode == "starttls",  # over implicit TLS login is offered, not demanded
                auth_require_tls=self.mode == "starttls",  # implicit TLS is TLS, though aiosmtpd cannot tell
                authenticator=self._authenticate,
                loop=loop,
            ),
            "127.0.0.1",
            0,
            ssl=self._context if self.mode == "tls" else None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def url(self, password: bool = False) -> str:
        """The SMTP URL of this server (the password in it only when asked)."""
        scheme = {"starttls": "smtp", "tls": "smtps", "none": "smtp+insecure"}[self.mode]
        login = f"{USER}:{PASSWORD}@" if password else f"{USER}@" if self.auth else ""
        return f"{scheme}://{login}127.0.0.1:{self.port}"

    def _authenticate(self, server: SMTP, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == USER and data.password.decode() == PASSWORD
        return AuthResult(success=ok, handled=False)  # not handled: the server answers 235 or 535

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.faults.refuse_rcpt:
            return self.faults.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        self.attempts += 1
        f = self.faults
        if f.fail_next > 0:
            f.fail_next -= 1
            self.injected += 1
            return f.fail_reply
        if f.random_rate and f.rng.random() < f.random_rate:
            self.injected += 1
            choice = f.rng.choice(["451 4.3.0 Try again later", "421 4.7.0 Too busy, closing", "drop"])
            if choice != "drop":
                return choice
            f.drop_after_store += 1
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        if f.drop_after_store > 0:
            f.drop_after_store -= 1
            self.dropped_after_store += 1
            assert server.transport is not None
            server.transport.abort()
        return "250 Message accepted for delivery"
