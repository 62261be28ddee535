"""Classes of wrong alerts fixed in the matcher and the shipped rules (issue 25), one test per class.

Each class was seen in the labelled set's tuning part; the tests use made-up sentences of the
same shape, not the labelled items, so they say what the matcher does for the whole class.
"""

from __future__ import annotations

from typing import Any

import pytest

from service.config import load_config
from service.config.schema import RulesFile
from service.ingest.model import Item
from service.rules import match as rules
from service.rules import normalise
from service.rules.compile import Groups, compile_rules
from tests.conftest import ROOT


def ruleset(*specs: dict[str, Any], groups: dict[str, Any] | None = None) -> rules.Ruleset:
    data = {"destinations": {"d": {"type": "console"}}, "groups": groups or {}, "rules": [{"destinations": ["d"], **s} for s in specs]}
    spec = RulesFile.model_validate(data)
    return compile_rules(spec.rules, Groups(spec.groups))


def hit(term: Any, title: str) -> bool:
    return bool(ruleset({"id": "r", "match": {"any": [term]}}).match(Item(feed_id="f", key="k", title=title)))


# Korean: a noun is followed by its particle in the same word.


@pytest.mark.parametrize(
    ("term", "title", "found"),
    [
        ("국경", "캄보디아와 베트남이 맞닿은 국경의 지형도", True),  # possessive particle
        ("국경", "국경에서 교전", True),  # locative
        ("국경", "국경에서는 긴장이", True),  # stacked particles
        ("국경", "국경 지역", True),  # a word of its own
        ("국경", "국경일 연휴", False),  # 국경일 is the national holiday, not the border
        ("국경", "대국경", False),  # not at the start of the word
        ("국경*", "국경지대에서 밀수", True),  # a prefix term takes compounds
        ("캄보디아", "태국은 캄보디아와의 국경에", True),
        ("캄보디아", "캄보디아군과 교전", True),  # a bound noun (army) and a particle
        ("태국", "태국군은 새벽", True),
        ("태국", "태국어 수업", False),  # 어 (language) is neither a particle nor a bound noun kept here
    ],
)
def test_korean_terms_take_their_particles(term: str, title: str, found: bool) -> None:
    assert hit(term, title) is found


# Japanese: a katakana term is a whole katakana word.


@pytest.mark.parametrize(
    ("term", "title", "found"),
    [
        ("タイ", "タイ・カンボジア国境で交戦", True),  # the middle dot separates words
        ("タイ", "タイ軍が砲撃", True),  # kanji after it
        ("タイ", "タイニン省の工業団地", False),  # Tây Ninh
        ("タイ", "タイヤ工場が開所", False),  # tyres
        ("タイ", "ベトナムのタイーン", False),  # a long-vowel mark continues the word
        ("カンボジア", "カンボジア国境", True),
        ("国境", "国境検問所が開通", True),  # kanji keep substring matching
    ],
)
def test_katakana_terms_do_not_match_inside_longer_katakana_words(term: str, title: str, found: bool) -> None:
    assert hit(term, title) is found


# Arabic: clitics attach to the word; diacritics and alef forms fold.


@pytest.mark.parametrize(
    ("term", "title", "found"),
    [
        ("كمبوديا", "البوابات الحدودية بين فيتنام وكمبوديا", True),  # wa- (and)
        ("كمبوديا", "التي تربطها بكمبوديا المجاورة", True),  # bi- (with)
        ("حدود", "توقفت الاشتباكات عند الحدود", True),  # al- (the)
        ("حدود", "على الحدود بين البلدين", True),
        ("حدود", "عدد محدود من الزوار", False),  # mahdud (limited): mi- is no clitic
        ("حدودي*", "المعارك الحدودية", True),  # the adjective, al- and a feminine ending
        ("كمبوديا", "كَمْبُودِيَا", True),  # short-vowel marks fold
        ("وقف إطلاق النار", "اتفاق على وقف اطلاق النار", True),  # hamza on alef folds
    ],
)
def test_arabic_terms_take_their_clitics(term: str, title: str, found: bool) -> None:
    assert hit(term, title) is found


def test_arabic_folding_keeps_both_forms_aligned() -> None:
    sample = "وقف إطلاقِ النار عند الحدودِ"
    assert len(normalise.fold(sample)) == len(normalise.exact(sample))
    assert normalise.fold(sample).split() == ["وقف", "اطلاق", "النار", "عند", "الحدود"]


# "Border as a word, not inside a compound or a name": an occurrence inside a listed compound does not count.


def test_an_occurrence_inside_a_listed_compound_does_not_count() -> None:
    groups = {
        "border-words": ["border", "frontière*", "biên giới", "国境", "국경*"],
        "compounds": [
            "Doctors without Borders",
            "Médecins sans frontières",
            "cross-border payment*",
            "thanh toán xuyên biên giới",
            "国境なき",
            "국경없는*",
        ],
        "border": [{"term": "@border-words", "not_in": ["@compounds"]}],
    }
    rs = ruleset({"id": "r", "match": {"all": ["@border", "Cambodia"]}}, groups=groups)

    def found(title: str) -> bool:
        return bool(rs.match(Item(feed_id="f", key="k", title=title)))

    assert not found("Médecins Sans Frontières quits Cambodia")
    assert not found("Cambodia launches cross-border payments by QR code")
    assert not found("Cambodia: thanh toán xuyên biên giới qua mã QR")
    assert not found("Cambodia ranks first in the 国境なき記者団 index")
    assert not found("Cambodia 국경없는기자회 순위")
    assert found("Doctors without Borders treat the wounded of the Cambodia border clash")  # another occurrence counts
    assert found("Cambodia closes the border")
    [m] = rs.match(Item(feed_id="f", key="k", title="Doctors without Borders at the Cambodia border"))
    assert [(t.term, t.positions) for t in m.terms if t.term == "border"] == [("border", (6,))]


def test_not_in_is_checked_like_any_term() -> None:
    with pytest.raises(ValueError, match="undefined term group 'nothing'"):
        load_rules({"id": "r", "match": {"any": [{"term": "border", "not_in": ["@nothing"]}]}})


def load_rules(*specs: dict[str, Any]) -> None:
    from service.rules.compile import check_rule

    spec = RulesFile.model_validate({"destinations": {"d": {"type": "console"}}, "rules": [{"destinations": ["d"], **s} for s in specs]})
    groups = Groups(spec.groups)
    issues = [issue for rule in spec.rules for issue in check_rule(rule, groups)]
    if issues:
        raise ValueError("; ".join(message for _, message in issues))


# The lead: the headline and the first paragraph of each text field.


def test_in_lead_holds_on_the_headline_and_first_paragraphs_only() -> None:
    rs = ruleset({"id": "r", "match": {"all": [{"in": "lead", "all": ["Vietnam", "Cambodia"]}, {"in": "paragraph", "all": ["border"]}]}})

    def found(title: str, summary: str) -> bool:
        return bool(rs.match(Item(feed_id="f", key="k", title=title, summary=summary)))

    assert found("Vietnam, Cambodia hold talks", "Both sides agreed to speed up border demarcation.")
    assert found("Talks in Hanoi", "Vietnam and Cambodia met.\nBoth sides agreed to speed up border demarcation.")
    assert not found("Talks in Hanoi", "Vietnam met Laos.\nCambodia sent a letter.\nThe border was calm.")
    # an article page that starts with its headline: the lead is the paragraph after it
    assert found("Talks in Hanoi", "Talks in Hanoi\nVietnam and Cambodia met.\nBoth sides agreed on border demarcation.")


# The shipped rules.


@pytest.fixture(scope="module")
def shipped() -> rules.Ruleset:
    return load_config(ROOT / "config").ruleset


def matched(shipped: rules.Ruleset, title: str = "", summary: str = "", article: str = "", language: str = "") -> list[str]:
    found = shipped.match(Item(feed_id="f", key="k", title=title, summary=summary, article=article, language=language))
    return sorted(m.rule_id for m in found)


def test_a_province_that_is_a_common_phrase_once_folded_needs_its_diacritics(shipped: rules.Ruleset) -> None:
    # "tỉnh biên giới" (a border province) folds to "tinh bien gioi", which holds the gate Tịnh Biên
    assert matched(shipped, "Bảy tỉnh biên giới phía bắc ký giao ước thi đua") == []
    assert matched(shipped, "Tây Ninh là tỉnh biên giới của miền Đông Nam Bộ") == []
    assert matched(shipped, "Khách qua cửa khẩu Tịnh Biên tăng mạnh dịp Tết") == ["vn-kh-border"]
    assert matched(shipped, "Travellers crowd the Tinh Bien border gate") == ["vn-kh-border"]


def test_a_sentence_about_both_borders_counts_for_both(shipped: rules.Ruleset) -> None:
    assert matched(shipped, "Cambodia shuts its borders with Thailand and Vietnam") == ["kh-th-border", "vn-kh-border"]
    assert matched(shipped, "Vietnam urges Thailand and Cambodia to exercise restraint at the border") == ["kh-th-border"]
    assert matched(shipped, "Vietnam and China review land border management at the Lào Cai gate, Cambodia says") == []


def test_both_sides_next_to_the_border_word_count_beside_another_neighbour(shipped: rules.Ruleset) -> None:
    """Round 5: a closure of several borders is also about this one; a border of other neighbours is not."""
    assert matched(shipped, "Thailand shuts its land borders with Laos and Cambodia for two weeks") == ["kh-th-border"]


