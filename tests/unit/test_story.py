"""Story fingerprints: one story across outlets and updates; different stories on one topic stay apart.

The syndicated copies below are made from the seed articles the way wire copy is republished:
another outlet's headline, its own dateline and agency tag, diacritics dropped, only the first
paragraphs in the feed's summary. Real pairs from two outlets are checked through their
fingerprints only (tests/fixtures/stories/): third-party articles are not copied into the repository.
"""

from __future__ import annotations

import itertools
import json
import unicodedata
from pathlib import Path

import pytest

from service.ingest import minhash, story
from service.ingest.parse import parse_article

FIXTURES = Path(__file__).parents[1] / "fixtures"
SEED_PHONE_TALKS_FM = "000_7a1b3c353e3e3acd.txt"  # acting FM Trung – DPM Prak Sokhonn, 11 Sept 2025
SEED_PHONE_TALKS_PM = "004_7dee21eaf8f7a444.txt"  # PM Chính – PM Hun Manet, the next day
SAME_STORY_PAIRS = {
    frozenset({"vncn-009", "vncn-012"}),  # the Lũng Cú joint patrol, from VNA and from VNS
    frozenset({"vncn-010", "vi-076"}),  # "Cột mốc chủ quyền đặc biệt", collected twice from two outlets
    # Two handovers of citizens at the Dinh Bà gate, told from one template ten months apart
    # (January and November): alike as text, never threaded, since a thread stays open 72 hours.
    frozenset({"n4-vi-038", "n13-vi-004"}),
    # Round 21: one event each, reported by two Vietnamese outlets in their own words (the foreign
    # ministry's statement of 8 December 2025, its advice to citizens of 15 December, the 63
    # citizens handed over at Hoa Lư on 17 December): one story, as the threading says.
    frozenset({"n4-vi-013", "n21-vi-003"}),
    frozenset({"n12-vi-018", "n21-vi-002"}),
    frozenset({"n16-vi-122", "n21-vi-037"}),
    # Round 25: two stories told with the same long names of An Giang's border guards and a
    # gate's post (a handover at Tịnh Biên in 2022, a cigarette seizure at Hà Tiên years before):
    # alike as text, never threaded, since a thread stays open 72 hours.
    frozenset({"vnkh-019", "n25-vi-008"}),
    # Round 27: the army spokesman on new PMN-2 mines at Hill 677 near Chong An Ma, in two
    # articles of one Thai outlet a few issues apart, the second retelling the first's lead:
    # one story, as the threading says.
    frozenset({"n7-th-308", "n27-th-206"}),
    # Round 30: the clash of 28 May 2025 at Techo Morakot village, in two articles of one Khmer
    # outlet (the defence ministry's statement, then the clash itself): one story.
    frozenset({"kmth-053", "n30-km-003"}),
    # Round 32: the 57 citizens handed over at Dinh Bà on 13 November 2025, from VietnamPlus and
    # from a second outlet retelling Tuổi Trẻ's report: one story, as the threading says.
    frozenset({"n13-vi-004", "n32-vi-008"}),
    # Round 32: the Joint Committee's 17th session (2018) and its 21st (2025), told with the
    # committee's long name: alike as text, never threaded, since a thread stays open 72 hours.
    frozenset({"kwvn-012", "n32-vi-030"}),
    # Round 34: Tô Lâm's state visit to Cambodia of 6 February 2026, its start and its end, from
    # three outlets (rounds 21, 32 and 34): one story, as the threading says.
    frozenset({"n21-vi-022", "n34-vi-011"}),
    frozenset({"n32-vi-011", "n34-vi-011"}),
}


def seed(name: str) -> tuple[str, str]:
    """A seed article's title and body."""
    item = parse_article((FIXTURES / name).read_text(encoding="utf-8"), name)
    return item.title, item.content


def paragraphs(body: str) -> list[str]:
    return [p for p in body.split("\n") if p.strip()]


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def syndicated(body: str, dateline: str, keep: int) -> str:
    """The body as another outlet republishes it: its own dateline, no diacritics, the first paragraphs."""
    first, *rest = paragraphs(body)
    first = dateline + " " + first.split("—", 1)[-1].strip()
    return strip_accents("\n".join([first, *rest[: keep - 1]]))


