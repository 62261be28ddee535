"""One hostile item never fails another item or its feed: malformed links, pages and robots.txt that misbehave.

Every item of the feed below names the border in its title, so each one is matched (to alert)
on what the feed carried whatever became of its page; the feed's poll succeeds; each item says why its
page gave nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from service.storage.schema import feeds as feeds_table
from service.storage.schema import items, matches
from tests.conftest import AppFactory, write_config
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import SlackServer

RULES = {
    "destinations": {"desk": {"type": "console"}},
    "rules": [{"id": "b", "destinations": ["desk"], "match": {"any": ["border"]}}],
}
PAGE = b"<html><body><article><p>" + b"Officials walked the border. " * 30 + b"</p></article></body></html>"


class RawServer:
    """Answers every connection with the same bytes, whatever was asked: for answers no HTTP library would send."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.url = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(self.answer)
                await writer.drain()
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self._server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


TOO_MANY_HEADERS = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(500)) + b"Content-Length: 0\r\n\r\n"
HEADER_TOO_LONG = b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 20_000 + b"\r\nContent-Length: 0\r\n\r\n"
NOT_HTTP = b"SSH-2.0-OpenSSH_9.6\r\n\r\n"


@pytest.fixture
async def servers() -> AsyncIterator[dict[str, Any]]:
    """Extra origins: each robots.txt case needs a host of its own, each raw answer a server of its own."""
    started: dict[str, Any] = {}
    for name in ("robots-data", "robots-javascript", "robots-mailto"):
        server = FeedServer()
        await server.start()
        started[name] = server
    for name, answer in (("too-many-headers", TOO_MANY_HEADERS), ("header-too-long", HEADER_TOO_LONG), ("not-http", NOT_HTTP)):
        raw = RawServer(answer)
        await raw.start()
        started[name] = raw
    yield started
    for server in started.values():
        await server.stop()


