"""The destination registry: each `type:` of rules.yaml's destinations, its config model and the factory of its sink.

A new kind of destination (Microsoft Teams, say) is one sink module under `alerts/` (the sink
renders its own messages and maps its own errors to `alerts.base`'s generic codes) and one
entry here: a model with `type: Literal["teams"]` and its settings, and a factory. The config
schema, the JSON Schema for editors and the bootstrap follow from `KINDS`; the contract tests
(tests/contract/) run against every sink.

A factory gets the destination's name and model and a `SinkContext`; when a credential is
missing it raises `Unavailable`, and the bootstrap prints that destination's alerts to the
console instead, with a warning. Secrets are read from the environment through the context,
which also registers them for redaction from logs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import AfterValidator, Field

from service.config.types import DestinationBase, OptionalDigest
from service.rules.spec import Id

if TYPE_CHECKING:
    from typing import TextIO

    import aiohttp

    from alerts.base import Sink
    from service.config.schema import RulesFile
    from service.settings import Settings

SLACK_API = "https://slack.com/api/"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
EnvName = Annotated[str, Field(pattern=ENV_NAME)]


def _web_url(value: str) -> str:
    """The base URL of newswatch's web pages: http(s), a host, no query."""
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
        raise ValueError(f"'{value}' is not the base URL of newswatch's web pages, such as https://newswatch.example.org")
    return value


WebUrl = Annotated[str, AfterValidator(_web_url)]  # links to the page of each match
Pace = Annotated[float, Field(ge=0, le=3600)]  # seconds between two messages; unset: what the service is known to allow
MIN_SECRET = 16  # characters of a webhook signing secret or a feed token
Issues = list[tuple[list[str | int], str]]  # (path below the destination, message)


class Unavailable(Exception):
    """The destination cannot be built here (a credential is missing)."""


@dataclass(frozen=True)
class SinkContext:
    """What a sink factory may use: process settings, the shared HTTP session, the console stream, whether buttons work now."""

    settings: Settings
    session: aiohttp.ClientSession
    stdout: TextIO | None = None
    warned: set[str] = field(default_factory=set)  # warnings already logged (sinks are rebuilt at every reload)
    buttons: Callable[[], bool] = bool  # True while Slack's buttons are answered (the Socket Mode connection works)

    def warn_once(self, warning: str, destination: str) -> None:
        """Log a warning about a destination unless it was logged before."""
        if warning not in self.warned:
            self.warned.add(warning)
            logging.getLogger("newswatch").warning(warning, extra={"destination": destination})

    def secret(self, name: str, destination: str = "") -> str:
        """A secret from the environment variable `name` (quotes around it removed); Unavailable if unset. Redacted from logs."""
        from alerts.base import unquoted
        from service.ops import logs

        raw = self.settings.environ.get(name, "")
        value = unquoted(raw)
        if not value:
            raise Unavailable(f"{name} is not set")
        if value != raw.strip():
            self.warn_once(f"{name} is written with quotes around it: they were removed (they are not part of it)", destination)
        logs.redact_also(raw)
        logs.redact_also(value)
        return value


class SlackChannel(DestinationBase):
    """Post with the bot token (SLACK_BOT_TOKEN) to a channel name or id."""

    type: Literal["slack"]
    channel: Annotated[str, Field(min_length=1)]


class SlackWebhook(DestinationBase):
    """Post to an incoming webhook whose URL is in the named environment variable (webhooks cannot thread)."""

    type: Literal["slack_webhook"]
    url_env: Annotated[str, Field(pattern=ENV_NAME)] = "SLACK_WEBHOOK_URL"


class Console(DestinationBase):
    """Print alerts to standard output."""

    type: Literal["console"]


def _address(value: str) -> str:
    """One e-mail address (addr-spec), without a display name."""
    name, addr = parseaddr(value)
    if name or not addr or addr != value.strip() or addr.count("@") != 1 or addr.startswith("@") or addr.endswith("@"):
        raise ValueError(f"'{value}' is not an e-mail address such as desk@example.org")
    return addr


def _mailbox(value: str) -> str:
    """An address with an optional display name: 'newswatch <alerts@example.org>'."""
    addr = parseaddr(value)[1]
    if not addr or addr.count("@") != 1 or "\n" in value or "\r" in value:
        raise ValueError(f"'{value}' is not a sender such as 'newswatch <alerts@example.org>'")
    return value.strip()


Address = Annotated[str, AfterValidator(_address)]


