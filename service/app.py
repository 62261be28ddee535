"""Bootstrap: the one function that wires concrete objects from settings."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

import aiohttp
import httpx

from alerts import briefing, flood
from alerts.base import Sink
from alerts.console import ConsoleSink
from alerts.delivery import Deliverer, DeliveryStats
from service.config import Config
from service.config.live import LiveConfig
from service.destinations import SinkContext, Unavailable, build_sink
from service.ingest import story, workers
from service.ingest.article import Articles, Extractor
from service.ingest.client import build_client
from service.ingest.extract import Extracted, extract_article
from service.ingest.fetch import Fetcher
from service.ingest.guard import Guard
from service.ingest.model import ParsedFeed
from service.ingest.parse import WORKER_MODULES, parse_feed
from service.ingest.pipeline import Parser, Pipeline, PollStats
from service.ingest.route import DEMO, legacy_evidence
from service.ingest.sources import Sources
from service.ingest.sources.aggregator import Resolver, ResolvingPages
from service.ingest.sources.base import Offload
from service.ops.metrics import Metrics
from service.settings import Settings
from service.storage import db
from service.storage.briefings import SqlBriefings
from service.storage.db import Database
from service.storage.feeds import Feeds
from service.storage.items import Items
from service.storage.outbox import SqlQueue
from service.storage.pacing import SqlPacer
from service.storage.ready import ready
from service.storage.silences import SqlMuter

if TYPE_CHECKING:
    from alerts.slack.health import BotCheck
    from alerts.slack.interactive import SlackInteractions

log = logging.getLogger("newswatch")


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def parser(executor: workers.Workers | None) -> Parser:
    """Parse off the event loop: in worker processes (feedparser is CPU-bound Python), else in a thread."""

    async def parse(body: bytes, url: str, feed_id: str, content_type: str, timezone: str | None) -> ParsedFeed:
        if executor is None:
            return await asyncio.to_thread(parse_feed, body, url, feed_id, content_type, timezone)
        return await executor.run(parse_feed, body, url, feed_id, content_type, timezone)

    return parse


def warm(executor: workers.Workers | None) -> asyncio.Future[None] | None:
    """Start the parse workers now rather than at the first parse: one takes ~0.3 s to start and import the parser."""
    if executor is None:
        return None

    async def first() -> None:
        with contextlib.suppress(Exception):  # a worker that cannot start says so at the first real parse
            await executor.run(parse_feed, b"", "", "warm-up")

    return asyncio.ensure_future(first())


def extractor(pages: workers.Stoppable) -> Extractor:
    """Extract article text in worker processes that are killed when a page runs over its time (a hostile page)."""

    async def extract(body: bytes, url: str, content_type: str) -> Extracted:
        return await pages.run(extract_article, body, url, content_type)

    return extract


def offload(executor: workers.Workers | None) -> Offload:
    """Run a picklable function (a sitemap's or a listing page's parse) where feeds are parsed."""

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        if executor is None:
            return await asyncio.to_thread(fn, *args)
        return await executor.run(fn, *args)

    return run


@dataclass
class App:
    """Every long-lived object of a running service."""

    settings: Settings
    clock: Callable[[], datetime]
    engine: Database
    feeds: Feeds
    items: Items
    config: LiveConfig
    http: httpx.AsyncClient
    slack_session: aiohttp.ClientSession
    pipeline: Pipeline
    deliverer: Deliverer
    metrics: Metrics
    stdout: TextIO | None = None
    executor: workers.Workers | None = None
    pages: workers.Stoppable | None = None  # extract article pages; a page over its time is stopped with its worker
    sinks: dict[str, Sink] = field(default_factory=dict)
    briefings: SqlBriefings | None = None  # makes the daily and weekly briefings that are due
    interactions: SlackInteractions | None = None  # Slack's buttons over Socket Mode, with SLACK_APP_TOKEN
    slack_bot: BotCheck | None = None  # who SLACK_BOT_TOKEN posts as (auth.test), checked at start-up until Slack accepts it
    public_http: httpx.AsyncClient | None = None  # connects to public addresses only: pages linked from public feeds
    guard: Guard = field(default_factory=Guard)  # which addresses are public
    warned: set[str] = field(default_factory=set)  # warnings about destinations already logged
    warming: asyncio.Future[None] | None = None  # the parse workers' start (`warm`)

    async def start(self) -> None:
        """Check and migrate the database (DatabaseError says what to fix), and register the configured feeds."""
        await ready(self.engine)
        await self.feeds.sync(self.config().feeds, self.clock())

    def rebuild_sinks(self, config: Config) -> None:
        """Build one sink per destination of `config` (a destination's warning is logged once, not at every reload)."""
        self.sinks = build_sinks(config, self.settings, self.slack_session, self.stdout, self.warned, self.buttons)

    def buttons(self) -> bool:
        """Whether alerts carry Slack's buttons now: only while the Socket Mode connection that answers them works."""
        return self.interactions is not None and self.interactions.connected

    async def poll_once(self) -> tuple[PollStats, DeliveryStats]:
        """Poll every feed once, then deliver everything that is due."""
        polled = await self.pipeline.poll_due(force=True, limit=100_000)
        await self.brief()
        delivered = DeliveryStats()
        while True:
            stats = await self.deliverer.run_once()
            if not (stats.sent or stats.retried or stats.dead):
                return polled, delivered
            delivered.sent += stats.sent
            delivered.retried += stats.retried
            delivered.dead += stats.dead

    async def brief(self) -> int:
        """Make the briefings that are due (each once, whatever the replicas); the delivery loop sends them."""
        if self.briefings is None:
            return 0
        config = self.config()
        names = {r.id: r.name for r in config.ruleset.rules}
        made = await briefing.make_due(self.briefings, schedules(config, self.clock()), story.same_story, config.rule_order, names)
        await self.briefings.release(lambda destination, rules: config.delivery_of(destination, rules) == "instant")
        return made

    async def aclose(self) -> None:
        """Close connections and the database."""
        if self.interactions is not None:
            await self.interactions.aclose()
        for sink in self.sinks.values():
            await sink.aclose()
        await self.http.aclose()
        if self.public_http is not None:
            await self.public_http.aclose()
        await self.slack_session.close()
        await self.guard.close()
        if self.warming is not None:
            self.warming.cancel()
        if self.executor is not None:
            self.executor.shutdown()
        if self.pages is not None:
            self.pages.shutdown()
        await self.engine.dispose()


async def build_app(
    settings: Settings, clock: Callable[[], datetime] = utcnow, stdout: TextIO | None = None, guard: Guard | None = None
) -> App:
    """Wire a service from its settings; raises ConfigError if the config is invalid.

    `guard` says which addresses are public: those that pages linked from feeds, and URLs given
    in Slack, may reach (tests let their loopback servers stand in for the internet).
    """
    guard = guard or Guard()
    executor = workers.Workers(settings.parse_workers, preload=WORKER_MODULES) if settings.parse_workers else None
    warming = warm(executor)  # the workers start while the config loads and the database opens
    metrics = Metrics()
    config = LiveConfig(settings.config_dir, clock)
    engine = db.create_engine(settings.database_url, settings.db_pool_size)
    muter = SqlMuter(engine, clock)
    feeds = Feeds(engine, settings.instance)
    items = Items(engine)
    http = build_client(settings.user_agent, read_timeout=min(20.0, settings.fetch_timeout), resolve=lambda: guard.resolver(False))
    public_http = build_client(settings.user_agent, read_timeout=min(20.0, settings.fetch_timeout), guard=guard)
    limit = settings.per_host
    fetcher = Fetcher(
        http,
        settings.config_dir,
        settings.max_feed_bytes,
        lambda host: config().host_limit(host, limit),
        settings.fetch_timeout,
        public_client=public_http,
        guard=guard,
        full_urls=lambda: config().full_urls,
    )
    lease = timedelta(seconds=settings.lease_seconds)
    pages = workers.Stoppable(max(2, settings.parse_workers))  # two at least: one hostile site never holds every page back
    read_pages = Articles(
        fetcher,
        extractor(pages),
        settings.user_agent,
        settings.article_timeout,
        settings.article_pace,
        guard=guard,
        full_urls=lambda: config().full_urls,
    )
    # aggregator links led to the outlet first
    articles = ResolvingPages(read_pages, Resolver(fetcher), settings.article_timeout, fetcher.links_public)
    pipeline = Pipeline(
        feeds,
        items,
        fetcher,
        parser(executor),
        config,
        clock,
        muter,
        settings.poll_concurrency,
        lease,
        observe=metrics.poll,
        stored=metrics.stored,
        articles=articles,
        article_tried=metrics.article,
        sources=Sources(fetcher, parser(executor), offload(executor)),
    )
    deliverer = Deliverer(
        SqlQueue(engine, settings.instance, clock, lease, legacy=legacy_evidence),
        SqlPacer(engine, utcnow),  # Slack counts real seconds, whatever clock the rest runs on
        muter,
        lambda: app.sinks,
        clock,
        policy_of=lambda destination: flood_policy(config(), destination),
        same_story=story.same_story,
        batch=50,
        observe=metrics.delivery,
    )
    app = App(
        settings=settings,
        clock=clock,
        engine=engine,
        feeds=feeds,
        items=items,
        config=config,
        http=http,
        public_http=public_http,
        slack_session=aiohttp.ClientSession(),
        pipeline=pipeline,
        deliverer=deliverer,
        metrics=metrics,
        stdout=stdout,
        executor=executor,
        pages=pages,
        briefings=SqlBriefings(engine, clock),
        guard=guard,
        warming=warming,
    )
    slack(app)
    app.rebuild_sinks(config())
    return app


def slack(app: App) -> None:
    """With SLACK_BOT_TOKEN: the start-up check of the bot token, and with SLACK_APP_TOKEN too, the Socket Mode connection."""
    settings = app.settings
    bot = settings.slack_bot_token or settings.environ.get("SLACK_BOT_TOKEN")
    if not bot:
        return
    from slack_sdk.web.async_client import AsyncWebClient

    from alerts.slack.health import BotCheck
    from service.destinations import SLACK_API

    base = (settings.slack_api_url or SLACK_API).rstrip("/") + "/"
    web = AsyncWebClient(token=bot, base_url=base, session=app.slack_session, timeout=15, retry_handlers=[])
    app.slack_bot = BotCheck(web, observe=lambda health: app.metrics.slack("bot", health))
    if settings.slack_app_token:
        from alerts.slack.interactive import SlackInteractions
        from service.ops.interactions import Interactions

        offload = app.pages.run if app.pages is not None else None
        actions = Interactions(app.engine, app.config, app.clock, settings, web, app.guard, offload)
        observe = {"observe": lambda health: app.metrics.slack("socket", health)}
        app.interactions = SlackInteractions(settings.slack_app_token, web, actions, connection=observe)  # type: ignore[arg-type]


def flood_policy(config: Config, destination: str) -> flood.Policy:
    """A destination's flood settings from the config: digest, threads and the throttles of its rules."""
    throttles = {
        r.id: flood.Throttle(r.throttle.max_alerts, timedelta(seconds=r.throttle.per))
        for r in config.rules_file.rules
        if r.throttle and destination in r.destinations
    }
    spec = config.rules_file.destinations.get(destination)
    if spec is None:
        return flood.Policy(throttles=throttles)
    digest = spec.digest
    return flood.Policy(
        max_alerts=digest.max_alerts if digest else None,
        window=timedelta(seconds=digest.window if digest else 600),
        threads=spec.threads,
        thread_window=story.WINDOW,
        throttles=throttles,
    )


def schedules(config: Config, now: datetime) -> list[briefing.Schedule]:
    """The briefings the config asks for, each for its latest period (made once: `alerts.briefing.make_due`)."""
    out = []
    for name, spec in config.rules_file.destinations.items():
        for kind in config.briefing_kinds(name):
            due = briefing.last_due(now, spec.at, spec.timezone, spec.weekday if kind == "weekly" else None)
            takes = functools.partial(_takes, config, name, kind)
            out.append(briefing.Schedule(name, kind, due, briefing.title(kind, due, spec.timezone), spec.briefing_when_empty, takes))
    return out


def _takes(config: Config, destination: str, kind: str, rule_ids: Sequence[str]) -> bool:
    """Whether an alert of these rules goes into the destination's briefing of this kind."""
    return config.delivery_of(destination, rule_ids) == kind


def build_sinks(
    config: Config,
    settings: Settings,
    session: aiohttp.ClientSession,
    stdout: TextIO | None,
    warned: set[str] | None = None,
    buttons: Callable[[], bool] = bool,
) -> dict[str, Sink]:
    """One sink per destination, from the registry; a destination without its credentials prints to the console.

    A warning already in `warned` is not logged again (a reload rebuilds every sink). Demo feeds'
    alerts have a console of their own (`DEMO`): they never reach a real destination.
    """
    context = SinkContext(settings, session, stdout, warned if warned is not None else set(), buttons)
    sinks: dict[str, Sink] = {DEMO: ConsoleSink(DEMO, stdout)}
    for name, dest in config.rules_file.destinations.items():
        try:
            sinks[name] = build_sink(name, dest, context)
        except Unavailable as exc:
            context.warn_once(f"{exc}: alerts for this destination are printed to the console", name)
            sinks[name] = ConsoleSink(name, stdout, dest.timezone)
    return sinks