def cases(feeds: FeedServer, servers: dict[str, Any]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (the item's link, what its stored article status and detail may say)."""
    redirect = {"status": 302, "validators": False}
    for scheme, target in (("data", "data:text/html,<p>hi</p>"), ("javascript", "javascript:alert(1)"), ("mailto", "mailto:a@b.example")):
        feeds.serve(f"redirect-{scheme}.html", b"", headers={"Location": target}, **redirect)
        robots = servers[f"robots-{scheme}"]
        robots.serve("robots.txt", b"", headers={"Location": target}, **redirect)
        robots.serve("page.html", PAGE, content_type="text/html", validators=False)
    feeds.serve("many-headers.html", PAGE, content_type="text/html", validators=False, headers={f"X-H{i}": "v" for i in range(200)})
    feeds.serve("long-header.html", PAGE, content_type="text/html", validators=False, headers={"X-Long": "a" * 20_000})
    return {
        "bad-ipv6": ("http://[::1/news/1", ("disabled", "the feed's link is malformed")),
        "bad-port": ("http://127.0.0.1:99999/news/2", ("disabled", "the feed's link is malformed")),
        "empty-label": ("http://news..example/4", ("disabled", "the feed's link has no valid host")),
        "bad-idna": ("http://xn--/news/3", ("failed", "invalid_url")),
        "redirect-data": (feeds.url("redirect-data.html"), ("failed", "redirect")),
        "redirect-javascript": (feeds.url("redirect-javascript.html"), ("failed", "redirect")),
        "redirect-mailto": (feeds.url("redirect-mailto.html"), ("failed", "redirect")),
        "robots-data": (servers["robots-data"].url("page.html"), ("fetched", "extracted")),
        "robots-javascript": (servers["robots-javascript"].url("page.html"), ("fetched", "extracted")),
        "robots-mailto": (servers["robots-mailto"].url("page.html"), ("fetched", "extracted")),
        "page-too-many-headers": (feeds.url("many-headers.html"), ("failed", "bad_response: malformed HTTP answer: Too many headers")),
        "page-header-too-long": (
            feeds.url("long-header.html"),
            ("failed", "bad_response: malformed HTTP answer: a header line is too long"),
        ),
        # these servers answer robots.txt the same way: the page is not asked for now
        "robots-too-many-headers": (servers["too-many-headers"].url + "/page.html", ("blocked", "robots.txt could not be read")),
        "robots-header-too-long": (servers["header-too-long"].url + "/page.html", ("blocked", "a header line is too long")),
        "robots-not-http": (servers["not-http"].url + "/page.html", ("blocked", "malformed HTTP answer")),
    }


CASES = [
    "bad-ipv6",
    "bad-port",
    "empty-label",
    "bad-idna",
    "redirect-data",
    "redirect-javascript",
    "redirect-mailto",
    "robots-data",
    "robots-javascript",
    "robots-mailto",
    "page-too-many-headers",
    "page-header-too-long",
    "robots-too-many-headers",
    "robots-header-too-long",
    "robots-not-http",
]


@pytest.mark.parametrize("case", CASES)
async def test_no_link_page_or_robots_txt_of_one_item_fails_the_feed_or_another_item(
    tmp_path: Path, feeds: FeedServer, servers: dict[str, Any], make_app: AppFactory, case: str
) -> None:
    link, (status, reason) = cases(feeds, servers)[case]
    good = feeds.serve("good.html", PAGE, content_type="text/html", validators=False)
    entries = [Entry("urn:hostile", "hostile: border talks", link, "Officials met."), Entry("urn:good", "good: border talks", good, "Met.")]
    url = feeds.serve("hostile.rss", rss(entries))
    feed = {"id": "hostile", "url": url, "first_poll_alerts": "all", "max_age": "off", "article": "always"}
    write_config(tmp_path / "config", [feed], RULES)
    app = await make_app(article_pace=0.0, article_timeout=10.0)
    await app.poll_once()
    async with app.engine.connect() as conn:
        row = (await conn.execute(sa.select(feeds_table))).one()
        stored = {r.title.split(":")[0]: r for r in await conn.execute(sa.select(items))}
        matched = {r.item_id for r in await conn.execute(sa.select(matches.c.item_id).where(matches.c.suppressed.is_(None)))}
    assert (row.status, row.consecutive_failures, row.last_error) == ("ok", 0, None)
    assert sorted(stored) == ["good", "hostile"]  # both items stored...
    assert matched == {r.id for r in stored.values()}  # ...and matched, to alert, on what the feed carried
    hostile = stored["hostile"]
    assert (hostile.article_status, stored["good"].article_status) == (status, "fetched"), hostile.article_detail
    assert reason in (hostile.article_detail or ""), hostile.article_detail
    assert "unexpected" not in (hostile.article_detail or ""), hostile.article_detail
    if status == "disabled":
        assert hostile.link == ""  # a malformed link is never stored, shown or fetched


async def test_an_item_with_a_very_long_link_and_spoofing_title_still_alerts_in_slack(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    from service.storage.schema import deliveries

    link = "https://news.example.org/" + "section/" * 700 + "story.html"  # 5,600 characters
    title = "\u202egpj.exe\u202c border \x1b[2J news"
    url = feeds.serve("long.rss", rss([Entry("long", title, link, "Officials met at the border.")]))
    rules = {
        "destinations": {"desk": {"type": "slack", "channel": "#desk"}},
        "rules": [{"id": "b", "destinations": ["desk"], "match": {"any": ["border"]}}],
    }
    write_config(tmp_path / "config", [{"id": "long", "url": url, "first_poll_alerts": "all", "max_age": "off", "article": "never"}], rules)
    app = await make_app()
    await app.poll_once()
    async with app.engine.connect() as conn:
        [delivery] = list(await conn.execute(sa.select(deliveries)))
    assert (delivery.status, delivery.last_error) == ("sent", None)
    [message] = slack.messages["desk"]
    shown = repr(message["blocks"]) + message["text"]
    assert "news.example.org/section/section/" in shown and link not in shown  # shortened, its host visible
    assert "\u202e" not in shown and "\x1b" not in shown and "gpj.exe border" in shown


async def test_cli_listings_never_send_feed_content_raw_to_the_terminal(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory, database_url: str
) -> None:
    import json

    from tests.integration.test_cli import env, newswatch

    title = "\x1b]0;owned\x07\x1b[2J\u202egpj.exe border \x9b31m news"
    entry = Entry("hostile", title, feeds.url("a.html"), "At the border.")
    path = tmp_path / "hostile.rss"
    path.write_bytes(rss([entry]))
    feed = {"id": "hostile", "url": feeds.serve("hostile.rss", rss([entry])), "first_poll_alerts": "all", "max_age": "off"}
    config = write_config(tmp_path / "config", [feed], {**RULES, "destinations": {"desk": {"type": "slack_webhook"}}})
    app = await make_app()
    await app.poll_once()  # the webhook is unset: the alert is printed to a console instead
    environ = env(config, database_url)
    outputs = {}
    for command in (["matches"], ["matches", "--format", "json"], ["deliveries"], ["rules", "test", str(path)], ["rules", "replay"]):
        code, out, err = await newswatch(*command, environ=environ)
        assert code == 0, err
        outputs[" ".join(command)] = out
    for command, out in outputs.items():
        assert not any(c in out for c in "\x1b\x07\x9b\u202e"), command
        assert "\\u202egpj.exe border" in out, command  # made visible, not hidden
    [line] = outputs["matches --format json"].splitlines()
    assert json.loads(line)["title"].startswith("\x1b]0;owned")  # the JSON is still exact
