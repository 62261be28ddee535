"""The `newswatch` command line: run, poll --once, rules check|test, matches, db upgrade.

This is the entry point: the only module that reads the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from service import __version__, logs
from service.app import App, build_app, utcnow
from service.config.schema import parse_duration
from service.config.yamlfile import ConfigError
from service.settings import Settings, SettingsError
from service.storage import db

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("newswatch")


def parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    top = argparse.ArgumentParser(prog="newswatch", description="Watch news feeds, match watch rules, alert Slack.")
    top.add_argument("--version", action="version", version=f"newswatch {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="run the scheduler until SIGTERM or SIGINT", description="Poll, match and deliver until stopped.")
    poll = sub.add_parser(
        "poll", help="poll every feed once and deliver (with --once)", description="Poll every feed once, deliver what is due, exit."
    )
    poll.add_argument("--once", action="store_true", required=True, help="poll once and exit (required)")
    _rules_parsers(sub)
    found = sub.add_parser("matches", help="list recent matches", description="Recent stored matches with their delivery status.")
    found.add_argument("--rule", help="only this rule id")
    found.add_argument("--since", default="7d", help="how far back: 90m, 24h, 7d (default 7d)")
    found.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    found.add_argument("--format", choices=("text", "json"), default="text")
    fds = sub.add_parser("feeds", help="the state of every feed", description="Status, last success and error, next poll, items.")
    fds.add_argument("--format", choices=("text", "json"), default="text")
    dlv = sub.add_parser(
        "deliveries",
        help="list alerts in the outbox, or re-queue them",
        description="`deliveries [--status S]` lists alerts with their errors; `deliveries retry ID... | --dead` re-queues them.",
    )
    dlv.add_argument("action", nargs="?", choices=("list", "retry"), default="list")
    dlv.add_argument("ids", nargs="*", type=int, metavar="ID", help="delivery ids to re-queue")
    dlv.add_argument(
        "--status", choices=("pending", "failed", "dead", "sent", "muted"), help="only this status (failed = pending after an error)"
    )
    dlv.add_argument("--destination", help="only this destination")
    dlv.add_argument("--dead", action="store_true", help="with retry: re-queue every dead delivery")
    dlv.add_argument("--limit", type=int, default=50)
    dlv.add_argument("--format", choices=("text", "json"), default="text")
    mute = sub.add_parser("mute", help="silence a rule or a destination for a while", description="Silence a rule or destination.")
    mute.add_argument(
        "target", metavar="RULE|DESTINATION", help="a rule id or destination name (prefix rule: or destination: if both exist)"
    )
    mute.add_argument("--for", dest="duration", required=True, help="how long: 30m, 2h, 1d")
    mute.add_argument("--reason", default="", help="why, for the record")
    sub.add_parser("mutes", help="list silences in force", description="List silences in force.")
    unmute = sub.add_parser("unmute", help="end a silence now", description="End a silence now.")
    unmute.add_argument("id", type=int, metavar="ID")
    dbp = sub.add_parser("db", help="database maintenance", description="Database maintenance.")
    dbsub = dbp.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    dbsub.add_parser("upgrade", help="apply pending migrations", description="Apply pending schema migrations.")
    return top


def _rules_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`rules check` and `rules test`."""
    rules = sub.add_parser("rules", help="check and test watch rules", description="Check and test watch rules.")
    rsub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    check = rsub.add_parser("check", help="validate feeds.yaml and rules.yaml", description="Validate the config; exit 1 on problems.")
    check.add_argument("path", nargs="?", help="config folder (default: NEWSWATCH_CONFIG_DIR or ./config)")
    test = rsub.add_parser("test", help="show which rules match a source, and why", description="Match items against the rules.")
    test.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="a feed (RSS, Atom, JSON Feed), a web page or a plain-text article: a file or an http(s) URL",
    )
    test.add_argument("--articles", action="store_true", help="also fetch and extract each item's article page (as `article: always`)")
    test.add_argument("--rule", help="only this rule id")
    test.add_argument("--format", choices=("text", "json"), default="text")
    test.add_argument("--config", help="config folder (default: NEWSWATCH_CONFIG_DIR or ./config)")
    groups = rsub.add_parser(
        "groups",
        help="list term groups: the config's own and the shipped place groups (places.*)",
        description="List the term groups rules can use as @name, with their terms.",
    )
    groups.add_argument("names", nargs="*", metavar="NAME", help="only these groups (default: all, terms abridged)")
    groups.add_argument("--config", help="config folder (default: NEWSWATCH_CONFIG_DIR or ./config)")
    replay = rsub.add_parser(
        "replay",
        help="run the current rules over stored items",
        description="Report what the current rules would have matched among stored items (+ new, = same, - no longer). Sends nothing.",
    )
    replay.add_argument("--since", default="7d", help="items first seen this long ago: 90m, 24h, 7d (default 7d)")
    replay.add_argument("--rule", help="only this rule id")
    replay.add_argument("--format", choices=("text", "json"), default="text")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"newswatch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logs.setup(settings.log_level, settings.log_format, settings.secrets)
    try:
        return asyncio.run(_dispatch(args, settings))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:  # the reader went away (`newswatch feeds | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    """Call the command's function."""
    if args.command == "rules":
        return await _rules(args, settings)
    if args.command == "deliveries":
        return await _deliveries(settings, args)
    if args.command == "feeds":
        return await _feeds(settings, args.format)
    if args.command in ("mute", "mutes", "unmute"):
        return await _silences(settings, args)
    if args.command == "db":
        engine = db.create_engine(settings.database_url)
        try:
            await db.upgrade(engine)
            print(f"database at revision {await db.current_revision(engine)} ({db.safe_url(settings.database_url)})")
        finally:
            await engine.dispose()
        return EXIT_OK
    app = await build_app(settings)
    try:
        await app.start()
        if args.command == "run":
            return await _run(app)
        if args.command == "poll":
            return await _poll_once(app)
        return await _matches(app, args)
    finally:
        await app.aclose()


