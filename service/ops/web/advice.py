"""`rules suggest` on the Rules page: measured changes to a rule, worked out in the background, never written to the config.

Measuring is CPU work (each candidate change replayed over the stored items and the labelled
set's tuning part: half a minute for the shipped rules) over all the stored items of the
window, so the whole report is made in a process of its own with its own database connection,
one at a time: the service's process holds none of it, and the process ends with the job (or
is stopped if it runs over `TIMEOUT`). A finished report is kept for `KEPT` per rule, window
and config version, so that a second look costs nothing; a new config version asks again.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from alerts.base import redact
from service.ingest import workers

if TYPE_CHECKING:
    from service.app import App

DAYS = (7, 30, 90)  # the windows the page offers
TIMEOUT = 600.0  # seconds of measuring before the worker is stopped
KEPT = 600.0  # seconds a finished report is shown again instead of measuring anew
RECENT = 20  # jobs remembered for their pages


@dataclass
class Job:
    """One rule's suggestions being worked out, then the report or why there is none."""

    id: str
    rule: str
    days: int
    in_force: str  # the config version in force when the job was asked for
    measured: str = ""  # the version of the files the worker read (rules.yaml on disk, which the diffs apply to)
    started: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    evidence: dict[str, int] = field(default_factory=dict)
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def ahead(self) -> bool:
        """True if the files measured are not yet the rules in force (an edit on disk the service has not reloaded)."""
        return bool(self.measured) and self.measured != self.in_force

    @property
    def finished(self) -> bool:
        """True once the report (or the error) is in."""
        return self.finished_at is not None

    def seconds(self) -> int:
        """Seconds spent so far, or in all."""
        return int((self.finished_at or time.monotonic()) - self.started)

    def as_data(self) -> dict[str, Any]:
        """What the API returns (each suggestion as `rules suggest --format json` prints it)."""
        return {
            "id": self.id,
            "rule": self.rule,
            "days": self.days,
            "config_version": self.measured or self.in_force,
            "config_version_in_force": self.in_force,
            "finished": self.finished,
            "seconds": self.seconds(),
            "error": self.error,
            "evidence": self.evidence,
            "suggestions": self.suggestions,
            "notes": self.notes,
        }


class Advice:
    """Suggestion jobs by id; one measures at a time, in its own worker process."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._jobs: dict[str, Job] = {}
        self._slot = asyncio.Semaphore(1)
        self._worker: workers.Stoppable | None = None  # the running job's process

    def get(self, job_id: str) -> Job | None:
        """A job of this process, if it is still known."""
        return self._jobs.get(job_id)

    def offers(self, rule: str) -> bool:
        """True if `rule` is an enabled rule of the config in force (the only ones `rules suggest` measures)."""
        return rule in {r.id for r in self._app.config().ruleset.rules}

    def start(self, rule: str, days: int) -> Job:
        """The suggestions for `rule` over the last `days` days: a report kept from a recent run, or a new job."""
        version = self._app.config().version
        days = days if days in DAYS else DAYS[1]
        for job in reversed(self._jobs.values()):
            fresh = job.finished_at is None or (job.error is None and time.monotonic() - job.finished_at < KEPT)
            if (job.rule, job.days, job.in_force) == (rule, days, version) and fresh:
                return job
        job = Job(secrets.token_urlsafe(12), rule, days, version)
        job.task = asyncio.create_task(self._run(job))
        self._jobs[job.id] = job
        for old in [j for j in self._jobs if self._jobs[j].finished][:-RECENT]:
            del self._jobs[old]
        return job

    async def _run(self, job: Job) -> None:
        """Read and measure in a worker process of its own, stopped after `TIMEOUT` and ended after the job."""
        from service.ops import suggest  # the suggestion machinery loads at the first job, not with the pages
        from service.rules import labelled

        app = self._app
        try:
            async with self._slot:
                self._worker = worker = workers.Stoppable(1)  # a new process per job: its memory (the window's items) goes with it
                try:
                    since = app.clock() - timedelta(days=job.days)
                    directory = app.config().directory or app.settings.config_dir
                    args = (app.settings.database_url, directory, job.rule, since, labelled.DEFAULT_DIR)
                    async with asyncio.timeout(TIMEOUT):
                        report = await worker.run(suggest.report_in_worker, *args)
                finally:
                    worker.shutdown()
            job.evidence, job.suggestions, job.notes = report["evidence"], report["suggestions"], report["notes"]
            job.measured = report["config_version"]
        except TimeoutError:
            job.error = f"measuring took over {TIMEOUT:.0f} s and was stopped; try a shorter window"
        except ValueError as exc:  # no such rule, or it is disabled
            job.error = str(exc)
        except Exception as exc:  # one job fails alone, and says why (never with a secret: the page shows it)
            job.error = shown(exc, [*app.settings.secrets, sa.make_url(app.settings.database_url).password])
        finally:
            job.finished_at = time.monotonic()

    def close(self) -> None:
        """Stop any measuring under way."""
        for job in self._jobs.values():
            if job.task is not None:
                job.task.cancel()
        if self._worker is not None:
            self._worker.shutdown()


def shown(exc: BaseException, secrets: list[str | None]) -> str:
    """An error as a page may show it: its kind and message, without any secret (the database's password included)."""
    return redact(f"{type(exc).__name__}: {exc}", secrets)