def test_a_border_word_inside_a_compound_still_places_another_neighbour(shipped: rules.Ruleset) -> None:
    """A masked "share a border" does not count for a match, but it still says whose border a sentence is about."""
    laos_thailand = "Laos and Thailand share a border that runs from the tri-border with Myanmar to the one with Cambodia"
    assert matched(shipped, laos_thailand) == []


def test_floods_and_harvests_along_the_border_are_not_border_news(shipped: rules.Ruleset) -> None:
    """Round 6: what happens along a border without being about it; guards fighting smuggling in the floods still count."""
    assert matched(shipped, "Villagers are evacuated as floodwaters rise along the Cambodian-Thai border in Poipet") == []
    assert matched(shipped, "Heavy rain floods roads in Poipet on the Thai border, Cambodian officials say") == []
    assert matched(shipped, "", summary="Ruộng gần biên giới Việt Nam giáp tỉnh Svay Riêng (Campuchia) ngập nước đúng kỳ thu hoạch.") == []
    assert matched(shipped, "ทหารช่วยชาวบ้านเกี่ยวข้าวใกล้ชายแดนไทย-กัมพูชา") == []
    smuggling = "Floods make patrolling Vietnam's border with Cambodia harder, as smugglers take to the waterways"
    assert matched(shipped, "", summary=smuggling) == ["vn-kh-border"]
    assert matched(shipped, "Thai and Cambodian troops clash at the border near Poipet") == ["kh-th-border"]


def test_a_border_post_or_commune_named_alone_places_the_report(shipped: rules.Ruleset) -> None:
    """Round 6: Vietnamese domestic reports name the guards' post or the commune, not the province or Cambodia."""
    assert matched(shipped, "Đồn Biên phòng Ia Lốp tuần tra, bắt giữ 2 đối tượng vượt biên trái phép") == ["vn-kh-border"]
    assert matched(shipped, "Tuần tra khu vực biên giới xã Ea Bung trong đêm mưa") == ["vn-kh-border"]
    assert matched(shipped, "Xã Ea Bung khánh thành trường học mới") == []  # the commune's own news, no border


def test_thai_goods_are_not_thailand(shipped: rules.Ruleset) -> None:
    """Round 7 (and the issue's first class): a Việt Nam–Cambodia smuggling story that names Thai sugar is about this border only."""
    assert matched(shipped, "Smugglers bring Thai sugar from Cambodia across the border into Vietnam") == ["vn-kh-border"]
    assert matched(shipped, "", summary="Ghe chở đường cát Thái Lan nhập lậu qua biên giới Tịnh Biên (An Giang).") == ["vn-kh-border"]
    assert matched(shipped, "Thailand and Cambodia reopen the border crossing at Poipet") == ["kh-th-border"]


def test_citizens_in_the_cambodia_thailand_border_area_are_not_news_of_this_border(shipped: rules.Ruleset) -> None:
    """Round 7: Việt Nam, Cambodia and a border word side by side, about the other border."""
    assert matched(shipped, "Vietnamese citizens in the Cambodia-Thailand border area have been evacuated") == ["kh-th-border"]
    summary = "Công dân Việt Nam tại khu vực biên giới Campuchia và Thái Lan đã được sơ tán."
    assert matched(shipped, "", summary=summary) == ["kh-th-border"]
    assert matched(shipped, "Cambodia shuts its borders with Thailand and Vietnam") == ["kh-th-border", "vn-kh-border"]


def test_the_disputed_villages_and_peace_talks_place_a_report_on_the_cambodia_thailand_border(shipped: rules.Ruleset) -> None:
    """Round 7: the 2025 dispute moved to villages (Prey Chan, Chouk Chey), and its diplomacy to peace talks."""
    assert matched(shipped, "Thai soldiers fire on Cambodian villagers in Prey Chan") == ["kh-th-border"]
    assert matched(shipped, "Thai and Cambodian leaders head to Kuala Lumpur for peace talks") == ["kh-th-border"]
    assert matched(shipped, "Cambodian villagers celebrate the harvest festival") == []


def test_thailand_is_also_tai_in_korean_but_not_a_tyre_or_a_title(shipped: rules.Ruleset) -> None:
    """Round 8: 타이 names Thailand as 태국 does; a Korean noun that starts with it (타이어, 타이틀) is another word."""
    assert matched(shipped, "타이와 캄보디아 국경에서 또 충돌", language="ko") == ["kh-th-border"]
    assert matched(shipped, "캄보디아 국경 근처 타이어 공장 화재", language="ko") == []
    assert matched(shipped, "캄보디아 국경 마을의 타이틀 경기", language="ko") == []
    assert matched(shipped, "타이완과 캄보디아 국경 협력", language="ko") == []  # Taiwan
    assert matched(shipped, "타이베이에서 캄보디아 국경 문제 논의", language="ko") == []  # Taipei


def test_a_leader_stands_for_the_country(shipped: rules.Ruleset) -> None:
    """Round 6: a call between the two prime ministers names neither country; Hun Sen and Hun Manet already stood for Cambodia."""
    call = "Thủ tướng Phạm Minh Chính điện đàm với Thủ tướng Hun Manet, hai bên nhất trí sớm hoàn thành phân giới cắm mốc."
    assert matched(shipped, "", summary=call) == ["vn-kh-border"]
    assert matched(shipped, "Anutin and Hun Manet agree to reopen border checkpoints") == ["kh-th-border"]


def test_an_illegal_crossing_is_said_in_english_as_in_vietnamese(shipped: rules.Ruleset) -> None:
    """Round 6: "nhập cảnh trái phép" was a border word and "illegal entry" was not."""
    assert matched(shipped, "Thai police arrest 40 Cambodians for illegal entry") == ["kh-th-border"]
    assert matched(shipped, "Vietnam detains 12 Cambodians who entered illegally") == ["vn-kh-border"]
    assert matched(shipped, "Vietnam detains 12 Cambodians for overstaying their visas") == []


def test_a_khmer_border_crossing_is_a_border_word_but_a_passport_is_not(shipped: rules.Ruleset) -> None:
    """Round 6: ឆ្លងដែន (crossing the border) says border; លិខិតឆ្លងដែន (a passport) holds it without saying it."""
    assert matched(shipped, "ជនជាតិវៀតណាម៧នាក់ឆ្លងដែនខុសច្បាប់ត្រូវឃាត់ខ្លួននៅខេត្តមណ្ឌលគិរី") == ["vn-kh-border"]
    assert matched(shipped, "ជនជាតិវៀតណាម១១នាក់គ្មានលិខិតឆ្លងដែន ត្រូវឃាត់ខ្លួននៅខេត្តមណ្ឌលគិរី") == []


def test_the_three_border_junction_is_where_this_border_begins(shipped: rules.Ruleset) -> None:
    """Rounds 4 and 5: the Việt Nam–Laos–Cambodia junction, in a paragraph, without a border pair named."""
    assert matched(shipped, "Cột mốc ba biên Việt Nam - Lào - Campuchia ở Kon Tum được tu bổ") == ["vn-kh-border"]
    assert matched(
        shipped, "", summary="A marker was placed at the tri-border junction. It stands where Vietnam, Laos and Cambodia meet."
    ) == ["vn-kh-border"]
    assert matched(shipped, "Laos and Thailand share a border from the tri-border junction with Myanmar to the one with Cambodia") == []


def test_sharing_a_border_says_where_not_what(shipped: rules.Ruleset) -> None:
    """Round 5: a trade report's background sentence is not border news; a demarcation sentence still is."""
    assert matched(shipped, "Vietnam and Cambodia, which share a land border of 1,137 km, lift trade to 11 billion USD") == []
    assert matched(shipped, "Việt Nam và Campuchia có chung đường biên giới dài 1.255 km, thương mại đạt 11 tỷ USD") == []
    assert matched(shipped, "Vietnam and Cambodia, which share a border, finish demarcating it") == ["vn-kh-border"]
    # Round 6: the same phrase in the other languages of the watch.
    assert matched(shipped, "ไทยและกัมพูชามีพรมแดนติดกัน การค้าระหว่างสองประเทศปีนี้เพิ่มขึ้น") == []
    assert matched(shipped, "ថៃជាប្រទេសជិតខាងកម្ពុជាដែលមានព្រំដែនជាប់គ្នា និងមានវប្បធម៌ស្រដៀងគ្នា") == []
    assert matched(shipped, "La Thaïlande et le Cambodge, qui partagent une frontière, signent un accord culturel") == []
    assert matched(shipped, "ทหารไทยและกัมพูชาปะทะกันที่ชายแดน") == ["kh-th-border"]


def test_a_crossing_alone_places_a_report_on_the_cambodia_thailand_border(shipped: rules.Ruleset) -> None:
    """Round 4: Thai and Cambodian reports name the crossing, not the countries."""
    assert matched(shipped, "ทหารสั่งปิดจุดผ่านแดนถาวรช่องจอม อำเภอกาบเชิง จังหวัดสุรินทร์") == ["kh-th-border"]
    assert matched(shipped, "Traders queue at the Poipet border crossing as it reopens") == ["kh-th-border"]
    assert matched(shipped, "The Chong Mek border crossing with Laos reopens") == []


def test_every_clause_is_scoped_so_far_apart_mentions_do_not_add_up(shipped: rules.Ruleset) -> None:
    article = "\n".join(
        [
            "Cambodian rice exports rose 12 % this year, the ministry said.",
            "Buyers in Europe and China took most of it.",
            "In other news, Thailand's parliament debated a budget.",
            "Elsewhere, troops on the Myanmar border were put on alert after a clash.",
        ]
    )
    assert matched(shipped, "Rice exports up", article=article) == []
    article = "\n".join(["Vietnam's exports rose.", "Cambodia's too.", "Officials at the Laos border gate said trade was calm."])
    assert matched(shipped, "Exports up", article=article) == []


