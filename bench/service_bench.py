"""The running service, end to end: alert latency, delivery throughput to 10 channels, replicas.

- latency: `newswatch run` polls 100 feeds every 60 s; items appear at random moments over one
  minute; the figure is the time from an item appearing in its feed to the Slack-compatible
  server accepting its alert (p50, p95, max);
- throughput: 300 due alerts to 10 channels, sent by one process, with digests off (paced at
  one message per second per channel) and with the default digest settings;
- replicas: 1, 2 and 3 `newswatch run` processes on one PostgreSQL database poll 2,000 feeds
  x 5 new items (one in twenty matches, spread over 10 channels, digests off); items stored
  per second, and alerts accepted per second (Slack's one message per second per channel caps it).
Feed server and Slack-compatible server run in this process on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from service.app import build_app
from service.settings import Settings
from service.storage import db
from tests.support.slackserver import TOKEN, SlackServer

ROOT = Path(__file__).parents[1]
CHANNELS = [f"c{i}" for i in range(10)]
POSTGRES = os.environ.get("NEWSWATCH_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


class TimedFeeds:
    """Feeds whose items appear at given moments: /f/N.xml lists feed N's items that have appeared."""

    def __init__(self) -> None:
        self.items: dict[int, list[tuple[float, str, str]]] = {}  # feed -> (appears at, title, link)
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/f/{n}.xml", self._feed)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _feed(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        now = time.time()
        parts = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {n}</title>']
        for appears, title, link in self.items.get(n, []):
            if appears <= now:
                when = format_datetime(datetime.fromtimestamp(appears, UTC), usegmt=True)
                summary = f"{title}. A report of {len(title)} words from feed {n}, item {link.rsplit('/', 1)[-1]}."
                parts.append(f"<item><guid>{link}</guid><title>{title}</title><link>{link}</link><pubDate>{when}</pubDate>")
                parts.append(f"<description>{summary}</description></item>")
        parts.append("</channel></rss>")
        return web.Response(body="".join(parts).encode(), content_type="application/rss+xml")


