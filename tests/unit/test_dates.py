"""Dates: regional forms, the feed's `timezone:`, and the reason stored when an item is dated by its first sighting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.ingest.dates import read_date
from service.ingest.parse import parse_feed

HANOI_0830 = datetime(2024, 3, 12, 1, 30, tzinfo=UTC)  # 08:30 on 12 March 2024 in Hà Nội (UTC+7)


def rss(*dates: str) -> bytes:
    """An RSS document with one item per pubDate."""
    items = "".join(f"<item><title>t{n}</title><link>https://e.org/{n}</link><pubDate>{d}</pubDate></item>" for n, d in enumerate(dates))
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>{items}</channel></rss>".encode()


def published(date: str, timezone: str | None = None) -> tuple[datetime | None, str]:
    """The date and note of a one-item feed, through feedparser as the service reads it."""
    [item] = parse_feed(rss(date), "https://e.org/feed", "f", "application/rss+xml", timezone).items
    return item.published, item.date_note


@pytest.mark.parametrize(
    "date",
    [
        "Tue, 12 Mar 2024 08:30:00 ICT",  # feedparser: 7 hours late
        "Tue, 12 Mar 2024 08:30:00 UTC+7",  # feedparser: 7 hours late
        "Tue, 12 Mar 2024 08:30:00 GMT+7",  # feedparser: undated
        "Tue, 12 Mar 2024 08:30:00 GMT+07:00",
        "Tue, 12 Mar 2024 08:30:00 +07",  # feedparser: undated
        "Tue, 12 Mar 2024 08:30:00 +0700",
        "2024-03-12T08:30:00+07:00",
        "Thứ ba, 12/3/2024, 08:30 (GMT+7)",  # feedparser: undated
        "12/03/2024 08:30 +07:00",
        "12.03.2024 08:30 ICT",
        "March 12, 2024 8:30 AM ICT",
        "2024-03-12T01:30:00z",
        "Tue, 12 Mar 24 01:30:00 GMT",
    ],
)
def test_regional_forms_are_read_at_the_right_instant(date: str) -> None:
    assert published(date) == (HANOI_0830, "")


@pytest.mark.parametrize("date", ["12/03/2024 08:30", "2024-03-12 08:30:00", "Tue, 12 Mar 2024 08:30:00", "Thứ 3, 12/3/2024 - 08:30"])
def test_the_feeds_timezone_settles_a_date_without_a_zone(date: str) -> None:
    assert published(date, "Asia/Ho_Chi_Minh") == (HANOI_0830, "")


def test_a_date_without_a_zone_and_no_timezone_is_read_as_utc_and_says_so() -> None:
    parsed = parse_feed(rss("12/03/2024 08:30", "Tue, 12 Mar 2024 08:30:00 +0700"), "https://e.org/feed", "f")
    first, second = parsed.items
    assert first.published == datetime(2024, 3, 12, 8, 30, tzinfo=UTC)
    assert first.date_note == "no time zone in '12/03/2024 08:30': read as UTC (set timezone: on the feed)"
    assert second.date_note == ""
    assert parsed.warnings == ["dates of 1 of 2 items: no time zone in '12/03/2024 08:30': read as UTC (set timezone: on the feed)"]


def test_the_feeds_timezone_follows_daylight_saving_time() -> None:
    assert published("2024-07-01 12:00", "Europe/Berlin")[0] == datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    assert published("2024-01-01 12:00", "Europe/Berlin")[0] == datetime(2024, 1, 1, 11, 0, tzinfo=UTC)


def test_an_abbreviation_the_feeds_zone_uses_means_the_feeds_zone() -> None:
    assert published("Tue, 12 Mar 2024 08:30 CST", "Asia/Shanghai")[0] == datetime(2024, 3, 12, 0, 30, tzinfo=UTC)
    assert published("Tue, 12 Mar 2024 08:30 CST")[0] == datetime(2024, 3, 12, 14, 30, tzinfo=UTC)  # RFC 822: US Central


def test_day_first_unless_the_second_number_cannot_be_a_month() -> None:
    assert read_date("05/04/2024 10:00 GMT")[0] == datetime(2024, 4, 5, 10, 0, tzinfo=UTC)
    assert read_date("04/25/2024 10:00 GMT")[0] == datetime(2024, 4, 25, 10, 0, tzinfo=UTC)


def test_an_unknown_zone_is_read_as_utc_and_says_so() -> None:
    when, note = read_date("Tue, 12 Mar 2024 08:30 XYZT")
    assert when == datetime(2024, 3, 12, 8, 30, tzinfo=UTC)
    assert note == "unknown time zone 'XYZT' in 'Tue, 12 Mar 2024 08:30 XYZT': read as UTC"


def test_an_unreadable_or_missing_date_falls_back_to_first_sighting_with_the_reason() -> None:
    doc = rss("hôm qua").replace(b"</channel>", b"<item><title>x</title><link>https://e.org/x</link></item></channel>")
    parsed = parse_feed(doc, "https://e.org/feed", "f")
    unreadable, missing = parsed.items
    assert (unreadable.published, unreadable.date_note) == (None, "unreadable date 'hôm qua': dated when first seen")
    assert (missing.published, missing.date_note) == (None, "no date in the feed: dated when first seen")
    assert parsed.warnings == ["dates of 2 of 2 items: unreadable date 'hôm qua': dated when first seen (and other notes)"]


@pytest.mark.parametrize("date", ["12 Mar 2024 08:30 - 12 comments", "2013-01-28T09:xx:00Z", "Sun, 16 Dec 2012 1:2:3:4 GMT", "2024-13-45"])
def test_digits_no_part_of_a_date_took_make_it_unreadable_not_guessed(date: str) -> None:
    assert read_date(date)[0] is None


# From feedparser's own suite (tests/test_date_parsers.py at a22c552): standard forms read as feedparser reads them.
FEEDPARSER_CASES = [
    ("Thu, 01 Jan 2004 19:48:21 GMT", datetime(2004, 1, 1, 19, 48, 21, tzinfo=UTC)),
    ("Thu, 01 Jan 04 19:48:21 GMT", datetime(2004, 1, 1, 19, 48, 21, tzinfo=UTC)),
    ("Thu, 31 Jun 2004 19:48:21 GMT", None),  # no 31 June: feedparser's chain has its own reading
    ("Mon, 26 January 2004 16:31:00 EST", datetime(2004, 1, 26, 21, 31, tzinfo=UTC)),
    ("Mon, 26 January 2004 16:31:00 ET", datetime(2004, 1, 26, 21, 31, tzinfo=UTC)),
    ("Mon, 26 January 2004 16:31:00 PT", datetime(2004, 1, 27, 0, 31, tzinfo=UTC)),
    ("Sun, 16 Dec 2012 11:47:32 +0100", datetime(2012, 12, 16, 10, 47, 32, tzinfo=UTC)),
    ("Sun, 16 Dec 2012 11:47:32 -05:00", datetime(2012, 12, 16, 16, 47, 32, tzinfo=UTC)),
    ("2003-12-31T10:14:55Z", datetime(2003, 12, 31, 10, 14, 55, tzinfo=UTC)),
    ("2003-12-31T10:14:55-08:00", datetime(2003, 12, 31, 18, 14, 55, tzinfo=UTC)),
    ("2003-12-31T18:14:55+08:00", datetime(2003, 12, 31, 10, 14, 55, tzinfo=UTC)),
    ("2003-12-31", datetime(2003, 12, 31, tzinfo=UTC)),
]


@pytest.mark.parametrize(("date", "expected"), FEEDPARSER_CASES)
def test_standard_forms_agree_with_feedparser(date: str, expected: datetime | None) -> None:
    assert read_date(date)[0] == expected


def test_a_json_feed_date_with_a_lower_case_z_is_dated() -> None:
    doc = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "t",
      "items": [{"id": "1", "url": "https://e.org/1", "title": "x", "date_published": "2024-03-12t01:30:00z"},
                {"id": "2", "url": "https://e.org/2", "title": "y", "date_modified": "2024-03-12T08:30:00+07:00"},
                {"id": "3", "url": "https://e.org/3", "title": "z", "date_published": "2024-03-12 08:30"}]}"""
    first, second, third = parse_feed(doc, "https://e.org/feed.json", "f", "application/feed+json", "Asia/Ho_Chi_Minh").items
    assert first.published == second.published == third.published == HANOI_0830


def test_a_note_quotes_the_feeds_date_without_control_characters() -> None:
    assert read_date("hier\x1b[2J \x07")[1] == "unreadable date 'hier[2J'"
    assert read_date("9" * 100_000)[1] == f"unreadable date '{'9' * 60}'"
