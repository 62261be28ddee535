"""A hostile article page is stopped at its time, worker and all; other feeds' pages and Slack never wait behind it.

trafilatura's extraction grows with the square of a page's inline elements: the page below
(40,000 bold words, 360 KB) keeps a core busy for about a minute. Its worker is killed when
the page's budget runs out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.storage.schema import items
from tests.conftest import AppFactory, write_config
from tests.integration.test_interactions import LOOPBACK_IS_PUBLIC, RULES, command, until
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import APP_TOKEN, SlackServer

HOSTILE = b"<html><body><article><p>" + b"<b>border</b> " * 40_000 + b"</p></article></body></html>"
PLAIN = b"<html><body><article><p>" + b"Officials walked the border and planted markers. " * 20 + b"</p></article></body></html>"
BUDGET = 8.0  # seconds a page may take: long for a plain page on a busy machine, an eighth of the hostile page's work


@pytest.fixture
async def other_site() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    await server.start()
    yield server
    await server.stop()


def gone(pid: int) -> bool:
    """The process no longer runs (reaped, or a zombie waiting to be)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


async def test_a_hostile_page_is_stopped_with_its_worker_and_another_feeds_page_is_extracted(
    tmp_path: Path, feeds: FeedServer, other_site: FeedServer, make_app: AppFactory
) -> None:
    html = {"content_type": "text/html", "validators": False}
    hostile = feeds.serve("hostile.html", HOSTILE, **html)
    plain = other_site.serve("plain.html", PLAIN, **html)
    config = []
    for name, server, link in (("hostile", feeds, hostile), ("plain", other_site, plain)):
        url = server.serve(f"{name}.rss", rss([Entry(name, f"{name}: border news", link, "Officials met.")]))
        config.append({"id": name, "url": url, "first_poll_alerts": "all", "max_age": "off", "article": "always"})
    write_config(tmp_path / "config", config, {**RULES, "destinations": {"desk": {"type": "console"}}})
    app = await make_app(parse_workers=1, article_pace=0.0, article_timeout=BUDGET)  # one parse worker, as on two cores
    assert app.pages is not None
    await app.poll_once()
    async with app.engine.connect() as conn:
        stored = {r.feed_id: r for r in await conn.execute(sa.select(items))}
    assert stored["hostile"].article_status == "timeout", stored["hostile"].article_detail
    assert stored["hostile"].article_detail == f"no article within {BUDGET:g} s (its extraction was stopped)"
    assert stored["plain"].article_status == "fetched", stored["plain"].article_detail  # it did not wait behind the hostile page
    assert app.pages.stopped == 1
    [killed] = app.pages.killed
    await until(lambda: gone(killed))  # the work itself stopped, not only the wait for it

    # The site's next page is extracted by a new worker.
    later = feeds.serve("later.html", PLAIN, **html)
    feeds.serve("hostile.rss", rss([Entry("later", "later: border news", later, "Officials met.")]))
    await app.poll_once()
    async with app.engine.connect() as conn:
        status = (await conn.execute(sa.select(items.c.article_status).where(items.c.guid == "later"))).scalar_one()
    assert status == "fetched"


async def test_newswatch_test_of_a_hostile_page_is_stopped_in_a_worker_and_slack_is_answered_meanwhile(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    page = feeds.serve("hostile.html", HOSTILE, content_type="text/html", validators=False)
    write_config(tmp_path / "config", [], RULES)
    app = await make_app(slack_app_token=APP_TOKEN, guard=LOOPBACK_IS_PUBLIC, article_timeout=BUDGET)
    assert app.interactions is not None and app.pages is not None
    await app.interactions.start()
    testing = asyncio.ensure_future(command(slack, f"test {page}"))
    await until(lambda: feeds.hits.get("hostile.html") == 1)
    assert (await command(slack, "status")).startswith("No feed is failing.")  # answered while the page is read
    answer = await testing
    assert answer == f"Could not read {page}: reading it took longer than {BUDGET:g} s; it was stopped"
    assert app.pages.stopped == 1 and slack.missed_acks == []
