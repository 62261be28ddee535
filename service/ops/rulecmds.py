"""`newswatch rules check | test | groups | replay`: validate the config, explain what rules match and why."""

from __future__ import annotations

import argparse
import contextlib
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
from service.ingest.parse import read_document
from service.ingest.prepare import ArticleMode, Prepared, prepare, prepare_now, snippet_source
from service.rules import text
from service.rules.compile import RESERVED, Groups, gazetteer
from service.rules.operators import TermSpec
from service.settings import Settings

if TYPE_CHECKING:  # the network and the database are loaded only by the commands that use them
    from collections.abc import AsyncIterator

    from service.ingest.extract import Extracted
    from service.ingest.fetch import Fetcher
    from service.ingest.guard import Guard
    from service.storage.items import Items

ANY_DOCUMENT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/html;q=0.8, */*;q=0.5"


def check(directory: Path) -> int:
    """Validate the config folder; print each problem as file:line:column: message."""
    try:
        config = load_config(directory)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{len(exc.problems)} problem(s) found", file=sys.stderr)
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


async def test(sources: list[str], directory: Path, settings: Settings, rule: str | None, fmt: str, articles: bool = False) -> int:
    """Prepare and match every item of every source, as the service would, and print which rules match and why.

    With `articles`, each item's page is fetched and extracted too (what `article: always` does).
    """
    config = load_config(directory)
    if rule and rule not in {r.id for r in config.ruleset.rules}:
        print(f"newswatch: no enabled rule with id '{rule}'", file=sys.stderr)
        return 2
    status = 0
    async for source, result in results(sources, config, settings, articles):
        if isinstance(result, str):
            print(f"{source}: {result}", file=sys.stderr)
            status = 1
            continue
        matches = [m for m in result.matches if not rule or m.rule_id == rule]
        print(_json(source, result, matches) if fmt == "json" else _text(source, result, matches))
    return status


async def results(
    sources: list[str], config: Config, settings: Settings, articles: bool = False, guard: Guard | None = None
) -> AsyncIterator[tuple[str, Prepared | str]]:
    """Each item of each source, prepared and matched as the service would, or why the source could not be read.

    With a `guard`, the sources, their redirects and their article pages must be on addresses it
    calls public (a URL from Slack, where whoever asks need not be trusted with the server's network).
    """
    from service.ingest.article import Articles
    from service.ingest.fetch import Fetcher, build_client

    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(build_client(settings.user_agent))
        # A guarded client (its own TLS context) only when asked: the CLI's start-up stays as it was.
        public = await stack.enter_async_context(build_client(settings.user_agent, guard=guard)) if guard else client
        limit = settings.per_host
        fetcher = Fetcher(
            client,
            settings.config_dir,
            settings.max_feed_bytes,
            lambda host: config.host_limit(host, limit),
            settings.fetch_timeout,
            public_client=public,
            guard=guard,
        )
        pages = Articles(fetcher, _extract_in_thread, settings.user_agent, settings.article_timeout, settings.article_pace, guard=guard)
        for source in sources:
            try:
                found = await _items(source, fetcher, public_only=guard is not None)
            except (OSError, ValueError) as exc:
                yield source, str(exc)
                continue
            origin = source if source.startswith(("http://", "https://")) else None  # a public feed's links stay public
            mode: ArticleMode = "always" if articles else "never"
            for prepared in await prepare(found, config.ruleset, _tags(config, found), mode, pages, origin=origin):
                yield source, prepared


async def _extract_in_thread(body: bytes, url: str, content_type: str) -> Extracted:
    """Extraction off the event loop (the CLI has no worker processes)."""
    import asyncio

    from service.ingest.extract import extract_article

    return await asyncio.to_thread(extract_article, body, url, content_type)


def _tags(config: Config, found: list[Item]) -> tuple[str, ...]:
    """The tags of the items' feed, if it is a configured feed."""
    spec = config.feed(found[0].feed_id) if found else None
    return tuple(spec.tags) if spec else ()


async def _items(source: str, fetcher: Fetcher, public_only: bool = False) -> list[Item]:
    """The items of a feed, a web page or a plain-text article, from a URL or a file."""
    import asyncio

    from service.ingest.fetch import Fetched

    if source.startswith(("http://", "https://")):
        result = await fetcher.fetch(source, accept=ANY_DOCUMENT, public_only=public_only)
        if not isinstance(result, Fetched):
            raise ValueError(getattr(result, "message", "not modified"))
        return await asyncio.to_thread(read_document, result.body, result.url, source, "test", result.content_type)
    return await asyncio.to_thread(_read_local, Path(source))


def _read_local(path: Path) -> list[Item]:
    """The items of a local file."""
    return read_document(path.read_bytes(), path.resolve().as_uri(), path.name)


def _explain(match: RuleMatch) -> list[dict[str, Any]]:
    """The terms of a match as plain data."""
    return [{"term": t.term, "fields": list(t.fields), "positions": list(t.positions[:10])} for t in match.terms]


def _json(source: str, prepared: Prepared, matches: list[RuleMatch]) -> str:
    """One JSON line per item."""
    item, article = prepared.item, prepared.article
    return json.dumps(
        {
            "source": source,
            "id": item.key,
            "title": item.title,
            "link": item.link,
            "published": item.published.isoformat() if item.published else None,
            "article": {"status": article.status.value, "chars": len(item.article), "detail": article.detail},
            "matches": [{"rule": m.rule_id, "name": m.rule_name, "terms": m.term_labels, "explain": _explain(m)} for m in matches],
        },
        ensure_ascii=False,
    )


def _text(source: str, prepared: Prepared, matches: list[RuleMatch]) -> str:
    """A readable block per item: title, how its text was obtained, then each matching rule with its terms and a snippet."""
    item, article = prepared.item, prepared.article
    when = item.published.strftime("%Y-%m-%d") if item.published else "no date"
    lines = [f"{source}: {text.truncate(item.title, 100)} ({when})"]
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
        where, body = snippet_source(item, (t.fields for t in m.terms))
        snippet, spans = text.snippet(body, m.term_labels, 240)
        for start, end in reversed(spans):
            snippet = snippet[:start] + "[" + snippet[start:end] + "]" + snippet[end:]
        lines.append(f"    {'matched in the article: ' if where == 'article' else ''}{snippet}")
    return "\n".join(lines)


async def replay(stored: Items, config: Config, since: datetime, rule: str | None, fmt: str) -> int:
    """Run the current rules over stored items and report what would match; send nothing."""
    total = would = new = gone = 0
    async for batch in stored.items_since(since):
        for item, then in batch:
            total += 1
            now = {m.rule_id for m in prepare_now([item], config.ruleset, _tags(config, [item]))[0].matches}
            if rule:
                now, then = now & {rule}, then & {rule}
            if not now and not then:
                continue
            would += bool(now)
            new += bool(now - then)
            gone += bool(then - now)
            print(_replay_line(item, now, then, fmt))
    if fmt == "text":
        print(f"{total} stored items replayed: {would} would match ({new} not matched then), {gone} matched then but would not now")
    return 0


def _replay_line(item: Item, now: set[str], then: set[str], fmt: str) -> str:
    """One replayed item."""
    if fmt == "json":
        data = {"id": item.key, "feed": item.feed_id, "title": item.title, "link": item.link}
        return json.dumps(data | {"would_match": sorted(now), "matched_then": sorted(then)}, ensure_ascii=False)
    marks = [f"+{r}" for r in sorted(now - then)] + [f"={r}" for r in sorted(now & then)] + [f"-{r}" for r in sorted(then - now)]
    return f"{' '.join(marks):<30} {item.feed_id:<20} {text.truncate(item.title, 90)}"


def check_command(args: argparse.Namespace, settings: Settings) -> int:
    """`rules check [PATH]`."""
    return check(config_folder(Path(args.path) if args.path else settings.config_dir))


async def test_command(args: argparse.Namespace, settings: Settings) -> int:
    """`rules test SOURCE...`."""
    return await test(args.sources, _directory(args, settings), settings, args.rule, args.format, args.articles)


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
