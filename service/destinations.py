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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field

from service.config.types import DestinationBase

if TYPE_CHECKING:
    from typing import TextIO

    import aiohttp

    from alerts.base import Sink
    from service.settings import Settings

SLACK_API = "https://slack.com/api/"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


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


def slack_bot(name: str, spec: Any, context: SinkContext) -> Sink:
    """chat.postMessage with the bot token, to the configured channel."""
    from slack_sdk.web.async_client import AsyncWebClient

    from alerts.slack import SlackBotSink

    token = context.settings.slack_bot_token or context.secret("SLACK_BOT_TOKEN", name)
    base = (context.settings.slack_api_url or SLACK_API).rstrip("/") + "/"
    client = AsyncWebClient(token=token, base_url=base, session=context.session, timeout=15, retry_handlers=[])
    return SlackBotSink(client, spec.channel, spec.timezone, buttons=context.buttons)


def slack_webhook(name: str, spec: Any, context: SinkContext) -> Sink:
    """An incoming webhook whose URL is in the environment variable `url_env`."""
    from slack_sdk.webhook.async_client import AsyncWebhookClient

    from alerts.slack import SlackWebhookSink

    url = context.secret(spec.url_env, name)
    return SlackWebhookSink(AsyncWebhookClient(url, session=context.session, timeout=15, retry_handlers=[]), spec.timezone)


def console(name: str, spec: Any, context: SinkContext) -> Sink:
    """Standard output (or the stream the context gives)."""
    from alerts.console import ConsoleSink

    return ConsoleSink(name, context.stdout, spec.timezone)


@dataclass(frozen=True)
class Kind:
    """One type of destination: its config model and the factory of its sink."""

    spec: type[DestinationBase]
    build: Callable[[str, Any, SinkContext], Sink]


KINDS: dict[str, Kind] = {
    "slack": Kind(SlackChannel, slack_bot),
    "slack_webhook": Kind(SlackWebhook, slack_webhook),
    "console": Kind(Console, console),
}


def destination_union() -> Any:
    """The tagged union of every kind's model, by `type`, for the rules.yaml schema."""
    return Annotated[Union[tuple(kind.spec for kind in KINDS.values())], Field(discriminator="type")]  # noqa: UP007


def build_sink(name: str, spec: Any, context: SinkContext) -> Sink:
    """The sink of one destination (the registry's factory for its type)."""
    return KINDS[spec.type].build(name, spec, context)