def test_the_gulf_of_thailand_is_not_thailand(shipped: rules.Ruleset) -> None:
    assert matched(shipped, "Visiting the Xa Xia border gate on the Gulf of Thailand, between Vietnam and Cambodia") == ["vn-kh-border"]


@pytest.mark.parametrize(
    ("title", "language", "rule"),
    [
        ("캄보디아와 베트남의 국경지대에서 담배 밀수", "ko", "vn-kh-border"),
        ("태국군, 접경 지역서 캄보디아군과 교전", "ko", "kh-th-border"),
        ("アンザン省警察とカンボジアの警察、国境の治安協力", "ja", "vn-kh-border"),
        ("هدنة هشة عند الحدود بين كمبوديا وتايلاند", "ar", "kh-th-border"),
        ("البوابات الحدودية بين فيتنام وكمبوديا", "ar", "vn-kh-border"),
        ("Соглашение о прекращении огня между Таиландом и Камбоджей", "ru", "kh-th-border"),
        ("Камбоджа и Таиланд: столкновения у храма Преах Вихеар", "ru", "kh-th-border"),
        ("Thailandia e Cambogia, nuovi scontri al confine", "it", "kh-th-border"),
        ("Tailândia e Camboja acordam cessar-fogo na fronteira", "pt", "kh-th-border"),
        ("Bentrokan di perbatasan Thailand dan Kamboja", "id", "kh-th-border"),
        ("Kamboçya ile Tayland sınırında yeniden çatışma", "tr", "kh-th-border"),  # round 11
        ("Vietnam ile Kamboçya sınır kapısını genişletiyor", "tr", "vn-kh-border"),
        ("کامبوج تمامی گذرگاه‌های مرزی با تایلند را بست", "fa", "kh-th-border"),
        ("درگیری در مرز کامبوج و تایلند", "fa", "kh-th-border"),
        ("Rondaan di sempadan Vietnam dan Kemboja untuk mencegah penyeludupan", "ms", "vn-kh-border"),  # round 12
        ("Konflikt graniczny między Kambodżą i Tajlandią", "pl", "kh-th-border"),
    ],
)
def test_the_languages_the_set_lacked(shipped: rules.Ruleset, title: str, language: str, rule: str) -> None:
    assert matched(shipped, title, language=language) == [rule]


@pytest.mark.parametrize(
    "title",
    [
        "Médecins sans frontières quitte la Thaïlande, où l'ONG aidait les réfugiés cambodgiens",
        "Reporters Without Borders ranks Cambodia and Thailand low on press freedom",
        "Cambodia and Thailand launch cross-border QR payments",
        "タイヤの中国メーカー、カンボジアの国境近くで工場開所",  # タイヤ (tyres) is not タイ (Thailand)
        "Tayland, Kamboçyalı işçileri sınır dışı etti",  # Turkish "sınır dışı": deported, "outside the border"
        "Kamboçya ve Tayland sınırsız veri paketi anlaşması imzaladı",  # sınırsız: unlimited
        "Kamboçya'nın Vietnam sınırına komşu Svay Rieng eyaletinde kumarhaneye baskın",  # "neighbouring the border": where
    ],
)
def test_compounds_and_longer_words_raise_no_alarm(shipped: rules.Ruleset, title: str) -> None:
    assert matched(shipped, title) == []


def test_tay_ninh_in_katakana_is_not_thailand(shipped: rules.Ruleset) -> None:
    assert matched(shipped, "ベトナム・タイニン省とカンボジアの国境経済区") == ["vn-kh-border"]


# The evaluator's shortcuts (alternatives within one sentence merged, one grouping per item, a quick
# test of the terms present before any grouping) must not change what holds.


def _brute(node: Any, hits: Any, fields: Any) -> bool:
    from service.rules import nodes

    if isinstance(node, nodes.TermNode):
        return node.term in hits
    if isinstance(node, nodes.AllOf):
        return all(_brute(c, hits, fields) for c in node.children)
    if isinstance(node, nodes.AnyOf):
        return any(_brute(c, hits, fields) for c in node.children)
    if isinstance(node, nodes.NoneOf):
        return not any(_brute(c, hits, fields) for c in node.children)
    if isinstance(node, nodes.Near):
        return node.evaluator()(hits, fields)
    assert isinstance(node, nodes.Within)
    groups: dict[Any, dict[int, list[Any]]] = {}
    for t, places in hits.items():
        for name, offset in places:
            key = ("lead", 0) if node.unit == "lead" else (name, fields[name].unit_of(offset, node.unit))
            headline = fields["title"].folded if "title" in fields else ""
            if node.unit == "lead" and not (
                name == "title" or fields[name].unit_of(offset, "paragraph") == fields[name].lead_paragraph(headline)
            ):
                continue
            groups.setdefault(key, {}).setdefault(t, []).append((name, offset))
    positive = node.inner.positive_terms()
    return any(_brute(node.inner, g, fields) for g in groups.values() if not positive.isdisjoint(g))


def test_scoped_evaluation_agrees_with_evaluating_every_sentence_by_hand() -> None:
    import random

    rng = random.Random(25)
    words = [f"w{i}" for i in range(12)]

    def node(depth: int) -> Any:
        roll = rng.random()
        if depth == 0 or roll < 0.3:
            return rng.choice(words)
        if roll < 0.4:
            return {"near": rng.sample(words, 2), "within": rng.choice([2, 5, "sentence"])}
        spec: dict[str, Any] = {rng.choice(["all", "any"]): [node(depth - 1) for _ in range(rng.randint(1, 3))]}
        if rng.random() < 0.4:
            spec["none"] = [node(depth - 1)]
        if rng.random() < 0.5:
            spec["in"] = rng.choice(["sentence", "paragraph", "lead"])
        return spec

    specs = [{"id": f"r{i}", "match": {"any": [node(3) for _ in range(rng.randint(1, 4))]}} for i in range(150)]
    rs = ruleset(*[s for s in specs if _needs_a_hit(s)])
    seen = 0
    for _ in range(200):
        sentences = [" ".join(rng.sample(words, rng.randint(1, 4))) + "." for _ in range(rng.randint(1, 5))]
        paragraphs = ["\n".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2)]
        it = Item(feed_id="f", key="k", title=" ".join(rng.sample(words, 2)), summary="\n".join(paragraphs))
        fields = rules.item_fields(it)
        hits, _ = rs.hits(fields)
        expected = [r.id for r in rs.rules if _brute(r.tree, dict(hits), fields)]
        assert [m.rule_id for m in rs.match(it)] == expected
        seen += len(expected)
    assert seen > 1000  # the rules do match: the comparison is not between two empty lists


def _needs_a_hit(spec: dict[str, Any]) -> bool:
    from service.rules.compile import check_rule

    parsed = RulesFile.model_validate({"destinations": {"d": {"type": "console"}}, "rules": [{"destinations": ["d"], **spec}]})
    return not check_rule(parsed.rules[0], Groups({}))


def test_an_anti_personnel_mine_is_a_word_of_the_conflict(shipped: rules.Ruleset) -> None:
    """Round 9: a mine blast in a Thai border district, named by the kind of mine; a coal mine is not."""
    assert matched(shipped, "A Thai soldier steps on an anti-personnel mine in Kantharalak district") == ["kh-th-border"]
    assert matched(shipped, "Miners rescued from a flooded coal mine in Kantharalak district") == []


def test_medical_aid_and_gifts_in_a_border_area_are_not_border_news(shipped: rules.Ruleset) -> None:
    """Round 9: medics and guards treating border residents; guards who also patrol still count."""
    aid = "Quân y Việt Nam và Campuchia khám bệnh, cấp thuốc miễn phí cho người dân trước giao lưu hữu nghị biên giới Việt Nam – Campuchia."
    assert matched(shipped, "", summary=aid) == []
    festival = "Biên phòng tổ chức Tết Trung thu cho trẻ em vùng biên giới Việt Nam – Campuchia."  # round 12
    assert matched(shipped, "", summary=festival) == []
    patrol = "Bộ đội Biên phòng tặng quà người dân rồi tuần tra biên giới Việt Nam – Campuchia."
    assert matched(shipped, "", summary=patrol) == ["vn-kh-border"]


def test_a_border_town_says_where_a_story_is_not_what_it_is_about(shipped: rules.Ruleset) -> None:
    """Round 9: a scam raid in "the border town of" a place is not border news; fighting near it still is."""
    assert matched(shipped, "Police raid a scam compound in a Cambodian border town near Thailand") == []
    assert matched(shipped, "カンボジア北部のタイとの国境の町で詐欺拠点を摘発", language="ja") == []
    assert matched(shipped, "Thai and Cambodian troops clash near the border town of Poipet") == ["kh-th-border"]


def test_a_vietnamese_report_of_a_crossing_to_cambodia_needs_no_vietnam(shipped: rules.Ruleset) -> None:
    """Round 9: "xuất cảnh trái phép sang Campuchia": the speaker's country goes without saying, even for Chinese nationals."""
    crossing = "Bốn người Trung Quốc đang chờ người đưa xuất cảnh trái phép sang Campuchia thì bị bắt."
    assert matched(shipped, "", summary=crossing) == ["vn-kh-border"]
    assert matched(shipped, "Đường cát buôn lậu từ Campuchia bị thu giữ tại chợ") == ["vn-kh-border"]
    assert matched(shipped, "Du khách sang Campuchia dịp nghỉ lễ tăng mạnh") == []


