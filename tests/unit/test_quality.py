"""Precision and recall of the shipped rules over real labelled news items (issue 3's bar: 0.9)."""

from __future__ import annotations

import json

import pytest

from service.config import load_config
from service.model import Item
from service.parse import parse_article
from tests.conftest import FIXTURES, ROOT

ITEMS = [json.loads(line) for line in (FIXTURES / "labelled" / "news.jsonl").read_text(encoding="utf-8").splitlines()]
RULES = ("vn-kh-border", "kh-th-border")


def test_the_set_is_large_and_covers_the_hard_cases() -> None:
    assert len(ITEMS) >= 100
    assert len({i["id"] for i in ITEMS}) == len(ITEMS)
    assert {"en", "vi"} <= {i["lang"] for i in ITEMS}
    for rule in RULES:
        assert sum(rule in i["labels"] for i in ITEMS) >= 20


@pytest.mark.parametrize("rule", RULES)
def test_precision_and_recall(rule: str, capsys: pytest.CaptureFixture[str]) -> None:
    ruleset = load_config(ROOT / "config").ruleset
    tp = fp = fn = 0
    wrong = []
    for entry in ITEMS:
        item = Item(feed_id="labelled", key=entry["id"], title=entry["title"], summary=entry["summary"], language=entry["lang"])
        matched = any(m.rule_id == rule for m in ruleset.match(item))
        wanted = rule in entry["labels"]
        tp += matched and wanted
        fp += matched and not wanted
        fn += wanted and not matched
        if matched != wanted:
            wrong.append(f"  {'false positive' if matched else 'missed'}: {entry['id']} {entry['title']}")
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    with capsys.disabled():
        print(f"\n{rule}: precision {precision:.2f}, recall {recall:.2f} over {len(ITEMS)} items ({tp} TP, {fp} FP, {fn} FN)")
        print("\n".join(wrong))
    assert precision >= 0.9 and recall >= 0.9, "\n".join(wrong)


def test_both_seed_articles_match_the_border_rule() -> None:
    ruleset = load_config(ROOT / "config").ruleset
    for path in sorted(FIXTURES.glob("0*.txt")):
        item = parse_article(path.read_text(encoding="utf-8"), path.name)
        assert "vn-kh-border" in [m.rule_id for m in ruleset.match(item)], path.name
