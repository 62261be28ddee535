"""Broken and hostile feeds, one fixture file each, through the whole pipeline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from service.storage.schema import feeds as feeds_table
from service.storage.schema import items
from tests.conftest import FIXTURES, AppFactory, write_config
from tests.support.feedserver import FeedServer
from tests.support.slackserver import SlackServer

BAD = FIXTURES / "feeds" / "bad"
RULES = {
    "destinations": {"desk": {"type": "slack", "channel": "#desk"}},
    "rules": [{"id": "b", "destinations": ["desk"], "match": {"any": ["border"]}}],
}
CONTENT_TYPES = {".xml": "application/rss+xml", ".json": "application/feed+json", ".html": "text/html; charset=utf-8"}


async def poll(tmp_path: Path, feeds: FeedServer, make_app: AppFactory, name: str) -> tuple[Any, list[Any], Any]:
    """Serve one fixture, poll it once, return the app, the stored items and the feed row."""
    path = BAD / name
    url = feeds.serve(f"feeds/{name}", path.read_bytes(), content_type=CONTENT_TYPES[path.suffix])
    write_config(tmp_path / "config", [{"id": "bad", "url": url, "first_poll_alerts": "all", "max_age": "off"}], RULES)
    app = await make_app()
    await app.poll_once()
    return app, *(await state(app))


async def state(app: Any) -> tuple[list[Any], Any]:
    async with app.engine.connect() as conn:
        stored = list(await conn.execute(sa.select(items).order_by(items.c.id)))
        feed = (await conn.execute(sa.select(feeds_table))).one()
    return stored, feed


def titles(rows: list[Any]) -> list[str]:
    return [r.title for r in rows]


CASES: dict[str, Callable[[list[Any], Any, SlackServer], None]] = {
    "01-declared-latin1-bytes-utf8.xml": lambda rows, feed, slack: titles(rows) == ["Việt Nam và Campuchia bàn về biên giới"],
    "02-declared-utf8-bytes-cp1252.xml": lambda rows, feed, slack: titles(rows) == ["Café owners at the Cambodia border crossing – “busy”"],
    "03-malformed-recoverable.xml": lambda rows, feed, slack: len(rows) >= 1 and feed.last_warning and feed.status == "ok",
    "04-billion-laughs.xml": lambda rows, feed, slack: all(len(r.title) < 200 for r in rows) and feed.last_error is None,
    "05-external-entity.xml": lambda rows, feed, slack: all("root:" not in r.title + r.summary for r in rows),
    "06-missing-date.xml": lambda rows, feed, slack: rows[0].published_at is None and len(slack.messages["desk"]) == 1,
    "07-invalid-date.xml": lambda rows, feed, slack: rows[0].published_at is None and len(slack.messages["desk"]) == 1,
    "08-relative-links.xml": lambda rows, feed, slack: (
        rows[0].link.endswith("/news/2025/border") and rows[0].link.startswith("http://127.0.0.1")
    ),
    "09-html-content.xml": lambda rows, feed, slack: (
        rows[0].title == "Cambodia border & gates"
        and rows[0].summary == "Talks on the border resumed — officials said."
        and "javascript" not in repr(slack.messages["desk"])
    ),
    "10-duplicate-guids.xml": lambda rows, feed, slack: titles(rows) == ["Cambodia border first"],
    "12-no-guid-no-link.xml": lambda rows, feed, slack: len({r.key for r in rows}) == 2 and all(r.key.startswith("hash:") for r in rows),
    "13-huge-item.xml": lambda rows, feed, slack: len(rows) == 1 and len(rows[0].summary) <= 20_000 and len(slack.messages["desk"]) == 1,
    "14-empty.xml": lambda rows, feed, slack: rows == [] and feed.status == "ok" and feed.last_error is None,
    "15-html-page.html": lambda rows, feed, slack: rows == [] and feed.last_error.startswith("not_a_feed"),
    "16-json-feed.json": lambda rows, feed, slack: (
        titles(rows) == ["Cambodia border talks resume"] and rows[0].published_at.hour == 1 and len(slack.messages["desk"]) == 1
    ),
    "17-hostile-markup.xml": lambda rows, feed, slack: (
        "<!channel>" not in repr(slack.messages["desk"]) and "<http://evil" not in repr(slack.messages["desk"]) and rows[0].link == ""
    ),
    "18-binary-garbage.xml": lambda rows, feed, slack: rows == [] and feed.last_error.startswith("not_a_feed"),
    "19-atom-xhtml.xml": lambda rows, feed, slack: titles(rows) == ["Cambodia border"] and rows[0].summary == "Markers planted.",
}


@pytest.mark.parametrize("name", sorted(CASES))
async def test_bad_feed(tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, name: str) -> None:
    _, rows, feed = await poll(tmp_path, feeds, make_app, name)
    assert CASES[name](rows, feed, slack), (
        name,
        [(r.key, r.title, r.link, r.summary[:80]) for r in rows],
        feed.last_error,
        feed.last_warning,
    )


async def test_a_changed_guid_on_the_same_link_is_not_alerted_twice(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    app, rows, _ = await poll(tmp_path, feeds, make_app, "11a-guid-changes-before.xml")
    assert len(rows) == 1 and len(slack.messages["desk"]) == 1
    feeds.serve("feeds/11a-guid-changes-before.xml", (BAD / "11b-guid-changes-after.xml").read_bytes())
    await app.poll_once()
    rows, _ = await state(app)
    assert len(rows) == 1 and len(slack.messages["desk"]) == 1


def test_every_fixture_file_has_a_case() -> None:
    names = {p.name for p in BAD.iterdir()}
    assert names - set(CASES) == {"11a-guid-changes-before.xml", "11b-guid-changes-after.xml"}
    assert len(names) >= 15