def test_a_mine_blast_in_a_thai_province_on_this_border_is_news_of_it(shipped: rules.Ruleset) -> None:
    """Round 10: Thai reports of a mine blast name the province, not Cambodia; กับระเบิด is a mine as ทุ่นระเบิด is."""
    assert matched(shipped, "ทหารไทยเหยียบกับระเบิดระหว่างลาดตระเวนในพื้นที่จังหวัดศรีสะเกษ", language="th") == ["kh-th-border"]
    assert matched(shipped, "A ranger loses a leg to a landmine in Sa Kaeo province") == ["kh-th-border"]
    assert matched(shipped, "A landmine left from the war wounds a farmer in Ubon Ratchathani, near the Laos border") == []
    assert matched(shipped, "Mine clearance teams declare three villages in Battambang safe") == []


def test_the_court_and_the_disputed_land_are_the_dispute(shipped: rules.Ruleset) -> None:
    """Round 10: the ICJ's ruling on the Preah Vihear promontory, told without a border word."""
    summary = "The court ruled that the promontory belongs to Cambodia. On nearly every point Thailand presented, it ruled for Cambodia, which did not get the whole disputed area."
    assert matched(shipped, "", summary=summary) == ["kh-th-border"]
    assert matched(shipped, "Thailand and Cambodia take their fishing quota case to the WTO") == []


def test_bavet_the_town_is_not_bavet_the_gate(shipped: rules.Ruleset) -> None:
    """Round 11: Bavet is also the casino and scam-compound town around the gate; named alone it needs a border word."""
    raid = "Police detain 2,000 foreigners in a raid on a casino in Bavet, Svay Rieng province, near Vietnam"
    assert matched(shipped, raid) == []
    assert matched(shipped, "Two smugglers held at the Bavet checkpoint in Svay Rieng") == ["vn-kh-border"]
    assert matched(shipped, "Vietnamese traders bring waste in through Bavet across the border from Vietnam") == ["vn-kh-border"]


def test_in_headline_holds_on_the_title_alone() -> None:
    """The headline scope: what the title says, whatever the summary adds."""
    rule = {"id": "r", "match": {"any": ["border"], "none": [{"in": "headline", "all": ["tourism"], "none": ["border"]}]}}
    found = ruleset(rule).match
    assert found(Item(feed_id="f", key="k", title="Tourism falls", summary="Fighting on the border scares visitors.")) == []
    assert found(Item(feed_id="f", key="k", title="Border tourism falls", summary="Fighting on the border."))
    assert found(Item(feed_id="f", key="k", title="Clashes", summary="Tourism falls as fighting on the border goes on."))
    headline = ruleset({"id": "r", "match": {"in": "headline", "all": ["border"]}}).match
    [only] = headline(Item(feed_id="f", key="k", title="Border news", summary="and the border again"))
    assert only.evidence.field == "title" and only.evidence.text == "Border news"
    assert headline(Item(feed_id="f", key="k", title="Other news", summary="border in the summary")) == []


# Headlines about business or scam compounds that cite the border only as background (rounds 11
# and 14): (headline, summary, language, rules matched). A measure at the border, fighting in the
# headline, or Thailand named in a scam headline keeps the item.
BACKGROUND_HEADLINES = [
    (
        "Cambodia-Thailand flights operating as usual",
        "Flights between Phnom Penh and Bangkok kept to their schedules despite the border clashes between Cambodia and Thailand.",
        "",
        [],
    ),
    (
        "Cambodians boycott Thai products",
        "Cambodians shun Thai goods amid anger over the Thai troops' stand-off with Cambodia near the border temple.",
        "",
        [],
    ),
    (
        "Cambodia bans Thai fruit and vegetable imports",
        "Cambodia stopped imports of Thai fruit and vegetables at its border checkpoints as the clashes with Thailand went on.",
        "",
        ["kh-th-border"],
    ),
    (
        "Tourism slumps as border clashes go on",
        "Hotels in Siem Reap are empty as Cambodia and Thailand fight along the border.",
        "",
        ["kh-th-border"],
    ),
    (
        "Tourists stranded as Thailand shuts the Poipet crossing",
        "Thailand closed the crossing at Poipet as fighting with Cambodia went on along the border.",
        "",
        ["kh-th-border"],
    ),
    (
        "Mehr als 200 Festnahmen bei Razzien in Betrugszentren in Kambodscha",
        "Die Polizei war an zwei Orten in der Stadt Poipet nahe der Grenze zu Thailand im Einsatz; festgenommen wurden 123 Thailänder.",
        "de",
        [],
    ),
    (
        "Cambodian forces detain 700 in raids on online scam sites",
        "Joint forces raided sites in Phnom Penh and Banteay Meanchey and held nationals of Vietnam, Thailand and China.",
        "",
        [],
    ),
    (
        "Thai scam workers returned from Cambodia",
        "Cambodia handed 40 Thai workers freed from scam compounds to Thai officials at the Poipet checkpoint.",
        "",
        ["kh-th-border"],
    ),
    (
        "Camboya detiene a mil personas en su última campaña contra la ciberdelincuencia",
        "Las redadas en Poipet, en la frontera con Tailandia, muestran el nexo entre el cibercrimen y las tensiones con Tailandia.",
        "es",
        [],
    ),
    (
        "Thai troops shell a scam compound as fighting resumes",
        "Thai troops shelled a scam compound on the Cambodian side of the border during the clashes.",
        "",
        ["kh-th-border"],
    ),
]


@pytest.mark.parametrize(("title", "summary", "language", "expected"), BACKGROUND_HEADLINES)
def test_a_headline_with_the_border_as_background_is_not_border_news(
    shipped: rules.Ruleset, title: str, summary: str, language: str, expected: list[str]
) -> None:
    """Tourism, flights, boycotts, sport and scam raids that cite the fighting or the border in passing."""
    assert matched(shipped, title, summary=summary, language=language) == expected


def test_a_place_near_the_border_says_where_not_what(shipped: rules.Ruleset) -> None:
    """Round 14: "near the border with" locates a town, as "border town" does; fighting near it still counts."""
    assert matched(shipped, "カンボジアのバベットで詐欺拠点を摘発、ベトナムとの国境に近い町", language="ja") == []
    assert matched(shipped, "Thai and Cambodian troops exchange fire near the border with Cambodia in Surin") == ["kh-th-border"]


def test_russian_thai_is_an_adjective_too(shipped: rules.Ruleset) -> None:
    """Round 14: Russian reports say "тайские военные" (Thai soldiers), not Таиланд."""
    assert matched(shipped, "Двое тайских военных ранены в перестрелке на границе с Камбоджей", language="ru") == ["kh-th-border"]


def test_border_guards_protecting_forest_are_not_border_news(shipped: rules.Ruleset) -> None:
    """Round 14: guards who catch forest clearing in a border commune; timber smuggled across still counts."""
    clearing = "Đồn Biên phòng Ia Chía phát hiện, bắt giữ 5 hộ dân đang phá rừng phòng hộ tại xã Ia Chía, Gia Lai."
    assert matched(shipped, "", summary=clearing) == []
    assert matched(shipped, "Rừng tại xã biên giới của Gia Lai đối mặt nguy cơ bị xóa sổ") == []
    timber = "Đồn Biên phòng Ia Chía bắt giữ 2 đối tượng buôn lậu gỗ từ Campuchia về xã Ia Chía, Gia Lai."
    assert matched(shipped, "", summary=timber) == ["vn-kh-border"]


def test_smuggled_goods_seized_in_a_place_on_this_border_are_news_of_it(shipped: rules.Ruleset) -> None:
    """Round 15: contraband seized in a border commune or province came over the Cambodian border; not at sea."""
    assert matched(shipped, "Bình Phước bắt 1.250 bao thuốc lá nhập lậu tại xã Lộc Thạnh, huyện Lộc Ninh") == ["vn-kh-border"]
    assert matched(shipped, "An Giang: Gần 20.000 bao thuốc lá ngoại nhập lậu vô chủ nằm ven đường") == ["vn-kh-border"]
    assert matched(shipped, "Kiên Giang: bắt tàu chở 80.000 lít dầu lậu trên biển Phú Quốc") == []
    assert matched(shipped, "Bình Phước thu hoạch 1.250 tấn điều tại xã Lộc Thạnh") == []


def test_houses_and_clinics_the_guards_build_are_good_works(shipped: rules.Ruleset) -> None:
    """Round 15: a house named "Mái ấm biên cương" handed to a poor family is not border news."""
    house = "Bộ Chỉ huy BĐBP Đắk Nông bàn giao 2 căn nhà 'Mái ấm biên cương' cho hộ nghèo xã Quảng Trực, huyện Tuy Đức."
    assert matched(shipped, "", summary=house) == []
    patrol = "Bộ Chỉ huy BĐBP Đắk Nông tuần tra, bắt giữ 2 đối tượng vượt biên trái phép tại xã Quảng Trực, huyện Tuy Đức."
    assert matched(shipped, "", summary=patrol) == ["vn-kh-border"]


def test_a_boycott_headline_is_business_in_korean_too(shipped: rules.Ruleset) -> None:
    """Round 15: the business headline exclusion knew no Korean, Japanese or Chinese word for a boycott."""
    summary = "캄보디아에서 최근 태국과의 국경 분쟁으로 민족주의 감정이 고조되면서 태국 제품 불매 운동이 확산되고 있다."
    assert matched(shipped, "캄보디아 민족주의가 불러온 불매 물결", summary=summary, language="ko") == []
    assert matched(shipped, "캄보디아, 태국 국경 검문소 폐쇄", summary=summary, language="ko") == ["kh-th-border"]


