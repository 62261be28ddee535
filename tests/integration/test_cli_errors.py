"""User errors on the command line: one line that says what to do, exit code 2, never a traceback."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import POSTGRES_URL, ROOT, write_config
from tests.integration.test_cli import env, newswatch
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import SlackServer

RULES = {
    "destinations": {"desk": {"type": "console"}},
    "rules": [{"id": "border", "destinations": ["desk"], "match": {"any": ["border"]}}],
}
READ_ONLY = [["feeds"], ["deliveries"], ["matches"], ["mutes"], ["feedback"], ["rules", "stats"], ["rules", "replay"]]


def one_line(err: str) -> str:
    """The one line a user error prints (and no traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["mute", "border", "--for", "soon"],
        ["matches", "--since", "bogus"],
        ["feedback", "--since", "1y"],
        ["rules", "replay", "--since", "1y"],
        ["rules", "stats", "--since", "yesterday"],
    ],
    ids=lambda args: "-".join(args[:2]),
)
async def test_a_bad_duration_is_one_line_with_exit_code_2(tmp_path: Path, args: list[str]) -> None:
    config = write_config(tmp_path / "config", [], RULES)
    code, _, err = await newswatch(*args, environ=env(config, f"sqlite:///{tmp_path}/nw.db"))
    assert code == 2
    line = one_line(err)
    assert line.startswith("newswatch ") and "is not a duration: use seconds or 90s, 10m, 1h, 1d, 1w" in line and "--help" in line
    assert not (tmp_path / "nw.db").exists()


async def test_weeks_are_durations(tmp_path: Path, database_url: str) -> None:
    environ = env(write_config(tmp_path / "config", [], RULES), database_url)
    assert (await newswatch("db", "upgrade", environ=environ))[0] == 0
    code, out, err = await newswatch("mute", "border", "--for", "1w", environ=environ)
    assert code == 0 and out.startswith("muted rule border until"), err
    code, out, err = await newswatch("matches", "--since", "2w", environ=environ)
    assert code == 0 and out.strip() == "no matches in that period", err


@pytest.mark.parametrize("command", [*READ_ONLY, ["mute", "border", "--for", "1h"]], ids=lambda c: "-".join(c))
async def test_a_command_run_from_another_folder_creates_no_database_and_says_which_it_looked_for(
    tmp_path: Path, command: list[str]
) -> None:
    config = write_config(tmp_path / "config", [], RULES)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, _, err = await newswatch(*command, environ=env(config, "sqlite:///./data/newswatch.db"), cwd=elsewhere)
    assert code == 2
    assert one_line(err).startswith(f"newswatch: no database at {elsewhere / 'data' / 'newswatch.db'}")
    assert list(elsewhere.iterdir()) == []  # not even its folder


async def test_a_read_only_command_on_a_postgresql_schema_without_tables_leaves_it_empty(tmp_path: Path, postgres_url: str) -> None:
    config = write_config(tmp_path / "config", [], RULES)
    code, _, err = await newswatch("feeds", environ=env(config, postgres_url))
    assert code == 2 and "has no newswatch tables yet: start the service once" in one_line(err)
    schema = postgres_url.split("search_path=")[1]
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        assert await conn.fetchval("SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", schema) == 0
    finally:
        await conn.close()


def _missing_schema() -> str:
    return POSTGRES_URL.replace("postgres@", "postgres:s3cret@", 1) + f"?search_path=nw_missing_{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (_missing_schema(), "does not exist yet in postgresql://postgres:***@"),
        ("postgresql://postgres:s3cret@127.0.0.1:1/test", "cannot reach the database at postgresql://postgres:***@127.0.0.1:"),
        ("mysql://newswatch:s3cret@127.0.0.1/newswatch", "names a mysql database (mysql://newswatch:***@127.0.0.1/newswatch)"),
        ("postgresql://postgres:s3cret@127.0.0.1:5432/nw_no_such_database", "PostgreSQL has no such database"),
        ("not a url", "is not a database URL: use sqlite:///PATH or postgresql://"),
    ],
    ids=["missing-schema", "unreachable", "mysql", "no-database", "not-a-url"],
)
@pytest.mark.parametrize("command", [["db", "upgrade"], ["feeds"], ["poll", "--once"], ["run"]], ids=lambda c: c[0])
async def test_a_database_that_cannot_be_used_is_one_line_naming_it_without_its_password(
    tmp_path: Path, url: str, says: str, command: list[str]
) -> None:
    config = write_config(tmp_path / "config", [], RULES)
    code, _, err = await newswatch(*command, environ=env(config, url, NEWSWATCH_HTTP_PORT="0"), timeout=120)
    assert code == 2
    line = one_line([x for x in err.splitlines() if x.startswith("newswatch")][-1] if command == ["run"] else err)
    assert says in line and "s3cret" not in err
    if "does not exist yet" in line:
        assert 'CREATE SCHEMA "nw_missing_' in line


