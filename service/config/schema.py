"""The configuration format: `feeds.yaml` and `rules.yaml`, as strict models.

feeds.yaml::

    feeds:
      - id: vnexpress-world          # stable id: letters, digits, '.', '_', '-'
        url: https://example.org/rss  # http(s), or file: (relative to the config folder)
        name: VnExpress World         # optional display name
        tags: [vi, vietnam]           # optional; rules can scope to tags
        interval: 10m                 # seconds or 90s / 10m / 1h / 1d (default 10m, at least 1m)
        first_poll_alerts: 0          # alert on the newest N items of the first poll, or `all`
        max_age: 7d                   # items published earlier never alert; `off` disables
        language: vi                  # the items' language where the feed does not declare it
        article: auto                 # match on the article page too: auto (short feed text and a rule term), always, never
        network: auto                 # its links may reach private addresses: auto (if fetched from one), public (never), private
        timezone: Asia/Ho_Chi_Minh    # where the feed's dates are when they do not say (IANA name; default: UTC)
        demo: false                   # true: its alerts print to the console only, whatever the rules' destinations
        kind: feed                    # feed (default), sitemap or listing: see service.config.sources

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
        delivery: daily                       # optional: this rule's alerts in the destinations' briefings
        match:
          all: ["@vietnam", "@cambodia", "@border"]
          none: ["football"]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator

from service.config.sources import ListingOptions, SitemapOptions
from service.config.types import Delivery, DestinationBase, Duration, Interval, OptionalDuration, TimeZone, parse_duration
from service.destinations import destination_union
from service.ingest.model import FeedContext
from service.rules.spec import DEFAULT_FIELDS, BooleanSpec, ExamplesSpec, FieldName, Group, Id, Strict

__all__ = ["Duration", "parse_duration"]


class FeedSpec(Strict):
    """One feed to poll."""

    id: Id
    url: Annotated[str, Field(pattern=r"^(https?://\S+|file:\S+)$")]
    name: str | None = None
    tags: list[Id] = []
    interval: Interval = 600  # at least a minute
    first_poll_alerts: Annotated[int, Field(ge=0)] | Literal["all"] = 0
    max_age: OptionalDuration = 7 * 86400
    language: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")] | None = None  # when items do not say
    article: Literal["auto", "always", "never"] = "auto"  # fetch an item's page for its whole text (service.ingest.prepare)
    network: Literal["auto", "public", "private"] = "auto"  # where its links may lead: auto = by the address it was fetched from
    timezone: TimeZone | None = None  # where dates without a zone are (service.ingest.dates); None: UTC, with a note
    demo: bool = False  # a demo feed: its alerts print to the console only, never to Slack or another destination
    kind: Literal["feed", "sitemap", "listing"] = "feed"  # where items come from (service.ingest.sources)
    sitemap: SitemapOptions | None = None  # kind: sitemap only
    listing: ListingOptions | None = None  # kind: listing only

    @model_validator(mode="after")
    def _options_of_its_kind(self) -> Any:
        """`sitemap:` belongs to `kind: sitemap`, `listing:` to `kind: listing`."""
        for kind in ("sitemap", "listing"):
            if getattr(self, kind) is not None and self.kind != kind:
                raise ValueError(f"'{kind}:' options need 'kind: {kind}' (this feed is kind: {self.kind})")
        return self

    @property
    def display_name(self) -> str:
        """The name shown in alerts."""
        return self.name or self.id

    def context(self) -> FeedContext:
        """What matching needs to know of this feed: the one place a `FeedContext` is made from the config."""
        return FeedContext(self.id, tuple(self.tags), self.language or "", self.article, self.max_age, self.url, self.demo)


class HostSpec(Strict):
    """What one host may take: `concurrency` fetches at once (feeds, pages and robots.txt), instead of NEWSWATCH_PER_HOST."""

    concurrency: Annotated[int, Field(ge=1, le=100)]


class FeedsFile(Strict):
    """The whole of feeds.yaml."""

    feeds: list[FeedSpec]
    hosts: dict[Annotated[str, Field(pattern=r"^[a-z0-9.-]+(:[0-9]{1,5})?$")], HostSpec] = {}  # by host name (and port)
    show_full_urls: bool = False  # feed URLs in errors, logs, notices, Slack and the CLI: without query and user:password unless true


class ThrottleSpec(Strict):
    """At most `max_alerts` alerts per `per` from one rule to one destination; the rest join the next digest."""

    max_alerts: Annotated[int, Field(ge=1)]
    per: Annotated[Duration, Field(le=7 * 86400)] = 3600


if TYPE_CHECKING:
    DestinationSpec = DestinationBase
else:
    DestinationSpec = destination_union()  # every kind of service.destinations.KINDS, by `type`


class RuleSpec(Strict):
    """One watch rule."""

    id: Id
    name: str | None = None
    description: str | None = None
    destinations: Annotated[list[str], Field(min_length=1)]
    match: BooleanSpec
    fields: Annotated[list[FieldName], Field(min_length=1)] = list(DEFAULT_FIELDS)
    feeds: list[Id] = []
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]] = []
    examples: ExamplesSpec | None = None
    throttle: ThrottleSpec | None = None
    delivery: Delivery | None = None  # this rule's alerts: as each destination says (unset), or instant / daily / weekly there
    enabled: bool = True


class OperationsSpec(Strict):
    """Where notices about the service itself go: a feed failing for a while, and its recovery."""

    destination: str
    after_failures: Annotated[int, Field(ge=1, le=1000)] = 5


SlackUserOrGroup = Annotated[str, Field(pattern=r"^[UWS][A-Z0-9]{2,}$")]


class SlackSpec(Strict):
    """What people may do from Slack (the buttons on alerts need SLACK_APP_TOKEN)."""

    admins: list[SlackUserOrGroup] | None = None  # user (U…, W…) or user-group (S…) ids allowed to mute; None: everyone


class RulesFile(Strict):
    """The whole of rules.yaml."""

    destinations: dict[Id, DestinationSpec]
    operations: OperationsSpec | None = None
    slack: SlackSpec = SlackSpec()
    groups: dict[Id, Group] = {}
    rules: list[RuleSpec]


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schemas of both files, for editors with a YAML language server."""
    return {"feeds.schema.json": FeedsFile.model_json_schema(), "rules.schema.json": RulesFile.model_json_schema()}
