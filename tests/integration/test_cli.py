"""The command line in real subprocesses: poll --once, run + SIGTERM, rules check/test, matches."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import trustme

from service.storage import db, schema
from tests.conftest import FIXTURES, ROOT, seed_entries, write_config
from tests.support.feedgen import rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import TOKEN, SlackServer


def env(config: Path, database_url: str, slack: SlackServer | None = None, **extra: str) -> dict[str, str]:
    """A clean environment for the CLI."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSWATCH_", "SLACK_"))}
    base |= {"NEWSWATCH_CONFIG_DIR": str(config), "NEWSWATCH_DATABASE_URL": database_url, "NEWSWATCH_HTTP_PORT": "0"}
    if slack is not None:
        base |= {"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": slack.url}
    return base | extra


async def newswatch(*args: str, environ: dict[str, str], timeout: float = 60, cwd: Path = ROOT) -> tuple[int, str, str]:
    """Run the CLI to completion (in `cwd`, the repository by default)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", *args, env=environ, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:  # timed out: leave no service behind
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode(), err.decode()


@contextlib.asynccontextmanager
async def service_run(
    environ: dict[str, str], stderr: int = asyncio.subprocess.DEVNULL, new_session: bool = False
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`newswatch run` in a subprocess (leading its own process group with `new_session`), killed on the way out if still running."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "run",
        env=environ,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=new_session,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_poll_once_delivers_and_exits_zero(tmp_path: Path, database_url: str, feeds: FeedServer, slack: SlackServer) -> None:
    url = feeds.serve("seeds.rss", rss(seed_entries()))
    config = write_config(tmp_path / "config", [{"id": "seeds", "url": url, "first_poll_alerts": "all", "max_age": "off"}])
    code, _, err = await newswatch("poll", "--once", environ=env(config, database_url, slack))
    assert code == 0, err
    assert len(slack.messages["vn-kh-border"]) == 2
    assert TOKEN not in err
    code, out, _ = await newswatch("matches", "--rule", "vn-kh-border", "--format", "json", environ=env(config, database_url))
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 2 and {r["status"] for r in rows} == {"sent"}
    code, _, _ = await newswatch("poll", "--once", environ=env(config, database_url, slack))
    assert code == 0 and len(slack.messages["vn-kh-border"]) == 2


async def test_poll_once_ends_with_its_workers_cleaned_up(tmp_path: Path, database_url: str, feeds: FeedServer) -> None:
    """`poll --once` ends without the interpreter's teardown, yet multiprocessing finds nothing of its to clean up after it."""
    url = feeds.serve("seeds.rss", rss(seed_entries()))
    config = write_config(tmp_path / "config", [{"id": "seeds", "url": url}])
    for _ in range(3):  # a first poll, then two with nothing new: each printed "leaked semaphore objects" before
        code, _, err = await newswatch("poll", "--once", environ=env(config, database_url))
        assert code == 0, err
        assert "resource_tracker" not in err and "leaked" not in err, err


async def test_poll_once_fetches_https_feeds_signed_by_an_authority_it_trusts(tmp_path: Path, database_url: str) -> None:
    """Fetches trust the system's authorities, or those of SSL_CERT_FILE as OpenSSL reads it: here a throwaway CA's."""
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    server = FeedServer()
    await server.start(tls=tls)
    try:
        url = server.serve("seeds.rss", rss(seed_entries()))
        config = write_config(tmp_path / "config", [{"id": "seeds", "url": url}])
        code, out, err = await newswatch("poll", "--once", environ=env(config, database_url, SSL_CERT_FILE=str(tmp_path / "ca.pem")))
        assert code == 0, err
        assert server.hits == {"seeds.rss": 1} and "(0 failed" in out + err, out + err
        code, out, err = await newswatch("poll", "--once", environ=env(config, database_url, SSL_CERT_FILE=str(ROOT / "pyproject.toml")))
        assert server.hits == {"seeds.rss": 1} and "(1 failed" in out + err, out + err  # not that CA: no request reached the server
    finally:
        await server.stop()


