"""The required-term prefilter: with it, matching gives the same matches and evidence as evaluating every rule hit."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

from service.config import load_config
from service.config.schema import RulesFile
from service.ingest.model import Item
from service.rules import index, labelled, prefilter
from service.rules.compile import Groups, compile_rules
from service.rules.match import Ruleset

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def _without_prefilter(ruleset: Ruleset) -> Ruleset:
    """The same rules, every rule one of whose terms occurs evaluated."""
    return dataclasses.replace(ruleset, prefilter=False)


def _same(ruleset: Ruleset, items: list[Item]) -> int:
    """Assert both ways give equal matches (terms, positions, evidence); return how many matches there were."""
    reference = _without_prefilter(ruleset)
    total = 0
    for it in items:
        found = ruleset.match(it)
        assert found == reference.match(it), it.key
        assert ruleset.match(it, explain=False) == reference.match(it, explain=False), it.key
        total += len(found)
    return total


def test_shipped_rules_on_the_labelled_set_and_the_article_fixtures() -> None:
    ruleset = load_config(ROOT / "config").ruleset
    items = [labelled.item_of(e) for part in labelled.PARTS for e in labelled.load(part)]
    for path in sorted(FIXTURES.glob("*.txt")):  # long multi-paragraph articles
        body = path.read_text(encoding="utf-8")
        items.append(Item(feed_id="f", key=path.name, title=body.split("\n", 1)[0], summary=body[:600], article=body))
    assert _same(ruleset, items) > 100


WORDS = [f"w{i}" for i in range(30)]
FILLER = [f"x{i}" for i in range(60)] + ["the", "and", "of", "Mr.", "U.S."]


def _term(rng: random.Random) -> Any:
    """A word, a two-word phrase, a prefix or a group."""
    return rng.choice([rng.choice(WORDS), f"{rng.choice(WORDS)} {rng.choice(WORDS)}", f"{rng.choice(WORDS)[:2]}*", "@g1", "@g2"])


def _node(rng: random.Random, depth: int) -> Any:
    """A random node: terms, all / any / none, `in:` a unit, and `near`."""
    roll = rng.random()
    if depth == 0 or roll < 0.3:
        return _term(rng)
    if roll < 0.45:
        return {"near": [_term(rng) for _ in range(rng.randint(2, 3))], "within": rng.choice([1, 3, 10, "sentence", "paragraph"])}
    node: dict[str, Any] = {rng.choice(["all", "any"]): [_node(rng, depth - 1) for _ in range(rng.randint(1, 3))]}
    if rng.random() < 0.3:
        node["none"] = [_term(rng)]
    if rng.random() < 0.4:
        node["in"] = rng.choice(["sentence", "paragraph", "lead"])
    return node


def _text(rng: random.Random, paragraphs: int) -> str:
    """Paragraphs of sentences of the rules' words and a few others."""
    vocabulary = WORDS + FILLER
    return "\n".join(
        " ".join(" ".join(rng.choice(vocabulary) for _ in range(rng.randint(2, 9))) + rng.choice([".", "!", "?"]) for _ in range(3))
        for _ in range(paragraphs)
    )


def test_generated_rules_and_items() -> None:
    rng = random.Random(28)
    rules = [{"id": f"r{i}", "destinations": ["d"], "match": {"any": [_node(rng, 3)]}} for i in range(200)]
    spec = RulesFile.model_validate(
        {"destinations": {"d": {"type": "console"}}, "groups": {"g1": WORDS[:4], "g2": ["@g1", *WORDS[20:23]]}, "rules": rules}
    )
    ruleset = compile_rules(spec.rules, Groups(spec.groups))
    items = [
        Item(feed_id="f", key=str(i), title=_text(rng, 1), summary=_text(rng, rng.randint(1, 3)), content=_text(rng, rng.randint(0, 3)))
        for i in range(200)
    ]
    assert _same(ruleset, items) > 200


def test_a_requirement_is_alternatives_of_slots() -> None:
    spec = RulesFile.model_validate(
        {
            "destinations": {"d": {"type": "console"}},
            "rules": [
                {"id": "r", "destinations": ["d"], "match": {"any": [{"all": ["a", "b"], "none": ["c"]}, "d", {"near": ["e", "f"]}, "g"]}}
            ],
        }
    )
    ruleset = compile_rules(spec.rules, Groups(spec.groups))
    number = {t.key.strip(): i for i, t in enumerate(ruleset.terms)}
    a, b, d, e, f, g = (frozenset((number[k],)) for k in "abdefg")
    assert prefilter.requirement(ruleset.rules[0].tree) == [(d | g,), (a, b), (e, f)]