def test_the_preah_vihear_temple_is_a_place_of_the_dispute_but_the_province_is_not(shipped: rules.Ruleset) -> None:
    """Round 16: the temple named in English; the province of the same name stays a province."""
    assert matched(shipped, "UNESCO lists Cambodia's Preah Vihear temple as a World Heritage site over Thailand's objections") == [
        "kh-th-border"
    ]
    assert matched(shipped, "Thai tourists discover Preah Vihear province's forests in northern Cambodia") == []


def test_a_handover_of_citizens_by_cambodia_at_a_gate_is_border_news(shipped: rules.Ruleset) -> None:
    """Round 16: "trao trả" (handed back) is what guards do at the border, even at a post named after its gate."""
    handover = "Đồn Biên phòng cửa khẩu quốc tế Hoa Lư tiếp nhận 63 công dân Việt Nam do phía Campuchia trao trả."
    assert matched(shipped, "", summary=handover) == ["vn-kh-border"]


def test_vietnam_mediating_the_other_border_is_not_this_border(shipped: rules.Ruleset) -> None:
    """Round 16: "its border dispute with Thailand" names Việt Nam as a mediator, not as a side of this border."""
    assert matched(shipped, "Cambodia asks Vietnam to mediate border dispute with Thailand") == ["kh-th-border"]


def test_dutch_border_and_fighting_words(shipped: rules.Ruleset) -> None:
    """Round 16: Dutch reports (grens, vuurgevecht)."""
    assert matched(shipped, "Thailand en Cambodja sluiten grensovergangen na vuurgevecht", language="nl") == ["kh-th-border"]


@pytest.mark.parametrize(
    ("title", "language", "rule"),
    [
        ("थाईलैंड और कंबोडिया युद्धविराम पर सहमत", "hi", "kh-th-border"),
        ("থাইল্যান্ড-কম্বোডিয়া সংঘাত, যুদ্ধবিরতির আহ্বান", "bn", "kh-th-border"),
        ("11人從柬埔寨非法入境越南", "zh", "vn-kh-border"),
        ("ផ្ទុះគ្រាប់ក្នុងភូមិសាស្ត្រមុំបី បណ្ដាលឱ្យទាហានកម្ពុជា២នាក់រងរបួស", "km", "kh-th-border"),
    ],
)
def test_round_17_languages_and_words(shipped: rules.Ruleset, title: str, language: str, rule: str) -> None:
    """Round 17: Hindi and Bengali names and words, Chinese illegal entry, a Khmer ordnance blast at a border temple."""
    assert matched(shipped, title, language=language) == [rule]


def test_o_yadav_the_district_is_not_o_yadav_the_gate(shipped: rules.Ruleset) -> None:
    """Round 17: ស្រុកអូរយ៉ាដាវ is a district of Ratanakiri; its gate is named ច្រកអូរយ៉ាដាវ."""
    assert matched(shipped, "មន្ត្រីបរិស្ថានរឹបអូសឈើ៦២កំណាត់ នៅស្រុកអូរយ៉ាដាវ ខេត្តរតនគិរី", language="km") == []
    assert matched(shipped, "ច្រកអូរយ៉ាដាវ ខេត្តរតនគិរី បើកឱ្យពលរដ្ឋឆ្លងកាត់វិញ", language="km") == ["vn-kh-border"]


def test_named_wars_and_places_near_the_border_in_korean_say_where_not_what(shipped: rules.Ruleset) -> None:
    """Round 17: the 1979 war by its name; "베트남 국경 인근의" (near the Vietnamese border) locating a town."""
    assert matched(shipped, "Seminar in An Giang recalls victory of southwest border defence war of Vietnam and Cambodia") == []
    korean = "여행 금지 권고 대상은 베트남 국경 인근의 스바이리엥주 바벳 등이다."
    assert matched(shipped, "캄보디아 여행금지 권고", summary=korean, language="ko") == []
    assert matched(shipped, "Smugglers cross Vietnam's southwest border with Cambodia at night") == ["vn-kh-border"]


def test_water_for_villages_in_a_drought_is_good_works(shipped: rules.Ruleset) -> None:
    """Round 17: rangers handing out water along the border in a drought."""
    assert matched(shipped, "ทหารพรานแจกจ่ายน้ำช่วยชาวบ้านขาดแคลนน้ำ ตามแนวชายแดนไทย-กัมพูชา", language="th") == []


def test_a_number_plate_is_not_the_sea(shipped: rules.Ruleset) -> None:
    """Round 18: "biển số" (a number plate) held "biển" (the sea), which took a seizure off this border."""
    seizure = "Bộ đội Biên phòng tỉnh Tây Ninh thu giữ 4kg ma túy giấu trong xe gắn máy mang biển số Campuchia."
    assert matched(shipped, "", summary=seizure) == ["vn-kh-border"]
    assert matched(shipped, "", summary="Bộ đội Biên phòng tỉnh Tây Ninh cứu hộ tàu cá trên biển.") == []


def test_contraband_named_by_its_goods_is_contraband(shipped: rules.Ruleset) -> None:
    """Round 18: "đường cát lậu" (smuggled sugar) in a border commune; a ship's contraband is not this border's."""
    sugar = "Trên các tuyến đường xã Khánh Bình, huyện An Phú, tỉnh An Giang, xe máy chở đường cát lậu chạy tới điểm tập kết."
    assert matched(shipped, "", summary=sugar) == ["vn-kh-border"]
    assert matched(shipped, "Kiên Giang: Bắt giữ tàu chở 80.000 lít dầu lậu") == []


def test_a_thai_border_province_with_fighting_in_the_lead_needs_no_cambodia(shipped: rules.Ruleset) -> None:
    """Round 18: Thai reports of the fighting name the province and the border, not Cambodia."""
    lead = "Border residents of Surin province go home after a ceasefire was signed at the GBC meeting."
    assert matched(shipped, "Surin border residents return home", summary=lead) == ["kh-th-border"]
    assert matched(shipped, "Ubon Ratchathani reopens a border market with Laos after the clashes ended") == []


def test_charity_and_water_in_the_border_communes_are_good_works(shipped: rules.Ruleset) -> None:
    """Round 18: charity trips and fresh water brought to border communes in the dry season."""
    assert matched(shipped, "Hành trình nhân ái đến bà con nơi biên giới Bù Gia Mập") == []
    assert matched(shipped, "Kiên Giang: Mang nước ngọt về biên giới Giang Thành chữa khát cho dân") == []


def test_poipet_the_town_is_not_poipet_the_crossing(shipped: rules.Ruleset) -> None:
    """Round 19: Poipet is also the casino and scam-compound town; named alone it needs a border word or fighting."""
    assert matched(shipped, "Cambodian police raid a casino in Poipet and detain 40 Thais") == []
    assert matched(shipped, "Thailand reopens the Poipet checkpoint to Cambodian traders") == ["kh-th-border"]
    assert matched(shipped, "Shells hit Poipet as Thai and Cambodian troops clash") == ["kh-th-border"]
    assert matched(shipped, "ច្រកប៉ោយប៉ែតបើកឱ្យពលករខ្មែរឆ្លងចូលថៃវិញ", language="km") == ["kh-th-border"]


@pytest.mark.parametrize(
    ("title", "language"),
    [
        ("Thai jets launch air strikes on Cambodian army positions", ""),
        ("태국군, 캄보디아 시엠립주 공습", "ko"),
        ("Thailand fliegt Luftangriffe gegen kambodschanische Stellungen", "de"),
        ("Таиланд нанёс авиаудары по позициям армии Камбоджи", "ru"),
        ("泰国空袭柬埔寨军事目标", "zh"),
    ],
)
def test_air_strikes_are_fighting(shipped: rules.Ruleset, title: str, language: str) -> None:
    """Round 20: reports of the 2025 fighting lead with air strikes, a word the conflict terms lacked."""
    assert matched(shipped, title, language=language) == ["kh-th-border"]


def test_an_election_in_border_communes_is_not_border_news(shipped: rules.Ruleset) -> None:
    """Round 20: the vote held at border posts and in border communes; the border is only where it is held."""
    assert matched(shipped, "Các chốt trên biên giới Tây Ninh sẵn sàng cho ngày bầu cử") == []
    assert matched(shipped, "Bầu cử Campuchia: phe đối lập khai thác chuyện cột mốc biên giới với Việt Nam") == ["vn-kh-border"]
    assert matched(shipped, "Tuần tra biên giới Tây Ninh trước ngày bầu cử, bắt giữ 3 đối tượng nhập cảnh trái phép") == ["vn-kh-border"]


def test_vietnamese_citizens_on_the_border_between_cambodia_and_thailand_are_that_border(shipped: rules.Ruleset) -> None:
    """Round 21: "biên giới giữa Campuchia và Thái Lan" (the border between) names the other border, as without "giữa"."""
    advice = (
        "Bộ Ngoại giao đề nghị công dân Việt Nam ở các tỉnh biên giới giữa Campuchia và Thái Lan tuân thủ hướng dẫn của chính quyền sở tại."
    )
    assert matched(shipped, "", summary=advice) == ["kh-th-border"]


def test_a_police_raid_is_not_an_air_raid_in_arabic(shipped: rules.Ruleset) -> None:
    """Round 22: "غارات" alone is any raid (on scam centres too); an air raid is "غارات جوية"."""
    assert matched(shipped, "تواصل كمبوديا غارات على مراكز الاحتيال وتعتقل مواطنين من تايلاند", language="ar") == []
    assert matched(shipped, "غارات جوية تايلاندية على مواقع الجيش في كمبوديا", language="ar") == ["kh-th-border"]


