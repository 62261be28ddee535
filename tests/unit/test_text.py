"""Normalisation: folding, exact forms, alignment, snippets."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.rules import normalise, text


def test_vietnamese_spellings_meet() -> None:
    assert normalise.fold("Việt Nam") == normalise.fold("Viet Nam") == normalise.fold("VIET NAM") == " viet nam "
    assert normalise.fold("Đắk Nông") == " dak nong "
    assert normalise.fold(unicodedata.normalize("NFD", "Việt Nam")) == " viet nam "  # decomposed input


def test_separators_become_single_spaces() -> None:
    assert normalise.fold("Việt Nam’s  border—demarcation,\n(Cam-pu-chia)") == " viet nam s border demarcation cam pu chia "
    assert normalise.fold("ＶＩＥＴ") == " viet "  # NFKC: full-width letters


def test_exact_form_keeps_diacritics_and_aligns_with_the_folded_form() -> None:
    assert normalise.exact("ĐƯỜNG dương") == " đường dương "
    assert normalise.fold("ĐƯỜNG dương") == " duong duong "


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80))
def test_fast_and_table_paths_agree_and_forms_align(sample: str) -> None:
    assert normalise.fold(sample) == normalise._words(sample, normalise._FOLDED)
    assert len(normalise.exact(sample)) == len(normalise.fold(sample))


def _fold_through_nfkd(sample: str) -> str:
    """`normalise.fold` as it was before its shortcuts: NFKD first for every text that is not ASCII."""
    if not sample.isascii():
        latin = sample.replace("đ", "d").replace("Đ", "D")
        for mark in normalise._COMMON_PUNCTUATION:
            latin = latin.replace(mark, " ")
        decomposed = unicodedata.normalize("NFKD", latin)
        if not normalise._NOT_LATIN.search(decomposed):
            return " " + " ".join(decomposed.encode("ascii", "ignore").translate(normalise._ASCII).decode().split()) + " "
    return normalise._words(sample, normalise._FOLDED)


SCRIPTS = st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from("ไทย កម្ពុជា 国境 한국 Việt ß\t\n\u3000\u00a0—,.  ")


@given(st.text(alphabet=SCRIPTS, max_size=80))
def test_shortcuts_give_what_the_full_way_gives(sample: str) -> None:
    """Text of a script that never decomposes to Latin skips NFKD; runs of spaces collapse without splitting into words."""
    assert normalise.fold(sample) == _fold_through_nfkd(sample)
    assert normalise._padded(sample) == " " + " ".join(sample.split()) + " "


@pytest.mark.parametrize("sample", ["Việt Nam và Campuchia — ไทย", "Biên giới ﬁ ² ព្រំដែន", "Ꭰ ß Việt 国境", "Hà Nội, Ханой"])
def test_latin_text_with_a_letter_of_another_script_later_folds_as_the_full_way_does(sample: str) -> None:
    """Any letter of a script that never decomposes to Latin, wherever it is, takes the table path."""
    assert normalise.fold(sample) == _fold_through_nfkd(sample)


def test_snippet_highlights_whole_words_and_prefixes() -> None:
    raw = "Hà Nội — Việt Nam and Cambodia finish border demarcation; Laos watches."
    snippet, spans = text.snippet(raw, ["Viet Nam", "demarcat*", "Lao"], width=200)
    assert [snippet[s:e] for s, e in spans] == ["Việt Nam", "demarcation"]


def test_snippet_window_moves_to_the_first_hit() -> None:
    raw = "filler " * 200 + "the border gate reopened"
    snippet, spans = text.snippet(raw, ["border gate"], width=80)
    assert snippet.startswith("…") and [snippet[s:e] for s, e in spans] == ["border gate"]
    assert len(snippet) <= 82


def test_snippet_centres_on_the_densest_cluster_of_terms() -> None:
    raw = "HÀ NỘI — A long dateline. " + "filler words here " * 40 + "Cambodia and Việt Nam agreed on border demarcation."
    snippet, spans = text.snippet(raw, ["Hà Nội", "Cambodia", "Viet Nam", "border", "demarcat*"], width=120)
    assert {snippet[s:e] for s, e in spans} >= {"Cambodia", "Việt Nam", "border", "demarcation"}


def test_overlapping_terms_highlight_the_longest() -> None:
    snippet, spans = text.snippet("the border gate opened", ["border", "border gate*"])
    assert [snippet[s:e] for s, e in spans] == ["border gate"]


def test_snippets_highlight_terms_inside_unsegmented_text() -> None:
    raw = "កម្ពុជា និងវៀតណាមបានបោះបង្គោលព្រំដែនបាន៨៤ភាគរយ"
    snippet, spans = text.snippet(raw, ["ព្រំដែន", "វៀតណាម"], width=200)
    assert [snippet[s:e] for s, e in spans] == ["វៀតណាម", "ព្រំដែន"]
