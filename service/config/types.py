"""Value types the config files share: durations, and what every destination has (time zone, digest, threads).

Kept apart from the file schemas so that the destination registry (`service.destinations`)
can define each destination's model without importing the schemas built from it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from service.rules.spec import Strict

_DURATION = re.compile(r"^\s*(?:(\d+)w)?\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")
MIN_INTERVAL = 60  # seconds: a feed is polled at most once a minute


def parse_duration(value: Any) -> int:
    """Read seconds from an integer or a duration such as '90s', '10m', '1h30m', '2d', '1w'."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 600, 90s, 10m, 1h, 1d or 1w")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("a duration must be positive")
        return value
    match = _DURATION.match(value) if isinstance(value, str) and value.strip() else None
    if not match or not any(match.groups()):
        raise ValueError(f"'{value}' is not a duration: use seconds or 90s, 10m, 1h, 1d, 1w")
    w, d, h, m, s = (int(g or 0) for g in match.groups())
    seconds = (((w * 7 + d) * 24 + h) * 60 + m) * 60 + s
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


def _optional_duration(value: Any) -> int | None:
    """A duration, or None for `off`."""
    return None if value in ("off", "none", False) else parse_duration(value)


_DURATION_SCHEMA = {"type": "string", "pattern": r"^\s*(\d+w)?\s*(\d+d)?\s*(\d+h)?\s*(\d+m)?\s*(\d+s)?\s*$"}
Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1}, _DURATION_SCHEMA], "description": "seconds, or 90s, 10m, 1h, 1d, 1w"}),
]


def _poll_interval(seconds: int) -> int:
    """A feed's interval: at least a minute (refused rather than silently raised)."""
    if seconds < MIN_INTERVAL:
        raise ValueError(f"an interval of {seconds} s is too short: a feed is polled at most once a minute, so use 1m or more")
    return seconds


Interval = Annotated[
    int,
    BeforeValidator(parse_duration),
    AfterValidator(_poll_interval),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": MIN_INTERVAL}, _DURATION_SCHEMA], "description": "seconds (60 or more), or 90s, 10m, 1h"}
    ),
]
OptionalDuration = Annotated[
    int | None,
    BeforeValidator(_optional_duration),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": 1}, _DURATION_SCHEMA, {"enum": ["off", False]}], "description": "a duration, or off"}
    ),
]


class DigestSpec(Strict):
    """Flood control: more than `max_alerts` alerts within `window` go out as one digest message."""

    max_alerts: Annotated[int, Field(ge=1, le=1000)] = 10
    window: Duration = 600


def _optional_digest(value: Any) -> Any:
    """`off` (or false) disables digests."""
    return None if value in ("off", False) else value


OptionalDigest = Annotated[
    DigestSpec | None,
    BeforeValidator(_optional_digest),
    WithJsonSchema({"anyOf": [DigestSpec.model_json_schema(), {"enum": ["off", False]}], "description": "digest settings, or off"}),
]


def _zone(value: Any) -> Any:
    """An IANA time zone name, checked against the zone database."""
    if isinstance(value, str):
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not a time zone: use an IANA name such as Asia/Ho_Chi_Minh or UTC") from None
    return value


TimeZone = Annotated[str, BeforeValidator(_zone)]
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


Delivery = Literal["instant", "daily", "weekly"]  # as matched, or in one briefing a day or a week
DELIVERIES: tuple[Delivery, ...] = ("instant", "daily", "weekly")  # soonest first


class DestinationBase(Strict):
    """What every destination has: a time zone for dates, flood control, story threading, instant alerts or briefings."""

    timezone: TimeZone = "UTC"
    digest: OptionalDigest = DigestSpec()
    threads: bool = True  # a near-duplicate of a story alerted in the last 72 h goes into its thread
    delivery: Delivery = "instant"  # daily / weekly: one briefing per period instead of alerts
    at: ClockTime = "08:00"  # when a briefing goes out, in `timezone`
    weekday: Weekday = "monday"  # the day of a weekly briefing
    briefing_when_empty: bool = False  # send a briefing that says "nothing matched" rather than nothing
