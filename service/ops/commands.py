"""The operator's commands: the service (run, poll --once), feeds, deliveries, silences, matches, db upgrade.

Each takes the parsed arguments and the settings and returns the exit code; `service.ops.cli`
dispatches to them. A one-off command opens the database with `db.opened` (migrated, closed
afterwards); only `run` and `poll --once` build the whole service.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from alerts.messages import Mode
from alerts.queue import DeliveryStatus
from service import __version__
from service.config.types import parse_duration
from service.errors import UserError
from service.settings import Settings
from service.storage import db

if TYPE_CHECKING:
    from service.app import App

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("newswatch")


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


async def deliveries(args: argparse.Namespace, settings: Settings) -> int:
    """`deliveries` and `deliveries retry`."""
    from service.storage import views
    from service.storage.outbox import SqlQueue

    async with db.opened(settings.database_url) as engine:
        outbox = SqlQueue(engine, settings.instance, utcnow)
        if args.action == "retry":
            return await _retry(engine, outbox, args.ids, args.dead)
        for row in await views.deliveries_listing(engine, args.status, args.destination, args.limit):
            print(_delivery_line(row, args.format))
        if args.format == "text":
            print("\nby destination:")
            for destination, status, count, error in await views.delivery_summary(engine):
                print(
                    f"  {destination:<20} {status:<8} {count:>6}"
                    + (f"  last error: {error}" if error and status != DeliveryStatus.SENT else "")
                )
        return EXIT_OK


async def _retry(engine: db.Database, outbox: Any, ids: list[int], dead: bool) -> int:
    """`deliveries retry ID... | --dead`: re-queue; ids that do not exist or were sent already are named, exit code 2."""
    from service.storage import views

    if not ids and not dead:
        print("newswatch: give delivery ids or --dead (see newswatch deliveries --help)", file=sys.stderr)
        return EXIT_USAGE
    statuses = await views.delivery_statuses(engine, ids) if ids else {}
    unknown = [i for i in ids if i not in statuses]
    done = [i for i in ids if statuses.get(i) == DeliveryStatus.SENT]
    wanted = [i for i in ids if i not in unknown and i not in done]
    if wanted or dead:
        print(f"re-queued {await outbox.requeue(wanted, dead)} deliveries")
    if unknown:
        print(f"newswatch: no delivery {', '.join(map(str, unknown))}: `newswatch deliveries` lists them with their ids", file=sys.stderr)
    if done:
        print(f"newswatch: delivery {', '.join(map(str, done))} was sent already; not re-queued", file=sys.stderr)
    return EXIT_USAGE if unknown or done else EXIT_OK


async def feeds(args: argparse.Namespace, settings: Settings) -> int:
    """`feeds`: one line per feed (`feeds discover`, `import` and `export`: `service.ops.sourcecmds`)."""
    if getattr(args, "action", "list") != "list":
        from service.ops import sourcecmds

        return await sourcecmds.run(args, settings)
    from service.storage import views

    fmt = args.format
    async with db.opened(settings.database_url) as engine:
        rows = await views.feeds_report(engine)
    shown = _url_display(settings)
    if fmt == "text":
        print(f"{'feed':<28} {'status':<9} {'last success':<21} {'fails':>5} {'next poll':<21} {'items':>6} cond.GET  articles  last error")
    now = utcnow()
    for r in rows:
        status = r.status if r.active else "removed"
        conditional = "yes" if r.etag or r.last_modified else "no"
        articles = _article_state(r.article_failures, r.article_retry_at, now)
        if fmt == "json":
            data = {"id": r.id, "status": status, "url": shown(r.fetch_url or r.url), "consecutive_failures": r.consecutive_failures}
            data |= {"last_success": _when(r.last_success_at), "next_poll": _when(r.next_poll_at), "items": r.item_count}
            data |= {"articles": articles, "article_failures": r.article_failures, "article_error": r.article_error}
            data |= {"last_warning": r.last_warning}  # what a successful poll could not read (service.ingest.parse)
            print(json.dumps(data | {"conditional_get": conditional == "yes", "last_error": r.last_error}, ensure_ascii=False))
        else:
            error = (r.last_error or "")[:60] if r.consecutive_failures else (r.article_error or "")[:60] if r.article_failures else ""
            error = error or (f"warning: {r.last_warning}"[:60] if r.last_warning else "")
            when = f"{_when(r.last_success_at) or '-':<21} {r.consecutive_failures:>5} {_when(r.next_poll_at):<21}"
            print(f"{r.id:<28} {status:<9} {when} {r.item_count:>6} {conditional:<9} {articles:<9} {error}")
    return EXIT_OK


def _url_display(settings: Settings) -> Callable[[str], str]:
    """How feed URLs are shown: without query string and user:password unless feeds.yaml says `show_full_urls: true`."""
    from alerts.display import shown_url
    from service.config import load_config
    from service.config.yamlfile import ConfigError

    try:
        full = load_config(settings.config_dir).full_urls
    except (ConfigError, OSError):
        full = False
    return (lambda url: url) if full else shown_url


def _article_state(failures: int, retry_at: datetime | None, now: datetime) -> str:
    """A feed's article pages: ok, failing (pages of its last polls failed) or paused (backing off)."""
    if retry_at and retry_at > now:
        return "paused"
    return "failing" if failures else "ok"


