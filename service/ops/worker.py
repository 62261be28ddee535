"""The scheduler: periodic jobs on APScheduler's AsyncIOScheduler, and a graceful stop.

The database, not the scheduler, knows which feed and which alert is due, so the jobs only
ask it at a steady pace; a restart or another replica carries on where this one stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from service.app import App
from service.storage import views

log = logging.getLogger("newswatch.worker")
MAX_ROUNDS = 50  # batches one tick of a job works off before it yields to the next tick


class Worker:
    """Runs the periodic jobs of one process: poll, deliver, reload."""

    def __init__(self, app: App, poll_every: float = 5.0, deliver_every: float = 1.0, reload_every: float = 2.0) -> None:
        self.app = app
        self._every = {
            "poll": poll_every,
            "deliver": deliver_every,
            "reload": reload_every,
            "prune": 3600.0,
            "feedback": 60.0,
            "brief": 20.0,
        }
        self._scheduler: AsyncIOScheduler | None = None
        self._active: set[asyncio.Task[Any]] = set()
        self.skipped: Counter[str] = Counter()  # ticks that found their job's last run still going, by job
        self._background: set[asyncio.Future[None]] = set()  # the Slack checks: cancelled on stop
        self.stopping = False

    @property
    def running(self) -> bool:
        """True while the scheduler runs its jobs."""
        return self._scheduler is not None and self._scheduler.running and not self.stopping

    def start(self) -> None:
        """Start the jobs; the first poll and delivery run at once."""
        # Two instances: a tick that finds the last run still going starts one that returns at once (`_tracked`), so
        # APScheduler never refuses a tick ("maximum number of running instances reached"), which is routine here.
        scheduler = AsyncIOScheduler(timezone=UTC, job_defaults={"max_instances": 2, "coalesce": True, "misfire_grace_time": 30})
        jobs: dict[str, Callable[[], Awaitable[None]]] = {
            "poll": self.poll,
            "deliver": self.deliver,
            "reload": self.reload,
            "prune": self.prune,
            "feedback": self.feedback,
            "brief": self.brief,
        }
        for name, job in jobs.items():
            scheduler.add_job(self._tracked(name, job), "interval", seconds=self._every[name], id=name, next_run_time=datetime.now(UTC))
        scheduler.start()
        self._scheduler = scheduler
        if self.app.slack_bot is not None:  # who alerts are posted as; asked again with backoff until Slack accepts the token
            self._background.add(asyncio.ensure_future(self.app.slack_bot.run()))
        if self.app.interactions is not None:  # connects in the background, backing off after failures
            self._background.add(asyncio.ensure_future(self.app.interactions.start()))

    def _tracked(self, name: str, job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """Wrap a job so that stop() can wait for it, one run goes on at a time, and no exception kills the scheduler.

        A poll or a delivery round can outlast its tick; the next tick then finds the work being
        done and returns (noted at DEBUG only: overlap is normal, not a warning).
        """
        running: set[asyncio.Task[Any]] = set()

        async def run() -> None:
            if self.stopping:
                return
            if running:
                self.skipped[name] += 1
                log.debug("job %s: tick skipped, its last run goes on", name)
                return
            task = asyncio.current_task()
            assert task is not None
            self._active.add(task)
            running.add(task)
            try:
                await job()
            except Exception:
                log.exception("job %s failed; it runs again at its next tick", name)
            finally:
                self._active.discard(task)
                running.discard(task)

        run.__name__ = name
        return run

    async def poll(self) -> None:
        """Poll the feeds that are due, batch after batch, until fewer than a batch are left."""
        for _ in range(MAX_ROUNDS):
            stats = await self.app.pipeline.poll_due()
            if self.stopping or stats.feeds < self.app.pipeline.batch:
                break
        self.app.metrics.failing_feeds.set(await views.failing_count(self.app.engine))

    async def deliver(self) -> None:
        """Send the alerts that are due, batch after batch, until none is left."""
        for _ in range(MAX_ROUNDS):
            stats = await self.app.deliverer.run_once()
            if self.stopping or not (stats.sent or stats.retried or stats.dead):
                return

    async def reload(self) -> None:
        """Apply edited config files; sync feeds and sinks if they changed."""
        outcome = await self.app.config.refresh()
        self.app.metrics.config_ok.set(1 if self.app.config.valid else 0)
        if outcome != "unchanged":
            self.app.metrics.reloads.labels(outcome=outcome).inc()
        if outcome == "loaded":
            self.app.rebuild_sinks(self.app.config())
            await self.app.feeds.sync(self.app.config().feeds, self.app.clock())

    async def prune(self) -> None:
        """Delete old items that matched nothing (NEWSWATCH_RETENTION_DAYS)."""
        days = self.app.settings.retention_days
        if days:
            removed = await self.app.items.prune(self.app.clock() - timedelta(days=days))
            if removed:
                log.info("pruned %d unmatched items older than %d days", removed, days)

    async def brief(self) -> None:
        """Make the daily and weekly briefings that are due; the next delivery tick sends them."""
        made = await self.app.brief()
        if made:
            log.info("made %d briefing page%s", made, "s" if made > 1 else "")

    async def feedback(self) -> None:
        """Refresh the per-rule figures from Slack feedback on /metrics (last 30 days)."""
        from service.storage.feedback import FeedbackStore

        stats = await FeedbackStore(self.app.engine).rule_stats(self.app.clock() - timedelta(days=30))
        self.app.metrics.rule_feedback(stats)

    async def stop(self, grace: float = 8.0) -> None:
        """Stop starting jobs, let running ones finish for up to `grace` seconds, cancel the rest."""
        self.stopping = True
        if self._scheduler is not None:
            self._scheduler.pause()
        pending = set(self._active)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=grace)
        for task in pending:
            log.warning("cancelling a job still running after %.0f s", grace)
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        for background in self._background:
            background.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self.app.interactions is not None:
            await self.app.interactions.aclose()
        try:
            await self.app.feeds.release_all()
        except Exception:  # the leases expire by themselves; a stop must not fail on this
            log.exception("could not release leases")
