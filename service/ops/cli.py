"""The `newswatch` command line. This is the entry point: the only module that reads the environment.

Each subcommand names its handler (`set_defaults(handler="module.function")`), imported only
when it runs, so that `newswatch --help` and `rules check` do not load the whole service.
The handlers are in `service.ops.commands`, `service.ops.rulecmds` and `service.ops.suggest`.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import inspect
import logging
import os
import sys
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from service import __version__

if TYPE_CHECKING:  # pydantic and the settings model load after argument parsing: `--help` needs neither
    from service.settings import Settings

EXIT_OK, EXIT_USAGE = 0, 2
Handler = Callable[[argparse.Namespace, "Settings"], Coroutine[Any, Any, int] | int]


class Parser(argparse.ArgumentParser):
    """argparse with errors on one line: what is wrong and where the usage is, exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print the problem on one line and exit 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def duration(text: str) -> str:
    """A duration argument (90m, 24h, 7d, 2w), checked when the arguments are read."""
    from service.config.types import parse_duration

    try:
        parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    top = Parser(prog="newswatch", description="Watch news feeds, match watch rules, alert Slack.")
    top.add_argument("--version", action="version", version=f"newswatch {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser(
        "run", help="run the scheduler until SIGTERM or SIGINT", description="Poll, match and deliver until stopped."
    ).set_defaults(handler="commands.run")
    poll = sub.add_parser(
        "poll", help="poll every feed once and deliver (with --once)", description="Poll every feed once, deliver what is due, exit."
    )
    poll.add_argument("--once", action="store_true", required=True, help="poll once and exit (required)")
    poll.set_defaults(handler="commands.poll_once", exit_at_once=True)
    _rules_parsers(sub)
    found = sub.add_parser("matches", help="list recent matches", description="Recent stored matches with their delivery status.")
    found.add_argument("--rule", help="only this rule id")
    found.add_argument("--since", default="7d", type=duration, help="how far back: 90m, 24h, 7d, 2w (default 7d)")
    found.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    found.add_argument("--format", choices=("text", "json"), default="text")
    found.set_defaults(handler="commands.matches")
    said = sub.add_parser(
        "feedback",
        help="what people said about alerts in Slack",
        description="Relevant / not relevant, as clicked in Slack: listed, or exported in the labelled-set format.",
    )
    said.add_argument(
        "action", nargs="?", choices=("list", "export"), default="list", help="list (default), or export as labelled-set JSON lines"
    )
    said.add_argument("--rule", help="only alerts of this rule id")
    said.add_argument("--since", default="30d", type=duration, help="how far back: 24h, 7d, 30d (default 30d)")
    said.add_argument("--format", choices=("text", "json"), default="text")
    said.set_defaults(handler="commands.feedback")
    miss = sub.add_parser(
        "missed",
        help="record a story a rule should have alerted on",
        description="Record a missed story for a rule: it counts against the rule's recall and feeds `rules suggest`.",
    )
    miss.add_argument("url", metavar="URL", help="the story's address")
    miss.add_argument("--rule", required=True, help="the rule that should have matched it")
    miss.add_argument("--title", help="its headline, if the story is not among stored items")
    miss.add_argument("--note", help="why it should have matched, for the record")
    miss.set_defaults(handler="suggest.missed_command")
    fds = sub.add_parser(
        "feeds",
        help="the state of every feed; discover, import and export sources",
        description="`feeds` lists every feed's state; `feeds discover URL` finds a site's feeds, news sitemaps and listing page; "
        "`feeds import FILE.opml [--write]` and `feeds export` move feeds in and out as OPML.",
    )
    fds.add_argument("action", nargs="?", choices=("list", "discover", "import", "export"), default="list")
    fds.add_argument("target", nargs="?", metavar="URL|FILE", help="discover: a site or page URL; import: an OPML file")
    fds.add_argument("--write", action="store_true", help="import: append the feeds to feeds.yaml (its comments and layout kept)")
    fds.add_argument("--config", help="import, export: config folder (default: NEWSWATCH_CONFIG_DIR or ./config)")
    fds.add_argument("--format", choices=("text", "json"), default="text")
    fds.set_defaults(handler="commands.feeds")
    dlv = sub.add_parser(
        "deliveries",
        help="list alerts in the outbox, or re-queue them",
        description="`deliveries [--status S]` lists alerts with their errors; `deliveries retry ID... | --dead` re-queues them.",
    )
    dlv.add_argument("action", nargs="?", choices=("list", "retry"), default="list")
    dlv.add_argument("ids", nargs="*", type=int, metavar="ID", help="delivery ids to re-queue")
    dlv.add_argument(
        "--status",
        choices=(
            "pending",
            "failed",
            "dead",
            "sent",
            "muted",
        ),  # DeliveryStatus, and "failed", help="only this status (failed = pending after an error)"
    )
    dlv.add_argument("--destination", help="only this destination")
    dlv.add_argument("--dead", action="store_true", help="with retry: re-queue every dead delivery")
    dlv.add_argument("--limit", type=int, default=50)
    dlv.add_argument("--format", choices=("text", "json"), default="text")
    dlv.set_defaults(handler="commands.deliveries")
    mute = sub.add_parser(
        "mute", help="silence a rule, a destination or a feed for a while", description="Silence a rule, a destination or a feed."
    )
    mute.add_argument(
        "target",
        metavar="RULE|DESTINATION|FEED",
        help="a rule id, destination name or feed id (prefix rule:, destination: or feed: if the name is ambiguous)",
    )
    mute.add_argument("--for", dest="duration", required=True, type=duration, help="how long: 30m, 2h, 1d, 1w")
    mute.add_argument("--reason", default="", help="why, for the record")
    mute.set_defaults(handler="commands.silences")
    sub.add_parser("mutes", help="list silences in force", description="List silences in force.").set_defaults(handler="commands.silences")
    unmute = sub.add_parser("unmute", help="end a silence now", description="End a silence now.")
    unmute.add_argument("id", type=int, metavar="ID")
    unmute.set_defaults(handler="commands.silences")
    dbp = sub.add_parser("db", help="database maintenance", description="Database maintenance.")
    dbsub = dbp.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    dbsub.add_parser("upgrade", help="apply pending migrations", description="Apply pending schema migrations.").set_defaults(
        handler="commands.upgrade"
    )
    return top


