"""`feeds discover URL`, `feeds import FILE.opml [--write]` and `feeds export`: finding sources and moving them in and out.

None of these opens the database; `discover` fetches through the service's fetcher and guard.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from service.settings import Settings

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Dispatch `feeds ACTION`."""
    if args.action in ("discover", "import") and not args.target:
        what = "a site or page URL" if args.action == "discover" else "an OPML file"
        print(f"newswatch: feeds {args.action} needs {what}", file=sys.stderr)
        return EXIT_USAGE
    folder = Path(args.config) if args.config else settings.config_dir
    if args.action == "discover":
        return await discover_command(args.target, settings)
    if args.action == "import":
        return import_command(Path(args.target), folder, args.write)
    return export_command(folder)


async def discover_command(url: str, settings: Settings) -> int:
    """Print what a site offers as ready-to-paste feeds.yaml entries."""
    from service.ingest.client import build_client
    from service.ingest.fetch import Fetcher
    from service.ingest.guard import Guard
    from service.ingest.sources.discover import discover, entry_id
    from service.ops.opml import unique_id, yaml_entries

    if not url.startswith(("http://", "https://")):
        print(f"newswatch: not an http(s) URL: {url}", file=sys.stderr)
        return EXIT_USAGE
    guard = Guard()
    async with build_client(settings.user_agent) as client, build_client(settings.user_agent, guard=guard) as public:
        fetcher = Fetcher(client, settings.config_dir, settings.max_feed_bytes, settings.per_host, settings.fetch_timeout, public, guard)
        found = await discover(url, fetcher)
    taken: set[str] = set()
    sitemaps = 0
    for source in found.found:
        entry: dict[str, object] = {"id": unique_id(entry_id(source.url, source.kind), taken)}
        if source.kind != "feed":
            entry["kind"] = source.kind
        entry["url"] = source.url
        if source.title:
            entry["name"] = source.title[:100]
        text = yaml_entries([entry])
        if source.kind == "sitemap":  # one sitemap source reads them all: the others are shown as alternatives
            sitemaps += 1
            text = text if sitemaps == 1 else "".join(f"#{line}\n" for line in text.splitlines())
        print(
            f"# {source.kind}: {source.note}"
            + (" (an alternative to the sitemap above)" if sitemaps > 1 and source.kind == "sitemap" else "")
        )
        print(text, end="")
    for problem in found.problems:
        print(f"# not used: {problem}")
    if not found.found:
        print(f"newswatch: nothing newswatch can read found at {url}", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


def import_command(path: Path, folder: Path, write: bool) -> int:
    """Print an OPML file's feeds as feeds.yaml entries, or append them to feeds.yaml."""
    from service.config.yamlfile import load
    from service.ops.opml import OpmlError, append_feeds, read_opml, yaml_entries

    feeds_file = folder / "feeds.yaml"
    if write and not feeds_file.exists():
        print(f"newswatch: {feeds_file} does not exist: run without --write and paste the entries into a new one", file=sys.stderr)
        return EXIT_USAGE
    current = load(feeds_file).data if feeds_file.exists() else {}
    known = [f for f in (current or {}).get("feeds") or [] if isinstance(f, dict)]
    try:
        data = path.read_bytes()
        imported = read_opml(data, {str(f.get("id")) for f in known}, {str(f.get("url")): str(f.get("id")) for f in known})
    except (OSError, OpmlError) as exc:
        print(f"newswatch: {path}: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    entries = [i.entry for i in imported if i.entry is not None]
    notes = [f"# {i.entry['id'] if i.entry else 'left out'}: {i.note}" for i in imported if i.note]
    if write and entries:
        append_feeds(feeds_file, entries)
        print(f"added {len(entries)} feeds to {feeds_file}", file=sys.stderr)
    elif entries:
        print(f"# {len(entries)} feeds from {path.name}: paste under 'feeds:' in feeds.yaml")
        print(yaml_entries(entries), end="")
    for note in notes:
        print(note, file=sys.stderr if write else sys.stdout)
    if not entries:
        print(f"newswatch: no new feeds in {path}", file=sys.stderr)
    return EXIT_OK


def export_command(folder: Path) -> int:
    """Print feeds.yaml as OPML."""
    from service.config import load_config
    from service.ops.opml import write_opml

    config = load_config(folder)
    sys.stdout.write(write_opml(config.feeds).decode("utf-8"))
    return EXIT_OK