def shipped_config(tmp_path: Path) -> Path:
    """A copy of the shipped config folder (its demo feed, public feeds, rules and examples)."""
    config = tmp_path / "config"
    config.mkdir()
    for name in ("feeds.yaml", "rules.yaml"):
        (config / name).write_text((ROOT / "config" / name).read_text(encoding="utf-8"), encoding="utf-8")
    for folder in ("demo", "examples"):
        shutil.copytree(ROOT / "config" / folder, config / folder)
    return config


async def test_poll_once_without_network_or_slack_prints_alerts(tmp_path: Path, database_url: str) -> None:
    config = shipped_config(tmp_path)
    # the shipped public feeds point at hosts that do not resolve here: they must fail, not stop the run
    code, out, err = await newswatch("poll", "--once", environ=env(config, database_url, NEWSWATCH_FETCH_TIMEOUT="5"))
    assert code == 0, err
    assert out.count("━━ newswatch alert → console:demo") == 2
    assert "HÀ NỘI" in out or "Cambodia" in out


async def test_the_shipped_demo_feed_alerts_the_console_only_even_with_slack_configured(
    tmp_path: Path, database_url: str, slack: SlackServer
) -> None:
    """A container started with a real token and the shipped config must not post the demo articles to the desk."""
    config = shipped_config(tmp_path)
    environ = env(config, database_url, slack, NEWSWATCH_FETCH_TIMEOUT="5")
    code, out, err = await newswatch("poll", "--once", environ=environ)
    assert code == 0, err
    assert out.count("━━ newswatch alert → console:demo") == 2
    assert slack.all_messages() == [] and slack.requests == 0
    code, out, err = await newswatch("deliveries", "--format", "json", environ=environ)
    assert code == 0, err
    assert [(d["destination"], d["status"]) for d in map(json.loads, out.splitlines())] == [("console:demo", "sent")] * 2


async def test_sigterm_during_run_exits_zero_with_nothing_half_written(
    tmp_path: Path, database_url: str, feeds: FeedServer, slack: SlackServer
) -> None:
    fast = feeds.serve("seeds.rss", rss(seed_entries()))
    slow = feeds.serve("slow.rss", rss(seed_entries()), delay=2)
    config = write_config(
        tmp_path / "config",
        [
            {"id": "seeds", "url": fast, "first_poll_alerts": "all", "max_age": "off"},
            {"id": "slow", "url": slow, "first_poll_alerts": "all", "max_age": "off"},
        ],
    )
    port = free_port()
    async with service_run(env(config, database_url, slack, NEWSWATCH_HTTP_PORT=str(port)), stderr=asyncio.subprocess.PIPE) as proc:
        async with httpx.AsyncClient() as client:
            for _ in range(1200):  # up to 60 s on a loaded machine
                if slack.messages["vn-kh-border"] and feeds.hits.get("slow.rss"):
                    break
                await asyncio.sleep(0.05)
            health = await client.get(f"http://127.0.0.1:{port}/healthz")
        assert health.status_code == 200 and health.json()["scheduler"] == "running"
        proc.send_signal(signal.SIGTERM)  # the slow feed's poll is in flight
        _, err = await asyncio.wait_for(proc.communicate(), 10)
        assert proc.returncode == 0, err.decode()
    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as conn:
            counts = dict((await conn.execute(sa.text("SELECT feed_id, count(*) FROM items GROUP BY feed_id"))).all())
            orphans = (
                await conn.execute(
                    sa.text(
                        "SELECT count(*) FROM matches m WHERE m.suppressed IS NULL AND NOT EXISTS "
                        "(SELECT 1 FROM deliveries d WHERE d.item_id = m.item_id)"
                    )
                )
            ).scalar()
            leases = (
                await conn.execute(
                    sa.text(
                        "SELECT (SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL) + (SELECT count(*) FROM deliveries WHERE lease_owner IS NOT NULL)"
                    )
                )
            ).scalar()
    finally:
        await engine.dispose()
    assert counts == {"seeds": 2, "slow": 2}  # the in-flight poll finished within the grace period
    assert orphans == 0
    assert leases == 0  # a restarted process need not wait for its own leases to expire