ACCENTED = ["biển", "biên", "Lào", "lao", "lão", "Thái", "Thai", "đảo", "dao", "Straße", "strasse", "Vân Nam", "Văn Nam", "đường biên"]
OTHER_SCRIPT = ["ไทย", "ກັມພູຊາ", "កម្ពុជា", "国境", "—", "“", "\u00a0", "\t"]


def test_exact_terms_are_searched_only_where_their_folded_form_occurs() -> None:
    """The gate before the diacritic-preserving search (`Ruleset._gate`) holds back no match, in Latin and mixed-script text."""
    rng = random.Random(25)
    exact = [{"term": w, "exact": True} for w in ACCENTED[:10:2]] + [{"term": "đường biên*", "exact": True}]
    rules = [
        {"id": f"r{i}", "destinations": ["d"], "match": {"all": [rng.choice(exact), {"any": [rng.choice(ACCENTED), rng.choice(exact)]}]}}
        for i in range(30)
    ]
    spec = RulesFile.model_validate({"destinations": {"d": {"type": "console"}}, "rules": rules})
    ruleset = compile_rules(spec.rules, Groups(spec.groups))

    def text() -> str:
        words = ACCENTED + OTHER_SCRIPT * (rng.random() < 0.5) + FILLER
        return " ".join(rng.choice(words) for _ in range(rng.randint(3, 40)))

    items = [Item(feed_id="f", key=str(i), title=text(), summary=text()) for i in range(400)]
    assert _same(ruleset, items) > 100
    sea = RulesFile.model_validate(
        {"destinations": {"d": {"type": "console"}}, "rules": [{"id": "sea", "destinations": ["d"], "match": {"any": [exact[0]]}}]}
    )
    only_sea = compile_rules(sea.rules, Groups(sea.groups))
    for title, matched in (("ไทย Biển Đông", True), ("ไทย biên giới", False), ("Straße biển", True), ("Bien", False)):
        assert bool(only_sea.match(Item(feed_id="f", key="x", title=title))) is matched, title


SCRIPT_WORDS = [
    "ชายแดน",
    "กัมพูชา",
    "ព្រំដែន",
    "កម្ពុជា",
    "国境",
    "柬埔寨",
    "국경",
    "캄보디아",
    "الحدود",
    "كمبوديا",
    "カンボジア",
    "ミャンマー",
    "ຊາຍແດນ",
]


def test_keys_of_a_script_are_searched_only_in_text_that_holds_it() -> None:
    """Unpadded keys are split by script and searched only where a letter of it occurs (`needles`): no match is held back."""
    rng = random.Random(27)
    rules = [
        {"id": f"r{i}", "destinations": ["d"], "match": {"all": [rng.choice(SCRIPT_WORDS), {"any": rng.sample(SCRIPT_WORDS, 3)}]}}
        for i in range(40)
    ]
    spec = RulesFile.model_validate({"destinations": {"d": {"type": "console"}}, "rules": rules})
    ruleset = compile_rules(spec.rules, Groups(spec.groups))
    assert len(ruleset._automata) >= 6  # one per script, beside the padded keys

    def text() -> str:
        words = rng.sample(SCRIPT_WORDS, rng.randint(0, 4)) + [rng.choice(FILLER) for _ in range(rng.randint(1, 20))]
        rng.shuffle(words)
        return "".join(w + rng.choice([" ", "", "、", "។ "]) for w in words)

    items = [Item(feed_id="f", key=str(i), title=text(), summary=text()) for i in range(400)]
    assert _same(ruleset, items) > 100


def test_a_scripts_needles_are_in_every_letter_of_it() -> None:
    for script, blocks in index.SCRIPTS.items():
        found = index.needles(script)
        for low, high in blocks:
            held = [chr(c).encode() for c in range(low, high + 1)]
            missed = [raw for raw in held if not any(lead in raw and (not more or any(n in raw for n in more)) for lead, more in found)]
            assert not missed, (script, missed[:5])


def test_a_lone_surrogate_in_a_field_does_not_stop_matching() -> None:
    """Text decoded with surrogateescape can hold a lone surrogate; looking for a script's letters must not fail on it."""
    ruleset = load_config(ROOT / "config").ruleset
    found = ruleset.match(Item(feed_id="f", key="k", title="ព្រំដែន កម្ពុជា \ud800 Việt Nam", summary="x \udcff ไทย"))
    assert [m.rule_id for m in found] == ["vn-kh-border"]
