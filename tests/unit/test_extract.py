"""Article extraction: the recall fallback on real benchmark pages, and one threshold for the service and `rules test`."""

from __future__ import annotations

import pytest

from service.ingest.extract import MIN_TEXT, Extracted, choose, extract_article, extract_both
from service.ingest.parse import read_document
from tests.conftest import FIXTURES

# Pages and snippets from trafilatura's evaluation set (tests/evaldata.json at e90b0ef), see tests/fixtures/pages/README.md.
PAGES = {
    "it-for-kids.org.variables.html": (
        "https://it-for-kids.org/blog/191211_variables/",
        ["Wie war das nochmal mit den Variablen", "Variablen sind kein Problem für dich?", "Auszug aus unseren Lehrmaterialien"],
    ),
    "hausinfo.ch-kondenswasser.html": (
        "https://hausinfo.ch/de/wohnen/wohnen-leben/angenehmes-raumklima/kondenswasser.html",
        ["Fenstern nicht durch überstellte Fensterbänke", "Dies schlägt sich aber in", "Luftfeuchtigkeit im Raum sorgen"],
    ),
}


@pytest.mark.parametrize("name", PAGES)
def test_a_page_the_precision_setting_cuts_short_is_read_with_the_recall_setting(name: str) -> None:
    url, snippets = PAGES[name]
    body = (FIXTURES / "pages" / name).read_bytes()
    precise, _ = extract_both(body, url, "text/html")
    assert not all(s in " ".join(precise.text.split()) for s in snippets)  # what the service kept before
    found = extract_article(body, url, "text/html")
    assert found.setting == "recall" and all(s in " ".join(found.text.split()) for s in snippets)


def text(n: int) -> str:
    return "w" * n


@pytest.mark.parametrize(
    ("precise", "recall", "chosen"),
    [
        (1_000, 1_900, "precision"),  # more than half: the precise text stands
        (1_000, 2_100, "recall"),  # under half of the recall text
        (150, 190, "recall"),  # short, and the recall text is longer (though short too)
        (150, 150, "precision"),  # nothing to gain
        (0, 0, "precision"),
        (250, 260, "precision"),
    ],
)
def test_the_recall_text_is_taken_when_the_precise_one_is_short_or_under_half_of_it(precise: int, recall: int, chosen: str) -> None:
    found = choose(Extracted("Title", text(precise)), Extracted("", text(recall), "recall"))
    assert found.setting == chosen and found.title == "Title"
    assert found.text == text(precise if chosen == "precision" else recall)


def test_rules_test_leaves_out_a_short_page_as_the_service_does() -> None:
    stub = b"<html><head><title>Video: border talks</title></head><body><article><p>Watch the clip.</p></article></body></html>"
    with pytest.raises(ValueError) as error:
        read_document(stub, "https://e.org/video", "https://e.org/video", content_type="text/html")
    assert str(error.value) == (
        f"only 15 characters of article text in https://e.org/video (under {MIN_TEXT}): the service would not use it, nor does rules test"
    )
