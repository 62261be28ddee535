"""Ingestion fidelity through the real CLI: regional dates and `timezone:` in the parse workers, reasons stored and shown."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from service.storage import db, schema
from tests.conftest import ROOT, AppFactory, write_config
from tests.integration.test_articles import configure
from tests.integration.test_articles import stored as stored_articles
from tests.integration.test_cli import env, newswatch
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import SlackServer

HANOI_FEED = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Tin</title>
<item><guid>a</guid><title>Zone-less</title><link>https://e.org/a</link><pubDate>12/03/2024 08:30</pubDate></item>
<item><guid>b</guid><title>Regional zone</title><link>https://e.org/b</link><pubDate>Thứ ba, 12/3/2024, 09:30 (GMT+7)</pubDate></item>
<item><guid>c</guid><title>Unreadable</title><link>https://e.org/c</link><pubDate>hôm qua</pubDate></item>
</channel></rss>"""


async def stored(database_url: str) -> dict[str, tuple[datetime | None, str | None]]:
    """Each stored item's guid with its date and date note."""
    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.select(schema.items.c.guid, schema.items.c.published_at, schema.items.c.date_note))
            return {r.guid: (r.published_at, r.date_note) for r in rows}
    finally:
        await engine.dispose()


async def test_the_feeds_timezone_reaches_the_parse_workers_and_reasons_are_stored(
    tmp_path: Path, database_url: str, feeds: FeedServer
) -> None:
    url = feeds.serve("hanoi.rss", HANOI_FEED.encode())
    config = write_config(tmp_path / "config", [{"id": "hanoi", "url": url, "timezone": "Asia/Ho_Chi_Minh"}])
    code, _, err = await newswatch("poll", "--once", environ=env(config, database_url))
    assert code == 0, err
    rows = await stored(database_url)
    assert rows["a"] == (datetime(2024, 3, 12, 1, 30, tzinfo=UTC), None)
    assert rows["b"] == (datetime(2024, 3, 12, 2, 30, tzinfo=UTC), None)
    assert rows["c"] == (None, "unreadable date 'hôm qua': dated when first seen")
    code, out, err = await newswatch("feeds", "--format", "json", environ=env(config, database_url))
    assert code == 0, err
    [report] = [json.loads(line) for line in out.splitlines()]
    assert report["last_warning"] == "dates of 1 of 3 items: unreadable date 'hôm qua': dated when first seen"


async def test_without_a_timezone_a_zone_less_date_is_read_as_utc_and_rules_test_says_so(tmp_path: Path) -> None:
    path = tmp_path / "hanoi.rss"
    path.write_text(HANOI_FEED, encoding="utf-8")
    code, out, err = await newswatch("rules", "test", str(path), "--format", "json", environ=env(ROOT / "config", "sqlite://"))
    assert code == 0, err
    lines = {line["title"]: line for line in map(json.loads, out.splitlines())}
    assert lines["Zone-less"]["published"] == "2024-03-12T08:30:00+00:00"
    assert lines["Zone-less"]["date_note"] == "no time zone in '12/03/2024 08:30': read as UTC (set timezone: on the feed)"
    assert lines["Regional zone"]["published"] == "2024-03-12T02:30:00+00:00" and lines["Regional zone"]["date_note"] is None
    code, out, err = await newswatch("rules", "test", str(path), environ=env(ROOT / "config", "sqlite://"))
    assert code == 0, err
    assert "  date: unreadable date 'hôm qua': dated when first seen" in out


async def test_rules_test_reads_a_utf16_feed_file_as_a_feed(tmp_path: Path) -> None:
    path = tmp_path / "hanoi-utf16.rss"
    path.write_bytes(HANOI_FEED.replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16"))
    code, out, err = await newswatch("rules", "test", str(path), "--format", "json", environ=env(ROOT / "config", "sqlite://"))
    assert code == 0, err
    assert [json.loads(line)["title"] for line in out.splitlines()] == ["Zone-less", "Regional zone", "Unreadable"]


VIDEO_PAGE = b"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Video: border talks</title></head>
<body><nav><a href="/">Home</a></nav><article><h1>Video: border talks</h1><p>Watch the clip.</p><video src="/v.mp4"></video></article>
</body></html>"""


async def test_a_page_whose_text_is_short_even_with_the_recall_setting_is_recorded_short_and_the_feed_text_alerts(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    link = feeds.serve("video/a.html", VIDEO_PAGE, content_type="text/html; charset=utf-8", validators=False)
    entry = Entry("urn:video", "Việt Nam and Cambodia talk border markers", link, "Officials met on the border demarcation.")
    configure(tmp_path, feeds.serve("vns.rss", rss([entry])), article="always")
    app = await make_app(article_pace=0.0)
    await app.poll_once()
    row = (await stored_articles(app))["_rows"][entry.title]
    assert (row.article_status, row.article) == ("short", "")
    assert re.fullmatch(r"only \d+ characters of text \(under 200\): not used", row.article_detail)
    assert len(slack.messages["vn-kh-border"]) == 1  # matched on what the feed carried
    code, _, err = await newswatch("rules", "test", link, environ=env(ROOT / "config", "sqlite://"))
    assert code == 1
    assert f"characters of article text in {link} (under 200): the service would not use it, nor does rules test" in err