def _when(value: datetime | None) -> str:
    """A short time with its zone (UTC), or '' for none."""
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if value else ""


async def silences(args: argparse.Namespace, settings: Settings) -> int:
    """`mute`, `mutes` and `unmute`."""
    from service.config import load_config
    from service.ops.actions import ActionError, Actions
    from service.ops.rulecmds import config_folder

    async with db.opened(settings.database_url) as engine:
        folder = config_folder(settings.config_dir)
        actions = Actions(engine, lambda: load_config(folder), utcnow)
        try:
            if args.command == "mute":
                muted = await actions.mute(args.target, args.duration, args.reason)
                print(f"muted {muted.kind} {muted.target} until {_when(muted.until)} (silence {muted.id})")
            elif args.command == "unmute":
                await actions.unmute(args.id)
                print(f"silence {args.id} ended")
            else:
                rows = await actions.silences()
                for r in rows:
                    by = f" (by {r.created_by})" if r.created_by else ""
                    print(f"{r.id:>5} {r.kind:<12} {r.target:<20} until {_when(r.until)}  {r.reason}{by}")
                if not rows:
                    print("no silences in force")
        except ActionError as exc:
            print(f"newswatch: {exc}", file=sys.stderr)
            return EXIT_USAGE if args.command == "mute" else EXIT_PROBLEMS
    return EXIT_OK


def _delivery_line(row: object, fmt: str) -> str:
    """One delivery for `deliveries`."""
    r: Any = row
    if fmt == "json":
        keys = ("id", "destination", "status", "mode", "attempts", "last_error", "remote_id", "thread_ts", "title", "link")
        waiting = r.mode == Mode.BRIEFED  # never due on its own
        data = {k: getattr(r, k) for k in keys} | {"rules": r.rule_ids, "next_attempt_at": None if waiting else _iso(r.next_attempt_at)}
        return json.dumps(data, ensure_ascii=False)
    due = f"next {_when(r.next_attempt_at)}" if r.status == DeliveryStatus.PENDING else ""
    if r.mode == Mode.BRIEFED and r.status == DeliveryStatus.PENDING:
        due = "in the next briefing"
    error = f"\n{'':8}error: {r.last_error}" if r.last_error and r.status != DeliveryStatus.SENT else ""
    mode = r.mode or ""
    return f"{r.id:>7} {r.status:<8} {mode:<9} {r.destination:<16} tries {r.attempts:<3} {due:<26} {r.title[:70]}{error}"


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """`run`: until SIGTERM or SIGINT, then finish in-flight work and exit 0."""
    from service.ops.web.access import Refused, check

    try:
        check(settings)  # before anything starts: pages open to anyone on the network must not start
    except Refused as exc:
        print(f"newswatch: not starting: {exc}", file=sys.stderr)
        return EXIT_USAGE
    async with started(settings) as app:
        return await _run(app)