async def test_rules_check_reports_problems_with_positions(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "feeds.yaml").write_text("feeds:\n  - id: a\n    url: https://example.org/a.rss\n", encoding="utf-8")
    (config / "rules.yaml").write_text(
        "destinations:\n  d: {type: console}\nrules:\n  - id: r\n    destinations: [nowhere]\n    match: {any: [border]}\n",
        encoding="utf-8",
    )
    code, out, _ = await newswatch("rules", "check", str(config), environ=env(config, "sqlite://"))
    assert code == 1
    assert out.strip() == f"{config / 'rules.yaml'}:5:20: undefined destination 'nowhere'"
    code, out, _ = await newswatch("rules", "check", environ=env(ROOT / "config", "sqlite://"))
    assert code == 0 and out.startswith("config OK")


async def test_rules_test_explains_matches_as_json(tmp_path: Path) -> None:
    seeds = sorted(str(p) for p in FIXTURES.glob("0*.txt"))
    code, out, err = await newswatch("rules", "test", *seeds, "--format", "json", environ=env(ROOT / "config", "sqlite://"))
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2
    for line in lines:
        assert {"id", "title", "link", "matches"} <= set(line)
        border = next(m for m in line["matches"] if m["rule"] == "vn-kh-border")
        assert "cambod*" in border["terms"] and any(t.startswith(("border", "demarca")) for t in border["terms"])


async def test_rules_replay_reports_what_current_rules_would_match_and_sends_nothing(
    tmp_path: Path, database_url: str, feeds: FeedServer, slack: SlackServer
) -> None:
    url = feeds.serve("seeds.rss", rss(seed_entries()))
    config = write_config(tmp_path / "config", [{"id": "seeds", "url": url, "first_poll_alerts": "all", "max_age": "off"}])
    code, _, err = await newswatch("poll", "--once", environ=env(config, database_url, slack))
    assert code == 0, err
    sent = len(slack.all_messages())
    rules = (config / "rules.yaml").read_text(encoding="utf-8")
    (config / "rules.yaml").write_text(rules.replace("    examples:\n", "    enabled: false\n    examples:\n", 1), encoding="utf-8")
    code, out, err = await newswatch("rules", "replay", "--since", "1d", "--format", "json", environ=env(config, database_url, slack))
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2 and all("vn-kh-border" in line["matched_then"] and "vn-kh-border" not in line["would_match"] for line in lines)
    assert len(slack.all_messages()) == sent


async def test_kill_9_during_delivery_loses_nothing_and_duplicates_at_most_the_message_in_flight(
    tmp_path: Path, database_url: str, feeds: FeedServer, slack: SlackServer
) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.support.feedgen import Entry

    now = datetime.now(UTC)
    entries = [
        Entry(f"k{i}", f"Cambodia border item {i}", f"https://example.org/k{i}", published=now - timedelta(minutes=i)) for i in range(6)
    ]
    url = feeds.serve("k.rss", rss(entries))
    rules = "destinations:\n  desk: {type: slack, channel: '#desk'}\nrules:\n  - id: r\n    destinations: [desk]\n    match: {all: [cambodia, border]}\n"
    config = write_config(tmp_path / "config", [{"id": "k", "url": url, "first_poll_alerts": "all"}])
    (config / "rules.yaml").write_text(rules, encoding="utf-8")
    environ = env(config, database_url, slack, NEWSWATCH_LEASE_SECONDS="2")
    slack.faults.answer_delay = 0.5  # every send is in flight for half a second
    async with service_run(environ) as proc:
        for _ in range(3000):  # up to 60 s: start-up, a poll and two paced sends take long on a loaded machine
            if len(slack.messages["desk"]) >= 2:
                break
            await asyncio.sleep(0.02)
        proc.kill()  # SIGKILL: no chance to finish or release anything
        await proc.wait()
    assert 2 <= len(slack.messages["desk"]) < 6
    slack.faults.answer_delay = 0
    while (held := await held_until(database_url)) is not None and held > datetime.now(UTC):  # what the dead process held runs out
        await asyncio.sleep(0.1)
    code, _, err = await newswatch("poll", "--once", environ=environ)
    assert code == 0, err
    texts = [m["text"] for m in slack.messages["desk"]]
    assert len(set(texts)) == 6  # nothing lost
    assert len(texts) - len(set(texts)) <= 1  # at most the message in flight was sent twice