async def test_rules_check_given_a_file_asks_for_the_folder(tmp_path: Path) -> None:
    environ = env(ROOT / "config", "sqlite://")
    code, _, err = await newswatch("rules", "check", "config/rules.yaml", environ=environ)
    assert code == 2
    assert one_line(err) == (
        "newswatch: config/rules.yaml is a file: give the config folder, the one that holds feeds.yaml and rules.yaml (such as config)"
    )
    code, _, err = await newswatch("rules", "check", environ=environ | {"NEWSWATCH_CONFIG_DIR": str(tmp_path / "nowhere")})
    assert code == 2 and one_line(err).startswith(f"newswatch: there is no folder {tmp_path / 'nowhere'}")
    assert (await asyncio.wait_for(newswatch("rules", "check", "config", environ=environ), 60))[0] == 0


async def test_a_second_service_beside_the_first_stops_at_once_saying_why(tmp_path: Path, feeds: FeedServer) -> None:
    import socket

    url = feeds.serve("f.rss", rss([Entry("a", "border news", "https://example.org/a")]))
    config = write_config(tmp_path / "config", [{"id": "f", "url": url}], RULES)
    with socket.socket() as first:  # the first service's health server holds the port
        first.bind(("127.0.0.1", 0))
        first.listen()
        port = first.getsockname()[1]
        environ = env(config, f"sqlite:///{tmp_path}/nw.db", NEWSWATCH_HTTP_PORT=str(port))
        code, _, err = await newswatch("run", environ=environ, timeout=120)
    assert code == 2
    [line] = [x for x in err.splitlines() if x.startswith("newswatch:")]
    assert line.startswith(f"newswatch: the health server cannot listen on 127.0.0.1:{port}") and "already running" in line
    assert "Traceback" not in err
    assert feeds.hits.get("f.rss") is None  # it stopped before polling anything


async def test_retry_of_an_unknown_or_sent_delivery_says_so_with_exit_code_2(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, database_url: str
) -> None:
    url = feeds.serve("f.rss", rss([Entry("a", "border news", "https://example.org/a")]))
    rules = {"destinations": {"desk": {"type": "slack", "channel": "#desk"}}, "rules": RULES["rules"]}
    environ = env(write_config(tmp_path / "config", [{"id": "f", "url": url, "first_poll_alerts": "all"}], rules), database_url, slack)
    assert (await newswatch("poll", "--once", environ=environ))[0] == 0
    code, out, err = await newswatch("deliveries", "retry", "999", environ=environ)
    assert code == 2 and out == "" and one_line(err) == "newswatch: no delivery 999: `newswatch deliveries` lists them with their ids"
    code, out, err = await newswatch("deliveries", "retry", "1", "999", environ=environ)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "newswatch: no delivery 999: `newswatch deliveries` lists them with their ids",
        "newswatch: delivery 1 was sent already; not re-queued",
    ]
    assert len(slack.messages["desk"]) == 1


async def test_an_unknown_rule_is_warned_about(tmp_path: Path, database_url: str) -> None:
    environ = env(write_config(tmp_path / "config", [], RULES), database_url)
    assert (await newswatch("db", "upgrade", environ=environ))[0] == 0
    for command in (["matches"], ["feedback"], ["rules", "replay"]):
        code, _, err = await newswatch(*command, "--rule", "nope", environ=environ)
        assert code == 0, err
        assert one_line(err) == "newswatch: warning: rules.yaml has no rule 'nope' (its rules: border)", command
        code, _, err = await newswatch(*command, "--rule", "border", environ=environ)
        assert code == 0 and err == "", err
