"""`newswatch rules suggest RULE` and `newswatch missed URL --rule R`: learn from what the desk said.

`suggestions()` gathers the evidence (Slack ratings, reported missed stories, the labelled set's
tuning part), asks `service.rules.suggest` for ranked changes and returns them as data: the web
Rules page can call it as the CLI does. The commands below only format. Nothing here edits a file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from service.config import Config, load_config
from service.config.types import parse_duration
from service.ingest.model import FeedContext, Item
from service.ingest.parse import canonical_link
from service.ingest.prepare import prepare_now
from service.rules import labelled as labelled_set
from service.rules.match import Ruleset
from service.rules.suggest import FALSE_ALARM, MISSED, RELEVANT, Evidence, Report, Suggestion, labelled_evidence, suggest
from service.settings import Settings
from service.storage import db
from service.storage.feedback import Choice, FeedbackStore
from service.storage.items import Items
from service.storage.missed import MissedStore


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def replay_matches(ruleset: Ruleset, item: Item, context: FeedContext) -> set[str]:
    """The rules an item matches as `rules replay` finds them (stored text, no fetching, its feed's context)."""
    return {m.rule_id for m in prepare_now([item], ruleset, context)[0].matches}


async def suggestions(
    engine: db.Database,
    config_dir: Path,
    rule: str,
    since: datetime,
    labelled_dir: Path | None = labelled_set.DEFAULT_DIR,
    limit: int = 5,
) -> Report:
    """Ranked, measured changes to `rule` from the feedback and missed stories since `since` and the labelled tuning part."""
    config = load_config(config_dir)
    evidence = await _feedback(engine, since, rule) + await _missed(engine, since, rule)
    entries = labelled_set.load("tuning", labelled_dir) if labelled_dir else []  # never the held-out or sealed parts
    if not any(rule in entry["labels"] for entry in entries):
        entries = []  # the set labels the rules it was written for: for another rule, every match would count as a false alarm
    evidence += labelled_evidence(config.ruleset, rule, entries)
    stored = [(item, _context(config, item)) async for batch in Items(engine).items_since(since) for item, _ in batch]
    return suggest(rule, config_dir, evidence, stored, entries, replay_matches, limit, config)


def report_in_worker(database_url: str, config_dir: Path, rule: str, since: datetime, labelled_dir: Path | None) -> dict[str, Any]:
    """`suggestions` in a process of its own (the web page's), with its own connection: the report as plain data.

    The stored items of the window and the measuring live and die in that process, never in
    the service's.
    """

    async def report() -> Report:
        async with db.opened(database_url) as engine:
            return await suggestions(engine, config_dir, rule, since, labelled_dir)

    done = asyncio.run(report())
    return {
        "evidence": done.evidence,
        "suggestions": [as_data(done.rule, s) for s in done.suggestions],
        "notes": done.notes,
        "config_version": done.version,
    }


async def _feedback(engine: db.Database, since: datetime, rule: str) -> list[Evidence]:
    """Each rated alert of the rule once, with its latest rating."""
    latest: dict[int, Any] = {}
    for row in await FeedbackStore(engine).listing(since, rule):  # newest first
        latest.setdefault(row.delivery_id, row)
    out = []
    for row in latest.values():
        kind = RELEVANT if row.choice == Choice.RELEVANT else FALSE_ALARM
        item = Item(
            feed_id=row.feed_id or "feedback",
            key=f"feedback-{row.delivery_id}",
            title=row.title or "",
            summary=row.summary or "",
            link=row.link or "",
            language=row.language or "",
        )
        out.append(Evidence(kind, f"feedback {row.delivery_id}", item))
    return out


async def _missed(engine: db.Database, since: datetime, rule: str) -> list[Evidence]:
    """The missed stories reported for the rule, with their stored text where the item was stored."""
    out = []
    for m in await MissedStore(engine).listing(since, rule):
        item = Item(
            feed_id=m.feed_id or "missed",
            key=f"missed-{m.id}",
            title=m.title,
            summary=m.summary,
            content=m.content,
            article=m.article,
            link=m.url,
            language=m.language,
        )
        if item.title or item.summary or item.article:
            out.append(Evidence(MISSED, f"missed {m.id}", item))
    return out


def _context(config: Config, item: Item) -> FeedContext:
    """The context of the item's feed, as `rules replay` uses it (a removed feed: its id alone)."""
    spec = config.feed(item.feed_id)
    return spec.context() if spec else FeedContext(item.feed_id)


# The commands.


async def suggest_command(args: argparse.Namespace, settings: Settings) -> int:
    """`rules suggest RULE`: print the suggestions (text or JSON lines); edit nothing."""
    since = utcnow() - timedelta(seconds=parse_duration(args.since))
    labelled_dir = None if args.labelled == "none" else Path(args.labelled) if args.labelled else labelled_set.DEFAULT_DIR
    config_dir = Path(args.config) if args.config else settings.config_dir
    async with db.opened(settings.database_url) as engine:
        try:
            report = await suggestions(engine, config_dir, args.rule, since, labelled_dir, args.limit)
        except ValueError as exc:
            print(f"newswatch: {exc}", file=sys.stderr)
            return 2
    if args.format == "json":
        for s in report.suggestions:
            print(json.dumps(as_data(report.rule, s), ensure_ascii=False))
        return 0
    print(_text(report))
    return 0


def as_data(rule: str, s: Suggestion) -> dict[str, Any]:
    """One suggestion as plain data (what the JSON output and a web page show)."""
    o = s.outcome
    return {
        "rule": rule,
        "kind": s.change.kind,
        "term": s.change.term,
        "group": s.change.group,
        "why": s.change.why,
        "evidence": {
            "false_alarms_removed": o.false_alarms_removed,
            "relevant_lost": o.relevant_lost,
            "misses_caught": o.misses_caught,
            "false_alarms_added": o.false_alarms_added,
        },
        "stored": {"replayed": o.replayed, "caught": o.caught, "lost": o.lost},
        "labelled": {"part": "tuning", "items": o.labelled, "before": list(o.before), "after": list(o.after)},
        "diff": s.change.diff,
    }


def _text(report: Report) -> str:
    """The suggestions as the terminal shows them."""
    names = {RELEVANT: "relevant", FALSE_ALARM: "false alarms", MISSED: "missed"}
    counts = ", ".join(f"{report.evidence.get(k, 0)} {name}" for k, name in names.items())
    lines = [f"rule {report.rule}: evidence {counts} (Slack ratings, reported misses, labelled tuning part)"]
    if not report.suggestions:
        lines.append("no change found that puts more evidence right than wrong")
    for n, s in enumerate(report.suggestions, 1):
        c, o = s.change, s.outcome
        where = f"add {c.term!r} to @{c.group}" if c.kind == "add" else f"exclude items with {c.term!r}"
        lines.append(f"\n{n}. {where}: {c.why}")
        lines.append(
            f"   evidence: {o.false_alarms_removed} false alarms removed, {o.relevant_lost} relevant lost, "
            f"{o.misses_caught} misses caught, {o.false_alarms_added} false alarms added"
        )
        lines.append(f"   stored items ({o.replayed} replayed, as `rules replay`): +{o.caught} caught, -{o.lost} lost")
        lines.append(
            f"   labelled tuning part ({o.labelled} items): precision {o.before[0]:.3f} -> {o.after[0]:.3f}, "
            f"recall {o.before[1]:.3f} -> {o.after[1]:.3f}"
        )
        lines += ["   " + line for line in c.diff.rstrip("\n").splitlines()]
    for note in report.notes:
        lines.append(f"note: {note}")
    lines.append("\nNothing was changed: apply a diff by editing rules.yaml; the service reloads it.")
    return "\n".join(lines)


async def missed_command(args: argparse.Namespace, settings: Settings) -> int:
    """`missed URL --rule R`: record a story the rule should have alerted on."""
    config = load_config(settings.config_dir)
    if args.rule not in {r.id for r in config.ruleset.rules}:
        print(f"newswatch: no enabled rule with id '{args.rule}'", file=sys.stderr)
        return 2
    async with db.opened(settings.database_url) as engine:
        link = canonical_link(args.url) or args.url.strip()
        m = await MissedStore(engine).record(args.rule, link, utcnow(), title=args.title or "", note=args.note or "")
    hint = "" if m.title else " (give --title for `rules suggest`)"
    stored = f"stored item {m.item_id}" if m.item_id else f"not among stored items{hint}"
    print(f"missed story {m.id} recorded for {m.rule_id}: {m.url} ({stored})")
    return 0
