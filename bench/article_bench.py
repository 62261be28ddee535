"""Whole-article matching: a poll of 1,000 feeds in which 100 gain one candidate item whose page must be fetched.

The feeds and the 100 article pages (20 "outlets": loopback addresses 127.0.0.1 to .20) come
from a server in its own process. Default settings (article pace 1 s per host, per-host cap
2, budget 20 s), the shipped rules, SQLite. A candidate's feed text names Cambodia but not the
border, which only its page's sixth paragraph mentions: each of them must be fetched, and
each must then match. Printed: the poll's time beside the same poll with `article: never`,
the pages fetched, the matches, and how long the article step held each candidate (p50, p95,
max), which is the delay it adds to that item's alert.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import feedserver_proc
from service.app import build_app
from service.ingest.model import Article
from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FEEDS, HOSTS = 1_000, 20


def write_config(directory: Path, base: str, article: str) -> None:
    """1,000 feeds of 20 items on 20 hosts, and the shipped rules."""
    directory.mkdir(parents=True, exist_ok=True)
    port = base.rsplit(":", 1)[1]
    lines = ["feeds:"] + [
        f"  - {{id: f{n}, url: 'http://127.0.0.{1 + n % HOSTS}:{port}/f/{n}.xml?items=20', interval: 1h, article: {article}}}"
        for n in range(FEEDS)
    ]
    (directory / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copy(ROOT / "config" / "rules.yaml", directory / "rules.yaml")
    shutil.copytree(ROOT / "config" / "examples", directory / "examples")


async def run(workdir: Path, base: str, article: str) -> dict[str, Any]:
    """Cold poll (silent backlog), bump, then the measured poll."""
    write_config(workdir / "config", base, article)
    settings = Settings(config_dir=workdir / "config", database_url=f"sqlite:///{workdir}/bench.db", http_port=0, instance="bench")
    app = await build_app(settings, stdout=io.StringIO())
    await app.start()
    held: list[float] = []
    pages = app.pipeline._articles
    assert pages is not None
    fetch = pages.fetch

    async def timed(url: str, origin: str | None = None) -> Article:
        started = time.perf_counter()
        try:
            return await fetch(url, origin)
        finally:
            held.append(time.perf_counter() - started)

    pages.fetch = timed  # type: ignore[method-assign]
    try:
        await app.pipeline.poll_due(force=True, limit=FEEDS)  # the first poll: 20,000 items caught up silently
        await asyncio.to_thread(urllib.request.urlopen, f"{base}/bump")
        started = time.perf_counter()
        stats = await app.pipeline.poll_due(force=True, limit=FEEDS)
        seconds = time.perf_counter() - started
    finally:
        await app.aclose()
    return {"seconds": seconds, "new": stats.new_items, "matches": stats.matches, "held": held}


def check(auto: dict[str, Any]) -> None:
    """Refuse figures of a run that did not do its work: every tenth feed's candidate fetched and matched."""
    expected = FEEDS // 10  # the feed server's /bump gives every tenth feed its candidate
    if auto["matches"] != expected or len(auto["held"]) != expected:
        raise SystemExit(f"article bench: expected {expected} pages and {expected} matches, got {len(auto['held'])} and {auto['matches']}")


def main() -> None:
    """Print the figures."""
    results = {}
    for article in ("auto", "never"):
        server, base = feedserver_proc.start(items=20, hosts=HOSTS)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                results[article] = asyncio.run(run(Path(tmp), base, article))
        finally:
            server.kill()
    auto, never = results["auto"], results["never"]
    check(auto)
    held = sorted(auto["held"])
    p95 = held[min(len(held) - 1, int(0.95 * len(held)))] if held else 0.0
    print(f"whole-article matching ({FEEDS:,} feeds on {HOSTS} hosts, {FEEDS // 10} gain one item whose page must be read; defaults)")
    print(f"  poll with article: auto:   {auto['seconds']:5.1f} s, {len(held)} pages fetched, {auto['matches']} matches")
    print(f"  the same, article: never:  {never['seconds']:5.1f} s, 0 pages fetched, {never['matches']} matches")
    if held:
        print(f"  delay the page added to each candidate: p50 {statistics.median(held):.2f} s, p95 {p95:.2f} s, max {held[-1]:.2f} s")


if __name__ == "__main__":
    main()