@pytest.mark.parametrize(
    ("title", "summary", "language", "expected"),
    [
        ("Schusswechsel am Tempel Preah Vihear", "", "de", ["kh-th-border"]),
        ("Вьетнамские граждане в приграничье Таиланда и Камбоджи эвакуированы", "", "ru", ["kh-th-border"]),
        ("", "معظم المواطنين الفيتناميين على الحدود الكمبودية التايلاندية نقلوا إلى مناطق آمنة.", "ar", ["kh-th-border"]),
    ],
)
def test_round_22_words_for_fire_the_borderland_and_the_other_border_by_name(
    shipped: rules.Ruleset, title: str, summary: str, language: str, expected: list[str]
) -> None:
    """Round 22: German exchanges of fire, the Russian borderland, and the Cambodia–Thailand border named in Arabic beside Vietnamese citizens."""
    assert matched(shipped, title, summary=summary, language=language) == expected


def test_round_23_voters_the_new_countryside_and_a_crossing_by_sea(shipped: rules.Ruleset) -> None:
    """Round 23: voters in a border commune, the new-countryside programme there, and people who came in by sea to Phú Quốc."""
    assert matched(shipped, "Những cử tri đặc biệt nơi biên giới Tây Ninh") == []
    assert matched(shipped, "Gia Lai: nông thôn mới ở biên giới Ia Dom") == []
    by_sea = "Bốn người khai sang Campuchia làm thuê rồi nhập cảnh trái phép về Việt Nam."
    assert matched(shipped, "Bắt giữ 4 người nhập cảnh trái phép vào vùng biển Phú Quốc", summary=by_sea) == []
    assert matched(shipped, "Bắt giữ 4 người nhập cảnh trái phép ở vùng biên Tịnh Biên", summary=by_sea) == ["vn-kh-border"]


def test_a_handover_on_the_friendship_bridge_is_at_this_borders_crossing(shipped: rules.Ruleset) -> None:
    """Round 23: the Cambodia–Thailand Friendship Bridge is the Poipet–Klong Luek crossing, where people are handed over."""
    assert matched(shipped, "Cambodia hands over 173 Thais to Thai police on the Cambodia-Thailand Friendship Bridge") == ["kh-th-border"]
    khmer = "អាជ្ញាធរខេត្តបន្ទាយមានជ័យ ប្រគល់ជនជាតិថៃ១៧៣នាក់ ឲ្យអាជ្ញាធរថៃ នៅលើស្ពានមិត្តភាពកម្ពុជា-ថៃ"
    assert matched(shipped, khmer, language="km") == ["kh-th-border"]


@pytest.mark.parametrize(
    "title",
    [
        "தாய்லாந்து-கம்போடியா எல்லையில் மோதல்",  # a clash on the Thai–Cambodian border
        "உடனடி போர்நிறுத்தத்துக்கு கம்போடியா, தாய்லாந்து ஒப்புதல்",  # an immediate ceasefire, the suffixes of Tamil
    ],
)
def test_tamil_names_and_words(shipped: rules.Ruleset, title: str) -> None:
    """Round 24: the set's first Tamil reports of the 2025 fighting; the names and words take Tamil's suffixes as prefixes."""
    assert matched(shipped, title, language="ta") == ["kh-th-border"]


def test_round_26_a_gate_name_that_folds_into_a_phrase_and_the_peace_document(shipped: rules.Ruleset) -> None:
    """Round 26: folded, the gate Sở Thượng is "số thường" (quân số thường trực); "văn kiện hòa bình" is a peace agreement."""
    standing = "Tại cửa khẩu Bờ Y, các lực lượng biên phòng, hải quan vẫn duy trì quân số thường trực ngày Tết."
    assert matched(shipped, "", summary=standing) == []
    assert matched(shipped, "Đồn Biên phòng Sở Thượng bắt giữ 2 đối tượng vận chuyển hàng lậu qua biên giới") == ["vn-kh-border"]
    assert matched(shipped, "Việt Nam hoan nghênh Campuchia và Thái Lan ký văn kiện hòa bình") == ["kh-th-border"]


def test_dao_in_fraud_coup_or_reversal_is_not_an_island(shipped: rules.Ruleset) -> None:
    """The island "đảo" is not the one inside "lừa đảo" (fraud), "đảo chính" (a coup) or "đảo ngược" (a reversal)."""
    fraud = "Công an An Giang triệt phá đường dây lừa đảo đưa người trái phép qua biên giới sang Campuchia"
    assert matched(shipped, fraud) == ["vn-kh-border"]
    coup = "Bộ đội Biên phòng Tây Ninh bắt 3 người nhập cảnh trái phép qua biên giới Campuchia sau tin đồn đảo chính"
    assert matched(shipped, coup) == ["vn-kh-border"]
    island = "Bộ đội Biên phòng Kiên Giang tuần tra trên đảo Thổ Chu, giáp biên giới biển với Campuchia"
    assert matched(shipped, island) == []


def test_across_the_border_into_or_from_cambodia_is_a_crossing_of_this_border(shipped: rules.Ruleset) -> None:
    """A Vietnamese report of people taken "qua biên giới sang Campuchia" names no Việt Nam: it is this border all the same."""
    assert matched(shipped, "Triệt phá đường dây đưa người trái phép qua biên giới sang Campuchia") == ["vn-kh-border"]
    assert matched(shipped, "Nhóm người Thái Lan chạy qua biên giới sang Campuchia tránh giao tranh") != ["vn-kh-border"]


def test_dike_work_against_the_flood_is_not_border_news(shipped: rules.Ruleset) -> None:
    """Round 27: soldiers of the border area building dikes (đắp đê, đê bao) are at flood work, as at the harvest."""
    assert matched(shipped, "Lực lượng vũ trang khu vực biên giới tỉnh An Giang giúp dân đắp đê, bảo vệ lúa") == []
    assert matched(shipped, "Lực lượng vũ trang khu vực biên giới Đồng Tháp gia cố đê bao bảo vệ nhà cửa") == []
    assert matched(shipped, "Bộ đội Biên phòng An Giang đắp đê, tuần tra ngăn buôn lậu qua biên giới mùa lũ") == ["vn-kh-border"]


def test_an_election_or_a_parliament_headline_is_politics_even_citing_the_fighting(shipped: rules.Ruleset) -> None:
    """Round 27: a coalition, an election or a dissolved parliament moved by the conflict is the country's own politics."""
    assert matched(shipped, "Thai coalition wobbles as border clashes with Cambodia drag on") == []
    assert matched(shipped, "ยุบสภา ท่ามกลางการปะทะชายแดนไทย-กัมพูชา") == []
    assert matched(shipped, "Thai parties pledge to reopen border checkpoints with Cambodia after the election") == ["kh-th-border"]


def test_round_28_payments_elections_storms_and_russian_province_names(shipped: rules.Ruleset) -> None:
    """Round 28: Japanese cross-border payments, Arabic elections, storms, the border provinces in Russian."""
    assert matched(shipped, "ベトナムとカンボジアの銀行、国境を越えた送金サービスを開始") == []
    assert matched(shipped, "カンボジアからベトナムへ国境を越えて密輸された砂糖を押収") == ["vn-kh-border"]  # a crossing stays one
    assert matched(shipped, "حل البرلمان التايلاندي وسط اشتباكات حدودية مع كمبوديا") == []
    assert matched(shipped, "ខ្យល់ព្យុះបំផ្លាញផ្ទះប្រជាពលរដ្ឋ នៅតាមព្រំដែនកម្ពុជា-ថៃ ខេត្តឧត្ដរមានជ័យ") == []
    assert matched(shipped, "Typhoon lashes villages along the Cambodia-Thailand border") == []
    assert matched(shipped, "Открыт новый пограничный переход между провинциями Тэйнинь и Свайриенг") == ["vn-kh-border"]
    assert matched(shipped, "Камбоджа открыла пограничный переход с провинцией Анзянг") == ["vn-kh-border"]


