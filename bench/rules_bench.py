"""Matching throughput: ~1 KB news items against 10 … 10,000 generated rules, on one core.

Normalisation of each item is included (Ruleset.match does it); compile time is measured
from the validated rules file to the built index.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from service import text
from service.config import compile_rules
from service.model import Item
from service.parse import parse_article
from service.schema import RulesFile

SEEDS = sorted((Path(__file__).resolve().parent.parent / "tests" / "fixtures").glob("0*.txt"))


def vocabulary(rng: random.Random, size: int = 30_000) -> list[str]:
    """Synthetic words with Vietnamese-like diacritics mixed in."""
    letters = "abcdeghiklmnopqrstuvxyăâđêôơư"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(size)]


def rules_file(count: int, words: list[str], rng: random.Random) -> RulesFile:
    """`count` rules of the shape all(any(3 terms), any(2 terms incl. a phrase)), none(1 term)."""
    rules = []
    for i in range(count):
        pick = rng.sample(words, 7)
        match = {"all": [{"any": pick[:3]}, {"any": [pick[3], f"{pick[4]} {pick[5]}"]}], "none": [pick[6]]}
        rules.append({"id": f"r{i}", "destinations": ["d"], "match": match})
    return RulesFile.model_validate({"destinations": {"d": {"type": "console"}}, "rules": rules})


def items(words: list[str], rng: random.Random, count: int = 2_000) -> list[Item]:
    """~1 KB items: news text from the seed articles with vocabulary words mixed in."""
    corpus = " ".join(parse_article(p.read_text(encoding="utf-8"), p.name).content for p in SEEDS).split()
    out = []
    for i in range(count):
        start = rng.randrange(0, len(corpus) - 200)
        body = corpus[start : start + 140] + rng.sample(words, 20)
        rng.shuffle(body)
        text = " ".join(body)[:1000]
        out.append(Item(feed_id="bench", key=str(i), title=text[:80], summary=text[80:]))
    return out


def run(sizes: tuple[int, ...] = (10, 100, 1_000, 10_000)) -> list[dict[str, float]]:
    """Measure each size; return one row per size."""
    rng = random.Random(42)
    words = vocabulary(rng)
    docs = items(words, rng)
    rows = []
    for size in sizes:
        spec = rules_file(size, words, rng)
        started = time.perf_counter()
        ruleset = compile_rules(spec)
        compiled = time.perf_counter() - started
        matched = sum(len(ruleset.match(doc)) for doc in docs)  # warm-up: evaluators compile on first use
        elapsed = min(_timed(ruleset, docs) for _ in range(3))
        rows.append({"rules": size, "items_per_s": len(docs) / elapsed, "compile_s": compiled, "matches": matched})
    return rows


def _timed(ruleset: object, docs: list[Item]) -> float:
    """Seconds to match every item once."""
    match = ruleset.match  # type: ignore[attr-defined]
    started = time.perf_counter()
    for doc in docs:
        match(doc)
    return time.perf_counter() - started


def normalisation_rate(docs: list[Item]) -> float:
    """Items per second for normalising title and summary alone (the floor under matching)."""
    started = time.perf_counter()
    for doc in docs:
        text.fold(doc.title)
        text.fold(doc.summary)
    return len(docs) / (time.perf_counter() - started)


def main() -> None:
    """Print the table."""
    print("rule matching (one core, ~1 KB items, normalisation included)")
    print(f"{'rules':>8} {'items/s':>10} {'compile s':>10} {'matches':>8}   (best of 3 passes over 2,000 items)")
    for row in run():
        print(f"{row['rules']:>8,} {row['items_per_s']:>10,.0f} {row['compile_s']:>10.3f} {row['matches']:>8,}")


if __name__ == "__main__":
    main()
