"""Compare two ways of finding Khmer and Thai terms in unsegmented text, on the labelled set's tuning part.

1. What newswatch does: substring matching on grapheme-cluster boundaries (service.rules.text).
2. Dictionary segmentation: khmer-nltk (Khmer) and pythainlp's newmm (Thai) split text and
   term into words; a term is found when its word sequence occurs in the text's.

Needs the two libraries, which newswatch does not depend on; run it in a throwaway venv:
    python -m venv /tmp/seg && /tmp/seg/bin/pip install khmer-nltk pythainlp pyyaml pydantic pyahocorasick google-re2
    PYTHONPATH=. /tmp/seg/bin/python scripts/measure_segmentation.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from service.rules import normalise, text

ROOT = Path(__file__).resolve().parent.parent


def terms(script: range) -> list[str]:
    """The shipped Khmer or Thai terms: rules.yaml groups and the gazetteer."""
    found = []
    for path in (ROOT / "config" / "rules.yaml", ROOT / "service" / "rules" / "gazetteer.yaml"):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"].values():
            for term in group:
                label = term["term"] if isinstance(term, dict) else term
                if any(ord(c) in script for c in label):
                    found.append(label)
    return sorted(set(found))


def by_substring(term: str, body: str) -> bool:
    """newswatch's way."""
    folded, key = normalise.fold(body), normalise.fold(term).strip()
    start = folded.find(key)
    while start >= 0:
        if text.on_cluster_boundary(folded, start, start + len(key)):
            return True
        start = folded.find(key, start + 1)
    return False


def by_segmentation(term: str, body: str, split: object) -> bool:
    """Dictionary segmentation of both sides, then a word-sequence match."""
    words = [w for w in split(body) if w.strip()]  # type: ignore[operator]
    wanted = [w for w in split(term) if w.strip()]  # type: ignore[operator]
    return any(words[i : i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))


def main() -> None:
    """Print, per script: term occurrences found by each method, where they disagree, and the time taken."""
    from khmernltk import word_tokenize as khmer_split
    from pythainlp.tokenize import word_tokenize as thai_split

    items = [json.loads(line) for line in (ROOT / "tests/fixtures/labelled/tuning.jsonl").read_text(encoding="utf-8").splitlines()]
    for lang, script, split in (("km", range(0x1780, 0x1800), khmer_split), ("th", range(0x0E00, 0x0E80), thai_split)):
        texts = [f"{i['title']}\n{i['summary']}" for i in items if i["lang"] == lang]
        wanted = terms(script)
        counts = {"substring": 0, "segmentation": 0}
        only: dict[str, list[str]] = {"substring": [], "segmentation": []}
        seconds = {"substring": 0.0, "segmentation": 0.0}
        for body in texts:
            for term in wanted:
                started = time.perf_counter()
                a = by_substring(term, body)
                seconds["substring"] += time.perf_counter() - started
                started = time.perf_counter()
                b = by_segmentation(term, body, split)
                seconds["segmentation"] += time.perf_counter() - started
                counts["substring"] += a
                counts["segmentation"] += b
                if a != b:
                    only["substring" if a else "segmentation"].append(term)
        print(f"{lang}: {len(texts)} items, {len(wanted)} terms")
        for method in counts:
            print(f"  {method:<12} found {counts[method]:>4} term occurrences, {seconds[method]:.2f} s")
            print(f"  only {method:<8} {len(only[method]):>4}: {', '.join(sorted(set(only[method]))[:15])}")


if __name__ == "__main__":
    main()
