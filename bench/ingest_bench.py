"""Ingestion: a cold poll of 1,000 feeds x 20 new items (matched against 100 rules and stored),
an unchanged poll of 10,000 feeds answering 304, and peak RSS. The feed server runs in its own process.
"""

from __future__ import annotations

import asyncio
import io
import resource
import tempfile
import time
from pathlib import Path

from bench import feedserver_proc
from service.app import build_app
from service.settings import Settings


def write_config(directory: Path, base: str, feeds: int, items: int) -> None:
    """feeds.yaml with `feeds` feeds of `items` items and rules.yaml with 100 rules."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["feeds:"] + [f"  - {{id: f{n}, url: '{base}/f/{n}.xml?items={items}', interval: 1h}}" for n in range(feeds)]
    (directory / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    words = feedserver_proc.VOCABULARY
    rules = ["destinations:", "  out: {type: console}", "rules:"]
    for i in range(100):
        a, b, c = words[50 + i], words[1000 + i * 7], words[3000 + i * 11]
        rules.append(f"  - {{id: r{i}, destinations: [out], match: {{all: ['{a}', {{any: ['{b}', '{c} {a}']}}], none: ['zz{i}']}}}}")
    (directory / "rules.yaml").write_text("\n".join(rules) + "\n", encoding="utf-8")


async def poll(workdir: Path, base: str, feeds: int, items: int, passes: int) -> list[tuple[float, int, int]]:
    """Poll every feed `passes` times; return (seconds, new items, not-modified answers) per pass."""
    write_config(workdir / "config", base, feeds, items)
    settings = Settings(
        config_dir=workdir / "config",
        database_url=f"sqlite:///{workdir}/bench.db",
        http_port=0,
        instance="bench",
        poll_concurrency=100,
        per_host=100,
    )
    app = await build_app(settings, stdout=io.StringIO())
    await app.start()
    results = []
    try:
        for _ in range(passes):
            started = time.perf_counter()
            stats = await app.pipeline.poll_due(force=True, limit=feeds)
            results.append((time.perf_counter() - started, stats.new_items, stats.not_modified))
    finally:
        await app.aclose()
    return results


def main() -> None:
    """Print the figures."""
    server, base = feedserver_proc.start(items=20)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            [(cold, new, _)] = asyncio.run(poll(Path(tmp) / "cold", base, 1_000, 20, 1))
        with tempfile.TemporaryDirectory() as tmp:
            _, (warm, _, unchanged) = asyncio.run(poll(Path(tmp) / "warm", base, 10_000, 1, 2))  # the first pass gets validators
    finally:
        server.kill()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("ingestion (feed server in its own process on 127.0.0.1, SQLite, 100 rules)")
    print(f"  cold poll, 1,000 feeds x 20 new items: {cold:6.1f} s  ({new:,} items stored, {new / cold:,.0f} items/s)")
    print(
        f"  unchanged poll, 10,000 feeds (304):    {warm:6.1f} s  ({unchanged:,} not modified, {unchanged / warm:,.0f} feeds/s, "
        f"{warm / unchanged * 1000:.2f} ms a feed)"
    )
    print(f"  peak RSS of the poller:                {rss:6.0f} MB")


if __name__ == "__main__":
    main()
