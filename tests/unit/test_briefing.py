"""Briefings as pure functions: when a period ends (time zones, weeks, DST) and how stories make pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.briefing import Member, last_due, pages, stories, title


def test_a_daily_briefing_is_due_at_its_local_time_and_not_before() -> None:
    at_saigon = "Asia/Ho_Chi_Minh"  # UTC+7: 08:00 there is 01:00 UTC
    assert last_due(datetime(2026, 12, 4, 1, 0, tzinfo=UTC), "08:00", at_saigon) == datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
    assert last_due(datetime(2026, 12, 4, 0, 59, tzinfo=UTC), "08:00", at_saigon) == datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
    assert last_due(datetime(2026, 12, 3, 20, 0, tzinfo=UTC), "08:00", at_saigon) == datetime(2026, 12, 3, 1, 0, tzinfo=UTC)


def test_a_weekly_briefing_is_due_on_its_weekday() -> None:
    monday = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # 7 December 2026 is a Monday
    assert last_due(monday, "08:00", "UTC", "monday") == monday
    assert last_due(monday - timedelta(minutes=1), "08:00", "UTC", "monday") == monday - timedelta(days=7)
    assert last_due(monday + timedelta(days=3), "08:00", "UTC", "monday") == monday
    assert last_due(monday + timedelta(days=3), "09:30", "UTC", "thursday") == datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


def test_the_local_time_holds_across_a_daylight_saving_change() -> None:
    # Berlin leaves summer time on 25 October 2026: 08:00 is 06:00 UTC before and 07:00 UTC after.
    assert last_due(datetime(2026, 10, 25, 12, 0, tzinfo=UTC), "08:00", "Europe/Berlin") == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)
    assert last_due(datetime(2026, 10, 25, 6, 30, tzinfo=UTC), "08:00", "Europe/Berlin") == datetime(2026, 10, 24, 6, 0, tzinfo=UTC)


def test_titles_name_the_local_day() -> None:
    due = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)  # already Friday 4 December in Saigon
    assert title("daily", due, "Asia/Ho_Chi_Minh") == "Daily briefing · Fri 4 Dec 2026"
    assert title("weekly", due, "UTC") == "Weekly briefing · week to Thu 3 Dec 2026"


def same(a: bytes | None, b: bytes | None) -> bool:
    return a is not None and a == b


def member(n: int, rule: str, story: bytes | None, hours_ago: int) -> Member:
    return Member(n, (rule,), story, datetime(2026, 12, 4, 12, tzinfo=UTC) - timedelta(hours=hours_ago))


def test_reports_of_one_story_fold_into_its_newest_and_stories_group_by_rule_newest_first() -> None:
    found = stories([member(1, "kh", b"a", 5), member(2, "kh", b"a", 1), member(3, "vn", b"b", 3), member(4, "vn", None, 2)], same)
    assert [[m.id for m in s] for s in found] == [[2, 1], [4], [3]]
    assert [[m.id for m in page] for page in pages([member(n, "vn", None, n) for n in range(1, 6)], same, ["vn"], size=2)] == [
        [1, 2],
        [3, 4],
        [5],
    ]


def test_pages_keep_whole_stories_groups_follow_their_newest_story_and_a_story_of_two_rules_goes_under_the_first() -> None:
    members = [member(1, "kh", b"a", 1), member(2, "kh", b"a", 2), member(3, "vn", None, 3), member(4, "kh", None, 4)]
    assert [[m.id for m in p] for p in pages(members, same, ["vn", "kh"], size=1)] == [[1, 2], [4], [3]]
    both = Member(5, ("kh", "vn"), None, datetime(2026, 12, 4, 12, tzinfo=UTC))
    assert [[m.id for m in p] for p in pages([both, member(3, "vn", None, 3)], same, ["vn", "kh"], size=5)] == [[5, 3]]
    assert [[m.id for m in p] for p in pages([both, member(3, "vn", None, 3)], same, ["kh", "vn"], size=1)] == [[5], [3]]