def _rules_parsers(sub: argparse._SubParsersAction[Parser]) -> None:
    """`rules check` and `rules test`."""
    rules = sub.add_parser("rules", help="check and test watch rules", description="Check and test watch rules.")
    rsub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    check = rsub.add_parser("check", help="validate feeds.yaml and rules.yaml", description="Validate the config; exit 1 on problems.")
    check.add_argument("path", nargs="?", help="config folder (default: NEWSWATCH_CONFIG_DIR or ./config)")
    check.set_defaults(handler="rulecmds.check_command")
    test = rsub.add_parser("test", help="show which rules match a source, and why", description="Match items against the rules.")
    test.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="a feed (RSS, Atom, JSON Feed), a web page or a plain-text article: a file or an http(s) URL; "
        "a feed of feeds.yaml is matched as the service matches it",
    )
    pages = test.add_mutually_exclusive_group()
    pages.add_argument(
        "--articles", dest="articles", action="store_const", const=True, help="fetch every item's article page (as `article: always`)"
    )
    pages.add_argument(
        "--no-articles", dest="articles", action="store_const", const=False, help="fetch no article page (as `article: never`)"
    )
    test.add_argument("--feed", metavar="ID", help="match as items of this feed of feeds.yaml (its tags, language, article mode, max_age)")
    test.add_argument("--rule", help="only this rule id")
    test.add_argument("--format", choices=("text", "json"), default="text")
    test.add_argument("--config", help="config folder (default: NEWSWATCH_CONFIG_DIR or ./config)")
    test.set_defaults(handler="rulecmds.test_command")
    groups = rsub.add_parser(
        "groups",
        help="list term groups: the config's own and the shipped place groups (places.*)",
        description="List the term groups rules can use as @name, with their terms.",
    )
    groups.add_argument("names", nargs="*", metavar="NAME", help="only these groups (default: all, terms abridged)")
    groups.add_argument("--config", help="config folder (default: NEWSWATCH_CONFIG_DIR or ./config)")
    groups.set_defaults(handler="rulecmds.groups_command")
    replay = rsub.add_parser(
        "replay",
        help="run the current rules over stored items",
        description="Report what the current rules would have matched among stored items (+ new, = same, - no longer). Sends nothing.",
    )
    replay.add_argument("--since", default="7d", type=duration, help="items first seen this long ago: 90m, 24h, 7d (default 7d)")
    replay.add_argument("--rule", help="only this rule id")
    replay.add_argument("--format", choices=("text", "json"), default="text")
    replay.set_defaults(handler="rulecmds.replay_command")
    stats = rsub.add_parser(
        "stats",
        help="alerts sent per rule and what people said about them in Slack",
        description="Per rule: alerts sent, rated in Slack, precision by those ratings, the last false alarm.",
    )
    stats.add_argument("--since", default="30d", type=duration, help="how far back: 7d, 30d, 90d (default 30d)")
    stats.add_argument("--format", choices=("text", "json"), default="text")
    stats.set_defaults(handler="commands.rule_stats")
    hint = rsub.add_parser(
        "suggest",
        help="terms to exclude or add, learnt from Slack ratings and missed stories",
        description="Rank terms and exclusions that separate relevant alerts from false alarms and catch missed stories; "
        "print each as a rules.yaml diff with its effect on stored items and on the labelled set. Edits nothing.",
    )
    hint.add_argument("rule", metavar="RULE", help="a rule id")
    hint.add_argument("--since", default="90d", help="feedback, missed stories and stored items this recent (default 90d)")
    hint.add_argument("--limit", type=int, default=5, help="at most this many suggestions (default 5)")
    hint.add_argument("--labelled", help="labelled-set folder (its tuning part is read), or 'none' (default: the shipped set)")
    hint.add_argument("--config", help="config folder (default: NEWSWATCH_CONFIG_DIR or ./config)")
    hint.add_argument("--format", choices=("text", "json"), default="text")
    hint.set_defaults(handler="suggest.suggest_command")