async def test_feeds_command_reports_each_feed(tmp_path: Path, database_url: str, feeds: FeedServer) -> None:
    good = feeds.serve("good.rss", rss(seed_entries()))
    bad = feeds.serve("bad.rss", b"", status=503, headers={"Retry-After": "60"})
    # first_poll_alerts: all, so that the first poll's items are matched (a silent backlog is stored unmatched)
    config = write_config(tmp_path / "config", [{"id": "good", "url": good, "first_poll_alerts": "all"}, {"id": "bad", "url": bad}])
    code, _, err = await newswatch("poll", "--once", environ=env(config, database_url))
    assert code == 0, err
    code, out, _ = await newswatch("feeds", "--format", "json", environ=env(config, database_url))
    report = {r["id"]: r for r in map(json.loads, out.splitlines())}
    assert report["good"]["status"] == "ok" and report["good"]["items"] == 2 and report["good"]["conditional_get"] is True
    assert report["bad"]["status"] == "error" and report["bad"]["consecutive_failures"] == 1
    assert report["bad"]["last_error"] == "http_503: HTTP 503 Service Unavailable"
    code, out, _ = await newswatch("feeds", environ=env(config, database_url))
    good = next(line for line in out.splitlines() if line.startswith("good "))
    assert code == 0 and good.count(" UTC") == 2  # last success and next poll, each with its zone
    code, out, _ = await newswatch("matches", "--since", "1d", environ=env(config, database_url))
    assert code == 0 and all(" UTC " in line for line in out.splitlines()[::2]), out


async def test_rules_test_shows_where_khmer_and_thai_terms_matched_and_groups_lists_the_gazetteer(tmp_path: Path) -> None:
    khmer = tmp_path / "khmer.txt"
    khmer.write_text("កម្ពុជា និងវៀតណាមបានបោះបង្គោលព្រំដែនបាន៨៤ភាគរយ នៅខេត្តស្វាយរៀង។\n", encoding="utf-8")
    thai = tmp_path / "thai.txt"
    thai.write_text("ทหารไทยและกัมพูชาปะทะกันที่ชายแดนจังหวัดสุรินทร์\n", encoding="utf-8")
    code, out, err = await newswatch("rules", "test", str(khmer), str(thai), environ=env(ROOT / "config", "sqlite://"))
    assert code == 0, err
    assert "MATCH vn-kh-border" in out and "[ព្រំដែន]" in out
    assert "MATCH kh-th-border" in out and "[ชายแดน]" in out
    code, out, err = await newswatch("rules", "groups", "places.vn-kh.kh-gates", environ=env(ROOT / "config", "sqlite://"))
    assert code == 0, err
    assert out.startswith("@places.vn-kh.kh-gates (gazetteer): Bavet") and "បាវិត" in out
    code, _, err = await newswatch("rules", "groups", "nope", environ=env(ROOT / "config", "sqlite://"))
    assert code == 2 and "no term group named nope" in err


async def test_rules_test_reads_an_article_page_and_a_feed_with_its_articles(tmp_path: Path, feeds: FeedServer) -> None:
    from tests.integration.test_articles import feed_entry

    entry = feed_entry(feeds, "000_7a1b3c353e3e3acd")
    feed = feeds.serve("vns.rss", rss([entry]))
    environ = env(ROOT / "config", "sqlite://", NEWSWATCH_ARTICLE_PACE="0")
    code, out, err = await newswatch("rules", "test", entry.link, environ=environ)  # an article page, not a feed
    assert code == 0, err
    assert "article: " in out and "MATCH vn-kh-border" in out and "[demarcation]" in out
    code, out, err = await newswatch("rules", "test", feed, "--no-articles", environ=environ)  # the feed alone: title and lead
    assert code == 0 and "no rule matches" in out and "article: never (--no-articles; the feed says auto)" in out, err
    code, out, err = await newswatch("rules", "test", feed, environ=environ)  # a feed not in feeds.yaml: as a new feed, `article: auto`
    assert code == 0 and "matched in the article: " in out and "→ border-desk: alert (vn-kh-border)" in out, err
    code, out, err = await newswatch("rules", "test", feed, "--articles", "--format", "json", environ=environ)
    assert code == 0, err
    [line] = [json.loads(x) for x in out.splitlines()]
    assert line["article"]["status"] == "fetched" and line["article"]["chars"] > 2000
    border = next(m for m in line["matches"] if m["rule"] == "vn-kh-border")
    assert any(e["fields"] == ["article"] for e in border["explain"])
    code, out, err = await newswatch("rules", "test", feed, "--articles", environ=environ)
    assert "matched in the article: " in out and "[demarcation]" in out


