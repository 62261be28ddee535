"""The rule language: terms, boundaries, diacritics, boolean operators, proximity, scopes, explanations."""

from __future__ import annotations

import random
from typing import Any

import pytest

from service import rules
from service.config import compile_rules
from service.model import Item
from service.schema import RulesFile


def ruleset(*specs: dict[str, Any], groups: dict[str, Any] | None = None) -> rules.Ruleset:
    data = {
        "destinations": {"d": {"type": "console"}},
        "groups": groups or {},
        "rules": [{"destinations": ["d"], **s} for s in specs],
    }
    return compile_rules(RulesFile.model_validate(data))


def item(title: str = "", summary: str = "", content: str = "", feed: str = "f", link: str = "") -> Item:
    return Item(feed_id=feed, key=title, title=title, summary=summary, content=content, link=link)


def ids(rs: rules.Ruleset, it: Item, tags: tuple[str, ...] = ()) -> list[str]:
    return [m.rule_id for m in rs.match(it, tags)]


@pytest.mark.parametrize(
    ("term", "title", "hit"),
    [
        ("Việt Nam", "VIET NAM and Cambodia", True),
        ("Viet Nam", "Việt Nam’s border", True),
        ("Lao", "Laos border talks", False),
        ("Lao", "Lao officials met", True),
        ("demarcat*", "Demarcation resumes", True),
        ("demarcat*", "undemarcated line", False),
        ("border gate", "the border, gate 3", True),
        ("border gate", "border crossing gate", False),
        ("đ", "d", True),
    ],
)
def test_terms(term: str, title: str, hit: bool) -> None:
    assert ids(ruleset({"id": "r", "match": {"any": [term]}}), item(title)) == (["r"] if hit else [])


def test_exact_diacritics_when_asked() -> None:
    rs = ruleset({"id": "r", "match": {"any": [{"term": "đường", "exact": True}]}})
    assert ids(rs, item("Con đường biên giới")) == ["r"]
    assert ids(rs, item("Đại dương xanh")) == []
    assert ids(ruleset({"id": "r", "match": {"any": ["đường"]}}), item("Đại dương xanh")) == ["r"]


def test_all_any_none_and_groups() -> None:
    rs = ruleset(
        {"id": "r", "match": {"all": ["@vn", "@kh"], "none": ["football"]}},
        groups={"vn": ["Việt Nam", "Vietnamese"], "kh": ["Cambodia", "Campuchia"]},
    )
    assert ids(rs, item("Vietnamese and Cambodian", "Cambodia talks")) == ["r"]
    assert ids(rs, item("Việt Nam beat Cambodia at football")) == []
    assert ids(rs, item("Việt Nam alone")) == []


def test_nested_any_inside_all() -> None:
    rs = ruleset({"id": "r", "match": {"all": ["cambodia", {"any": ["border", {"all": ["marker", "planting"]}]}]}})
    assert ids(rs, item("Cambodia marker planting")) == ["r"]
    assert ids(rs, item("Cambodia marker")) == []


def test_near() -> None:
    rs = ruleset({"id": "r", "match": {"all": [{"near": ["@th", "border"], "within": 4}]}}, groups={"th": ["Thailand", "Thai"]})
    assert ids(rs, item("Thai troops at the border")) == ["r"]
    assert ids(rs, item("Thai officials said a lot of other things about the border")) == []
    assert ids(rs, item("Thai", "border")) == []  # different fields


def test_field_and_feed_scopes() -> None:
    rs = ruleset(
        {"id": "title-only", "fields": ["title"], "match": {"any": ["border"]}},
        {"id": "tagged", "feeds": ["cambodia"], "match": {"any": ["border"]}},
    )
    assert ids(rs, item("calm", "border"), ("asia",)) == []
    assert ids(rs, item("border", ""), ("cambodia",)) == ["title-only", "tagged"]
    assert ids(rs, item("calm", "border", feed="cambodia")) == ["tagged"]