# Commands that build the whole service: they settle once it has started (`commands.started`).
SERVICE_COMMANDS = frozenset({"commands.run", "commands.poll_once"})


def settled() -> None:
    """Start-up is over: what it built (modules, the config, the compiled rules) lives as long as the process.

    Start-up runs with the cyclic garbage collector off: it makes ~150,000 objects that all stay,
    and each collection during it only scans them again (~7 % of the instructions of imports and
    config load). They are then moved out of the collector's sight (`gc.freeze`), so that later
    collections in a long-running service do not scan them either.
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def preload_in_background() -> None:
    """Import aiohttp in a thread while the main thread goes on: its import loads the CA file twice (~50 ms here), without the GIL."""
    threading.Thread(target=importlib.import_module, args=("aiohttp",), name="newswatch-preload", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    gc.disable()  # until start-up is over: `settled`
    try:
        return _main(argv)
    finally:
        settled()


def _main(argv: Sequence[str] | None) -> int:
    """`main` with the collector off until start-up is over."""
    args = parser().parse_args(argv)
    if args.handler in SERVICE_COMMANDS:
        preload_in_background()
    # newswatch uses no pydantic plugin; looking for them scans every installed package's metadata (~20 ms of each start).
    # An operator who wants one sets PYDANTIC_DISABLE_PLUGINS themselves (to "" for all).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from service.settings import Settings, SettingsError

    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"newswatch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from service.config.yamlfile import ConfigError
    from service.errors import UserError
    from service.ops import logs

    logs.setup(settings.log_level, settings.log_format, settings.secrets)
    from alerts.display import VisibleStream

    sys.stdout = VisibleStream(sys.stdout)  # listings show feed content: it must not drive the terminal
    for note in settings.notes:
        logging.getLogger("newswatch").warning(note)
    command = handler(args.handler)
    if args.handler not in SERVICE_COMMANDS:
        settled()
    try:
        code = run(command, args, settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except UserError as exc:  # a database that cannot be used, an argument that cannot: one line that says what to do
        print(f"newswatch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:  # the reader went away (`newswatch feeds | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    if getattr(args, "exit_at_once", False):
        exit_now(code)
    return code


def exit_now(code: int) -> NoReturn:
    """End a command that has written and closed everything without the interpreter's teardown (0.1-0.2 s after a poll).

    What the interpreter's exit does for multiprocessing is done first, in this thread: worker
    processes already told to stop and the pools' manager threads are waited for (a reader of
    this process's output sees its end only once they are gone too), then multiprocessing's exit
    hook unlinks the pools' named semaphores. Garbage collection is off meanwhile, so that no
    other thread runs a semaphore's finalizer halfway when the process ends: the resource tracker
    would report it as leaked on stderr.
    """
    import concurrent.futures.process
    import gc
    import multiprocessing
    import multiprocessing.util
    import threading

    gc.disable()
    for child in multiprocessing.active_children():
        child.join(timeout=5)
    concurrent.futures.process._python_exit()  # joins the pools' manager threads (atexit's hook)
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(timeout=5)
    gc.collect()
    multiprocessing.util._exit_function()  # type: ignore[attr-defined]  # not in the stubs; atexit's hook since Python 2.6
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    os._exit(code)


def run(command: Handler, args: argparse.Namespace, settings: Settings) -> int:
    """Call a handler: in an event loop if it is a coroutine function (a plain one, like `rules check`, needs none)."""
    if not inspect.iscoroutinefunction(command):
        return int(command(args, settings))  # type: ignore[arg-type]
    import asyncio

    result: int = asyncio.run(command(args, settings))
    return result


def handler(name: str) -> Handler:
    """The handler a subcommand names ("module.function" under service.ops)."""
    module, function = name.rsplit(".", 1)
    found: Handler = getattr(importlib.import_module(f"service.ops.{module}"), function)
    return found


if __name__ == "__main__":
    raise SystemExit(main())
