"""Split newly collected labelled items into the tuning and held-out parts, once, by a hash of their source.

Usage: python scripts/labelled_split.py tests/fixtures/labelled/incoming/*.jsonl

The part an item lands in depends only on its source URL (SHA-256), never on its text or on
what the rules do with it, so the split is fixed before any tuning. Items whose source is
already in the set are dropped. Only counts are printed: the held-out items are not read
by whoever tunes the rules.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "labelled"
HELD_OUT_SHARE = 45  # percent of new items; with the 109 tuned-on items of the first set, over 30 % of the whole
FIELDS = ("id", "source", "lang", "title", "summary", "labels", "class", "published")


def held_out(source: str) -> bool:
    """True if the item with this source belongs to the held-out part."""
    return int(hashlib.sha256(source.encode()).hexdigest(), 16) % 100 < HELD_OUT_SHARE


def main(paths: list[str]) -> int:
    """Append each new item to its part; print counts per part and class."""
    parts = {name: LABELLED / f"{name}.jsonl" for name in ("tuning", "heldout")}
    known = {json.loads(line)["source"] for p in parts.values() if p.exists() for line in p.read_text(encoding="utf-8").splitlines()}
    counts: Counter[tuple[str, str]] = Counter()
    out: dict[str, list[str]] = {name: [] for name in parts}
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry["source"] in known:
                counts["dropped", "duplicate source"] += 1
                continue
            known.add(entry["source"])
            record = {key: entry.get(key, "") for key in FIELDS}
            if entry.get("title_written"):
                record["title_written"] = True
            name = "heldout" if held_out(entry["source"]) else "tuning"
            out[name].append(json.dumps(record, ensure_ascii=False))
            counts[name, entry.get("class", "")] += 1
    for name, lines in out.items():
        with parts[name].open("a", encoding="utf-8") as handle:
            handle.writelines(line + "\n" for line in lines)
    for (name, kind), n in sorted(counts.items()):
        print(f"{name:<8} {kind:<22} {n:>4}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
