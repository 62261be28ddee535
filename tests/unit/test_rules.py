"""The rule language: terms, boundaries, diacritics, boolean operators, proximity, scopes, explanations."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from service.config.schema import RulesFile
from service.ingest.model import Item
from service.rules import match as rules
from service.rules import nodes, operators
from service.rules.compile import Groups, compile_rules, gazetteer
from service.rules.text import units


def ruleset(*specs: dict[str, Any], groups: dict[str, Any] | None = None) -> rules.Ruleset:
    data = {
        "destinations": {"d": {"type": "console"}},
        "groups": groups or {},
        "rules": [{"destinations": ["d"], **s} for s in specs],
    }
    spec = RulesFile.model_validate(data)
    return compile_rules(spec.rules, Groups(spec.groups))


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


def _brute(node: nodes.Node, present: set[int]) -> bool:
    if isinstance(node, nodes.TermNode):
        return node.term in present
    if isinstance(node, nodes.AllOf):
        return all(_brute(c, present) for c in node.children)
    if isinstance(node, nodes.AnyOf):
        return any(_brute(c, present) for c in node.children)
    if isinstance(node, nodes.NoneOf):
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


def test_near_within_a_sentence_or_paragraph() -> None:
    rs = ruleset(
        {"id": "sentence", "match": {"all": [{"near": ["@th", "border"], "within": "sentence"}]}},
        {"id": "paragraph", "match": {"all": [{"near": ["@th", "border"], "within": "paragraph"}]}},
        groups={"th": ["Thailand", "Thai"]},
    )
    far = "Thailand's foreign minister met his counterparts in Kuala Lumpur on Monday and, after long talks on trade and tourism, the General Border Committee agreed to meet again."
    assert ids(rs, item(summary=far)) == ["sentence", "paragraph"]
    assert ids(rs, item(summary="Thailand sent a minister. The border stayed closed.")) == ["paragraph"]
    assert ids(rs, item(summary="Thailand sent a minister.\nThe border stayed closed.")) == []
    assert ids(rs, item(summary="Mr. Anutin of Thailand met U.S. envoys. No border talk.")) == ["paragraph"]
    assert ids(rs, item(summary="Mr. Anutin met U.S. envoys on the border with Thailand.")) == ["sentence", "paragraph"]


def test_a_sentence_scope_excludes_the_other_border_without_losing_items_about_both() -> None:
    rs = ruleset(
        {"id": "vn-kh", "match": {"all": ["@kh", {"in": "sentence", "all": ["border", "@vn"], "none": ["@th"]}]}},
        groups={"vn": ["Vietnam"], "kh": ["Cambodia"], "th": ["Thailand"]},
    )
    other = "Vietnam urged Thailand and Cambodia to settle their border dispute peacefully."
    both = other + " Separately, Vietnam and Cambodia said border marker planting on their own border is nearly done."
    assert ids(rs, item(summary=other)) == []
    assert ids(rs, item(summary=both)) == ["vn-kh"]
    [m] = rs.match(item(summary=both))
    assert {t.term for t in m.terms} == {"Cambodia", "border", "Vietnam"}


@pytest.mark.parametrize(
    ("term", "text", "hit"),
    [
        ("ព្រំដែន", "កិច្ចការព្រំដែនកម្ពុជា-វៀតណាម", True),  # inside an unsegmented Khmer run
        ("ព្រំដែន", "កិច្ចការព្រំ\u200bដែន", True),  # a zero-width space between words is no separator
        ("ក", "កា", False),  # a dependent vowel continues the cluster
        ("ក", "ក្ស", False),  # so does a subscript consonant after coeng
        ("ស", "ក្ស", False),  # a subscript consonant belongs to the cluster before it
        ("ชายแดน", "ทหารไทยปะทะกันที่ชายแดนกัมพูชา", True),
        ("กร", "กรา", False),  # a following vowel that is a letter still ends the syllable
        ("ดน", "แดน", False),  # a leading vowel belongs to the consonant after it
        ("边界", "越南与柬埔寨陆地边界勘界立碑", True),
        ("Bavet", "Bavetcity", False),  # Latin terms keep word boundaries
    ],
)
def test_scripts_without_spaces_match_inside_words_on_cluster_boundaries(term: str, text: str, hit: bool) -> None:
    assert ids(ruleset({"id": "r", "match": {"any": [term]}}), item(text)) == (["r"] if hit else [])


def test_groups_may_list_groups_and_the_shipped_gazetteer_is_available() -> None:
    rs = ruleset(
        {"id": "r", "match": {"all": ["@places", "border"]}},
        groups={"places": ["@vn", "Bavet"], "vn": ["Mộc Bài", "@vn"]},
    )
    assert ids(rs, item("Moc Bai border gate")) == ["r"]
    assert ids(rs, item("Bavet border gate")) == ["r"]
    assert ids(ruleset({"id": "g", "match": {"any": ["@places.vn-kh.vn-gates"]}}), item("Moc Bai")) == ["g"]


def test_the_gazetteer_is_valid_and_each_of_its_names_finds_itself() -> None:
    groups = gazetteer()
    assert {"places.vn-kh.border-zone", "places.kh-th.border-zone", "places.vn-kh.vn-provinces-new"} <= set(groups)
    for name in groups:
        terms = Groups({}).terms(name)
        assert terms, name
        assert len({str(t) for t in groups[name]}) == len(groups[name]), f"{name} lists a name twice"
        rs = ruleset({"id": "r", "match": {"any": [f"@{name}"]}})
        for term in terms:
            label = term if isinstance(term, str) else term.term
            assert ids(rs, item(summary=f"Reports from {label}, on Monday.")) == ["r"], (name, label)


def test_the_extension_point_docstring_lists_every_operator() -> None:
    heads = set()
    for line in (operators.__doc__ or "").splitlines():
        if line.startswith("- `"):
            heads |= set(re.findall(r"`(\w+)`", line.split(":", 1)[0]))
    keys = {key for op in operators.OPERATORS for key in op.keys}
    assert {op.keys[0] for op in operators.OPERATORS} <= heads <= keys


def test_sentences_split_on_full_stops_but_not_abbreviations() -> None:
    assert text_units("Ông Hun Sen nói. TP. Hồ Chí Minh đón đoàn. H. E. Prak Sokhonn met U.S. envoys! Done") == [
        "Ông Hun Sen nói. ",
        "TP. Hồ Chí Minh đón đoàn. ",
        "H. E. Prak Sokhonn met U.S. envoys! ",
        "Done",
    ]
    assert text_units("ព្រំដែន។ ថៃ។") == ["ព្រំដែន។ ", "ថៃ។"]


def text_units(raw: str) -> list[str]:
    return units(raw, "sentence")


def test_an_exact_term_is_found_only_through_its_folded_form_and_beside_folded_terms() -> None:
    rs = ruleset(
        {"id": "exact", "match": {"any": [{"term": "Lào", "exact": True}]}},
        {"id": "folded", "match": {"any": ["lao", "cai"]}},  # "lao": the same key as the exact term's folded form
    )
    assert ids(rs, item("Biên giới Việt Nam – Lào")) == ["exact", "folded"]
    assert ids(rs, item("Lao Cai province")) == ["folded"]  # the folded form alone: the exact term is not there
    assert ids(rs, item("Cai Lậy", "Lào")) == ["exact", "folded"]  # in another field than the first hit
    assert ids(rs, item("Nothing of the kind")) == []