KH_TH, VN_KH = ["kh-th-border"], ["vn-kh-border"]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Thajsko a Kambodža: na hranici pokračují přeshraniční střety", KH_TH),  # Czech
        ("Tűzszünet Thaiföld és Kambodzsa határán", KH_TH),  # Hungarian
        ("Thaiföld és Kambodzsa határozatot fogadott el a turizmusról", []),  # a decision (határozat), not a border
        ("Ciocniri la frontiera dintre Thailanda și Cambodgia", KH_TH),  # Romanian
        ("Strider vid gränsen mellan Thailand och Kambodja", KH_TH),  # Swedish
        ("Staakt-het-vuren aan de grens tussen Thailand en Cambodja", KH_TH),  # Dutch
        ("Thaimaan ja Kambodžan rajalla taistelut jatkuvat", KH_TH),  # Finnish
        ("Таїланд і Камбоджа домовилися про перемир'я на кордоні", KH_TH),  # Ukrainian
        ("Сблъсъци на границата между Тайланд и Камбоджа", KH_TH),  # Bulgarian
        ("Συγκρούσεις στα σύνορα Ταϊλάνδης και Καμπότζης", KH_TH),  # Greek
        ("עימותים בגבול בין תאילנד לקמבודיה", KH_TH),  # Hebrew
        ("ການປະທະກັນຢູ່ຊາຍແດນໄທ-ກຳປູເຈຍ", KH_TH),  # Lao
        ("ထိုင်း-ကမ္ဘောဒီးယား နယ်စပ်တွင် တိုက်ပွဲ", KH_TH),  # Burmese
        ("تھائی لینڈ اور کمبوڈیا کی سرحد پر جھڑپیں", KH_TH),  # Urdu
        ("Vietnam a Kambodža otevřely nový hraniční přechod", VN_KH),  # Czech
        ("וייטנאם וקמבודיה פתחו מעבר גבול חדש", VN_KH),  # Hebrew
        ("ຫວຽດນາມ ແລະ ກຳປູເຈຍ ເປີດດ່ານຊາຍແດນໃໝ່", VN_KH),  # Lao
        ("В'єтнам і Камбоджа відкрили новий пункт пропуску на кордоні", VN_KH),  # Ukrainian
    ],
)
def test_round_29_languages_the_set_lacked(shipped: rules.Ruleset, title: str, expected: list[str]) -> None:
    """Issue 25's "terms in the languages the set lacks": names, border and fighting words, written before round 29 was read."""
    assert matched(shipped, title) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("ການສູ້ຮົບລະຫວ່າງໄທ ແລະ ກຳປູເຈັຍ ຢູ່ຊາຍແດນ", KH_TH),  # Lao: the other spelling of Cambodia, fighting
        ("ໄທ ແລະ ກຳປູເຈຍ ລົງນາມຂໍ້ຕົກລົງສັນຕິພາບ", KH_TH),  # Lao: a peace agreement
        ("क्याम्बोडियाली र थाइल्यान्डका सेनाबीच सीमामा द्वन्द्व", KH_TH),  # Nepali: names with postpositions
        ("थाइल्यान्डले कम्बोडियाली सैनिक रिहा गर्यो, युद्धविराम कायम", KH_TH),
        ("Таїланд і Камбоджа погодили припинення вогню", KH_TH),  # Ukrainian: ceasefire
        ("Thailand og Kambodsja enige om våpenhvile", KH_TH),  # Norwegian spelling of Cambodia
        ("Thajsko: volby vyhrála strana premiéra uprostřed sporu s Kambodžou o hranici", []),  # an election (Czech)
        ("Ústavní soud odvolal thajskou premiérku kvůli hovoru s Hun Senem o hranici s Kambodžou", []),  # a court
        ("Constitutional Court removes Thai PM over call with Hun Sen amid Cambodia border row", []),
        ("थाईलैंड में चुनाव, कंबोडिया के साथ सीमा विवाद के बीच", []),  # an election (Hindi)
    ],
)
def test_round_29_spellings_and_politics_in_the_new_languages(shipped: rules.Ruleset, title: str, expected: list[str]) -> None:
    """Round 29's tuning items: spellings the first terms missed, and elections and courts in the new languages."""
    assert matched(shipped, title) == expected


def test_siam_in_khmer_and_cam_bot_in_vietnamese_name_the_countries(shipped: rules.Ruleset) -> None:
    """Much of the Khmer press calls Thailand សៀម (Siam), but not inside សៀមរាប (Siem Reap); overseas Vietnamese write Cam Bốt."""
    assert matched(shipped, "ទាហានសៀមបាញ់កាំភ្លើងធំចូលភូមិតាមព្រំដែនកម្ពុជា") == ["kh-th-border"]
    assert matched(shipped, "ភ្ញៀវទេសចរមកលេងខេត្តសៀមរាបកើនឡើង ខណៈព្រំដែនកម្ពុជាស្ងប់ស្ងាត់") == []
    assert matched(shipped, "Việt Nam và Cam Bốt mở thêm cửa khẩu biên giới") == ["vn-kh-border"]


def test_bien_mau_and_the_border_with_cambodia_in_a_vietnamese_report(shipped: rules.Ruleset) -> None:
    """ "Biên mậu" is border trade; a Vietnamese report's "biên giới với Campuchia" is Việt Nam's border unless another country is named."""
    assert matched(shipped, "Chợ biên mậu ở An Giang đón thương nhân Campuchia") == ["vn-kh-border"]
    assert matched(shipped, "Phát triển kinh tế biên mậu với Campuchia") == ["vn-kh-border"]
    assert matched(shipped, "Tăng cường quản lý biên giới với Campuchia") == ["vn-kh-border"]
    assert matched(shipped, "Thương mại biên giới với Campuchia tăng 20%") == ["vn-kh-border"]
    assert matched(shipped, "Thái Lan đóng cửa biên giới với Campuchia") == ["kh-th-border"]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("ทหารเสริมกำลังตามแนวชายแดนกัมพูชา", KH_TH),  # Thai: "the Cambodian border" is Thailand's
        ("กองทัพภาคที่ 2 ปิดด่านชายแดนกัมพูชาทุกจุด", KH_TH),
        ("កងរាជអាវុធហត្ថពង្រឹងការការពារព្រំដែនជាប់ថៃ", KH_TH),  # Khmer: "the border with Thailand" is Cambodia's
        ("ប៉ូលិសព្រំដែនរឹតបន្តឹងការត្រួតពិនិត្យព្រំដែនជាប់វៀតណាម", VN_KH),  # and "the border with Việt Nam"
        ("ច្រកព្រំដែនជាមួយវៀតណាមបើកឡើងវិញ", VN_KH),
        ("ชายแดนกัมพูชา-เวียดนามคึกคัก", VN_KH),  # Thai, on the other border of Cambodia
        ("ព្រំដែនថៃ-ម៉ាឡេស៊ី បិទជាបណ្ដោះអាសន្ន", []),  # Khmer, on Thailand's border with Malaysia
    ],
)
def test_a_border_named_from_one_side_in_that_sides_language(shipped: rules.Ruleset, title: str, expected: list[str]) -> None:
    """Thai and Khmer reports name the border by the neighbour alone; their own country goes without saying."""
    assert matched(shipped, title) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Binh sĩ Thái Lan trúng mìn ở tỉnh Surin", KH_TH),  # Vietnamese: a mine, as the Thai reports tell it
        ("Un soldado tailandés herido por una mina terrestre en Sisaket", KH_TH),
        ("Tayland askeri Sisaket’te mayına bastı", KH_TH),
        ("Тайский солдат подорвался на противопехотной мине в провинции Сисакет", KH_TH),
        ("Minh Min cùng bạn đi chơi Campuchia", []),  # "mìn" is exact: folded, min is a name
    ],
)
def test_landmines_in_more_languages(shipped: rules.Ruleset, title: str, expected: list[str]) -> None:
    """A mine in one of Thailand's provinces on this border is its news: the mine words in eleven more languages."""
    assert matched(shipped, title) == expected


def test_demarcation_with_cambodia_in_a_vietnamese_report_and_polish_vietnam(shipped: rules.Ruleset) -> None:
    """Marker planting with "the Cambodian side" is Việt Nam's border in a Vietnamese report; Polish writes Wietnam."""
    assert matched(shipped, "Ủy ban Biên giới quốc gia họp với phía Campuchia về phân giới cắm mốc") == ["vn-kh-border"]
    assert matched(shipped, "Campuchia và Thái Lan hoàn tất cắm mốc tạm thời") == ["kh-th-border"]
    assert matched(shipped, "Nowe przejście graniczne między Wietnamem a Kambodżą") == ["vn-kh-border"]


def test_thai_checkpoints_and_reinforcements(shipped: rules.Ruleset) -> None:
    """Thai reports name a crossing by its checkpoint (ผ่านด่าน, ด่านผ่อนปรน) and troops by reinforcing them (เสริมกำลัง)."""
    assert matched(shipped, "แรงงานกัมพูชาทะลักกลับประเทศผ่านด่านอรัญประเทศ") == ["kh-th-border"]
    assert matched(shipped, "ทหารพรานเสริมกำลังที่ช่องบก จ.อุบลราชธานี") == ["kh-th-border"]
    assert matched(shipped, "ทหารพรานแจกจ่ายน้ำช่วยชาวบ้านขาดแคลนน้ำ ตามแนวชายแดนไทย-กัมพูชา") == []  # rangers' good works


def test_a_prime_minister_removed_or_a_new_government_is_politics(shipped: rules.Ruleset) -> None:
    """Round 30: "destituída", a new government: the country's politics, however much the conflict moved it."""
    assert matched(shipped, "Primeira-ministra tailandesa destituída após telefonema sobre a fronteira com o Camboja") == []
    assert matched(shipped, "ملك تايلاند يقر الحكومة الجديدة بعد نزاع حدودي مع كمبوديا") == []
    assert matched(shipped, "Thailand's new government vows to reopen border crossings with Cambodia") == ["kh-th-border"]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Thủ tướng Thái Lan tuyên bố xây tường biên giới với Campuchia sau chiến thắng bầu cử", KH_TH),  # a wall: a measure
        ("ฮุนเซนลั่นไม่เคยขอให้ไทยเปิดด่าน", KH_TH),  # Thai: opening the checkpoints
        ("កងទ័ពអាកាសថៃប្រើយន្តហោះចម្បាំង F16 បំផ្លាញស្ពាននៅកម្ពុជា", KH_TH),  # Khmer: fighter jets
        ("ហ៊ុន ម៉ាណែត ថាកម្ពុជាបាញ់ទម្លាក់ដ្រូនរបស់ថៃ", KH_TH),  # Khmer: shot down
        ("វៀតណាមគាំទ្រការផ្សះផ្សា ក្នុងភាពតានតឹងរវាងកម្ពុជា និងថៃ", KH_TH),  # Khmer: tension
        ("ฝนตกหนักทำให้น้ำไหลเข้าท่วมหมู่บ้านพื้นที่ชายแดนไทย-กัมพูชา", []),  # Thai: heavy rain and flooding
    ],
)
def test_round_31_walls_checkpoints_jets_and_floods(shipped: rules.Ruleset, title: str, expected: list[str]) -> None:
    """Round 31, news as a desk's feeds bring it: a border wall, Thai checkpoints opened, jets, drones shot down, tension, floods."""
    assert matched(shipped, title) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        # Cambodia's districts and communes on the Thai border, as Khmer, Thai and English reports name them.
        ("ក្រុមអ្នកសង្កេតការណ៍អាស៊ានចុះពិនិត្យស្ថានភាពព្រំដែននៅស្រុកវាលវែង", KH_TH),
        ("ทหารไทยวางลวดหนามปิดถนนในตำบลถมดาของกัมพูชา", KH_TH),
        ("Shelling hits villages in Banteay Ampil district overnight", KH_TH),
        # Cambodia's provinces in Thai.
        ("ทหารไทยยิงปืนใหญ่ใส่หมู่บ้านในจังหวัดบันเตียเมียนเจย", KH_TH),
        # A flood in a border district is not border news, however the Khmer report words it.
        ("ជំនន់ទឹកភ្លៀងនៅស្រុកភ្នំព្រឹក អាជ្ញាធរជម្លៀសប្រជាពលរដ្ឋទៅទីទួលសុវត្ថិភាព", []),
        # Cambodia's districts on the Vietnamese border, with a border word.
        ("ប៉ូលិសល្បាតតាមព្រំដែននៅស្រុកមេមត់", VN_KH),
        ("Police patrol the border in Ponhea Kraek district", VN_KH),
    ],
)
def test_cambodias_border_districts_on_both_borders_and_its_provinces_in_thai(
    shipped: rules.Ruleset, title: str, expected: list[str]
) -> None:
    """Rounds 32 and 33: Cambodian reports place either border by their own districts, Thai reports by Cambodia's provinces."""
    assert matched(shipped, title) == expected


