"""The whole process, as a user runs it: `newswatch poll --once` cold, unchanged and steady, beside newsboat and a floor.

A feed server in its own process on 127.0.0.1 serves 1,000 feeds of 20 items whose
descriptions are ~800 characters of HTML (a linked photo and a paragraph, the shape of real
news feeds), with ETag, 304 and gzip. `newswatch poll --once` runs as a subprocess with the
default settings, the shipped rules, a fresh SQLite file, and one override: feeds.yaml lets
the feed server's host take 20 fetches at once (`hosts:`), since by default one host gets 2.
Each figure is the whole process: interpreter start, imports, config, database, poll, exit.
Three polls per tool: cold (everything new), unchanged (every feed answers 304) and steady
(5 % of the feeds gained one item since the last poll). Wall time, CPU time (user + system of
the process and the workers it waited for) and peak RSS (the sum over the process and its
parse workers, sampled every 20 ms).

Beside it, on the same server in the same run: newsboat (16 reload threads) when installed,
and the floor, `bench/floor_poller.py`: a minimal careful poller (aiohttp, feedparser in
worker processes, sqlite3) that stores new items and does nothing else.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench import feedserver_proc

ROOT = Path(__file__).resolve().parent.parent
FEEDS, ITEMS = 1_000, 20
PASSES = int(os.environ.get("BENCH_PASSES", "2"))  # passes per run; `make bench` takes two
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


Figures = tuple[float, float, float]  # wall seconds, peak RSS in MB, CPU seconds


def cpu_of_children() -> float:
    """User and system seconds of every child process waited for so far (and of the children they waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Figures:
    """Run `command` to completion; return its seconds, the peak RSS (MB) of its process tree and its CPU seconds."""
    cpu = cpu_of_children()
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
    return seconds, peak[0] / 1e6, cpu_of_children() - cpu


def newswatch_env(workdir: Path) -> dict[str, str]:
    """Default settings, this run's config folder and SQLite file, no Slack; bytecode cached, as an installed package has it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSWATCH_", "SLACK_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env["NEWSWATCH_CONFIG_DIR"] = str(workdir / "config")
    env["NEWSWATCH_DATABASE_URL"] = f"sqlite:///{workdir}/newswatch.db"
    return env


def three_polls(base: str, command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, Figures]:
    """Cold, unchanged, then steady (after 5 % of the feeds gained an item) runs of one poller."""
    cold, unchanged = timed(command, env, cwd), timed(command, env, cwd)
    httpx.get(f"{base}/grow?every=20").raise_for_status()
    return {"cold": cold, "unchanged": unchanged, "steady": timed(command, env, cwd)}


def newswatch_polls(base: str) -> dict[str, Figures]:
    """`poll --once` on a fresh database."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        write_config(workdir / "config", base)
        return three_polls(base, [*NEWSWATCH, "poll", "--once"], newswatch_env(workdir))


def newsboat_polls(base: str) -> dict[str, Figures] | None:
    """`newsboat -x reload` (16 threads), or None where newsboat is not installed."""
    binary = shutil.which("newsboat")
    if binary is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "urls").write_text("\n".join(urls(base)) + "\n", encoding="utf-8")
        (workdir / "config").write_text("reload-threads 16\n", encoding="utf-8")
        command = [binary, "-x", "reload", "-u", str(workdir / "urls"), "-c", str(workdir / "cache.db"), "-C", str(workdir / "config")]
        return three_polls(base, command, {**os.environ, "HOME": str(workdir)}, workdir)


def floor_polls(base: str) -> dict[str, Figures]:
    """The minimal poller of `bench/floor_poller.py`."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "urls").write_text("\n".join(urls(base)) + "\n", encoding="utf-8")
        return three_polls(base, [sys.executable, "-m", "bench.floor_poller", str(workdir / "urls"), str(workdir / "floor.db")], cwd=ROOT)


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


TOOLS = ("newswatch poll --once", "newsboat -x reload", "floor poller")


def main() -> None:
    """Print the figures: PASSES passes, each tool in turn on one fresh feed server per pass."""
    runs: dict[str, list[dict[str, Figures]]] = {tool: [] for tool in TOOLS}
    for _ in range(PASSES):
        server, base = feedserver_proc.start(items=ITEMS)
        try:
            runs[TOOLS[0]].append(newswatch_polls(base))
            boat = newsboat_polls(base)
            if boat is not None:
                runs[TOOLS[1]].append(boat)
            runs[TOOLS[2]].append(floor_polls(base))
        finally:
            server.kill()
    print(f"the whole process ({FEEDS:,} feeds x {ITEMS} items with HTML descriptions, 127.0.0.1, {PASSES} passes; wall / CPU)")
    print(f"  {'':24}" + "".join(f"{tool:>32}" for tool in TOOLS))
    for kind in ("cold", "unchanged", "steady"):
        cells = [_cell(runs[tool], kind) for tool in TOOLS]
        print(f"  {kind + ' poll':24}" + "".join(f"{cell:>32}" for cell in cells))
    rss = [span([max(r[k][1] for k in r) for r in runs[tool]], "MB", 0) if runs[tool] else "-" for tool in TOOLS]
    print(f"  {'peak RSS':24}" + "".join(f"{cell:>32}" for cell in rss))
    for name, seconds in startup().items():
        print(f"  start-up, {name}: {seconds:.2f} s (median of 5)")


def _cell(runs: list[dict[str, Figures]], kind: str) -> str:
    """'wall / cpu' over the passes, or 'not installed'."""
    if not runs:
        return "not installed"
    return f"{span([r[kind][0] for r in runs], 's', 2)} / {span([r[kind][2] for r in runs], 's', 1)}"


if __name__ == "__main__":
    main()