class Email(DestinationBase):
    """E-mail through an SMTP relay whose URL is in `url_env`: smtp:// (STARTTLS), smtps:// (TLS) or smtp+insecure://."""

    type: Literal["email"]
    url_env: EnvName = "SMTP_URL"
    password_env: EnvName | None = None  # the relay's password, if it is not in the URL
    sender: Annotated[str, AfterValidator(_mailbox), Field(alias="from")]
    to: Annotated[list[Address], Field(min_length=1)]
    # More recipients for the alerts of these rules (each must send to this destination). Pydantic copies the default.
    rules: dict[Id, Annotated[list[Address], Field(min_length=1)]] = {}  # noqa: RUF012
    pace: Pace = 1.0  # seconds between two messages to the relay
    ca_file: str | None = None  # a CA bundle to trust instead of the system's (relative to the config folder)
    web_url: WebUrl | None = None


class Webhook(DestinationBase):
    """JSON to a URL (in `url_env`), signed with HMAC-SHA256 by the secret in `secret_env`."""

    type: Literal["webhook"]
    pace: Pace | None = None
    url_env: EnvName = "WEBHOOK_URL"
    secret_env: EnvName = "WEBHOOK_SECRET"  # noqa: S105 (a variable's name)
    web_url: WebUrl | None = None


class Teams(DestinationBase):
    """An Adaptive Card to a Microsoft Teams Workflows webhook whose URL is in `url_env`."""

    type: Literal["teams"]
    pace: Pace | None = None
    url_env: EnvName = "TEAMS_WEBHOOK_URL"
    web_url: WebUrl | None = None


class Discord(DestinationBase):
    """A Discord channel webhook whose URL is in `url_env`; `forum: true` for a forum channel (a post per alert)."""

    type: Literal["discord"]
    pace: Pace | None = None
    url_env: EnvName = "DISCORD_WEBHOOK_URL"
    forum: bool = False
    web_url: WebUrl | None = None


class Apprise(DestinationBase):
    """Any service Apprise knows, by the Apprise URL in `url_env` (needs `pip install newswatch[apprise]`)."""

    type: Literal["apprise"]
    pace: Pace | None = None
    url_env: EnvName = "APPRISE_URL"


class Feed(DestinationBase):
    """A feed of matches (Atom and JSON Feed) on the web server, read with the token in `token_env`."""

    type: Literal["feed"]
    token_env: EnvName = "NEWSWATCH_FEED_TOKEN"  # noqa: S105 (a variable's name)
    title: str | None = None
    size: Annotated[int, Field(ge=1, le=500)] = 50  # stories in the feed
    digest: OptionalDigest = None  # a reader polls the feed: nothing to hold back
    web_url: WebUrl | None = None


def slack_bot(name: str, spec: Any, context: SinkContext) -> Sink:
    """chat.postMessage with the bot token, to the configured channel (slack-sdk is imported only once there is a token)."""
    token = context.settings.slack_bot_token or context.secret("SLACK_BOT_TOKEN", name)
    from slack_sdk.web.async_client import AsyncWebClient

    from alerts.slack import SlackBotSink

    base = (context.settings.slack_api_url or SLACK_API).rstrip("/") + "/"
    client = AsyncWebClient(token=token, base_url=base, session=context.session, timeout=15, retry_handlers=[])
    return SlackBotSink(client, spec.channel, spec.timezone, buttons=context.buttons)


def slack_webhook(name: str, spec: Any, context: SinkContext) -> Sink:
    """An incoming webhook whose URL is in the environment variable `url_env`."""
    url = context.secret(spec.url_env, name)
    from slack_sdk.webhook.async_client import AsyncWebhookClient

    from alerts.slack import SlackWebhookSink

    return SlackWebhookSink(AsyncWebhookClient(url, session=context.session, timeout=15, retry_handlers=[]), spec.timezone)


def console(name: str, spec: Any, context: SinkContext) -> Sink:
    """Standard output (or the stream the context gives)."""
    from alerts.console import ConsoleSink

    return ConsoleSink(name, context.stdout, spec.timezone)


def email(name: str, spec: Any, context: SinkContext) -> Sink:
    """SMTP to the relay in `url_env`, as `from`, to `to` (and each rule's own recipients)."""
    from alerts.email import EmailSink, parse_smtp_url

    url = context.secret(spec.url_env)
    password = context.secret(spec.password_env) if spec.password_env else None
    ca_file = str(context.settings.config_dir / spec.ca_file) if spec.ca_file else None
    try:
        target = parse_smtp_url(url, password, ca_file)
    except ValueError as exc:
        raise Unavailable(f"{spec.url_env}: {exc}") from None
    if target.password:  # a password written in the URL is a secret of its own
        from service.ops import logs

        logs.redact_also(target.password)
    return EmailSink(
        target, spec.sender, spec.to, spec.rules, spec.timezone, spec.web_url, spec.pace, secrets=[url, *([password] if password else [])]
    )


