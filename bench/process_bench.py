"""The whole process, as a user runs it: `newswatch poll --once` cold and unchanged, CLI start-up, beside newsboat.

A feed server in its own process on 127.0.0.1 serves 1,000 feeds of 20 items whose
descriptions are ~800 characters of HTML (a linked photo and a paragraph, the shape of real
news feeds), with ETag, 304 and gzip. `newswatch poll --once` runs as a subprocess with the
default settings, the shipped rules, a fresh SQLite file, and one override: feeds.yaml lets
the feed server's host take 20 fetches at once (`hosts:`), since by default one host gets 2.
Each figure is the whole process: interpreter start, imports, config, database, poll, exit.
Peak RSS is the sum over the process and its parse workers, sampled every 20 ms.

Beside it: newsboat (16 reload threads) on the same server in the same run, when installed,
and the floor: a bare aiohttp client sending the 1,000 conditional GETs of the unchanged poll.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp

from bench import feedserver_proc

ROOT = Path(__file__).resolve().parent.parent
FEEDS, ITEMS, PASSES = 1_000, 20, 2
NEWSWATCH = [sys.executable, "-m", "service"]


def urls(base: str) -> list[str]:
    """The 1,000 feed URLs, HTML descriptions on."""
    return [f"{base}/f/{n}.xml?items={ITEMS}&html=1" for n in range(FEEDS)]


def write_config(directory: Path, base: str) -> None:
    """feeds.yaml with the 1,000 feeds and the host override; the shipped rules."""
    directory.mkdir(parents=True, exist_ok=True)
    host = base.removeprefix("http://")
    lines = [f"hosts:\n  '{host}': {{concurrency: 20}}", "feeds:"]
    lines += [f"  - {{id: f{n}, url: '{url}'}}" for n, url in enumerate(urls(base))]
    (directory / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copy(ROOT / "config" / "rules.yaml", directory / "rules.yaml")
    shutil.copytree(ROOT / "config" / "examples", directory / "examples")


def tree_rss(pid: int) -> int:
    """Resident memory in bytes of `pid` and all its descendants (from /proc)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/statm") as statm:
                total += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    stack.extend(int(c) for c in children.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def timed(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """Run `command` to completion; return its seconds and the peak RSS (MB) of its process tree."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - started
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{command} exited {proc.returncode}: {err.decode()[-2000:]}")
    return seconds, peak[0] / 1e6


def newswatch_env(workdir: Path) -> dict[str, str]:
    """Default settings, this run's config folder and SQLite file, no Slack."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSWATCH_", "SLACK_"))}
    env["NEWSWATCH_CONFIG_DIR"] = str(workdir / "config")
    env["NEWSWATCH_DATABASE_URL"] = f"sqlite:///{workdir}/newswatch.db"
    return env


def newswatch_polls(base: str) -> dict[str, tuple[float, float]]:
    """Cold then unchanged `poll --once` on a fresh database."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        write_config(workdir / "config", base)
        env = newswatch_env(workdir)
        return {"cold": timed([*NEWSWATCH, "poll", "--once"], env), "unchanged": timed([*NEWSWATCH, "poll", "--once"], env)}


def newsboat_polls(base: str) -> dict[str, tuple[float, float]] | None:
    """Cold then unchanged `newsboat -x reload` (16 threads), or None where newsboat is not installed."""
    binary = shutil.which("newsboat")
    if binary is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "urls").write_text("\n".join(urls(base)) + "\n", encoding="utf-8")
        (workdir / "config").write_text("reload-threads 16\n", encoding="utf-8")
        command = [binary, "-x", "reload", "-u", str(workdir / "urls"), "-c", str(workdir / "cache.db"), "-C", str(workdir / "config")]
        env = {**os.environ, "HOME": str(workdir)}
        return {"cold": timed(command, env, workdir), "unchanged": timed(command, env, workdir)}


async def floor(base: str) -> float:
    """Seconds for a bare aiohttp client to send the 1,000 conditional GETs of an unchanged poll (20 at once)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20)) as session:
        etags: dict[str, str] = {}
        for url in urls(base):
            async with session.get(url) as response:
                await response.read()
                etags[url] = response.headers["ETag"]
        gate = asyncio.Semaphore(20)

        async def conditional(url: str) -> int:
            async with gate, session.get(url, headers={"If-None-Match": etags[url]}) as response:
                await response.read()
                return response.status

        started = time.perf_counter()
        statuses = await asyncio.gather(*(conditional(url) for url in urls(base)))
        seconds = time.perf_counter() - started
    assert set(statuses) == {304}, set(statuses)
    return seconds


def startup() -> dict[str, float]:
    """Median seconds of five runs of `newswatch --help` and `newswatch rules check` on the shipped config."""
    env = newswatch_env(ROOT)
    env["NEWSWATCH_CONFIG_DIR"] = str(ROOT / "config")
    commands = {"newswatch --help": [*NEWSWATCH, "--help"], "newswatch rules check": [*NEWSWATCH, "rules", "check"]}
    return {name: statistics.median(timed(command, env, ROOT)[0] for _ in range(5)) for name, command in commands.items()}


def span(values: list[float], unit: str, digits: int = 1) -> str:
    """'a – b unit' over the passes (or one value)."""
    low, high = min(values), max(values)
    return f"{low:.{digits}f} {unit}" if round(low, digits) == round(high, digits) else f"{low:.{digits}f} – {high:.{digits}f} {unit}"


def main() -> None:
    """Print the figures: PASSES interleaved passes of each tool on one fresh feed server each."""
    ours: list[dict[str, tuple[float, float]]] = []
    theirs: list[dict[str, tuple[float, float]]] = []
    floors: list[float] = []
    for _ in range(PASSES):
        server, base = feedserver_proc.start(items=ITEMS)
        try:
            ours.append(newswatch_polls(base))
            boat = newsboat_polls(base)
            if boat is not None:
                theirs.append(boat)
            floors.append(asyncio.run(floor(base)))
        finally:
            server.kill()
    print(f"the whole process ({FEEDS:,} feeds x {ITEMS} items with HTML descriptions, 127.0.0.1, {PASSES} passes)")
    print(f"  {'':34} {'newswatch poll --once':>24} {'newsboat -x reload':>22}")
    for kind in ("cold", "unchanged"):
        boat_time = span([t[kind][0] for t in theirs], "s") if theirs else "not installed"
        print(f"  {kind + ' poll':34} {span([o[kind][0] for o in ours], 's'):>24} {boat_time:>22}")
    ours_rss = [max(o["cold"][1], o["unchanged"][1]) for o in ours]
    boat_rss = span([max(t["cold"][1], t["unchanged"][1]) for t in theirs], "MB", 0) if theirs else "-"
    print(f"  {'peak RSS (process and workers)':34} {span(ours_rss, 'MB', 0):>24} {boat_rss:>22}")
    print(f"  floor: a bare aiohttp client's 1,000 conditional GETs: {span(floors, 's', 2)}")
    for name, seconds in startup().items():
        print(f"  start-up, {name}: {seconds:.2f} s (median of 5)")


if __name__ == "__main__":
    main()
