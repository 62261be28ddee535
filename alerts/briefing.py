"""Briefings, as pure functions: when a period ends, and how its matched stories make pages.

A destination with `delivery: daily` or `weekly` gets one message per period instead of
alerts: every story matched in the period once (near-duplicates from other outlets folded into
it and counted), grouped by rule, newest first, `PAGE_SIZE` stories a message; later pages go
into the first page's thread. Stories are folded and paged once, when a briefing is made
(`make_due`, through `service.storage.briefings`, once per period in one transaction); each page
stores its sections, and the outbox sends it like an alert.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

PAGE_SIZE = 15  # stories per message: inside Block Kit's 50 blocks and ~12,000 characters at any content
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SameStory = Callable[[bytes | None, bytes | None], bool]


def last_due(now: datetime, at: str, timezone: str, weekday: str | None = None) -> datetime:
    """The latest scheduled briefing time at or before `now` (daily at `at`, or weekly on `weekday` at `at`), in UTC."""
    local = now.astimezone(ZoneInfo(timezone))
    hour, minute = (int(part) for part in at.split(":"))
    due = _at(local, hour, minute)
    if weekday is not None:
        due = _at(local - timedelta(days=(local.weekday() - WEEKDAYS.index(weekday)) % 7), hour, minute)
    step = timedelta(days=7 if weekday is not None else 1)
    while due > local:
        due = _at(due - step, hour, minute)
    return due.astimezone(UTC)


def _at(day: datetime, hour: int, minute: int) -> datetime:
    """`day` at hour:minute wall-clock time in its own zone (its UTC offset taken afresh, across DST changes)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=day.tzinfo)


def title(kind: str, due: datetime, timezone: str) -> str:
    """The briefing's headline: 'Daily briefing · Thu 4 Dec 2026' or 'Weekly briefing · week to Mon 7 Dec 2026'."""
    local = due.astimezone(ZoneInfo(timezone))
    day = f"{local:%a} {local.day} {local:%b %Y}"
    return f"Daily briefing · {day}" if kind == "daily" else f"Weekly briefing · week to {day}"


@dataclass(frozen=True)
class Member:
    """One matched item waiting for a briefing."""

    id: int
    rule_ids: tuple[str, ...]
    signature: bytes | None
    published: datetime


def stories(members: Sequence[Member], same_story: SameStory) -> list[list[Member]]:
    """Members folded into stories, newest story first; a story's first member is the newest report of it."""
    out: list[list[Member]] = []
    for member in sorted(members, key=lambda m: (m.published, m.id), reverse=True):
        home = next((s for s in out if member.signature is not None and same_story(s[0].signature, member.signature)), None)
        if home is None:
            out.append([member])
        else:
            home.append(member)
    return out


def grouped(found: list[list[Member]], rule_order: Sequence[str]) -> list[tuple[str, list[list[Member]]]]:
    """Stories under their first rule (in `rule_order`), groups ordered by their newest story."""
    rank = {rule: i for i, rule in enumerate(rule_order)}
    groups: dict[str, list[list[Member]]] = {}
    for story in found:
        rule = min(story[0].rule_ids, key=lambda r: rank.get(r, len(rank))) if story[0].rule_ids else ""
        groups.setdefault(rule, []).append(story)
    return list(groups.items())


def pages(members: Sequence[Member], same_story: SameStory, rule_order: Sequence[str], size: int = PAGE_SIZE) -> list[list[Member]]:
    """The members of each message: whole stories, in briefing order, at most `size` stories a message."""
    ordered = [story for _, group in grouped(stories(members, same_story), rule_order) for story in group]
    return [[m for story in ordered[i : i + size] for m in story] for i in range(0, len(ordered), size)]


Section = dict[str, Any]  # {"rule": id, "name": shown name, "stories": [[delivery ids, the newest report first], ...]}


def sections(
    members: Sequence[Member], same_story: SameStory, rule_order: Sequence[str], names: Mapping[str, str], size: int = PAGE_SIZE
) -> list[list[Section]]:
    """Each message of a briefing as its sections: stories folded and grouped once, when the briefing is made."""
    found = stories(members, same_story)
    ordered = [(rule, story) for rule, group in grouped(found, rule_order) for story in group]
    out: list[list[Section]] = []
    for start in range(0, len(ordered), size):
        page: list[Section] = []
        for rule, story in ordered[start : start + size]:
            if not page or page[-1]["rule"] != rule:
                page.append({"rule": rule, "name": names.get(rule, rule), "stories": []})
            page[-1]["stories"].append([m.id for m in story])
        out.append(page)
    return out


@dataclass(frozen=True)
class Schedule:
    """One briefing that is due: a destination's daily or weekly one, for the period that ended at `due`."""

    destination: str
    kind: str
    due: datetime
    title: str
    when_empty: bool  # made (saying "nothing matched") even when no story waits
    takes: Callable[[Sequence[str]], bool]  # whether an alert of these rules belongs in this briefing


Compose = Callable[[Sequence[Member]], list[list[Section]]]


class BriefingStore(Protocol):
    """Where briefings are made once per period (`service.storage.briefings`)."""

    async def make(self, destination: str, kind: str, due: datetime, title: str, compose: Compose) -> int:
        """Record the period and make its pages from the alerts waiting, unless made already; return how many pages."""
        ...


async def make_due(
    store: BriefingStore, due: Sequence[Schedule], same_story: SameStory, rule_order: Sequence[str], names: Mapping[str, str]
) -> int:
    """Make each due briefing (each once, whatever the replicas); return how many pages were made."""
    made = 0
    for schedule in due:

        def compose(members: Sequence[Member], s: Schedule = schedule) -> list[list[Section]]:
            pages = sections([m for m in members if s.takes(m.rule_ids)], same_story, rule_order, names)
            return pages or ([[]] if s.when_empty else [])

        made += await store.make(schedule.destination, schedule.kind, schedule.due, schedule.title, compose)
    return made
