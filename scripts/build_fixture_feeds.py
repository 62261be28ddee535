"""Write the RSS and Atom fixtures and the demo feed from the seed articles in tests/fixtures/.

Run from the repository root: `python scripts/build_fixture_feeds.py`. The outputs are
committed; a test checks they are up to date.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.ingest.parse import parse_article  # noqa: E402
from tests.support.feedgen import Entry, atom, rss  # noqa: E402

SEEDS = sorted((ROOT / "tests" / "fixtures").glob("0*.txt"))


def seed_entries() -> list[Entry]:
    """One feed entry per seed article."""
    entries = []
    for path in SEEDS:
        item = parse_article(path.read_text(encoding="utf-8"), path.name)
        entries.append(
            Entry(
                guid=f"urn:newswatch:seed:{path.stem}",
                title=item.title,
                link=f"https://example.org/seeds/{path.stem}",
                summary=item.content.split("\n")[0],
                content=item.content,
                published=item.published,
            )
        )
    return entries


def outputs() -> dict[Path, bytes]:
    """Every generated file and its bytes."""
    entries = seed_entries()
    return {
        ROOT / "tests" / "fixtures" / "feeds" / "seeds.rss": rss(entries, "Seed articles"),
        ROOT / "tests" / "fixtures" / "feeds" / "seeds.atom": atom(entries, "Seed articles"),
        ROOT / "config" / "demo" / "seed-articles.xml": rss(entries, "newswatch demo: seed articles"),
    }


if __name__ == "__main__":
    for path, data in outputs().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"wrote {path.relative_to(ROOT)}")