def check_email(name: str, spec: Any, rules: RulesFile) -> Issues:
    """Each rule given its own recipients exists and sends its alerts to this destination."""
    routed = {r.id: name in r.destinations for r in rules.rules}
    issues: Issues = []
    for rule in spec.rules:
        if rule not in routed:
            issues.append((["rules", rule], f"undefined rule '{rule}'"))
        elif not routed[rule]:
            issues.append((["rules", rule], f"rule '{rule}' does not send its alerts to '{name}': add '{name}' to its destinations"))
    return issues


def _paced(sink: Sink, pace: float | None) -> Sink:
    """The sink with the destination's own pace, where it sets one."""
    if pace is not None:
        sink.min_interval = pace
    return sink


def _signing_secret(context: SinkContext, env: str) -> str:
    """A secret long enough to sign or guard with."""
    secret = context.secret(env)
    if len(secret) < MIN_SECRET:
        raise Unavailable(f"{env} is shorter than {MIN_SECRET} characters: use a long random value")
    return secret


def webhook(name: str, spec: Any, context: SinkContext) -> Sink:
    """Signed JSON to the URL in `url_env`."""
    from alerts.webhook import WebhookSink

    url, secret = context.secret(spec.url_env), _signing_secret(context, spec.secret_env)
    return _paced(WebhookSink(context.session, url, secret, spec.web_url, context.settings.user_agent), spec.pace)


def teams(name: str, spec: Any, context: SinkContext) -> Sink:
    """Adaptive Cards to the Workflows webhook in `url_env`."""
    from alerts.teams import TeamsSink

    return _paced(TeamsSink(context.session, context.secret(spec.url_env), spec.timezone, spec.web_url), spec.pace)


def discord(name: str, spec: Any, context: SinkContext) -> Sink:
    """The Discord webhook in `url_env`."""
    from alerts.discord import DiscordSink

    return _paced(DiscordSink(context.session, context.secret(spec.url_env), spec.timezone, spec.web_url, spec.forum), spec.pace)


def apprise(name: str, spec: Any, context: SinkContext) -> Sink:
    """The Apprise URL in `url_env`; unavailable without the extra installed."""
    try:
        from alerts.apprise import AppriseSink
    except ImportError:
        raise Unavailable("Apprise is not installed: pip install 'newswatch[apprise]'") from None
    return _paced(AppriseSink(context.secret(spec.url_env), spec.timezone), spec.pace)


def feed(name: str, spec: Any, context: SinkContext) -> Sink:
    """The feed of matches: its token must be set for the web server to serve it."""
    from alerts.feed import FeedSink

    _signing_secret(context, spec.token_env)
    return FeedSink(name)


def _no_checks(name: str, spec: Any, rules: RulesFile) -> Issues:
    """A kind with nothing to cross-check."""
    return []


@dataclass(frozen=True)
class Kind:
    """One type of destination: its config model, the factory of its sink, and its cross-checks against the rules."""

    spec: type[DestinationBase]
    build: Callable[[str, Any, SinkContext], Sink]
    check: Callable[[str, Any, RulesFile], Issues] = _no_checks


KINDS: dict[str, Kind] = {
    "slack": Kind(SlackChannel, slack_bot),
    "slack_webhook": Kind(SlackWebhook, slack_webhook),
    "console": Kind(Console, console),
    "email": Kind(Email, email, check_email),
    "webhook": Kind(Webhook, webhook),
    "teams": Kind(Teams, teams),
    "discord": Kind(Discord, discord),
    "apprise": Kind(Apprise, apprise),
    "feed": Kind(Feed, feed),
}


def destination_union() -> Any:
    """The tagged union of every kind's model, by `type`, for the rules.yaml schema."""
    return Annotated[Union[tuple(kind.spec for kind in KINDS.values())], Field(discriminator="type")]  # noqa: UP007


def build_sink(name: str, spec: Any, context: SinkContext) -> Sink:
    """The sink of one destination (the registry's factory for its type)."""
    return KINDS[spec.type].build(name, spec, context)


def check_destination(name: str, spec: Any, rules: RulesFile) -> Issues:
    """The destination's own cross-checks against the rules (paths below `destinations.NAME`)."""
    return KINDS[spec.type].check(name, spec, rules)