async def _rules(args: argparse.Namespace, settings: Settings) -> int:
    """`rules check | test | groups | replay`."""
    from service import ruletool

    if args.rules_command == "check":
        return ruletool.check(Path(args.path) if args.path else settings.config_dir)
    if args.rules_command == "replay":
        return await _replay(settings, args)
    directory = Path(args.config) if args.config else settings.config_dir
    if args.rules_command == "groups":
        return ruletool.groups(directory, args.names)
    return await ruletool.test(args.sources, directory, settings, args.rule, args.format, args.articles)


async def _replay(settings: Settings, args: argparse.Namespace) -> int:
    """`rules replay`: current rules over stored items, read-only."""
    from service import ruletool
    from service.config import load_config
    from service.storage.store import Store

    config = load_config(settings.config_dir)
    engine = db.create_engine(settings.database_url)
    try:
        await db.upgrade(engine)
        since = utcnow() - timedelta(seconds=parse_duration(args.since))
        return await ruletool.replay(Store(engine, settings.instance), config, since, args.rule, args.format)
    finally:
        await engine.dispose()


async def _deliveries(settings: Settings, args: argparse.Namespace) -> int:
    """`deliveries` and `deliveries retry`."""
    from service.storage.outbox import SqlQueue

    engine = db.create_engine(settings.database_url)
    try:
        await db.upgrade(engine)
        outbox = SqlQueue(engine, settings.instance, utcnow)
        if args.action == "retry":
            if not args.ids and not args.dead:
                print("newswatch: give delivery ids or --dead", file=sys.stderr)
                return EXIT_USAGE
            print(f"re-queued {await outbox.requeue(args.ids, args.dead)} deliveries")
            return EXIT_OK
        for row in await outbox.listing(args.status, args.destination, args.limit):
            print(_delivery_line(row, args.format))
        if args.format == "text":
            print("\nby destination:")
            for destination, status, count, error in await outbox.summary():
                print(f"  {destination:<20} {status:<8} {count:>6}" + (f"  last error: {error}" if error and status != "sent" else ""))
        return EXIT_OK
    finally:
        await engine.dispose()


async def _feeds(settings: Settings, fmt: str) -> int:
    """`feeds`: one line per feed."""
    from service.storage.store import Store

    engine = db.create_engine(settings.database_url)
    try:
        await db.upgrade(engine)
        rows = await Store(engine, settings.instance).feed_report()
    finally:
        await engine.dispose()
    if fmt == "text":
        print(f"{'feed':<28} {'status':<9} {'last success':<17} {'fails':>5} {'next poll':<17} {'items':>6} cond.GET  articles  last error")
    now = utcnow()
    for r in rows:
        status = r.status if r.active else "removed"
        conditional = "yes" if r.etag or r.last_modified else "no"
        articles = _article_state(r.article_failures, r.article_retry_at, now)
        if fmt == "json":
            data = {"id": r.id, "status": status, "url": r.fetch_url or r.url, "consecutive_failures": r.consecutive_failures}
            data |= {"last_success": _when(r.last_success_at), "next_poll": _when(r.next_poll_at), "items": r.item_count}
            data |= {"articles": articles, "article_failures": r.article_failures, "article_error": r.article_error}
            print(json.dumps(data | {"conditional_get": conditional == "yes", "last_error": r.last_error}, ensure_ascii=False))
        else:
            error = (r.last_error or "")[:60] if r.consecutive_failures else (r.article_error or "")[:60] if r.article_failures else ""
            when = f"{_when(r.last_success_at) or '-':<17} {r.consecutive_failures:>5} {_when(r.next_poll_at):<17}"
            print(f"{r.id:<28} {status:<9} {when} {r.item_count:>6} {conditional:<9} {articles:<9} {error}")
    return EXIT_OK


def _article_state(failures: int, retry_at: datetime | None, now: datetime) -> str:
    """A feed's article pages: ok, failing (pages of its last polls failed) or paused (backing off)."""
    if retry_at and retry_at > now:
        return "paused"
    return "failing" if failures else "ok"


