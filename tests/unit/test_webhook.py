"""The webhook's documented contract: the verification example in docs/destinations.md accepts our signatures, refuses forgeries and replays; the documented body fits the schema."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema

from alerts.messages import Alert, AlertRule, Digest, Notice
from alerts.webhook import SCHEMA, idempotency_key, payload, sign

DOC = (Path(__file__).resolve().parents[2] / "docs" / "destinations.md").read_text(encoding="utf-8")
SECRET = "a-shared-secret-0123456789"


def block(after: str, language: str) -> str:
    """The first fenced code block of `language` after the heading text `after`."""
    found = re.search(re.escape(after) + r".*?```" + language + r"\n(.*?)```", DOC, re.S)
    assert found, f"no {language} block after {after!r}"
    return found.group(1)


def documented_verify() -> Any:
    namespace: dict[str, Any] = {}
    exec(block("Verifying a call", "python"), namespace)  # the example, as a reader copies it
    return namespace["verify"]


def test_the_documented_example_accepts_a_signed_call_and_refuses_a_forged_or_replayed_one() -> None:
    verify = documented_verify()
    assert len(block("Verifying a call", "python").strip().splitlines()) <= 10
    body = json.dumps(payload(Notice(7, "hook", "Feed x failing"))).encode()
    stamp = str(int(time.time()))
    headers = {"X-Newswatch-Timestamp": stamp, "X-Newswatch-Signature": sign(SECRET, stamp, body)}
    assert verify(SECRET.encode(), headers, body)
    assert not verify(SECRET.encode(), headers, body.replace(b"Feed x", b"Feed y"))
    assert not verify(b"another-secret-000000000", headers, body)
    old = str(int(time.time()) - 3600)
    assert not verify(SECRET.encode(), {"X-Newswatch-Timestamp": old, "X-Newswatch-Signature": sign(SECRET, old, body)}, body)


def test_the_documented_body_and_every_event_fit_the_schema() -> None:
    jsonschema.validate(json.loads(block("The body", "json")), SCHEMA)
    alert = Alert(
        3, "hook", "T", "javascript:alert(1)", "S", datetime(2026, 1, 1, tzinfo=UTC), "x y", ((0, 1),), (AlertRule("r", "R", ("x",)),)
    )
    for message in (alert, Digest("hook", (alert,)), Notice(4, "hook", "n")):
        jsonschema.validate(payload(message), SCHEMA)
    assert payload(alert)["item"]["link"] is None  # only http(s) links
    assert idempotency_key(Digest("hook", (alert, Alert(**{**_fields(alert), "delivery_id": 5})))) == "3,5"


def _fields(alert: Alert) -> dict[str, Any]:
    return {name: getattr(alert, name) for name in alert.__dataclass_fields__}
