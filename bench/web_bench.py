"""The web pages and /api/v1 with 100,000 stored items, on SQLite and on PostgreSQL; and the playground's replay.

For each database: a newsroom's database (`bench.web_data`: 100,000 items over 150 days, the
shipped rules' real matches, deliveries, feedback, silences), the pages and API served by
`newswatch run`'s web server on 127.0.0.1, each address asked `REQUESTS` times in a row by one
client (after a few warm-up requests), p50 / p95 / max of the whole answer; then the playground's
replay of the shipped rule vn-kh-border over the last 30 days (20,000 items), from the request
that starts it to the answer that says it finished, polled every 20 ms as the page does.
Targets: every page and endpoint at most 150 ms p95, a replay at most 2 s.
"""

from __future__ import annotations

import asyncio
import gc
import io
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from bench.web_data import fill, write_config
from service.app import build_app
from service.ops import web
from service.ops.web.rulebook import rule_sources
from service.ops.worker import Worker
from service.settings import Settings
from service.storage import db
from tests.support.slackserver import TOKEN, SlackServer
from tests.support.webpages import free_port

ITEMS = 100_000
REQUESTS = 40
WARMUP = 3
REPLAYS = 4
TARGET_MS = 150.0
REPLAY_TARGET_S = 2.0
POSTGRES = os.environ.get("NEWSWATCH_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def addresses(now: datetime, match_id: int) -> list[str]:
    """Every page (with the filters a desk uses) and the main API endpoints."""
    week = f"since={(now - timedelta(days=7)):%Y-%m-%d}&until={(now + timedelta(days=1)):%Y-%m-%d}"
    pages = ["/", "/matches", "/matches?rule=kh-th-border", "/matches?feed=f017", "/matches?language=vi"]
    pages += ["/matches?destination=regional-desk", "/matches?q=smuggl", f"/matches?{week}", f"/matches?before={match_id}"]
    pages += [f"/matches/{match_id}", "/stories", "/stories?days=14", "/feeds", "/rules", "/playground", "/playground?rule=vn-kh-border"]
    pages += ["/missed", "/silences", "/deliveries", "/deliveries?status=all"]
    api = ["/api/v1/matches", "/api/v1/matches?q=smuggl", f"/api/v1/matches/{match_id}", "/api/v1/stories", "/api/v1/feeds"]
    api += ["/api/v1/deliveries", "/api/v1/silences"]
    return pages + api


async def timed(session: aiohttp.ClientSession, url: str) -> float:
    """Seconds for one whole answer, which must be a 200."""
    started = time.perf_counter()
    async with session.get(url) as response:
        await response.read()
        assert response.status == 200, (url, response.status)
    return time.perf_counter() - started


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def pages(base: str, paths: list[str]) -> list[tuple[str, float, float, float]]:
    """(path, p50, p95, max) in milliseconds."""
    out = []
    async with aiohttp.ClientSession() as session:
        for path in paths:
            for _ in range(WARMUP):
                await timed(session, base + path)
            times = [await timed(session, base + path) * 1000 for _ in range(REQUESTS)]
            out.append((path, statistics.median(times), quantile(times, 0.95), max(times)))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """CPU time used so far by this process and the given ones (the parse workers): what a replay costs, whatever else runs."""
    total = time.process_time()
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return total


async def replays(base: str, rule: str, pids: Any) -> list[tuple[float, float, int]]:
    """(seconds, CPU seconds, items replayed) of each replay of `rule` over 30 days."""
    out = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:  # the page's session, on 127.0.0.1
        async with session.get(f"{base}/playground") as response:
            csrf = (await response.text()).split('"X-CSRF-Token": "', 1)[1].split('"', 1)[0]
        for _ in range(REPLAYS):
            started, cpu = time.perf_counter(), cpu_seconds(pids())
            body, headers = {"rule": rule, "days": 30}, {"X-CSRF-Token": csrf}
            async with session.post(f"{base}/api/v1/rules/preview", json=body, headers=headers) as response:
                assert response.status == 202, await response.text()
                progress = (await response.json())["progress"]
            while True:
                async with session.get(base + progress) as response:
                    state = await response.json()
                if state["finished"]:
                    break
                await asyncio.sleep(0.02)
            assert state["error"] is None, state["error"]
            out.append((time.perf_counter() - started, cpu_seconds(pids()) - cpu, state["replayed"]))
    return out


async def one_database(kind: str, url: str, slack: SlackServer) -> None:
    """Fill one database, serve it, print its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config"
        write_config(config)
        now = datetime.now(UTC).replace(microsecond=0)
        settings = Settings(
            config_dir=config, database_url=url, slack_bot_token=TOKEN, slack_api_url=slack.url
        )  # parse workers as by default
        app = await build_app(settings, clock=lambda: now, stdout=io.StringIO())
        try:
            await app.start()
            started = time.perf_counter()
            filled = await fill(app, ITEMS, now)
            print(f"\n{kind}: {filled.items:,} items, {filled.matches:,} matches, {filled.deliveries:,} deliveries {filled.statuses}, "
                  f"{filled.feedback:,} ratings, stored in {time.perf_counter() - started:.0f} s")  # fmt: skip
            port = free_port()
            runner = await web.serve(Worker(app, poll_every=3600, deliver_every=3600, reload_every=3600), "127.0.0.1", port)
            gc.collect()
            gc.freeze()  # as `newswatch run` does once started
            base = f"http://127.0.0.1:{port}"
            try:
                middle = filled.matches // 2
                report(await pages(base, addresses(now, middle)))
                rule = next(r["text"] for r in rule_sources(app.config()) if r["id"] == "vn-kh-border")
                workers = (lambda: app.executor.pids()) if app.executor else list
                for n, (seconds, cpu, replayed) in enumerate(await replays(base, rule, workers)):
                    verdict = "ok" if seconds <= REPLAY_TARGET_S else "OVER"
                    what = f"playground replay of vn-kh-border over 30 days ({replayed:,} items)"
                    first = " (the first: the parse worker starts and compiles the rules)" if n == 0 else ""
                    print(f"  {what}: {seconds:.2f} s ({cpu:.2f} s of CPU)  {verdict}{first}")
            finally:
                await runner.cleanup()
        finally:
            await app.aclose()


def report(rows: list[tuple[str, float, float, float]]) -> None:
    print(f"  {'address':<44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}   (target p95 <= {TARGET_MS:.0f} ms, {REQUESTS} requests each)")
    for path, p50, p95, top in rows:
        verdict = "" if p95 <= TARGET_MS else "  OVER"
        print(f"  {path[:44]:<44} {p50:>8.1f} {p95:>8.1f} {top:>8.1f}{verdict}")


async def run() -> None:
    slack = SlackServer(["vn-kh-border", "kh-th-border"])
    await slack.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            await one_database("SQLite", f"sqlite:///{tmp}/bench.db", slack)
        schema = "bench_web_" + uuid.uuid4().hex[:8]
        engine = db.create_engine(POSTGRES)
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        try:
            await one_database("PostgreSQL", f"{POSTGRES}?search_path={schema}", slack)
        finally:
            async with engine.begin() as conn:
                await conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
            await engine.dispose()
    finally:
        await slack.stop()


def main(argv: Any = None) -> None:
    """Print the figures."""
    load = os.getloadavg()[0]
    print(f"web pages and /api/v1 with {ITEMS:,} stored items (one client, sequential requests, 127.0.0.1)")
    print(f"load average {load:.1f} on {os.cpu_count()} cores at the start: other work on the machine shows in the p95")
    asyncio.run(run())


if __name__ == "__main__":
    main()
