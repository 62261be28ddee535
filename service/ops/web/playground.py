"""The rule playground: one edited rule checked as `rules check` does, its examples run, replayed over stored items as `rules replay` does.

A replay compares the edited rule with the rule in force of the same id (none for a new rule)
over the items first seen in the last N days: what the edit would add, what it would lose
(`service.ops.replaying`). It runs as a background task per person (a new edit cancels their
last one), batch by batch: each batch goes to whichever lane is free, while the next batch is
read, so that a replay uses both cores and the event loop keeps serving; the page polls its
progress. The lanes are the parse worker processes, where the service has them, two each (one
batch running, the next waiting in the pool's queue, so that a worker never idles while this
process reads), then a thread of this process: that one shares this process's core with
reading, so it takes a batch only when every worker lane is full (about a third of them).
Nothing here writes the config: the page offers the YAML to copy or download.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from service.config.load import OneRule
from service.ingest.model import Item
from service.ops import replaying
from service.storage import views
from service.storage.items import Items

if TYPE_CHECKING:
    from service.app import App

SHOWN = 100  # items listed per side of a diff
BATCH = 1000  # items matched at a time
MAX_DAYS = 365
RUNNING = 2  # replays at once in one process; more wait their turn
MAX_FLIGHT = 4  # batches matched but not yet tallied, at most (tallying keeps the stored order)


@dataclass
class Replay:
    """One replay's progress and outcome."""

    id: str
    rule: str
    days: int
    total: int = 0
    done: int = 0
    new: list[dict[str, Any]] = field(default_factory=list)
    lost: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"new": 0, "lost": 0, "unchanged": 0})
    finished: bool = False
    error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def as_data(self) -> dict[str, Any]:
        """What the API returns."""
        return {
            "id": self.id,
            "rule": self.rule,
            "days": self.days,
            "items": self.total,
            "replayed": self.done,
            "finished": self.finished,
            "error": self.error,
            **self.counts,
            "new_items": self.new,
            "lost_items": self.lost,
        }


class Playground:
    """Replays by id, one running per person."""

    def __init__(self, app: App, batch: int = BATCH) -> None:
        self._app = app
        self._batch = batch
        self._replays: dict[str, Replay] = {}
        self._latest: dict[str, str] = {}  # person -> their latest replay
        self._slots = asyncio.Semaphore(RUNNING)

    def get(self, replay_id: str) -> Replay | None:
        """A replay of this process, if it is still known."""
        return self._replays.get(replay_id)

    def start(self, owner: str, loaded: OneRule, days: int) -> Replay:
        """Start replaying `loaded` over the last `days` days, cancelling `owner`'s previous replay."""
        previous = self._replays.pop(self._latest.get(owner, ""), None)
        if previous is not None and previous.task is not None:
            previous.task.cancel()
        replay = Replay(secrets.token_urlsafe(12), loaded.spec.id, max(1, min(days, MAX_DAYS)))
        replay.task = asyncio.create_task(self._run(replay, loaded))
        self._replays[replay.id] = replay
        self._latest[owner] = replay.id
        for old in list(self._replays)[:-50]:  # keep the last few finished ones for their pages
            if self._replays[old].finished:
                del self._replays[old]
        return replay

    async def _run(self, replay: Replay, loaded: OneRule) -> None:
        """Replay batch by batch: each batch to whichever lane is free (a thread, a parse worker), tallied in order."""
        try:
            async with self._slots:
                compared = replaying.comparison(replay.id, loaded, self._app.config())
                since = self._app.clock() - timedelta(days=replay.days)
                replay.total = await views.item_count(self._app.engine, since)
                workers = self._app.executor.size if self._app.executor else 0
                lanes: dict[str, asyncio.Future[list[str]] | None] = dict.fromkeys((*(f"worker-{n}" for n in range(2 * workers)), "thread"))
                flight: deque[tuple[list[Item], asyncio.Future[list[str]]]] = deque()
                async for batch in Items(self._app.engine).items_since(since, batch=self._batch, rules=False):
                    items = [item for item, _ in batch]
                    lane = await _free(lanes)
                    found = lanes[lane] = asyncio.ensure_future(self._sides(compared, items, remote=lane != "thread"))
                    flight.append((items, found))
                    while flight and (flight[0][1].done() or len(flight) > MAX_FLIGHT):
                        await self._tally(replay, compared, *flight.popleft())
                while flight:
                    await self._tally(replay, compared, *flight.popleft())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a person's replay fails alone, and says why
            replay.error = f"{type(exc).__name__}: {exc}"
        finally:
            replay.finished = True

    async def _sides(self, compared: replaying.Comparison, items: list[Item], remote: bool) -> list[str]:
        """The batch's sides, in a worker process (`remote`) or in a thread."""
        if remote and self._app.executor is not None:
            return await self._app.executor.run(replaying.sides, compared, items)
        return await asyncio.to_thread(replaying.sides, compared, items)

    async def _tally(self, replay: Replay, compared: replaying.Comparison, items: list[Item], found: asyncio.Future[list[str]]) -> None:
        """Count a batch's items by side; keep the first few new and lost ones, with what they quote."""
        listed: list[tuple[Item, str]] = []
        for item, side in zip(items, await found, strict=True):
            if not side:
                continue
            replay.counts[side] += 1
            shown = replay.new if side == "new" else replay.lost if side == "lost" else None
            if shown is not None and len(shown) + len([s for _, s in listed if s == side]) < SHOWN:
                listed.append((item, side))
        quoted = await asyncio.to_thread(replaying.evidence, compared, listed) if listed else []
        for (item, side), evidence in zip(listed, quoted, strict=True):
            shown_item = {"title": item.title, "link": item.link, "feed": item.feed_id, "published": item.published}
            (replay.new if side == "new" else replay.lost).append({**shown_item, "evidence": evidence.as_data(replay.rule)})
        replay.done += len(items)


async def _free(lanes: dict[str, asyncio.Future[list[str]] | None]) -> str:
    """A lane with nothing in it (the first named, if several), once one is."""
    while True:
        free = [lane for lane, running in lanes.items() if running is None or running.done()]
        if free:
            return free[0]
        await asyncio.wait([f for f in lanes.values() if f is not None], return_when=asyncio.FIRST_COMPLETED)
