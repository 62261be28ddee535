"""Precision and recall of the shipped rules on each part of the labelled set: totals only.

Usage: python scripts/labelled_scores.py [--wrong] [--part PART] [--round N] [--headlines] [--config DIR]

Prints, per part (tuning, heldout, sealed) and rule, the number of items, true positives,
false alarms, misses, precision and recall. `--wrong` also lists the wrong items, of the
tuning part only: the held-out and sealed items and their per-item results are never printed,
so whoever edits the rules cannot tune on them (tests/fixtures/labelled/README.md). `--round N`
scores only the items of collection round N (ids `nN-…`): a new round's kept-out items, scored
before any edit, say how the rules do on news nobody has tuned on. `--headlines` scores each
item by its headline alone, as a feed that carries no lead would bring it (the labels stay the
page's, so recall is lower by nature; compare rules with rules, not with the full figures).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from service.config import load_config
from service.rules import labelled

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wrong", action="store_true", help="list the tuning part's wrong items")
    parser.add_argument("--part", choices=labelled.PARTS, action="append", help="only these parts (default: all three)")
    parser.add_argument("--round", type=int, help="only the items of this collection round (ids nN-...)")
    parser.add_argument("--headlines", action="store_true", help="score each item by its headline alone")
    parser.add_argument("--config", type=Path, default=ROOT / "config")
    args = parser.parse_args()
    ruleset = load_config(args.config).ruleset
    rules = [r.id for r in ruleset.rules]
    entries = {part: labelled.load(part) for part in args.part or labelled.PARTS}
    if args.round is not None:
        entries = {part: [e for e in items if e["id"].startswith(f"n{args.round}-")] for part, items in entries.items()}
    if args.headlines:
        entries = {part: [{**e, "summary": ""} for e in items] for part, items in entries.items()}
    print(f"{'part':<8} {'rule':<14} {'items':>5} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>6}")
    for part, items in entries.items():
        matched = labelled.matched_rules(ruleset, items)
        for rule in rules:
            if not any(rule in e["labels"] for e in items):
                continue
            s = labelled.score(ruleset, rule, items, matched)
            print(f"{part:<8} {rule:<14} {s.items:>5} {s.tp:>4} {s.fp:>4} {s.fn:>4} {s.precision:>9.3f} {s.recall:>6.3f}")
            if args.wrong and part == "tuning":
                by_id = {e["id"]: e for e in items}
                for kind, ids in (("false alarm", s.false_alarms), ("missed", s.misses)):
                    for i in ids:
                        print(f"    {kind}: {i} [{by_id[i]['class']}] {by_id[i]['lang']} {by_id[i]['title']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
