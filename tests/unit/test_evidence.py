"""An alert's evidence is decided where the match is made: the sentence that made each rule match, and whether the article was needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alerts.queue import Mutes
from service.config import Config, load_config
from service.config.schema import RulesFile
from service.ingest.model import Evidence, Item, RuleMatch
from service.ingest.parse import parse_article
from service.ingest.route import route
from service.rules.compile import Groups, compile_rules
from service.rules.match import Ruleset
from tests.conftest import FIXTURES, ROOT

SEEDS = ("000_7a1b3c353e3e3acd", "004_7dee21eaf8f7a444")


@pytest.fixture(scope="module")
def shipped() -> Config:
    return load_config(ROOT / "config")


def seed(stem: str) -> Item:
    return parse_article((FIXTURES / f"{stem}.txt").read_text(encoding="utf-8"), stem, feed_id="vns")


def evidence(ruleset: Ruleset, item: Item) -> dict[str, Evidence]:
    return {m.rule_id: m.evidence for m in ruleset.match(item)}


def marked(e: Evidence) -> list[str]:
    return [e.text[s:t] for s, t in e.highlights]


def rules(*specs: dict[str, Any]) -> Ruleset:
    spec = RulesFile.model_validate({"destinations": {"a": {"type": "console"}, "b": {"type": "console"}}, "rules": list(specs)})
    return compile_rules(spec.rules, Groups(spec.groups))


def test_each_shipped_rule_quotes_its_own_evidence_from_a_seed_article_served_whole(shipped: Config) -> None:
    found = evidence(shipped.ruleset, seed(SEEDS[0]))
    vn_kh, kh_th = found["vn-kh-border"], found["kh-th-border"]
    assert "land border demarcation and marker planting" in vn_kh.text and "demarcation" in marked(vn_kh)
    assert "General Border Committee" in kh_th.text and {"Cambodia", "Thailand"} <= set(marked(kh_th))
    assert not vn_kh.in_article and not kh_th.in_article and vn_kh.field == kh_th.field == "content"
    ceasefire = evidence(shipped.ruleset, seed(SEEDS[1]))["kh-th-border"]
    assert "ceasefire agreement between Cambodia and Thailand" in ceasefire.text
    assert {"ceasefire", "Cambodia", "Thailand"} <= set(marked(ceasefire))


def test_a_title_and_lead_item_quotes_the_page_that_made_it_match_and_says_so(shipped: Config) -> None:
    whole = seed(SEEDS[0])
    lead = whole.content.split("\n", 1)[0]
    item = Item("vns", "k", "Acting FM holds phone talks with Cambodian Deputy PM", summary=lead, article=whole.content)
    found = evidence(shipped.ruleset, item)
    assert found["vn-kh-border"].in_article and found["vn-kh-border"].field == "article"
    assert "marker planting" in found["vn-kh-border"].text
    assert found["kh-th-border"].in_article and "General Border Committee" in found["kh-th-border"].text


def test_an_item_that_matches_on_its_feed_text_never_says_it_matched_in_the_article() -> None:
    ruleset = rules({"id": "r", "destinations": ["a"], "match": {"all": ["cambodia", {"any": ["border", "demarcation"]}]}})
    item = Item("f", "k", "Cambodia border talks", summary="Cambodia and its neighbour met at the border.", article="Demarcation goes on.")
    [m] = ruleset.match(item)
    assert "article" in [f for t in m.terms for f in t.fields]  # a matched term occurs only in the article ...
    assert not m.evidence.in_article and m.evidence.field == "summary"  # ... but the feed's text was enough


def test_a_sentence_scope_is_quoted_where_it_held_not_where_the_names_recur() -> None:
    ruleset = rules({"id": "r", "destinations": ["a"], "match": {"in": "sentence", "all": ["cambodia", "border"]}})
    content = "Cambodia hosted a summit. Cambodia praised trade. The talks ended. Cambodia and Laos discussed the border line."
    [m] = ruleset.match(Item("f", "k", "Summit in Phnom Penh", content=content))
    assert m.evidence.text == "Cambodia and Laos discussed the border line." and marked(m.evidence) == ["Cambodia", "border"]


def test_near_is_quoted_from_the_sentence_where_the_terms_are_close() -> None:
    ruleset = rules({"id": "r", "destinations": ["a"], "match": {"any": [{"near": ["marker", "border"], "within": 3}]}})
    content = "A border town held a fair. Officials said the marker on the border was moved. Markets stayed open."
    [m] = ruleset.match(Item("f", "k", "News", content=content))
    assert m.evidence.text == "Officials said the marker on the border was moved."


def test_the_title_is_quoted_only_when_nothing_else_holds_the_terms() -> None:
    ruleset = rules({"id": "r", "destinations": ["a"], "match": {"all": ["cambodia", "border"]}})
    [m] = ruleset.match(Item("f", "k", "Cambodia border reopens", summary="Trucks crossed the Cambodia border at dawn."))
    assert m.evidence.field == "summary"
    [m] = ruleset.match(Item("f", "k", "Cambodia border reopens"))
    assert (m.evidence.field, m.evidence.text, marked(m.evidence)) == ("title", "Cambodia border reopens", ["Cambodia", "border"])


def match(rule: str, destinations: tuple[str, ...], quote: str) -> RuleMatch:
    return RuleMatch(rule, rule.upper(), destinations, (), Evidence(quote))


def test_route_gives_each_destination_its_own_rules_and_their_quotes() -> None:
    found = [match("vn", ("a",), "vn quote"), match("kh", ("a", "b"), "kh quote")]
    routed = route("f", found, None)
    assert [(r.destination, r.rule_ids, [e.text for e in r.evidence], r.muted, r.delivery) for r in routed.routes] == [
        ("a", ("vn", "kh"), ["vn quote", "kh quote"], False, "instant"),
        ("b", ("kh",), ["kh quote"], False, "instant"),
    ]
    assert routed.silenced == {"vn": None, "kh": None}


def test_route_applies_the_one_silence_rule_and_the_briefings() -> None:
    found = [match("vn", ("a",), "vn quote"), match("kh", ("a", "b"), "kh quote")]
    routed = route("f", found, None, Mutes(rules=frozenset({"vn"}), destinations=frozenset({"b"})), lambda d, rules: "daily")
    assert [(r.destination, r.rule_ids, r.muted, r.briefed) for r in routed.routes] == [
        ("a", ("kh",), False, True),
        ("b", ("kh",), True, True),
    ]
    assert routed.silenced == {"vn": "muted", "kh": None}
    source = route("f", found, None, Mutes(feeds=frozenset({"f"})))
    assert all(r.muted for r in source.routes) and set(source.silenced.values()) == {"muted"}
    assert route("f", found, "first_poll").routes == () and set(route("f", found, "too_old").silenced.values()) == {"too_old"}


def test_the_demo_config_agrees_with_the_fixtures(tmp_path: Path) -> None:
    for stem in SEEDS:  # the demo feed and the rule examples carry the project's original seeds, verbatim
        assert (ROOT / "config" / "examples" / f"{stem}.txt").read_bytes() == (FIXTURES / f"{stem}.txt").read_bytes()
