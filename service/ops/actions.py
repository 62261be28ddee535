"""What an operator can do, once: used by the CLI, the Slack handlers and the web pages alike.

Each action returns data or raises `ActionError` with a message for a person; the callers only
parse their input and format the answer (a terminal line, a Slack mrkdwn line, a page).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.config.types import parse_duration
from service.ingest.model import ArticleMode, FeedContext, Item, RuleMatch
from service.ingest.prepare import Prepared, prepare, prepare_now
from service.ingest.route import Routed, route, suppression
from service.storage import views
from service.storage.db import Database
from service.storage.feedback import FeedbackStore
from service.storage.outbox import SqlQueue
from service.storage.silences import Silences

if TYPE_CHECKING:
    from service.config import Config
    from service.config.schema import FeedSpec
    from service.ingest.guard import Guard
    from service.ops.reader import Offload
    from service.rules.match import Ruleset
    from service.settings import Settings

KINDS = ("rule", "destination", "feed")
CHOICES = ("relevant", "not_relevant")  # what feedback says, as Slack's buttons record it
GROUP_TTL = 300.0  # seconds a Slack user group's members are cached
log = logging.getLogger("newswatch.actions")


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

    async def unmute(self, silence_id: int, by: str = "") -> None:
        """End a silence now (`by`: who, if not the CLI)."""
        if not await self._silences.end(silence_id, self._clock(), by):
            raise ActionError(f"no silence {silence_id} is in force")

    async def feedback(self, delivery_id: int, user: str, choice: str) -> None:
        """Record `user`'s rating of an alert, as Slack's Relevant / Not relevant buttons do (their last choice wins)."""
        if choice not in CHOICES:
            raise ActionError(f"a rating is {' or '.join(CHOICES)}, not '{choice}'")
        store = FeedbackStore(self._engine)
        subject = await store.subject(delivery_id)
        if subject is None:
            raise ActionError(f"no alert {delivery_id}")
        await store.record(subject, user, choice, self._clock())

    async def retry(self, ids: Sequence[int] = (), dead: bool = False) -> int:
        """Make deliveries due again with a fresh count of attempts (the given ones, or every dead one); return how many."""
        return await SqlQueue(self._engine, "actions", self._clock).requeue(list(ids) or None, dead)


class Admins:
    """Who may change things when people are known by their Slack ids: `slack.admins` of rules.yaml (None: everyone).

    A user group (`S…`) counts its members, read with usergroups.users.list and cached for a few minutes.
    """

    def __init__(self, config: Callable[[], Config], web: Any = None) -> None:
        self._config = config
        self._web = web  # slack-sdk's AsyncWebClient (bot token), to read user groups
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    async def allows(self, user: str) -> bool:
        """True if `slack.admins` is unset, names the user, or names a user group the user is in."""
        admins = self._config().rules_file.slack.admins
        if admins is None or user in admins:
            return True
        for group in (a for a in admins if a.startswith("S")):
            if user in await self._members(group):
                return True
        return False

    async def _members(self, group: str) -> frozenset[str]:
        """A user group's members, cached; none if Slack will not say."""
        cached = self._groups.get(group)
        if cached is not None and time.monotonic() - cached[0] < GROUP_TTL:
            return cached[1]
        members: frozenset[str] = frozenset()
        if self._web is not None:
            try:
                response = await self._web.usergroups_users_list(usergroup=group)
                members = frozenset(response.get("users") or [])
            except Exception as exc:  # no scope, unknown group, Slack down: nobody gains rights by it
                log.warning("could not read the members of user group %s: %s", group, exc)
                return members
        self._groups[group] = (time.monotonic(), members)
        return members


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
            for tested in await _tested(found, config, context, now, reader, note):
                yield source, tested


async def test_text(text: str, config: Config, settings: Settings, now: datetime, feed: str | None = None) -> list[Tested]:
    """A pasted plain-text article (optional first line ` date YYYY-MM-DD`, a dateline, paragraphs) as `test` sees a file."""
    from service.ingest.parse import parse_article
    from service.ops.reader import Reader

    spec = config.feed(feed) if feed else None
    if feed and spec is None:
        raise ActionError(f"no feed with id '{feed}' in feeds.yaml")
    context = spec.context() if spec else FeedContext("test")
    item = parse_article(text, "pasted", feed_id=context.feed_id)
    async with Reader(config, settings) as reader:
        return await _tested([item], config, dataclasses.replace(context, article="never"), now, reader, "")


async def _tested(found: list[Item], config: Config, context: FeedContext, now: datetime, reader: Any, note: str) -> list[Tested]:
    """Items of one source prepared, matched and routed in `context`."""
    out = []
    for prepared in await prepare(found, config.ruleset, context, reader.articles):
        why = suppression(prepared.item, context, now)
        routed = route(context.feed_id, prepared.matches, why, delivery_of=config.delivery_of, demo=context.demo)
        out.append(Tested(prepared, context, routed, note))
    return out


def replay(batch: Iterable[Item], ruleset: Ruleset, config: Config, explain: bool = True) -> list[tuple[Item, list[RuleMatch]]]:
    """Stored items matched again by `ruleset`, each in its feed's context: `rules replay` and the web playground.

    Without `explain`, the matches say only which rules matched (no terms, no evidence), at a fraction of the cost.
    """
    return [(item, prepare_now([item], ruleset, feed_context(config, item.feed_id), explain)[0].matches) for item in batch]


def feed_context(config: Config, feed_id: str) -> FeedContext:
    """The context of a stored item's feed (a removed feed: its id alone)."""
    spec = config.feed(feed_id)
    return spec.context() if spec else FeedContext(feed_id)
