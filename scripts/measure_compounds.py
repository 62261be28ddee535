"""Compare two ways of saying "border as a word, not inside a compound or a name", on the labelled set's tuning part.

1. A per-term option that needs no list: a border word does not count where it is joined to
   another word by a hyphen ("cross-border", "trans-frontaliers", "border-free"). Simulated
   here by joining such compounds into one word before matching.
2. A gazetteer of known compounds and names (`border-compounds` in config/rules.yaml, used
   through `not_in`): "sans frontières", "cross-border payment*", "国境なき", "국경없는*"…

Both are measured against the shipped rules with neither (the border words unmasked), on the
tuning part only: the held-out and sealed parts are not read.

Usage: PYTHONPATH=. python scripts/measure_compounds.py
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from service.config.schema import RulesFile
from service.rules import labelled
from service.rules.compile import Groups, compile_rules

ROOT = Path(__file__).resolve().parent.parent
RULES = ("vn-kh-border", "kh-th-border")
# A border word joined by a hyphen to another word: the shape the per-term option refuses.
_STEMS = "border|frontier|frontière|frontiere|frontali|fronter|fronteir|frontiera|grenz|границ|погранич"
_HYPHENATED = re.compile(rf"(?i)(?<=\w)[-‐‑](?=(?:{_STEMS}))|(?<=border)[-‐‑](?=\w)")


def compiled(bare: bool) -> Any:
    """The shipped rules; with `bare`, their `border` group is the border words without `not_in`."""
    data = yaml.safe_load((ROOT / "config" / "rules.yaml").read_text(encoding="utf-8"))
    if bare:
        data["groups"]["border"] = ["@border-words"]
    spec = RulesFile.model_validate(data)
    return compile_rules(spec.rules, Groups(spec.groups))


def joined(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry with hyphenated compounds written as one word, as the per-term option would see them."""
    return {**entry, "title": _HYPHENATED.sub("", entry["title"]), "summary": _HYPHENATED.sub("", entry["summary"])}


def counts(ruleset: Any, entries: list[dict[str, Any]]) -> dict[str, tuple[int, int, int]]:
    """Per rule: true positives, false alarms, misses."""
    matched = labelled.matched_rules(ruleset, entries)
    out = {}
    for rule in RULES:
        s = labelled.score(ruleset, rule, entries, matched)
        out[rule] = (s.tp, s.fp, s.fn)
    return out


def main() -> None:
    """Print the three variants' counts per rule."""
    entries = labelled.load("tuning")
    plain = compiled(bare=True)
    variants = {
        "neither (bare border words)": counts(plain, entries),
        "per-term option (no hyphenated compounds)": counts(plain, [joined(e) for e in entries]),
        "gazetteer of compounds (not_in)": counts(compiled(bare=False), entries),
    }
    print(f"tuning part, {len(entries)} items: true positives / false alarms / misses")
    print(f"{'variant':<44}" + "".join(f"{rule:>20}" for rule in RULES))
    for name, row in variants.items():
        print(f"{name:<44}" + "".join(f"{' / '.join(map(str, row[rule])):>20}" for rule in RULES))


if __name__ == "__main__":
    main()
