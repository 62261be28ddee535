"""Article extraction on public benchmarks: trafilatura's precision setting, its recall setting, and the fallback.

Not part of `make bench`: the corpora are not in this repository. Fetch them and point at them:

    git clone https://github.com/scrapinghub/article-extraction-benchmark   # html/*.html.gz, ground-truth.json
    git clone https://github.com/adbar/trafilatura                         # tests/eval/, tests/cache/, tests/evaldata.json
    .venv/bin/python -m bench.extraction_bench --scrapinghub article-extraction-benchmark --trafilatura trafilatura/tests

scrapinghub's pages carry the whole article body: scored as that benchmark scores them
(4-word shingles, precision and recall per page, averaged). trafilatura's carry snippets
that must be in the text and snippets that must not: scored as its evaluation does
(whitespace-normalised substring matching). Each page goes through `extract_both` once;
"fallback" is `choose` over the two, which is what the service and `rules test` use.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import re
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from service.ingest.extract import MIN_TEXT, Extracted, choose, extract_both

STRATEGIES = ("precision", "recall", "fallback")


@dataclass
class Score:
    """Per-page scores of one strategy on one corpus."""

    precision: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    lost_half: int = 0  # pages where less than half of what should be there is
    short: int = 0  # pages whose text is under MIN_TEXT characters


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """The text's n-word shingles, as scrapinghub's evaluate.py counts them."""
    tokens = re.findall(r"\w+", text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def shingle_scores(true: str, pred: str) -> tuple[float, float]:
    """(precision, recall) of one page, scrapinghub's way (1.0 each when both are empty)."""
    t, p = shingles(true), shingles(pred)
    tp = sum((t & p).values())
    fp, fn = sum(p.values()) - tp, sum(t.values()) - tp
    if fp == fn == 0:
        return 1.0, 1.0
    return (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)


def scrapinghub(root: Path) -> Iterator[tuple[bytes, str, dict[str, str]]]:
    """(page, url, ground truth) of each page."""
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    for key, item in sorted(truth.items()):
        yield gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes()), item.get("url", ""), item


def trafilatura_eval(root: Path) -> Iterator[tuple[bytes, str, dict[str, list[str]]]]:
    """(page, url, snippets) of each annotated page."""
    for url, item in sorted(json.loads((root / "evaldata.json").read_text(encoding="utf-8")).items()):
        path = next((root / sub / item["file"] for sub in ("cache", "eval") if (root / sub / item["file"]).is_file()), None)
        if path is not None:
            yield path.read_bytes(), url, item


def norm(text: str) -> str:
    """Whitespace-normalised, as trafilatura's evaluation compares."""
    return re.sub(r"\s+", " ", text).strip()


def snippet_counts(item: dict[str, list[str]], text: str) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of one page."""
    found = norm(text)
    tp = sum(norm(w) in found for w in item["with"])
    fp = sum(norm(w) in found for w in item["without"])
    return tp, fp, len(item["with"]) - tp, len(item["without"]) - fp


def outcomes(body: bytes, url: str) -> tuple[dict[str, Extracted], float]:
    """Each strategy's extraction of one page, and the seconds both extractions took."""
    started = time.perf_counter()
    precise, recall = extract_both(body, url, "text/html")
    return {"precision": precise, "recall": recall, "fallback": choose(precise, recall)}, time.perf_counter() - started


def run_scrapinghub(root: Path) -> None:
    """Print the scrapinghub figures."""
    scores, fallbacks, seconds = {s: Score() for s in STRATEGIES}, Counter[str](), []
    for body, url, truth in scrapinghub(root):
        found, took = outcomes(body, url)
        seconds.append(took)
        fallbacks[found["fallback"].setting] += 1
        for name, extracted in found.items():
            p, r = shingle_scores(truth.get("articleBody", ""), extracted.text)
            scores[name].precision.append(p)
            scores[name].recall.append(r)
            scores[name].lost_half += r < 0.5
            scores[name].short += extracted.short
    report(f"scrapinghub article-extraction-benchmark ({len(seconds)} pages, whole article bodies)", scores, fallbacks, seconds)


def run_trafilatura(root: Path) -> None:
    """Print the trafilatura figures."""
    totals = {s: [0, 0, 0, 0] for s in STRATEGIES}
    scores, fallbacks, seconds = {s: Score() for s in STRATEGIES}, Counter[str](), []
    for body, url, item in trafilatura_eval(root):
        found, took = outcomes(body, url)
        seconds.append(took)
        fallbacks[found["fallback"].setting] += 1
        for name, extracted in found.items():
            counts = snippet_counts(item, extracted.text)
            totals[name] = [a + b for a, b in zip(totals[name], counts, strict=True)]
            scores[name].lost_half += 2 * counts[0] < len(item["with"])
            scores[name].short += extracted.short
    for name, (tp, fp, fn, _) in totals.items():
        scores[name].precision, scores[name].recall = [tp / (tp + fp) if tp + fp else 0.0], [tp / (tp + fn) if tp + fn else 0.0]
    report(f"trafilatura evaluation set ({len(seconds)} pages, snippets in and out)", scores, fallbacks, seconds)


def report(title: str, scores: dict[str, Score], fallbacks: Counter[str], seconds: list[float]) -> None:
    """One table per corpus."""
    print(title)
    print(f"  {'':10} {'precision':>9} {'recall':>7} {'F1':>6}  {'lost half':>9}  {'short':>5}")
    for name, s in scores.items():
        p, r = statistics.mean(s.precision), statistics.mean(s.recall)
        print(f"  {name:10} {p:9.3f} {r:7.3f} {2 * p * r / (p + r):6.3f}  {s.lost_half:9d}  {s.short:5d}")
    print(f"  the fallback took the recall text on {fallbacks['recall']} pages; short means under {MIN_TEXT} characters")
    print(f"  both extractions: {statistics.median(seconds) * 1000:.0f} ms per page (median), {max(seconds) * 1000:.0f} ms at most")


def main() -> None:
    """Run on the corpora given."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scrapinghub", type=Path, help="a checkout of scrapinghub/article-extraction-benchmark")
    parser.add_argument("--trafilatura", type=Path, help="trafilatura's tests/ folder (evaldata.json, eval/, cache/)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # trafilatura logs every page it discards
    if args.scrapinghub:
        run_scrapinghub(args.scrapinghub)
    if args.trafilatura:
        run_trafilatura(args.trafilatura)


if __name__ == "__main__":
    main()
