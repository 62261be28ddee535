"""An HTML page reduced to its title and main text by trafilatura: pure, picklable, run in the parse workers.

trafilatura is imported on first use, so that loading the service (or `rules check`) does
not pay for it. The page is decoded here, by the charset its server or its <meta> declares,
and handed to trafilatura as text, so that trafilatura never decompresses or guesses bytes.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

MAX_TREE = 100_000  # HTML elements trafilatura accepts; a page with more is refused, not parsed


@dataclass(frozen=True, slots=True)
class Extracted:
    """What the extractor found in a page."""

    title: str
    text: str


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def decode_html(body: bytes, content_type: str) -> str:
    """The page as text: the charset of the Content-Type header, else of a <meta> tag, else UTF-8, else windows-1252."""
    declared = [p.split("=", 1)[1].strip(" \"'") for p in content_type.split(";") if p.strip().lower().startswith("charset=")]
    meta = _META_CHARSET.search(body[:8192])
    for name in [*declared, meta.group(1).decode("ascii", "ignore") if meta else "", "utf-8"]:
        if not name:
            continue
        try:
            return body.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("windows-1252", errors="replace")


@functools.cache
def _config() -> Any:
    """trafilatura's settings: a cap on the page's size, and no alarm-signal timeout (the caller bounds the time)."""
    from trafilatura.settings import use_config

    config = use_config()
    config["DEFAULT"]["MAX_TREE_SIZE"] = str(MAX_TREE)
    config["DEFAULT"]["EXTRACTION_TIMEOUT"] = "0"
    return config


def extract_article(body: bytes, url: str, content_type: str) -> Extracted:
    """The page's title and main text (picklable: runs in the parse workers)."""
    import trafilatura  # imported where it runs: a worker process, not at start-up

    html = decode_html(body, content_type)
    config = _config()
    found = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        favor_precision=True,
        date_extraction_params={"extensive_search": False},
        config=config,
    )
    if found is None:
        return Extracted(title="", text="")
    title: str = (getattr(found, "title", None) or "")[:1000]
    main: str = (getattr(found, "text", None) or "")[:100_000]
    # NFC: a windows-1258 page decodes to combining tone marks
    return Extracted(title=unicodedata.normalize("NFC", title), text=unicodedata.normalize("NFC", main))
