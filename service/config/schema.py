"""The configuration format: `feeds.yaml` and `rules.yaml`, as strict models.

feeds.yaml::

    feeds:
      - id: vnexpress-world          # stable id: letters, digits, '.', '_', '-'
        url: https://example.org/rss  # http(s), or file: (relative to the config folder)
        name: VnExpress World         # optional display name
        tags: [vi, vietnam]           # optional; rules can scope to tags
        interval: 10m                 # seconds or 90s / 10m / 1h / 1d (default 10m)
        first_poll_alerts: 0          # alert on the newest N items of the first poll, or `all`
        max_age: 7d                   # items published earlier never alert; `off` disables
        language: vi                  # the items' language where the feed does not declare it
        article: auto                 # match on the article page too: auto (short feed text and a rule term), always, never

rules.yaml::

    destinations:                     # where alerts go
      border-desk: {type: slack, channel: "#vn-kh-border", timezone: Asia/Ho_Chi_Minh}
      wire: {type: slack, channel: "#wire", digest: {max_alerts: 5, window: 10m}, threads: true}
      ops-hook: {type: slack_webhook, url_env: SLACK_WEBHOOK_URL}
      terminal: {type: console}
    operations:                       # optional: "feed failing since ..." after 5 failures, and "recovered"
      destination: terminal
      after_failures: 5
    groups:                           # named term lists, used as "@name" in rules
      vietnam: ["Việt Nam", "Vietnamese"]
    rules:
      - id: vn-kh-border
        name: Việt Nam–Cambodia border
        destinations: [border-desk]
        throttle: {max_alerts: 20, per: 1h}   # optional: the rest go into the next digest
        match:
          all: ["@vietnam", "@cambodia", "@border"]
          none: ["football"]
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

from service.rules.spec import DEFAULT_FIELDS, BooleanSpec, ExamplesSpec, FieldName, Group, Id, Strict

_DURATION = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")


def parse_duration(value: Any) -> int:
    """Read seconds from an integer or a duration such as '90s', '10m', '1h30m', '2d'."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 600, 90s, 10m, 1h or 1d")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("a duration must be positive")
        return value
    match = _DURATION.match(value) if isinstance(value, str) and value.strip() else None
    if not match or not any(match.groups()):
        raise ValueError(f"'{value}' is not a duration: use seconds or 90s, 10m, 1h, 1d")
    d, h, m, s = (int(g or 0) for g in match.groups())
    seconds = ((d * 24 + h) * 60 + m) * 60 + s
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


def _optional_duration(value: Any) -> int | None:
    """A duration, or None for `off`."""
    return None if value in ("off", "none", False) else parse_duration(value)


_DURATION_SCHEMA = {"type": "string", "pattern": r"^\s*(\d+d)?\s*(\d+h)?\s*(\d+m)?\s*(\d+s)?\s*$"}
Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1}, _DURATION_SCHEMA], "description": "seconds, or 90s, 10m, 1h, 1d"}),
]
OptionalDuration = Annotated[
    int | None,
    BeforeValidator(_optional_duration),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": 1}, _DURATION_SCHEMA, {"enum": ["off", False]}], "description": "a duration, or off"}
    ),
]


class FeedSpec(Strict):
    """One feed to poll."""

    id: Id
    url: Annotated[str, Field(pattern=r"^(https?://\S+|file:\S+)$")]
    name: str | None = None
    tags: list[Id] = []
    interval: Duration = 600
    first_poll_alerts: Annotated[int, Field(ge=0)] | Literal["all"] = 0
    max_age: OptionalDuration = 7 * 86400
    language: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")] | None = None  # when items do not say
    article: Literal["auto", "always", "never"] = "auto"  # fetch an item's page for its whole text (service.ingest.prepare)

    @property
    def display_name(self) -> str:
        """The name shown in alerts."""
        return self.name or self.id


class FeedsFile(Strict):
    """The whole of feeds.yaml."""

    feeds: list[FeedSpec]


class DigestSpec(Strict):
    """Flood control: more than `max_alerts` alerts within `window` go out as one digest message."""

    max_alerts: Annotated[int, Field(ge=1, le=1000)] = 10
    window: Duration = 600


class ThrottleSpec(Strict):
    """At most `max_alerts` alerts per `per` from one rule to one destination; the rest join the next digest."""

    max_alerts: Annotated[int, Field(ge=1)]
    per: Annotated[Duration, Field(le=7 * 86400)] = 3600


def _optional_digest(value: Any) -> Any:
    """`off` (or false) disables digests."""
    return None if value in ("off", False) else value


OptionalDigest = Annotated[
    DigestSpec | None,
    BeforeValidator(_optional_digest),
    WithJsonSchema({"anyOf": [DigestSpec.model_json_schema(), {"enum": ["off", False]}], "description": "digest settings, or off"}),
]


class DestinationBase(Strict):
    """What every destination has: a time zone for dates, flood control and story threading."""

    timezone: str = "UTC"
    digest: OptionalDigest = DigestSpec()
    threads: bool = True  # a near-duplicate of a story alerted in the last 72 h goes into its thread


class SlackChannel(DestinationBase):
    """Post with the bot token (SLACK_BOT_TOKEN) to a channel name or id."""

    type: Literal["slack"]
    channel: Annotated[str, Field(min_length=1)]


class SlackWebhook(DestinationBase):
    """Post to an incoming webhook whose URL is in the named environment variable (webhooks cannot thread)."""

    type: Literal["slack_webhook"]
    url_env: Annotated[str, Field(pattern=r"^SLACK_WEBHOOK[A-Z0-9_]*$")] = "SLACK_WEBHOOK_URL"


class Console(DestinationBase):
    """Print alerts to standard output."""

    type: Literal["console"]


DestinationSpec = Annotated[SlackChannel | SlackWebhook | Console, Field(discriminator="type")]


class RuleSpec(Strict):
    """One watch rule."""

    id: Id
    name: str | None = None
    description: str | None = None
    destinations: Annotated[list[str], Field(min_length=1)]
    match: BooleanSpec
    fields: Annotated[list[FieldName], Field(min_length=1)] = DEFAULT_FIELDS
    feeds: list[Id] = []
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]] = []
    examples: ExamplesSpec | None = None
    throttle: ThrottleSpec | None = None
    enabled: bool = True


class OperationsSpec(Strict):
    """Where notices about the service itself go: a feed failing for a while, and its recovery."""

    destination: str
    after_failures: Annotated[int, Field(ge=1, le=1000)] = 5


class RulesFile(Strict):
    """The whole of rules.yaml."""

    destinations: dict[Id, DestinationSpec]
    operations: OperationsSpec | None = None
    groups: dict[Id, Group] = {}
    rules: list[RuleSpec]


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schemas of both files, for editors with a YAML language server."""
    return {"feeds.schema.json": FeedsFile.model_json_schema(), "rules.schema.json": RulesFile.model_json_schema()}