def _when(value: datetime | None) -> str:
    """A short UTC time, or '' for none."""
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


async def _silences(settings: Settings, args: argparse.Namespace) -> int:
    """`mute`, `mutes` and `unmute`."""
    from service.config import load_config
    from service.storage.silences import Silences

    engine = db.create_engine(settings.database_url)
    try:
        await db.upgrade(engine)
        silences, now = Silences(engine), utcnow()
        if args.command == "mute":
            target = _mute_target(args.target, load_config(settings.config_dir))
            if isinstance(target, str):
                print(f"newswatch: {target}", file=sys.stderr)
                return EXIT_USAGE
            until = now + timedelta(seconds=parse_duration(args.duration))
            mute_id = await silences.add(*target, until, args.reason, now)
            print(f"muted {target[0]} {target[1]} until {until:%Y-%m-%d %H:%M} UTC (silence {mute_id})")
        elif args.command == "unmute":
            if not await silences.end(args.id, now):
                print(f"newswatch: no silence {args.id} in force", file=sys.stderr)
                return EXIT_PROBLEMS
            print(f"silence {args.id} ended")
        else:
            rows = await silences.listing(now)
            for r in rows:
                print(f"{r.id:>5} {r.kind:<12} {r.target:<20} until {r.until:%Y-%m-%d %H:%M} UTC  {r.reason}")
            if not rows:
                print("no silences in force")
        return EXIT_OK
    finally:
        await engine.dispose()


def _mute_target(name: str, config: Any) -> tuple[str, str] | str:
    """(kind, target) for a mute, or an error message."""
    kind, _, plain = name.partition(":") if name.startswith(("rule:", "destination:")) else ("", "", name)
    rules = {r.id for r in config.rules_file.rules}
    destinations = set(config.rules_file.destinations)
    found = [k for k, names in (("rule", rules), ("destination", destinations)) if plain in names and kind in ("", k)]
    if not found:
        return f"'{plain}' is neither a rule id nor a destination"
    if len(found) > 1:
        return f"'{plain}' is both a rule and a destination: write rule:{plain} or destination:{plain}"
    return found[0], plain


def _delivery_line(row: object, fmt: str) -> str:
    """One delivery for `deliveries`."""
    r: Any = row
    if fmt == "json":
        keys = ("id", "destination", "status", "mode", "attempts", "last_error", "remote_id", "thread_ts", "title", "link")
        data = {k: getattr(r, k) for k in keys} | {"rules": r.rule_ids, "next_attempt_at": _iso(r.next_attempt_at)}
        return json.dumps(data, ensure_ascii=False)
    due = f"next {r.next_attempt_at:%Y-%m-%d %H:%M}" if r.status == "pending" else ""
    error = f"\n{'':8}error: {r.last_error}" if r.last_error and r.status != "sent" else ""
    mode = r.mode or ""
    return f"{r.id:>7} {r.status:<8} {mode:<9} {r.destination:<16} tries {r.attempts:<3} {due:<22} {r.title[:70]}{error}"


async def _run(app: App) -> int:
    """Run until SIGTERM or SIGINT, then finish in-flight work and exit 0."""
    from service import web
    from service.worker import Worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(app)
    worker.start()
    runner = None
    if app.settings.http_port:
        try:
            runner = await web.serve(worker, app.settings.http_host, app.settings.http_port)
        except OSError as exc:  # polling and alerting go on; the missing endpoint is loud in the log
            log.error("health server cannot listen on %s:%s: %s", app.settings.http_host, app.settings.http_port, exc.strerror)
    print(
        f"newswatch {__version__} running: config {app.config().version}, database {db.safe_url(app.settings.database_url)}",
        file=sys.stderr,
    )
    await stop.wait()
    print("newswatch: stopping", file=sys.stderr)
    await worker.stop(grace=8.0)
    if runner is not None:
        await runner.cleanup()
    return EXIT_OK


async def _poll_once(app: App) -> int:
    """Poll every feed once and deliver what is due."""
    polled, delivered = await app.poll_once()
    print(
        f"polled {polled.feeds} feeds ({polled.failed} failed, {polled.not_modified} not modified): "
        f"{polled.new_items} new items, {polled.matches} matches; "
        f"alerts sent {delivered.sent}, to retry {delivered.retried}, dead {delivered.dead}",
        file=sys.stderr,
    )
    return EXIT_OK


async def _matches(app: App, args: argparse.Namespace) -> int:
    """Print recent matches."""
    since = utcnow() - timedelta(seconds=parse_duration(args.since))
    rows = await app.store.recent_matches(since, args.rule, args.limit)
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
            print(f"{row.created_at:%Y-%m-%d %H:%M} {row.rule_id:<16} {status:<24} {row.title[:80]}\n{'':17}{row.link}")
    if not rows and args.format == "text":
        print("no matches in that period")
    return EXIT_OK


def _iso(value: datetime) -> str:
    """ISO 8601 text."""
    return value.isoformat()


if __name__ == "__main__":
    raise SystemExit(main())
