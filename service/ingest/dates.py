"""Publication dates as feeds write them, including the regional forms feedparser misreads: pure, run in the parse workers.

feedparser reads RFC 822 and ISO 8601 well, but reads `ICT` or `UTC+7` as UTC (7 hours
late), and leaves `GMT+7`, `+07`, `dd/mm/yyyy` and `Tue, 12 Mar 2024 08:30` undated. This
reader takes a date (ISO, `dd/mm/yyyy`, `yyyy/mm/dd`, `12 Mar 2024`, `March 12, 2024`), a
time (`08:30`, `8:30:15.5 PM`, `08h30`) and a zone (`Z`, `+07:00`, `+0700`, `+07`, `GMT+7`,
`UTC+07:00`, or an abbreviation from `ZONES`) wherever they stand among other words (weekday
names in any language, "lúc", brackets). What it cannot read is left to feedparser.

A time without a zone is read in the feed's `timezone:` when it has one, else as UTC with a
note that says so; an abbreviation that the feed's own zone uses at that date (`CST` for
Asia/Shanghai, `IST` for Asia/Kolkata) means the feed's zone. `dd/mm/yyyy` is day first
unless the second number cannot be a month.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from service.ingest.model import Item

MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
# Minutes east of UTC. RFC 822's own (UT, GMT, EST ... PDT) keep their meaning; the rest are those news feeds use.
ZONES = {
    "Z": 0, "UT": 0, "UTC": 0, "GMT": 0, "WET": 0,
    "EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420, "MDT": -360, "PST": -480, "PDT": -420,
    "AT": -240, "ET": -300, "CT": -360, "MT": -420, "PT": -480,  # as feedparser reads them
    "AST": -240, "ADT": -180, "NST": -210, "NDT": -150, "AKST": -540, "AKDT": -480, "HST": -600,
    "BST": 60, "IST": 330, "CET": 60, "CEST": 120, "MET": 60, "MEST": 120, "WEST": 60, "EET": 120, "EEST": 180, "MSK": 180,
    "WAT": 60, "CAT": 120, "EAT": 180, "SAST": 120,
    "PKT": 300, "NPT": 345, "ICT": 420, "WIB": 420, "WITA": 480, "WIT": 540, "SGT": 480, "MYT": 480, "PHT": 480, "PHST": 480,
    "HKT": 480, "JST": 540, "KST": 540, "AWST": 480, "ACST": 570, "ACDT": 630, "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780,
}  # fmt: skip
_MONTH = r"(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATES = [re.compile(p, re.IGNORECASE) for p in (
    r"(?<!\d)(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?!\d)",
    r"(?<!\d)(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})(?!\d)",
    r"(?<![\d.])(?P<d>\d{1,2})(?P<sep>[/.-])(?P<m>\d{1,2})(?P=sep)(?P<y>\d{4})(?!\d)",  # or m/d/y when d cannot be a month
    rf"(?<!\d)(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\.?\s+{_MONTH},?\s+(?P<y>\d{{4}}|\d{{2}})(?![\d:])",
    rf"(?<![a-z]){_MONTH}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})(?!\d)",
    r"(?<!\d)(?P<y>\d{4})\s*[年년]\s*(?P<m>\d{1,2})\s*[月월]\s*(?P<d>\d{1,2})\s*[日일]?",
)]  # fmt: skip
_TIME = re.compile(  # 08:30, 8:30:15.25 PM, 08h30, 오후 11:23 (Korean PM)
    r"(?:(오[전후])\s*)?(?<![\d:])(\d{1,2})[:hH](\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:\s*([ap])\.?m\b\.?)?(?![\d:])", re.I
)
# An offset right after the time (+07, +0700, +07:00), or after GMT / UTC / UT anywhere (GMT+7, UTC+07:00).
_OFFSETS = [
    re.compile(r"^[\s(]*([+\-−])(\d{2})(?::?(\d{2}))?(?!\d)"),
    re.compile(r"(?<![A-Za-z])(?:GMT|UTC|UT)\s*([+\-−])\s?(\d{1,2})(?::?(\d{2}))?(?!\d)"),
]
_WORD = re.compile(r"(?<![A-Za-z])([A-Z]{1,5}|z)(?![A-Za-z])")
_STRAY = re.compile(r"\d{2}|\d:|:\d")  # digits left over that no part took: a form not understood, not to guess at
MAX_OFFSET = 14 * 60
MAX_LENGTH = 120  # characters: a longer "date" is something else
# The forms nearly every feed writes, read without the search below (a few µs instead of tens).
_RFC822 = re.compile(r"(?:[A-Za-z]{3}, )?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (GMT|UTC?|Z|[+-]\d{4})")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[Zz]|[+-]\d{2}:\d{2})")


def read_date(raw: str, zone: str | None = None) -> Dated:
    """The UTC instant a feed's date string means, and a note when it had to be guessed; (None, note) if unreadable."""
    text = " ".join(raw[: MAX_LENGTH + 1].split())
    common = _common(text)
    if common is not None:
        return common, ""
    unreadable = None, f"unreadable date '{_quoted(text)}'"
    found = _date(text) if 0 < len(text) <= MAX_LENGTH else None
    if found is None:
        return unreadable
    day, rest = found
    clock = _TIME.search(rest)
    before, after = (rest[: clock.start()], rest[clock.end() :]) if clock else (rest, "")
    try:
        local = _combine(day, clock)
        where, note, left = _zone(after, local, zone, text, timed=clock is not None)
        if _STRAY.search(before + " " + left):
            return unreadable
        return local.replace(tzinfo=where).astimezone(UTC), note
    except (ValueError, OverflowError):  # no such day or time; year 1 or 9999 with an offset
        return unreadable


