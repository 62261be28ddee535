"""Split newly collected labelled items into the tuning, held-out and sealed parts, once, by a hash of their source.

Usage: python scripts/labelled_split.py tests/fixtures/labelled/incoming/*.jsonl

The part an item lands in depends only on its source URL (SHA-256 modulo 100), never on its
text or on what the rules do with it, so the split is fixed before any tuning:

    bucket < SEALED_SHARE      -> sealed   (never read while rules are edited; only totals are printed)
    bucket < HELD_OUT_SHARE    -> heldout  (not tuned on; only its figures are printed)
    otherwise                  -> tuning   (the part rules are edited against)

Items whose source is already in the set are dropped, and items already in a part stay there
(the first two rounds had no sealed part: their held-out items keep bucket < 45). Only counts
are printed: whoever tunes the rules reads neither the held-out nor the sealed items.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "labelled"
HELD_OUT_SHARE = 45  # percent of new items kept out of tuning (sealed + heldout)
SEALED_SHARE = 35  # of which this many percent are sealed (from the third round on)
PARTS = ("tuning", "heldout", "sealed")
FIELDS = ("id", "source", "lang", "title", "summary", "labels", "class", "published")


def bucket(source: str) -> int:
    """0..99 from the SHA-256 of the item's source URL."""
    return int(hashlib.sha256(source.encode()).hexdigest(), 16) % 100


def part_of(source: str) -> str:
    """The part a new item with this source belongs to."""
    b = bucket(source)
    return "sealed" if b < SEALED_SHARE else "heldout" if b < HELD_OUT_SHARE else "tuning"


def held_out(source: str) -> bool:
    """True if the item with this source is kept out of tuning (held-out or sealed)."""
    return bucket(source) < HELD_OUT_SHARE


def page(source: str) -> str:
    """A source address as the page it names: http and https, "www." and a trailing slash are the same page."""
    parts = urlsplit(source.strip())
    host = (parts.hostname or "").removeprefix("www.").rstrip(".")
    return host + parts.path.rstrip("/") + ("?" + parts.query if parts.query else "")


def main(paths: list[str]) -> int:
    """Append each new item to its part; print counts per part and label only."""
    files = {name: LABELLED / f"{name}.jsonl" for name in PARTS}
    known = {page(json.loads(line)["source"]) for p in files.values() if p.exists() for line in p.read_text(encoding="utf-8").splitlines()}
    counts: Counter[tuple[str, str]] = Counter()
    out: dict[str, list[str]] = {name: [] for name in files}
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            seen = page(entry["source"])
            if seen in known:
                counts["dropped", "duplicate source"] += 1
                continue
            known.add(seen)
            record = {key: entry.get(key, "") for key in FIELDS}
            if entry.get("title_written"):
                record["title_written"] = True
            name = part_of(entry["source"])
            out[name].append(json.dumps(record, ensure_ascii=False))
            counts[name, "+".join(entry.get("labels") or ["(none)"])] += 1
    for name, lines in out.items():
        if lines:
            with files[name].open("a", encoding="utf-8") as handle:
                handle.writelines(line + "\n" for line in lines)
    for (name, kind), n in sorted(counts.items()):
        print(f"{name:<8} {kind:<28} {n:>4}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