def write_config(directory: Path, base: str, feeds: int, digest: str = "off", interval: str = "60s") -> None:
    """feeds.yaml and rules.yaml: rule rN matches 'topicN' and posts to channel cN."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["feeds:"] + [f"  - {{id: f{n}, url: '{base}/f/{n}.xml', interval: {interval}, first_poll_alerts: all}}" for n in range(feeds)]
    (directory / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rules = ["destinations:"] + [f"  {c}: {{type: slack, channel: '#{c}', digest: {digest}}}" for c in CHANNELS] + ["rules:"]
    rules += [f"  - {{id: r{i}, destinations: [c{i}], match: {{any: [topic{i}]}}}}" for i in range(len(CHANNELS))]
    (directory / "rules.yaml").write_text("\n".join(rules) + "\n", encoding="utf-8")


def environ(config: Path, database: str, slack: SlackServer, instance: str) -> dict[str, str]:
    return os.environ | {
        "NEWSWATCH_CONFIG_DIR": str(config),
        "NEWSWATCH_DATABASE_URL": database,
        "NEWSWATCH_HTTP_PORT": "0",
        "NEWSWATCH_INSTANCE": instance,
        "NEWSWATCH_LOG_LEVEL": "WARNING",
        "NEWSWATCH_PER_HOST": "50",  # every feed is on 127.0.0.1; the default politeness limit is 2
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": slack.url,
    }


async def start(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "run", env=env, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )


async def stop(procs: list[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        await proc.wait()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


async def latency(feeds: int = 100) -> list[float]:
    """Seconds from an item appearing to Slack accepting its alert, one item per feed."""
    server, slack = TimedFeeds(), SlackServer(CHANNELS)
    await server.start()
    await slack.start()
    rng = random.Random(7)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            write_config(Path(tmp) / "config", server.url, feeds)
            proc = await start(environ(Path(tmp) / "config", f"sqlite:///{tmp}/bench.db", slack, "latency"))
            await asyncio.sleep(10)  # the first poll of every feed (empty) is done
            begin = time.time()
            appears: dict[str, float] = {}
            for n in range(feeds):
                link = f"https://news.example/{n}"
                appears[link] = begin + rng.uniform(0, 60)
                server.items[n] = [(appears[link], f"Report on topic{n % len(CHANNELS)} number {n}", link)]
            deadline = begin + 60 + 90
            while time.time() < deadline and len(slack.all_messages()) < feeds:
                await asyncio.sleep(0.5)
            await stop([proc])
    finally:
        await server.stop()
        await slack.stop()
    accepted = {link: m["received_at"] for m in slack.all_messages() for link in appears if link in m.get("text", "")}
    if len(accepted) < feeds:
        print(f"  WARNING: only {len(accepted)} of {feeds} alerts arrived")
    return [accepted[link] - appears[link] for link in accepted]


async def throughput(alerts: int = 300, digest: str = "off") -> tuple[float, int]:
    """Seconds to deliver `alerts` due alerts to 10 channels from one process, and the messages it took."""
    server, slack = TimedFeeds(), SlackServer(CHANNELS)
    await server.start()
    await slack.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config"
            write_config(config, server.url, 1, digest=digest)
            now = time.time() - 60
            server.items[0] = [(now, f"Report on topic{i % len(CHANNELS)} number {i}", f"https://news.example/{i}") for i in range(alerts)]
            settings = Settings(
                config_dir=config, database_url=f"sqlite:///{tmp}/t.db", http_port=0, slack_bot_token=TOKEN, slack_api_url=slack.url
            )
            app = await build_app(settings, stdout=io.StringIO())
            await app.start()
            await app.pipeline.poll_due(force=True)
            started = time.perf_counter()
            while (await app.deliverer.run_once()).sent:
                pass
            elapsed = time.perf_counter() - started
            await app.aclose()
    finally:
        await server.stop()
        await slack.stop()
    return elapsed, len(slack.all_messages())


async def replicas(count: int, feeds: int = 2000, per_feed: int = 5) -> tuple[float, float, int, int]:
    """(items/s, alerts/s, items, alerts) for `count` replicas on a fresh PostgreSQL schema."""
    schema = "bench_" + uuid.uuid4().hex[:8]
    engine = db.create_engine(POSTGRES)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = f"{POSTGRES}?search_path={schema}"
    server, slack = TimedFeeds(), SlackServer(CHANNELS)
    await server.start()
    await slack.start()
    alerts, now = 0, time.time() - 60
    for f in range(feeds):
        server.items[f] = []
        for i in range(per_feed):
            n = f * per_feed + i
            topic = f"topic{(n // 20) % 10}" if n % 20 == 0 else "weather"
            alerts += topic != "weather"
            server.items[f].append((now, f"Item {n} on {topic}", f"https://news.example/{n}"))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config"
            write_config(config, server.url, feeds, interval="1h")
            started = time.perf_counter()
            procs = [await start(environ(config, url, slack, f"replica-{i}")) for i in range(count)]
            stored_at = None
            while time.perf_counter() - started < 600:
                items, sent = await _progress(engine, schema)
                if stored_at is None and items >= feeds * per_feed:
                    stored_at = time.perf_counter() - started
                if stored_at is not None and sent >= alerts:
                    break
                await asyncio.sleep(0.25)
            delivered_at = time.perf_counter() - started
            await stop(procs)
    finally:
        await server.stop()
        await slack.stop()
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        await engine.dispose()
    stored_at = stored_at or delivered_at
    return feeds * per_feed / stored_at, alerts / delivered_at, feeds * per_feed, alerts


async def _progress(engine: Any, schema: str) -> tuple[int, int]:
    try:
        async with engine.connect() as conn:
            q = f"SELECT (SELECT count(*) FROM {schema}.items), (SELECT count(*) FROM {schema}.deliveries WHERE status = 'sent')"
            return tuple((await conn.execute(sa.text(q))).one())  # type: ignore[return-value]
    except Exception:  # not migrated yet
        return 0, 0


def main() -> None:
    """Print the figures."""
    print("alerts (newswatch run, SQLite; feed server and Slack-compatible server on 127.0.0.1)")
    waits = asyncio.run(latency())
    print(
        f"  latency item -> Slack, 60 s poll interval, {len(waits)} alerts: "
        f"p50 {statistics.median(waits):4.1f} s  p95 {percentile(waits, 95):4.1f} s  max {max(waits):4.1f} s"
    )
    for digest, label in (("off", "digests off"), ("{max_alerts: 10, window: 10m}", "default digests")):
        seconds, messages = asyncio.run(throughput(digest=digest))
        print(f"  300 alerts to 10 channels, {label:15}: {seconds:5.1f} s, {300 / seconds:5.1f} alerts/s in {messages} messages")
    print("replicas (newswatch run x N, PostgreSQL; 2,000 feeds x 5 new items, 1 in 20 matches, 10 channels)")
    for count in (1, 2, 3):
        items_rate, alerts_rate, items, alerts = asyncio.run(replicas(count))
        plural = "s" if count > 1 else " "
        print(
            f"  {count} replica{plural}: {items:,} items, {items_rate:4.0f} items/s stored; {alerts} alerts, {alerts_rate:4.1f}/s accepted"
        )


if __name__ == "__main__":
    main()