def _quoted(text: str) -> str:
    """The start of a feed's date string, fit to quote in a note (feed content: no control characters)."""
    return "".join(c for c in text[:60] if c.isprintable()).strip()


def _common(text: str) -> datetime | None:
    """An RFC 822 or RFC 3339 date with its zone, as nearly every feed writes it; None for anything else."""
    try:
        if _RFC3339.fullmatch(text):
            return datetime.fromisoformat(text.upper()).astimezone(UTC)
        found = _RFC822.fullmatch(text)
        if found is None or found.group(2).lower() not in MONTHS:
            return None
        day, month, year = int(found.group(1)), MONTHS[found.group(2).lower()], int(found.group(3))
        zone, east = found.group(7), 0
        if zone[0] in "+-":
            hours, minutes = int(zone[1:3]), int(zone[3:])
            if minutes >= 60 or hours * 60 + minutes > MAX_OFFSET:
                return None
            east = (hours * 60 + minutes) * (-1 if zone[0] == "-" else 1)
        when = datetime(year, month, day, int(found.group(4)), int(found.group(5)), int(found.group(6)), tzinfo=UTC)
        return when - timedelta(minutes=east)
    except (ValueError, OverflowError):  # no such day or time: the general reader says so
        return None


def _date(text: str) -> tuple[tuple[int, int, int], str] | None:
    """(year, month, day) and the text without the date, from the first date form that matches."""
    for pattern in _DATES:
        found = pattern.search(text)
        if not found:
            continue
        parts = found.groupdict()
        year, day = _year(parts["y"]), int(parts["d"])
        month = MONTHS[parts["mon"][:3].lower()] if parts.get("mon") else int(parts["m"])
        if parts.get("sep") and month > 12 >= day:  # 03/25/2024: the month came first
            day, month = month, day
        return (year, month, day), text[: found.start()] + " " + text[found.end() :]
    return None


def _year(digits: str) -> int:
    """A year; two digits as feedparser reads them (90-99: 1990s, else 2000s)."""
    year = int(digits)
    return year + (1900 if year >= 90 else 2000) if len(digits) == 2 else year


def _combine(day: tuple[int, int, int], clock: re.Match[str] | None) -> datetime:
    """The naive local date and time; ValueError if either is impossible."""
    if clock is None:
        return datetime(*day)
    hour, minute, second = int(clock.group(2)), int(clock.group(3)), int(clock.group(4) or 0)
    micro = int((clock.group(5) or "0")[:6].ljust(6, "0"))
    half = (clock.group(6) or "").lower() or {"오전": "a", "오후": "p"}.get(clock.group(1) or "", "")
    if half:
        if not 1 <= hour <= 12:
            raise ValueError("12-hour clock out of range")
        hour = hour % 12 + (12 if half == "p" else 0)
    return datetime(*day, hour, minute, second, micro)


def _zone(after: str, local: datetime, feed_zone: str | None, text: str, timed: bool) -> tuple[tzinfo, str, str]:
    """The zone stated after the time, a note when it was not stated or not known, and the text it leaves."""
    fallback: tzinfo = ZoneInfo(feed_zone) if feed_zone else UTC
    for pattern in _OFFSETS:
        offset = pattern.search(after)
        if offset and int(offset.group(2)) * 60 + int(offset.group(3) or 0) <= MAX_OFFSET and int(offset.group(3) or 0) < 60:
            east = int(offset.group(2)) * 60 + int(offset.group(3) or 0)
            left = after[: offset.start()] + " " + after[offset.end() :]
            return timezone(timedelta(minutes=-east if offset.group(1) in "-−" else east)), "", left
    for word in _WORD.finditer(after):
        name, left = word.group(1).upper(), after[: word.start()] + " " + after[word.end() :]
        if feed_zone and fallback.tzname(local) == name:  # the feed's own zone, whatever the table says
            return fallback, "", left
        if name in ZONES:
            return timezone(timedelta(minutes=ZONES[name])), "", left
        if len(name) >= 2 and name not in ("AM", "PM"):
            return fallback, f"unknown time zone '{word.group(1)}' in '{_quoted(text)}': read {_as(feed_zone)}", left
    if not timed or feed_zone:
        return fallback, "", after
    return fallback, f"no time zone in '{_quoted(text)}': read as UTC (set timezone: on the feed)", after


def _as(feed_zone: str | None) -> str:
    """How a date without a known zone was read."""
    return f"in {feed_zone}" if feed_zone else "as UTC"


UNDATED = "dated when first seen"
Dated = tuple[datetime | None, str]  # the instant, and a note when it was guessed or is missing


def first_date(candidates: Iterable[tuple[Any, Any]], zone: str | None = None) -> Dated:
    """The first readable of an entry's dates (published, then updated) and a note when it was guessed or missing.

    Each candidate is the date as written and feedparser's own reading of it (a UTC struct_time,
    or None), which is used when this reader cannot read the string.
    """
    notes = []
    for raw, theirs in candidates:
        if not raw:
            continue
        when, note = read_date(str(raw), zone)
        if when is None and theirs:
            when, note = _from_struct(theirs), ""
        if when is not None:
            return when, note
        notes.append(note)
    return None, f"{notes[0] if notes else 'no date in the feed'}: {UNDATED}"


def _from_struct(value: Any) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime."""
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def date_warnings(items: Sequence[Item]) -> list[str]:
    """One feed warning that says how many items' dates were guessed or missing, with the first note as the example."""
    notes = [item.date_note for item in items if item.date_note]
    if not notes:
        return []
    others = " (and other notes)" if len(set(notes)) > 1 else ""
    return [f"dates of {len(notes)} of {len(items)} items: {notes[0]}{others}"[:500]]