def descendants(pid: int) -> set[int]:
    """The pids of `pid`'s children, their children, and so on (from /proc)."""
    found: set[int] = set()
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as children:
                    kids = {int(c) for c in children.read().split()}
            except FileNotFoundError:
                continue
            stack.extend(kids - found)
            found |= kids
    return found


async def test_kill_9_of_the_service_leaves_no_parse_worker_behind(tmp_path: Path, feeds: FeedServer) -> None:
    url = feeds.serve("seeds.rss", rss(seed_entries()))
    config = write_config(tmp_path / "config", [{"id": "seeds", "url": url}])
    environ = env(config, f"sqlite:///{tmp_path}/nw.db", NEWSWATCH_PARSE_WORKERS="2")
    workers: set[int] = set()
    async with service_run(environ) as proc:
        for _ in range(1500):  # the pool starts its workers at the first parse
            workers = descendants(proc.pid)
            if len(workers) >= 2:  # a worker (the pool starts them as needed) and multiprocessing's resource tracker
                break
            await asyncio.sleep(0.02)
        proc.kill()  # SIGKILL: the service cannot shut its pool down
        await proc.wait()
    assert len(workers) >= 2, workers
    for _ in range(1500):
        alive = {pid for pid in workers if os.path.exists(f"/proc/{pid}") and "Z" not in _state(pid)}
        if not alive:
            break
        await asyncio.sleep(0.02)
    assert not alive, f"orphaned workers still running: {alive}"


async def test_ctrl_c_stops_the_service_and_its_parse_workers_without_a_traceback(tmp_path: Path, feeds: FeedServer) -> None:
    url = feeds.serve("seeds.rss", rss(seed_entries()))
    config = write_config(tmp_path / "config", [{"id": "seeds", "url": url}])
    database_url = f"sqlite:///{tmp_path}/nw.db"
    environ = env(config, database_url, NEWSWATCH_PARSE_WORKERS="1")
    async with service_run(environ, stderr=asyncio.subprocess.PIPE, new_session=True) as proc:
        # Once the first poll is stored, the worker has parsed it: it is past its start-up, where
        # a signal finds Python's own handlers (a Ctrl-C in that first moment still shows there).
        for _ in range(1200):  # up to 60 s on a loaded machine
            if await stored_items(database_url) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(descendants(proc.pid)) >= 2  # the worker and multiprocessing's resource tracker
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground process group
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode() and "KeyboardInterrupt" not in err.decode(), err.decode()


async def held_until(database_url: str) -> Any:
    """When the last lease on a pending delivery, or on a channel's send in flight, runs out (None if none is held)."""
    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as conn:
            leases = sa.select(sa.func.max(schema.deliveries.c.lease_until)).where(schema.deliveries.c.status == "pending")
            sends = sa.select(sa.func.max(schema.pacing.c.busy_until))
            ends = [(await conn.execute(query)).scalar() for query in (leases, sends)]
    finally:
        await engine.dispose()
    return max((e for e in ends if e is not None), default=None)


async def stored_items(database_url: str) -> int:
    """How many items the database holds (0 before the service has created it)."""
    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(sa.text("SELECT count(*) FROM items"))).scalar_one())
    except sa.exc.OperationalError:  # no such table yet
        return 0
    finally:
        await engine.dispose()


def _state(pid: int) -> str:
    """A process's state letter from /proc (Z: a zombie, already dead), or '' once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "Z"
