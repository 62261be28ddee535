"""Write config/feeds.schema.json and config/rules.schema.json from the config models.

Run from the repository root: `python scripts/write_schemas.py` (part of `make fixtures`).
A test checks the committed files are up to date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.config.schema import json_schemas  # noqa: E402


def outputs() -> dict[Path, str]:
    """Every schema file and its text."""
    return {ROOT / "config" / name: json.dumps(schema, indent=2, ensure_ascii=False) + "\n" for name, schema in json_schemas().items()}


if __name__ == "__main__":
    for path, content in outputs().items():
        path.write_text(content, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