def test_round_32_the_sea_games_and_a_prime_minister_removed_in_vietnamese(shipped: rules.Ruleset) -> None:
    """The SEA Games in the languages that name them so, and "phế truất": sport and politics, not the border."""
    lead = "Cambodia withdrew its athletes from the Games in Thailand as the border clashes went on."
    assert matched(shipped, "ប្រតិភូកីឡាកម្ពុជាចុងក្រោយត្រឡប់មកពីស៊ីហ្គេមវិញ", lead) == []
    assert matched(shipped, "柬埔寨宣布退出東南亞運 選手即刻返國", lead) == []
    assert matched(shipped, "Cambodian athletes come home", lead) == KH_TH  # not about the Games by its headline
    assert matched(shipped, "Tòa án Thái Lan phế truất Thủ tướng sau cuộc điện đàm về xung đột biên giới với Campuchia") == []
    assert (
        matched(shipped, "Campuchia và Thái Lan đấu súng ở biên giới trước thềm SEA Games") == KH_TH
    )  # the border in the headline still counts


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        (
            "Bắt 2 đối tượng vận chuyển pháo nổ tại Tây Ninh",
            "Lực lượng biên phòng phát hiện 2 đối tượng chở pháo nổ qua đường mòn, chặn bắt.",
            VN_KH,
        ),
        # Kon Tum borders Laos too; Kiên Giang's guards also work at sea.
        (
            "Bắt 2 đối tượng vận chuyển pháo nổ tại Kon Tum",
            "Lực lượng biên phòng phát hiện 2 đối tượng chở pháo nổ qua đường mòn, chặn bắt.",
            [],
        ),
        ("Kiên Giang: bắt tàu chở dầu lậu", "Bộ đội biên phòng bắt giữ tàu cá chở 20.000 lít dầu trái phép trên biển.", []),
        # The guards' mission named, not an act on the border.
        ("Tây Ninh: Tết ấm cho hộ nghèo", "Bộ đội biên phòng bảo vệ chủ quyền và chăm lo Tết cho dân.", []),
    ],
)
def test_round_33_the_guards_at_work_in_a_province_the_headline_names(
    shipped: rules.Ruleset, title: str, summary: str, expected: list[str]
) -> None:
    """Round 33: a report placed by its headline in a province on this border, whose lead tells of the guards at work and names no place."""
    assert matched(shipped, title, summary) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        # Contraband between the two countries, without the word "border", in the watch's languages.
        ("Vietnamese police seize 200 kg of cannabis smuggled from Cambodia", VN_KH),
        ("越南警方查获从柬埔寨走私入境的毒品", VN_KH),
        ("カンボジアからベトナムへ麻薬を密輸した男を逮捕", VN_KH),
        ("캄보디아에서 베트남으로 마약 밀반입한 남성 체포", VN_KH),
        ("Полиция Вьетнама задержала контрабандистов сигарет из Камбоджи", VN_KH),
        ("Contrabando de azúcar desde Camboya hacia Vietnam", VN_KH),
        # A Vietnamese report: contraband from Cambodia.
        ("Bắt xe chở 500 bao thuốc lá lậu từ Campuchia về", VN_KH),
        ("Heo Campuchia nhập lậu qua đường tiểu ngạch", VN_KH),
        # Khmer: goods carried or smuggled to or from Việt Nam (not ដឹកនាំ, "led by": a visit).
        ("ឈ្មួញដឹកឈើពីខេត្តក្រចេះទៅប្រទេសវៀតណាមទាំងយប់", VN_KH),
        ("រថយន្តដឹកស្ករសចេញទៅស្រុកយួនរាល់ថ្ងៃ", VN_KH),
        ("គណៈប្រតិភូដឹកនាំដោយរដ្ឋមន្ត្រីធ្វើដំណើរទៅវៀតណាម", []),
        # Not with a third country, not human trafficking.
        ("Cambodia smuggles timber to Thailand and Vietnam", []),
        ("Human trafficking victims from Vietnam rescued in Cambodia", []),
        # People handed back by one country to the other: at a gate of that border, named or not.
        ("Campuchia trao trả 50 công dân Việt Nam", VN_KH),
        ("柬埔寨向越南遣返50名越南公民", VN_KH),
        ("Thái Lan trao trả 18 binh sĩ Campuchia", KH_TH),
        # Encroachment, and Indonesian "lintas batas" (cross-border).
        ("Cambodian troops accuse Vietnam of encroachment in Svay Rieng", VN_KH),
        ("Vietnam dan Kamboja sepakat membuka pos lintas batas baru", VN_KH),
        # Exchanges of fire and heavy weapons; Khmer artillery; a Khmer report of Thai soldiers and a mine.
        ("Thailand and Cambodia exchange fire for third day", KH_TH),
        ("Bangkok and Phnom Penh agree to withdraw heavy weapons", KH_TH),
        ("កងទ័ពថៃបាញ់កាំភ្លើងធំចូលភូមិខ្មែរ", KH_TH),  # Khmer: artillery fired into a Khmer village
        ("ទាហានថៃ ២នាក់រងរបួសដោយសារគ្រាប់មីន", KH_TH),  # Khmer: Thai soldiers hurt by a mine
        ("ទាហានឡាវរងរបួសដោយសារគ្រាប់មីនក្បែរព្រំដែនថៃ", []),  # a Lao soldier: not this border
    ],
)
def test_headlines_that_tell_of_the_border_without_its_word(shipped: rules.Ruleset, title: str, expected: list[str]) -> None:
    """Headlines written for the purpose, as feeds carry them without a lead: contraband, handovers, encroachment, fighting."""
    assert matched(shipped, title) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Campuchia bắt giữ 20 người Việt nhập cảnh trái phép", VN_KH),  # an illegal crossing, both sides named
        ("Cambodian authorities detain 30 Vietnamese illegal migrants in Svay Rieng", VN_KH),  # the English press
        ("Bắt đối tượng vận chuyển 5 bánh heroin từ Campuchia về Việt Nam", VN_KH),  # carried from Cambodia
        ("Khởi công chợ biên giới Tân Nam", VN_KH),  # Tây Ninh's gate, with a border word
        ("Chợ Tân Nam đông vui ngày Tết", []),  # the name alone: a market, a commune
        ("Người Việt ở Campuchia đón Tết", []),  # Vietnamese people in Cambodia: not the border
    ],
)
def test_vietnamese_crossings_between_both_sides_and_what_is_carried_from_cambodia(
    shipped: rules.Ruleset, title: str, expected: list[str]
) -> None:
    """Vietnamese headlines: an illegal crossing with both sides named, goods carried from Cambodia, the Tân Nam gate."""
    assert matched(shipped, title) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("波比国际关口：被遣返的柬埔寨劳工获泰方照顾", KH_TH),  # Chinese: Poipet as 波比, the Thai side as 泰方
        ("กัมพูชาเรียกร้องไทยปล่อยเชลยศึก 18 นาย", KH_TH),  # Thai: prisoners of war
        ("កម្ពុជាអំពាវនាវឱ្យថៃគោរពកិច្ចព្រមព្រៀងសន្តិភាព", KH_TH),  # Khmer: the peace agreement
        ("ขัดแย้งไทย-กัมพูชา กระทบเศรษฐกิจและการท่องเที่ยว", KH_TH),  # Thai: the headline's bare ขัดแย้ง
        ("캄보디아·태국 당국, 노동자 밀입국 브로커 검거", KH_TH),  # Korean: illegal entry
        ("Cambodian FM returns from Thailand with 16 stolen artifacts smuggled decades ago", []),  # antiquities
    ],
)
def test_round_34_chinese_names_prisoners_peace_and_illegal_entry(shipped: rules.Ruleset, title: str, expected: list[str]) -> None:
    """Round 34: the Chinese press's Poipet and Thai side, prisoners of war, the peace agreement, Thai ขัดแย้ง, Korean 밀입국."""
    assert matched(shipped, title) == expected