async def poll_once(args: argparse.Namespace, settings: Settings) -> int:
    """`poll --once`: poll every feed once and deliver what is due."""
    async with started(settings) as app:
        if app.slack_bot is not None:  # once: who alerts are posted as, or why Slack refuses the token
            await app.slack_bot.once()
        polled, delivered = await app.poll_once()
    print(
        f"polled {polled.feeds} feeds ({polled.failed} failed, {polled.not_modified} not modified): "
        f"{polled.new_items} new items, {polled.matches} matches; "
        f"alerts sent {delivered.sent}, to retry {delivered.retried}, dead {delivered.dead}",
        file=sys.stderr,
    )
    return EXIT_OK


@asynccontextmanager
async def started(settings: Settings) -> AsyncIterator[App]:
    """The whole service, migrated and with its feeds registered; closed afterwards."""
    from service.app import build_app
    from service.ops.cli import settled
    from service.ops.rulecmds import config_folder

    config_folder(settings.config_dir)  # one line that says what to do, rather than "file not found" for each file
    app = await build_app(settings)
    try:
        await app.start()
        settled()
        yield app
    finally:
        await app.aclose()


async def upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """`db upgrade`: the one command that makes a new database (besides running the service)."""
    async with db.opened(settings.database_url, create=True) as engine:
        print(f"database at revision {await db.current_revision(engine)} ({db.safe_url(settings.database_url)})")
    return EXIT_OK


async def _run(app: App) -> int:
    """Run until SIGTERM or SIGINT, then finish in-flight work and exit 0."""
    from service.ops import web
    from service.ops.worker import Worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(app)
    runner = None
    if app.settings.http_port:  # first: a second service beside the first stops here, before it polls anything
        host, port = app.settings.http_host, app.settings.http_port
        try:
            runner = await web.serve(worker, host, port)
        except OSError as exc:
            raise UserError(
                f"the health server cannot listen on {host}:{port} ({exc.strerror}): is newswatch already running?"
                " Stop it, or give this one NEWSWATCH_HTTP_PORT (a free port, or 0 for no health server)"
            ) from None
    worker.start()
    print(
        f"newswatch {__version__} running: config {app.config().version}, database {db.safe_url(app.settings.database_url)}",
        file=sys.stderr,
    )
    gc.collect()
    gc.freeze()  # what start-up built lives as long as the process: no full collection walks it again (100 ms pauses in pages)
    await stop.wait()
    print("newswatch: stopping", file=sys.stderr)
    await worker.stop(grace=8.0)
    if runner is not None:
        await runner.cleanup()
    return EXIT_OK