def signature(title: str, summary: str = "", content: str = "") -> bytes:
    sig = story.signature(title, summary, content)
    assert sig is not None
    return sig


@pytest.mark.parametrize("name", [SEED_PHONE_TALKS_FM, SEED_PHONE_TALKS_PM])
def test_wire_copy_from_another_outlet_is_the_same_story(name: str) -> None:
    title, body = seed(name)
    original = signature(title, content=body)
    copy = signature("Vietnam, Cambodia leaders hold phone talks", summary=syndicated(body, "Hanoi (VNA) –", keep=2))
    assert story.similarity(original, copy) >= story.THRESHOLD
    assert story.same_story(original, copy)


def test_a_summary_of_one_paragraph_matches_the_full_article() -> None:
    title, body = seed(SEED_PHONE_TALKS_PM)
    lede = paragraphs(body)[0]
    assert story.same_story(signature(title, content=body), signature("PM Chinh talks with Hun Manet", summary=lede))


def test_an_updated_version_is_the_same_story() -> None:
    title, body = seed(SEED_PHONE_TALKS_PM)
    first, second, *rest = paragraphs(body)
    updated = "\n".join([first.replace("on Friday afternoon", "on August 15 afternoon"), second + " Both agreed to meet soon.", *rest])
    assert story.same_story(signature(title, content=body), signature("UPDATE: " + title, content=updated))


def test_two_stories_on_the_same_topic_are_not_one() -> None:
    fm, pm = seed(SEED_PHONE_TALKS_FM), seed(SEED_PHONE_TALKS_PM)
    assert story.similarity(signature(*fm[:1], content=fm[1]), signature(*pm[:1], content=pm[1])) < 0.1


def test_distinct_stories_of_the_labelled_set_are_never_threaded_together() -> None:
    items = [json.loads(line) for line in (FIXTURES / "labelled" / "tuning.jsonl").read_text(encoding="utf-8").splitlines()]
    sigs = [(i["id"], signature(i["title"], i.get("summary", ""))) for i in items]
    crossing = [
        (a, b, round(story.similarity(x, y), 2))
        for (a, x), (b, y) in itertools.combinations(sigs, 2)
        if frozenset({a, b}) not in SAME_STORY_PAIRS and story.same_story(x, y)
    ]
    assert crossing == []


def test_similarity_is_symmetric_and_one_for_identical_text() -> None:
    title, body = seed(SEED_PHONE_TALKS_FM)
    a, b = signature(title, content=body), signature("Other headline", summary=paragraphs(body)[0])
    assert story.similarity(a, a) == 1.0
    assert story.similarity(a, b) == pytest.approx(story.similarity(b, a))


def test_too_little_text_has_no_fingerprint() -> None:
    assert story.signature("Border", "", "") is None
    assert story.signature("", "", "") is None


def test_boilerplate_that_a_feed_repeats_on_every_item_is_no_story() -> None:
    blurb = "Read the full story on our website, where you will find photos, video and reactions from readers across the region today."
    items = [(f"k{i}", f"Headline {i} about the border", blurb, "") for i in range(5)]
    assert story.fingerprints(items, {"k0", "k1"}) == {}


def test_a_story_and_its_update_in_one_feed_keep_their_fingerprints() -> None:
    title, body = seed(SEED_PHONE_TALKS_PM)
    other_title, other_body = seed(SEED_PHONE_TALKS_FM)
    items = [("old", title, "", body), ("new", "UPDATE: " + title, "", body + "\nMore to follow."), ("x", other_title, "", other_body)]
    found = story.fingerprints(items, {"new"})
    assert set(found) == {"new"} and story.same_story(found["new"], story.signature(title, "", body))


