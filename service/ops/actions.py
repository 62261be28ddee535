"""What an operator can do, once: used by the CLI, the Slack handlers and the web pages alike.

Each action returns data or raises `ActionError` with a message for a person; the callers only
parse their input and format the answer (a terminal line, a Slack mrkdwn line, a page).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.config.types import parse_duration
from service.ingest.model import ArticleMode, FeedContext
from service.ingest.prepare import Prepared, prepare
from service.ingest.route import Routed, route, suppression
from service.storage import views
from service.storage.db import Database
from service.storage.silences import Silences

if TYPE_CHECKING:
    from service.config import Config
    from service.config.schema import FeedSpec
    from service.ingest.guard import Guard
    from service.ops.reader import Offload
    from service.settings import Settings

KINDS = ("rule", "destination", "feed")


class ActionError(ValueError):
    """An action refused: the message says why, for the person who asked."""


@dataclass(frozen=True)
class Muted:
    """A silence made or moved by `mute`."""

    id: int
    kind: str
    target: str
    until: datetime


@dataclass(frozen=True)
class Status:
    """What `status` reports: failing feeds (at most the limit asked for) and deliveries by status."""

    failing: list[tuple[str, str, str | None]]  # (feed id, name, last error)
    deliveries: dict[str, int]
    more: bool  # more feeds are failing than listed


class Actions:
    """Operator actions over one database and the live config."""

    def __init__(self, engine: Database, config: Callable[[], Config], clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._config = config
        self._clock = clock
        self._silences = Silences(engine)

    async def status(self, limit: int = 10) -> Status:
        """Failing feeds and the outbox's counts."""
        failing = await views.failing_feeds(self._engine, limit + 1)
        return Status(failing[:limit], await views.delivery_counts(self._engine), len(failing) > limit)

    async def silences(self) -> list[Any]:
        """The silences in force, soonest to end first."""
        return await self._silences.listing(self._clock())

    async def mute(self, name: str, duration: str, reason: str, by: str = "") -> Muted:
        """Silence a rule, destination or feed for `duration` ("2h", "1d", "1w")."""
        kind, target = mute_target(name, self._config())
        until = self._clock() + timedelta(seconds=_seconds(duration))
        mute_id = await self._silences.add(kind, target, until, reason, self._clock(), by=by)
        return Muted(mute_id, kind, target, until)

    async def mute_for(self, kind: str, target: str, seconds: int, reason: str, by: str) -> Muted:
        """Silence one target on behalf of `by`, moving the end of a silence `by`'s kind made before (a second click)."""
        until = self._clock() + timedelta(seconds=seconds)
        mute_id = await self._silences.set_by(kind, target, until, reason, by, self._clock())
        return Muted(mute_id, kind, target, until)

    async def unmute(self, silence_id: int) -> None:
        """End a silence now."""
        if not await self._silences.end(silence_id, self._clock()):
            raise ActionError(f"no silence {silence_id} is in force")


def _seconds(duration: str) -> int:
    """A duration's seconds, or the reason it is not one."""
    try:
        return parse_duration(duration)
    except ValueError as exc:
        raise ActionError(str(exc)) from None


def mute_target(name: str, config: Config) -> tuple[str, str]:
    """(kind, target) for a mute of a rule id, destination or feed id (`kind:` prefix optional)."""
    kind, _, plain = name.partition(":") if name.startswith(tuple(f"{k}:" for k in KINDS)) else ("", "", name)
    known = {
        "rule": {r.id for r in config.rules_file.rules},
        "destination": set(config.rules_file.destinations),
        "feed": {f.id for f in config.feeds},
    }
    found = [k for k, names in known.items() if plain in names and kind in ("", k)]
    if not found:
        raise ActionError(f"'{plain}' is not a rule id, a destination or a feed id")
    if len(found) > 1:
        raise ActionError(f"'{plain}' is a {' and a '.join(found)}: write {' or '.join(f'{k}:{plain}' for k in found)}")
    return found[0], plain


@dataclass(frozen=True)
class Tested:
    """One item of a tested source, as the service would see it: prepared, matched and routed."""

    prepared: Prepared
    context: FeedContext
    routed: Routed
    note: str = ""  # how the context was chosen, when a flag overrode the feed's own settings


def context_for(source: str, config: Config, feed: str | None = None, articles: bool | None = None) -> tuple[FeedContext, str]:
    """The feed context `rules test` matches a source in: `feed`'s, else the feeds.yaml feed at that URL or file, else a new feed's.

    `articles` (True, False) overrides the article mode; the note says so.
    """
    spec = config.feed(feed) if feed else config.feed_at(source) or _feed_file(source, config)
    if feed and spec is None:
        raise ActionError(f"no feed with id '{feed}' in feeds.yaml")
    remote = source.startswith(("http://", "https://"))
    context = spec.context() if spec else FeedContext("test", article="auto" if remote else "never", url=source if remote else None)
    if articles is None:
        return context, ""
    mode: ArticleMode = "always" if articles else "never"
    note = f"article: {mode} (--{'' if articles else 'no-'}articles; the feed says {context.article})" if mode != context.article else ""
    return dataclasses.replace(context, article=mode), note


def _feed_file(source: str, config: Config) -> FeedSpec | None:
    """The feeds.yaml feed that reads this local file, if any."""
    if source.startswith(("http://", "https://")) or config.directory is None:
        return None
    path = Path(source).resolve()
    return next((f for f in config.feeds if f.url.startswith("file:") and (config.directory / f.url[5:]).resolve() == path), None)


async def test(
    sources: Sequence[str],
    config: Config,
    settings: Settings,
    now: datetime,
    feed: str | None = None,
    articles: bool | None = None,
    guard: Guard | None = None,
    offload: Offload | None = None,
) -> AsyncIterator[tuple[str, Tested | str]]:
    """Each item of each source prepared, matched and routed as the service would, or why the source could not be read.

    With a `guard`, the sources, their redirects and their article pages must be on addresses it
    calls public (a URL from Slack, where whoever asks need not be trusted with the server's network).
    `offload` runs the reading and extraction of documents (a thread by default; stoppable worker
    processes, so that a hostile page never holds an event loop or outlives its time).
    """
    from service.ops.reader import Reader

    async with Reader(config, settings, guard, offload) as reader:
        for source in sources:
            context, note = context_for(source, config, feed, articles)
            try:
                found = await reader.items(source, context.feed_id)
            except (OSError, ValueError) as exc:
                yield source, str(exc)
                continue
            for prepared in await prepare(found, config.ruleset, context, reader.articles):
                why = suppression(prepared.item, context, now)
                routed = route(context.feed_id, prepared.matches, why, delivery_of=config.delivery_of, demo=context.demo)
                yield source, Tested(prepared, context, routed, note)