async def matches(args: argparse.Namespace, settings: Settings) -> int:
    """`matches`: recent matches with their delivery status."""
    from service.storage import views

    since = utcnow() - timedelta(seconds=parse_duration(args.since))
    async with db.opened(settings.database_url) as engine:
        rows = await views.recent_matches(engine, since, args.rule, args.limit)
    warn_unknown_rule(args.rule, settings)
    for row in rows:
        status = (row.suppressed and f"not alerted ({row.suppressed})") or row.delivery or "no destination"
        if args.format == "json":
            terms = [t["term"] for t in row.terms]
            print(
                json.dumps(
                    {
                        "time": _iso(row.created_at),
                        "rule": row.rule_id,
                        "title": row.title,
                        "link": row.link,
                        "feed": row.feed_id,
                        "status": status,
                        "terms": terms,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            print(f"{_when(row.created_at)} {row.rule_id:<16} {status:<24} {row.title[:80]}\n{'':21}{row.link}")
    if not rows and args.format == "text":
        print("no matches in that period")
    return EXIT_OK


async def feedback(args: argparse.Namespace, settings: Settings) -> int:
    """`feedback [list|export]`: what people said about alerts in Slack, newest first; or the labelled-set lines."""
    from service.storage.feedback import FeedbackStore

    since = utcnow() - timedelta(seconds=parse_duration(args.since))
    async with db.opened(settings.database_url) as engine:
        store = FeedbackStore(engine)
        rows, stats = await store.listing(since, args.rule), await store.rule_stats(since)
    warn_unknown_rule(args.rule, settings)
    if args.action == "export":
        for line in _labelled(rows):
            print(line)
        return EXIT_OK
    for r in rows:
        if args.format == "json":
            keys = ("delivery_id", "user_id", "choice", "destination", "title", "link", "feed_id")
            print(json.dumps({k: getattr(r, k) for k in keys} | {"rules": r.rule_ids, "time": _iso(r.updated_at)}, ensure_ascii=False))
        else:
            print(f"{_when(r.updated_at)} {r.choice:<13} {','.join(r.rule_ids):<16} {r.user_id:<12} {(r.title or '')[:70]}")
    if args.format == "text":
        if not rows:
            print("no feedback in that period")
        for rule, s in sorted(stats.items()):
            if s.rated and (args.rule is None or rule == args.rule):
                print(f"{rule}: {s.rated} alerts rated, {s.relevant} relevant (precision {s.precision:.2f})")
    return EXIT_OK


def warn_unknown_rule(rule: str | None, settings: Settings, config: Any = None) -> None:
    """Warn (on one line) when --rule names no rule of the config; what is stored for it is still listed."""
    if not rule:
        return
    if config is None:
        from service.config import load_config
        from service.config.yamlfile import ConfigError

        try:
            config = load_config(settings.config_dir)
        except (ConfigError, OSError):  # a listing does not need the config: no warning rather than an error
            return
    known = [r.id for r in config.rules_file.rules]
    if rule not in known:
        print(f"newswatch: warning: rules.yaml has no rule '{rule}' (its rules: {', '.join(known)})", file=sys.stderr)


def _labelled(rows: list[Any]) -> list[str]:
    """Each rated alert once (its latest rating) as a line of tests/fixtures/labelled/: relevant ones labelled with their rules."""
    latest: dict[int, Any] = {}
    for r in rows:  # newest first
        latest.setdefault(r.delivery_id, r)
    lines = []
    for r in sorted(latest.values(), key=lambda r: r.delivery_id):
        relevant = r.choice == "relevant"
        item = {
            "id": f"feedback-{r.delivery_id}",
            "source": r.link or "",
            "lang": r.language or "",
            "title": r.title or "",
            "summary": r.summary or "",
            "labels": list(r.rule_ids) if relevant else [],
            "class": "feedback-relevant" if relevant else "feedback-false-alarm",
            "published": r.published_at.date().isoformat() if r.published_at else "",
        }
        lines.append(json.dumps(item, ensure_ascii=False))
    return lines


async def rule_stats(args: argparse.Namespace, settings: Settings) -> int:
    """`rules stats`: per rule, alerts sent, rated in Slack, precision by the ratings, reported misses and recall, the last false alarm."""
    from service.storage.feedback import FeedbackStore

    since = utcnow() - timedelta(seconds=parse_duration(args.since))
    async with db.opened(settings.database_url) as engine:
        stats = await FeedbackStore(engine).rule_stats(since)
    if args.format == "json":
        for rule, s in sorted(stats.items()):
            last = _iso(s.last_false_alarm) if s.last_false_alarm else None
            data = {
                "rule": rule,
                "sent": s.sent,
                "rated": s.rated,
                "relevant": s.relevant,
                "precision": s.precision,
                "missed": s.missed,
                "recall": s.recall,
                "last_false_alarm": last,
            }
            print(json.dumps(data | {"last_false_alarm_title": s.last_false_title}, ensure_ascii=False))
        return EXIT_OK
    print(f"{'rule':<20} {'sent':>6} {'rated':>6} {'precision':>9} {'missed':>6} {'recall':>6}  last false alarm")
    for rule, s in sorted(stats.items()):
        precision = f"{s.precision:.2f}" if s.precision is not None else "-"
        recall = f"{s.recall:.2f}" if s.recall is not None else "-"
        last = f"{_when(s.last_false_alarm)} {s.last_false_title[:50]}" if s.last_false_alarm else "-"
        print(f"{rule:<20} {s.sent:>6} {s.rated:>6} {precision:>9} {s.missed:>6} {recall:>6}  {last}")
    if not stats:
        print("no alerts sent in that period")
    return EXIT_OK


def _iso(value: datetime) -> str:
    """ISO 8601 text."""
    return value.isoformat()