def test_minhash_is_datasketchs_affine32_bit_for_bit() -> None:
    """The values datasketch 2.0.0 computed for this seed article (MinHash(num_perm=128, seed=20251122, scheme="affine32")),
    recorded when the numpy implementation replaced it: stored fingerprints stay comparable."""
    import hashlib
    import struct

    title, body = seed(SEED_PHONE_TALKS_PM)
    words = story.lead(title, "", body)
    shingles = {" ".join(words[i : i + story.SHINGLE]) for i in range(len(words) - story.SHINGLE + 1)}
    found = minhash.minhash([s.encode() for s in shingles])
    values = struct.pack(f"<{len(found)}I", *found)
    assert hashlib.sha256(values).hexdigest() == "8b19a544e6a28214a5219f30769489cae33113279f5b9541e78dadf638c48f61"


def test_real_wire_stories_from_two_outlets_thread_and_different_stories_do_not() -> None:
    stored = json.loads((FIXTURES / "stories" / "real_pairs.json").read_text(encoding="utf-8"))
    assert stored["version"] == story.version(), "fingerprints were made by another version: see tests/fixtures/stories/README.md"
    items = [(i["story"], bytes.fromhex(i["signature"]), i["url"]) for i in stored["items"]]
    pairs = list(itertools.combinations(items, 2))
    same = [(a[2], b[2]) for a, b in pairs if a[0] == b[0]]
    assert len(same) == 3
    wrong = [(a[2], b[2], round(story.similarity(a[1], b[1]), 2)) for a, b in pairs if story.same_story(a[1], b[1]) != (a[0] == b[0])]
    assert wrong == []


def test_captions_and_a_repeated_headline_are_not_part_of_the_story() -> None:
    title, body = seed(SEED_PHONE_TALKS_PM)
    first, *rest = paragraphs(body)
    decorated = "\n".join([title, "PM Phạm Minh Chính (left) and PM Hun Manet during their phone talks. (Photo: VNA)", first, *rest])
    assert story.lead(title, "", decorated) == story.lead(title, "", body)


def test_scripts_without_spaces_get_fingerprints_that_tell_stories_apart() -> None:
    items = {i["id"]: i for i in map(json.loads, (FIXTURES / "labelled" / "tuning.jsonl").read_text(encoding="utf-8").splitlines())}
    gbc_agreements, gbc_congratulations = items["kmth-019"], items["kmth-022"]  # two Thai stories on one GBC meeting
    full = signature(gbc_agreements["title"], gbc_agreements["summary"])
    later = signature("ข่าว", gbc_agreements["summary"][len(gbc_agreements["summary"]) // 3 :])  # another outlet's shorter lead
    other = signature(gbc_congratulations["title"], gbc_congratulations["summary"])
    assert story.same_story(full, later)
    assert not story.same_story(full, other)
    assert story.signature("越南与柬埔寨", "越南与柬埔寨边界线陆地边界勘界立碑工作取得进展，两国将继续合作。", "") is not None


def test_alike_finds_for_each_wanted_item_exactly_the_candidates_of_its_story() -> None:
    stored = json.loads((FIXTURES / "stories" / "real_pairs.json").read_text(encoding="utf-8"))
    real = [(n, i["story"], bytes.fromhex(i["signature"])) for n, i in enumerate(stored["items"])]
    labelled = [json.loads(line) for line in (FIXTURES / "labelled" / "tuning.jsonl").read_text(encoding="utf-8").splitlines()]
    other = [(1000 + n, f"labelled-{n}", signature(i["title"], i.get("summary", ""))) for n, i in enumerate(labelled)]
    everything = [(key, name, sig) for key, name, sig in real + other if sig is not None]
    wanted = {key: sig for key, _, sig in real}
    found = story.alike(wanted, [(key, sig) for key, _, sig in everything])
    stories = {key: name for key, name, _ in everything}
    assert found == {w: [k for k, name, _ in everything if k != w and name == stories[w]] for w in wanted}
    assert sum(map(len, found.values())) == 6  # three stories told twice, each found from both sides
    assert story.clusters([(key, sig) for key, _, sig in real]) == [
        [k for k, n, _ in real if n == name] for name in dict.fromkeys(n for _, n, _ in real)
    ]
