"""The labelled set (tests/fixtures/labelled/): its parts, and a rule's precision and recall on one.

Three parts, fixed by a hash of each item's source (scripts/labelled_split.py): `tuning` (rules
are edited against it), `heldout` and `sealed` (never read while rules are edited; only their
totals are shown). Everything here returns data; callers decide what they may print.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.ingest.model import Item
from service.rules.match import Ruleset

PARTS = ("tuning", "heldout", "sealed")
DEFAULT_DIR = Path(__file__).resolve().parent.parent.parent / "tests" / "fixtures" / "labelled"


def load(part: str, directory: Path = DEFAULT_DIR) -> list[dict[str, Any]]:
    """The entries of one part, one dict per line; an absent part is empty."""
    path = directory / f"{part}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def item_of(entry: dict[str, Any]) -> Item:
    """The feed item a labelled entry stands for (title and summary, in its language)."""
    return Item(feed_id="labelled", key=entry["id"], title=entry["title"], summary=entry["summary"], language=entry.get("lang", ""))


@dataclass
class Score:
    """One rule on one list of entries: counts, and which entries it got wrong (ids, for tuning only)."""

    rule: str
    items: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_alarms: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        """Share of matched items labelled with the rule (1.0 when nothing matched)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """Share of items labelled with the rule that matched (1.0 when none is labelled)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def totals(self) -> dict[str, Any]:
        """The figures without the items: what may be shown for the held-out and sealed parts."""
        return {"rule": self.rule, "items": self.items, "tp": self.tp, "fp": self.fp, "fn": self.fn,
                "precision": round(self.precision, 4), "recall": round(self.recall, 4)}  # fmt: skip


def matched_rules(ruleset: Ruleset, entries: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """Entry id -> the ids of the rules that match it."""
    return {entry["id"]: {m.rule_id for m in ruleset.match(item_of(entry))} for entry in entries}


def score(ruleset: Ruleset, rule: str, entries: list[dict[str, Any]], matched: dict[str, set[str]] | None = None) -> Score:
    """Precision and recall of `rule` on `entries` (pass `matched` from matched_rules to score several rules at once)."""
    matched = matched if matched is not None else matched_rules(ruleset, entries)
    result = Score(rule)
    for entry in entries:
        hit, wanted = rule in matched[entry["id"]], rule in entry["labels"]
        result.items += 1
        result.tp += hit and wanted
        result.fp += hit and not wanted
        result.fn += wanted and not hit
        if hit and not wanted:
            result.false_alarms.append(entry["id"])
        elif wanted and not hit:
            result.misses.append(entry["id"])
    return result
