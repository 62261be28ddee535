"""How far a second labeller agrees with the set's labels, and what that makes of the rules' figures.

Usage: python scripts/label_agreement.py [--config DIR]

`tests/fixtures/labelled/second-labels.jsonl` holds a second, independent labelling of 200
tuning items (id, labels, and whether the labeller was sure), made from each item's title and
lead alone, without the set's labels. Prints, per rule: how often the two labellings agree,
Cohen's kappa, the second labeller's precision and recall scored against the set's labels (what
a careful person reaches), and the shipped rule's precision and recall on the same items against
each labelling. Tuning items only: nothing of the held-out or sealed parts is read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from service.config import load_config
from service.rules import labelled

ROOT = Path(__file__).resolve().parent.parent
SECOND = labelled.DEFAULT_DIR / "second-labels.jsonl"


def ratio(part: int, whole: int) -> str:
    """part / whole to three places, or '-' when there is nothing to divide."""
    return f"{part / whole:.3f}" if whole else "-"


def kappa(pairs: list[tuple[bool, bool]]) -> float:
    """Cohen's kappa of two yes/no labellings of the same items."""
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    yes_a, yes_b = sum(a for a, _ in pairs) / n, sum(b for _, b in pairs) / n
    expected = yes_a * yes_b + (1 - yes_a) * (1 - yes_b)
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


def scored(truth: list[bool], said: list[bool]) -> tuple[str, str]:
    """Precision and recall of `said` against `truth`."""
    hits = sum(t and s for t, s in zip(truth, said, strict=True))
    return ratio(hits, sum(said)), ratio(hits, sum(truth))


def main() -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config")
    args = parser.parse_args()
    second = [json.loads(line) for line in SECOND.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_id = {e["id"]: e for e in labelled.load("tuning")}
    entries = [by_id[s["id"]] for s in second]
    ruleset = load_config(args.config).ruleset
    matched = labelled.matched_rules(ruleset, entries)
    print(f"{len(second)} tuning items labelled twice; the second labeller was unsure of {sum(not s['sure'] for s in second)}")
    print(f"{'rule':<14} {'agree':>6} {'kappa':>6}  {'second vs set P/R':>18}  {'rule vs set P/R':>16}  {'rule vs second P/R':>18}")
    for rule in (r.id for r in ruleset.rules):
        first = [rule in e["labels"] for e in entries]
        other = [rule in s["labels"] for s in second]
        rule_said = [rule in matched.get(e["id"], ()) for e in entries]
        pairs = list(zip(first, other, strict=True))
        agree = ratio(sum(a == b for a, b in pairs), len(pairs))
        columns = ["/".join(scored(first, other)), "/".join(scored(first, rule_said)), "/".join(scored(other, rule_said))]
        print(f"{rule:<14} {agree:>6} {kappa(pairs):>6.3f}  {columns[0]:>18}  {columns[1]:>16}  {columns[2]:>18}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