def test_explanation_names_terms_fields_and_positions() -> None:
    rs = ruleset({"id": "r", "name": "Border", "match": {"all": ["cambodia", "border"], "none": ["football"]}})
    [m] = rs.match(item("Cambodia border", "The border was calm"))
    assert m.rule_name == "Border"
    assert [(t.term, t.fields, t.positions) for t in m.terms] == [("cambodia", ("title",), (0,)), ("border", ("title", "summary"), (1,))]


def _brute(node: rules.Node, present: set[int]) -> bool:
    if isinstance(node, rules.TermNode):
        return node.term in present
    if isinstance(node, rules.AllOf):
        return all(_brute(c, present) for c in node.children)
    if isinstance(node, rules.AnyOf):
        return any(_brute(c, present) for c in node.children)
    if isinstance(node, rules.NoneOf):
        return not any(_brute(c, present) for c in node.children)
    raise AssertionError


def test_index_agrees_with_evaluating_every_rule() -> None:
    rng = random.Random(3)
    words = [f"w{i}" for i in range(40)]

    def node(depth: int) -> Any:
        if depth == 0 or rng.random() < 0.4:
            return rng.choice(words)
        return {rng.choice(["all", "any"]): [node(depth - 1) for _ in range(rng.randint(1, 3))]}

    specs = [{"id": f"r{i}", "match": {"all": [node(3)], "none": [rng.choice(words)]}} for i in range(300)]
    rs = ruleset(*specs)
    for _ in range(300):
        chosen = rng.sample(words, rng.randint(0, 10))
        present = {i for i, t in enumerate(rs.terms) if t.key.strip() in chosen}
        expected = [r.id for r in rs.rules if _brute(r.tree, present)]
        assert ids(rs, item(" ".join(chosen))) == expected


def test_regular_expressions_use_re2_case_insensitively_unless_asked() -> None:
    rs = ruleset(
        {"id": "ci", "match": {"all": [{"regex": r"border\s+(gate|crossing)s?"}]}},
        {"id": "cs", "match": {"all": [{"regex": r"\bASEAN\b", "case_sensitive": True}]}},
    )
    assert ids(rs, item("Two BORDER   Crossings reopen")) == ["ci"]
    assert ids(rs, item("ASEAN ministers meet")) == ["cs"]
    assert ids(rs, item("asean ministers meet")) == []
    [m] = rs.match(item("border gate"))
    assert m.terms[0].term == r"/border\s+(gate|crossing)s?/" and m.terms[0].positions == ()


def test_domain_field_and_language_scope() -> None:
    rs = ruleset(
        {"id": "vnexpress", "fields": ["domain"], "match": {"any": ["vnexpress"]}},
        {"id": "vi-only", "languages": ["vi"], "match": {"any": ["biên giới"]}},
    )
    assert ids(rs, item("x", link="https://e.vnexpress.net/news/1")) == ["vnexpress"]
    assert ids(rs, item("Tuần tra biên giới chung với Campuchia")) == ["vi-only"]  # detected as Vietnamese
    declared = Item(feed_id="f", key="k", title="bien gioi", language="vi-VN")
    assert ids(rs, declared) == ["vi-only"]
    assert ids(rs, Item(feed_id="f", key="k", title="bien gioi", language="en")) == []


@pytest.mark.parametrize(
    ("sample", "language"),
    [
        ("Thủ tướng Phạm Minh Chính điện đàm với Thủ tướng Campuchia", "vi"),
        ("The prime ministers of Vietnam and Cambodia held talks", "en"),
        ("នាយករដ្ឋមន្ត្រីកម្ពុជា", "km"),
        ("ประเทศไทยและกัมพูชา", "th"),
        ("", ""),
    ],
)
def test_language_detection(sample: str, language: str) -> None:
    assert rules.detect_language(sample) == language
