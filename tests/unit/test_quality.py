"""Rule quality on real labelled news: the tuning part, and the held-out and sealed parts the rules were never tuned on.

The held-out (`heldout.jsonl`) and sealed (`sealed.jsonl`) parts were split off by a hash of each
item's source before any tuning (scripts/labelled_split.py). Their figures are printed without
the items, so that tuning cannot look at them; only the tuning part's wrong items are listed.
The build fails if a shipped rule falls below its bar on a part (docs/rule-quality.md: the goal
is 0.95 everywhere; the bars are what the rules reach, and say so).
"""

from __future__ import annotations

import json

import pytest

from scripts.labelled_split import page
from service.config import load_config
from service.ingest.parse import parse_article
from service.rules import labelled
from tests.conftest import FIXTURES, ROOT

PARTS = {part: labelled.load(part) for part in labelled.PARTS}
ITEMS = [item for items in PARTS.values() for item in items]
RULES = ("vn-kh-border", "kh-th-border")
CLASSES = {
    "vi-domestic-border", "province-no-country", "far-apart", "other-language", "new-provinces", "vn-on-kh-th",
    "vn-laos-border", "vn-china-border", "other-border", "vn-kh-not-border", "kh-th-border", "kh-th-not-border",
    "khmer", "thai", "vn-kh-border", "negative-other",
}  # fmt: skip
# The classes of the third round (issue 25): in the tuning part and in the parts kept from it.
NEW_CLASSES = {"korean", "japanese", "border-compound", "no-scope", "both-borders", "guards-other-duty"}
GOAL = 0.95
# (precision, recall) each part must keep. Tuning figures are tuning figures; the held-out and sealed
# bars sit just under what the rules reached when they were last changed (docs/rule-quality.md).
BARS = {
    "tuning": {"vn-kh-border": (0.91, 0.96), "kh-th-border": (0.90, 0.97)},
    "heldout": {"vn-kh-border": (0.91, 0.93), "kh-th-border": (0.85, 0.97)},
    "sealed": {"vn-kh-border": (0.87, 0.93), "kh-th-border": (0.86, 0.96)},
}


def test_the_set_is_large_split_once_and_covers_every_class_on_both_sides() -> None:
    assert len(ITEMS) >= 800
    assert len(PARTS["heldout"]) + len(PARTS["sealed"]) >= 0.35 * len(ITEMS)
    assert len({i["id"] for i in ITEMS}) == len(ITEMS)
    assert len({(page(i["source"]), i["title"]) for i in ITEMS}) == len(ITEMS), "one item per story (an archive page may hold several)"
    assert all(i["source"].startswith(("http://", "https://")) for i in ITEMS), "every item says where it came from"
    for part in ("tuning", "heldout"):
        assert {i["class"] for i in PARTS[part]} >= CLASSES, part
    kept_out = PARTS["heldout"] + PARTS["sealed"]
    assert {i["class"] for i in PARTS["tuning"]} >= NEW_CLASSES
    assert {i["class"] for i in kept_out} >= NEW_CLASSES
    for part, items in PARTS.items():
        assert {"en", "vi", "km", "th"} <= {i["lang"] for i in items}, part
        assert {"ko", "ja", "ar", "ru", "zh"} <= {i["lang"] for i in items}, part
        for rule in RULES:
            assert sum(rule in i["labels"] for i in items) >= 30, (part, rule)


@pytest.mark.parametrize("part", labelled.PARTS)
@pytest.mark.parametrize("rule", RULES)
def test_precision_and_recall(rule: str, part: str, capsys: pytest.CaptureFixture[str]) -> None:
    ruleset = load_config(ROOT / "config").ruleset
    score = labelled.score(ruleset, rule, PARTS[part])
    precision, recall = score.precision, score.recall
    floor_p, floor_r = BARS[part][rule]
    with capsys.disabled():
        goal = "" if min(precision, recall) >= GOAL else f" (goal {GOAL})"
        print(f"\n{rule} on the {part} part ({score.items} items): precision {precision:.3f}, recall {recall:.3f}{goal}")
        if part == "tuning":  # the held-out and sealed items stay unseen: only their figures are printed
            by_id = {e["id"]: e for e in PARTS[part]}
            for kind, ids in (("false positive", score.false_alarms), ("missed", score.misses)):
                for i in ids:
                    print(f"  {kind}: {i} [{by_id[i]['class']}] {by_id[i]['title']}")
    assert precision >= floor_p and recall >= floor_r, f"{rule} on the {part} part: precision {precision:.3f}, recall {recall:.3f}"


def test_both_seed_articles_match_the_border_rule() -> None:
    ruleset = load_config(ROOT / "config").ruleset
    for path in sorted(FIXTURES.glob("0*.txt")):
        item = parse_article(path.read_text(encoding="utf-8"), path.name)
        assert "vn-kh-border" in [m.rule_id for m in ruleset.match(item)], path.name


def test_the_second_labelling_covers_tuning_items_only_and_kappa_is_cohens() -> None:
    """The agreement measure reads tuning items only (never a kept-out one), and its kappa is the textbook one."""
    from scripts.label_agreement import SECOND, kappa

    second = [line for line in SECOND.read_text(encoding="utf-8").splitlines() if line]
    ids = [json.loads(line)["id"] for line in second]
    tuning = {i["id"] for i in PARTS["tuning"]}
    assert len(ids) == len(set(ids)) == 200 and set(ids) <= tuning
    assert {label for line in second for label in json.loads(line)["labels"]} <= set(RULES)
    # 20 items: 8 yes/yes, 2 yes/no, 2 no/yes, 8 no/no: observed 0.8, expected 0.5, kappa 0.6.
    pairs = [(True, True)] * 8 + [(True, False)] * 2 + [(False, True)] * 2 + [(False, False)] * 8
    assert kappa(pairs) == pytest.approx(0.6)
