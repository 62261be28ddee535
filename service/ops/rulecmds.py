"""`newswatch rules check | test | groups | replay`: validate the config, explain what rules match and why."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.config import Config, load_config
from service.config.types import parse_duration
from service.config.yamlfile import ConfigError
from service.errors import UserError
from service.ingest.model import Item, RuleMatch, Status
from service.ingest.route import Routed
from service.rules import text
from service.rules.compile import RESERVED, Groups, gazetteer
from service.rules.operators import TermSpec
from service.settings import Settings

if TYPE_CHECKING:  # the network and the database are loaded only by the commands that use them
    from service.ops import actions
    from service.storage.items import Items


def check(directory: Path) -> int:
    """Validate the config folder; print each problem as file:line:column: message."""
    try:
        config = load_config(directory)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{len(exc.problems)} problem(s) found", file=sys.stderr)
        return 1
    except Exception as exc:  # whatever a hostile file does, `check` says so and fails, as a reload would
        print(f"{directory}: the config could not be loaded: {type(exc).__name__}: {exc}"[:1000])
        print("1 problem(s) found", file=sys.stderr)
        return 1
    print(f"config OK: {len(config.feeds)} feeds, {len(config.ruleset.rules)} rules, version {config.version}")
    return 0


def groups(directory: Path, names: list[str]) -> int:
    """Print every term group (or the named ones) with its terms: the config's own, then the gazetteer's."""
    config = load_config(directory)
    known = Groups(config.rules_file.groups)
    own = list(config.rules_file.groups)
    everything = own + [name for name in gazetteer() if name not in own]
    missing = [name.lstrip("@") for name in names if name.lstrip("@") not in known]
    if missing:
        print(f"newswatch: no term group named {', '.join(missing)}", file=sys.stderr)
        return 2
    for name in [n.lstrip("@") for n in names] or everything:
        terms = [t.term if isinstance(t, TermSpec) else t for t in known.terms(name)]
        shown = terms if names or len(terms) <= 12 else [*terms[:12], f"… ({len(terms)} in all)"]
        origin = "gazetteer" if name.startswith(RESERVED) else "rules.yaml"
        print(f"@{name} ({origin}): {', '.join(shown)}")
    return 0


async def test(
    sources: list[str],
    directory: Path,
    settings: Settings,
    rule: str | None,
    fmt: str,
    articles: bool | None = None,
    feed: str | None = None,
) -> int:
    """Prepare, match and route every item of every source as the service would, and print what it would alert and why.

    A source that is a feed of feeds.yaml (or `feed`) is matched in that feed's context: its tags,
    language, article mode and max_age; `articles` (True / False) overrides the article mode.
    """
    config = load_config(directory)
    if rule and rule not in {r.id for r in config.ruleset.rules}:
        print(f"newswatch: no enabled rule with id '{rule}'", file=sys.stderr)
        return 2
    from service.ingest.workers import Stoppable
    from service.ops import actions

    status, noted, workers = 0, set(), Stoppable(1)  # a page that reads too long is stopped, not left running in a thread
    try:
        async for source, result in actions.test(sources, config, settings, datetime.now(UTC), feed, articles, offload=workers.run):
            if isinstance(result, str):
                print(f"{source}: {result}", file=sys.stderr)
                status = 1
                continue
            if result.note and source not in noted and fmt == "text":
                noted.add(source)
                print(f"{source}: {result.note}")
            matches = [m for m in result.prepared.matches if not rule or m.rule_id == rule]
            print(_json(source, result, matches) if fmt == "json" else _text(source, result, matches))
    except actions.ActionError as exc:
        print(f"newswatch: {exc}", file=sys.stderr)
        return 2
    finally:
        workers.shutdown()
    return status


def _explain(match: RuleMatch) -> list[dict[str, Any]]:
    """The terms of a match as plain data."""
    return [{"term": t.term, "fields": list(t.fields), "positions": list(t.positions[:10])} for t in match.terms]


def _json(source: str, tested: actions.Tested, matches: list[RuleMatch]) -> str:
    """One JSON line per item: its matches with their evidence, and what would be sent where."""
    item, article, routed = tested.prepared.item, tested.prepared.article, tested.routed
    return json.dumps(
        {
            "source": source,
            "feed": tested.context.feed_id,
            "id": item.key,
            "title": item.title,
            "link": item.link,
            "published": item.published.isoformat() if item.published else None,
            "date_note": item.date_note or None,
            "article": {"status": article.status.value, "chars": len(item.article), "detail": article.detail},
            "matches": [
                {
                    "rule": m.rule_id,
                    "name": m.rule_name,
                    "terms": m.term_labels,
                    "explain": _explain(m),
                    "evidence": m.evidence.as_data(m.rule_id),
                    "suppressed": routed.silenced.get(m.rule_id),
                }
                for m in matches
            ],
            "deliveries": [
                {"destination": r.destination, "rules": list(r.rule_ids), "delivery": r.delivery, "muted": r.muted} for r in routed.routes
            ],
        },
        ensure_ascii=False,
    )


def _text(source: str, tested: actions.Tested, matches: list[RuleMatch]) -> str:
    """A readable block per item: title, how its text was obtained, each matching rule with its terms and quote, where it would go."""
    item, article = tested.prepared.item, tested.prepared.article
    when = item.published.strftime("%Y-%m-%d") if item.published else "no date"
    lines = [f"{source}: {text.truncate(item.title, 100)} ({when})"]
    if item.date_note:
        lines.append(f"  date: {item.date_note}")
    if article.status is Status.FETCHED:
        lines.append(f"  article: {len(item.article):,} characters ({article.detail})")
    elif article.detail:
        lines.append(f"  article: {article.status.value} ({article.detail})")
    if not matches:
        lines.append("  no rule matches")
    for m in matches:
        lines.append(f"  MATCH {m.rule_id} ({m.rule_name})")
        for t in m.terms:
            lines.append(f"    {t.term!r} in {', '.join(t.fields)} (word {', '.join(str(p) for p in t.positions[:5])})")
        quote = m.evidence.text
        for start, end in reversed(m.evidence.highlights):
            quote = quote[:start] + "[" + quote[start:end] + "]" + quote[end:]
        lines.append(f"    {'matched in the article: ' if m.evidence.in_article else ''}{quote}")
    lines += _decisions(tested.routed, {m.rule_id for m in matches})
    return "\n".join(lines)


def _decisions(routed: Routed, shown: set[str]) -> list[str]:
    """Where the item would go: each destination with its rules, or why it would not alert."""
    reasons = {why for rule, why in routed.silenced.items() if rule in shown and why}
    lines = [f"  not alerted: {why}" for why in sorted(reasons) if why != "muted"]
    for r in routed.routes:
        if shown & set(r.rule_ids):
            how = (
                "muted"
                if r.muted
                else "in the next daily briefing"
                if r.delivery == "daily"
                else "in the next weekly briefing"
                if r.briefed
                else "alert"
            )
            lines.append(f"  → {r.destination}: {how} ({', '.join(r.rule_ids)})")
    return lines


async def replay(stored: Items, config: Config, since: datetime, rule: str | None, fmt: str) -> int:
    """Run the current rules over stored items and report what would match; send nothing.

    An item stored unmatched (a new feed's silent backlog) has no "then": it is listed as `~RULE`
    and counted apart, not as a match the current rules would add.
    """
    from service.ops import actions

    total = would = new = gone = backlog = 0
    async for batch in stored.items_since(since):
        replayed = actions.replay([item for item, _ in batch], config.ruleset, config)
        for (item, found), (_, then) in zip(replayed, batch, strict=True):
            total += 1
            now = {m.rule_id for m in found}
            if rule:
                now, then = now & {rule}, (then & {rule} if then is not None else None)
            if not now and not then:
                continue
            would += bool(now)
            if then is None:
                backlog += 1
            else:
                new += bool(now - then)
                gone += bool(then - now)
            print(_replay_line(item, now, then, fmt))
    if fmt == "text":
        print(
            f"{total} stored items replayed: {would} would match ({new} not matched then, {backlog} stored unmatched"
            f" as a new feed's backlog), {gone} matched then but would not now"
        )
    return 0


def _replay_line(item: Item, now: set[str], then: set[str] | None, fmt: str) -> str:
    """One replayed item (`then` None: stored unmatched)."""
    if fmt == "json":
        data = {"id": item.key, "feed": item.feed_id, "title": item.title, "link": item.link, "would_match": sorted(now)}
        return json.dumps(data | ({"stored_unmatched": True} if then is None else {"matched_then": sorted(then)}), ensure_ascii=False)
    if then is None:
        marks = [f"~{r}" for r in sorted(now)]
    else:
        marks = [f"+{r}" for r in sorted(now - then)] + [f"={r}" for r in sorted(now & then)] + [f"-{r}" for r in sorted(then - now)]
    return f"{' '.join(marks):<30} {item.feed_id:<20} {text.truncate(item.title, 90)}"


def check_command(args: argparse.Namespace, settings: Settings) -> int:
    """`rules check [PATH]`."""
    return check(config_folder(Path(args.path) if args.path else settings.config_dir))


async def test_command(args: argparse.Namespace, settings: Settings) -> int:
    """`rules test SOURCE...`."""
    return await test(args.sources, _directory(args, settings), settings, args.rule, args.format, args.articles, args.feed)


def groups_command(args: argparse.Namespace, settings: Settings) -> int:
    """`rules groups [NAME...]`."""
    return groups(_directory(args, settings), args.names)


async def replay_command(args: argparse.Namespace, settings: Settings) -> int:
    """`rules replay`: the current rules over stored items, read-only."""
    from service.ops.commands import warn_unknown_rule
    from service.storage import db
    from service.storage.items import Items

    config = load_config(config_folder(settings.config_dir))
    warn_unknown_rule(args.rule, settings, config)
    since = datetime.now(UTC) - timedelta(seconds=parse_duration(args.since))
    async with db.opened(settings.database_url) as engine:
        return await replay(Items(engine), config, since, args.rule, args.format)


def _directory(args: argparse.Namespace, settings: Settings) -> Path:
    """The config folder a command reads: --config, else the settings'."""
    return config_folder(Path(args.config) if args.config else settings.config_dir)


def config_folder(path: Path) -> Path:
    """`path` if it is a folder; else UserError saying to give the folder that holds feeds.yaml and rules.yaml."""
    if path.is_dir():
        return path
    if path.exists():
        raise UserError(f"{path} is a file: give the config folder, the one that holds feeds.yaml and rules.yaml (such as {path.parent})")
    raise UserError(f"there is no folder {path.resolve()}: give the config folder (NEWSWATCH_CONFIG_DIR, ./config by default)")
