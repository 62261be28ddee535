"""An HTML page reduced to its title and main text by trafilatura: pure, picklable, run in the parse workers.

trafilatura is imported on first use, so that loading the service (or `rules check`) does
not pay for it. The page is decoded here, by the charset its server or its <meta> declares,
and handed to trafilatura as text, so that trafilatura never decompresses or guesses bytes.

The page is parsed once and extracted twice: with trafilatura's precision setting, which
leaves out more boilerplate, and with its recall setting. The precise text is used unless
it is short (under `MIN_TEXT` characters) or under half the recall text: on some pages the
precision setting keeps only the lead or a reprint notice (measured in docs/ingestion.md).
A text under `MIN_TEXT` characters even so is a paywall stub, a video or an error page, not
an article: the service and `rules test` both leave it out.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

MAX_TREE = 100_000  # HTML elements trafilatura accepts; a page with more is refused, not parsed
MIN_TEXT = 200  # characters: less is a paywall stub, a video page or an error page, not an article


@dataclass(frozen=True, slots=True)
class Extracted:
    """What the extractor found in a page, and with which setting."""

    title: str
    text: str
    setting: str = "precision"  # or "recall": the precise text was short, or under half of this one

    @property
    def short(self) -> bool:
        """Too short to be an article's text."""
        return len(self.text) < MIN_TEXT


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
    return choose(*extract_both(body, url, content_type))


def choose(precise: Extracted, recall: Extracted) -> Extracted:
    """The precise text, unless it is short or under half the recall text."""
    if len(recall.text) > len(precise.text) and (precise.short or 2 * len(precise.text) < len(recall.text)):
        return Extracted(precise.title or recall.title, recall.text, "recall")
    return precise


def extract_both(body: bytes, url: str, content_type: str) -> tuple[Extracted, Extracted]:
    """The page extracted with trafilatura's precision setting, then with its recall setting (one parse)."""
    from trafilatura.utils import load_html  # imported where it runs: a worker process, not at start-up

    config = _config()
    tree = load_html(decode_html(body, content_type), config.getint("DEFAULT", "MAX_FILE_SIZE"))
    if tree is None:
        return Extracted("", ""), Extracted("", "", "recall")
    return _extract(tree, url, config, precision=True), _extract(tree, url, config, precision=False)


def _extract(tree: Any, url: str, config: Any, precision: bool) -> Extracted:
    """One extraction of a parsed page (trafilatura works on a copy of the tree); the title only with precision."""
    import trafilatura

    found = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=precision,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        favor_precision=precision,
        favor_recall=not precision,
        date_extraction_params={"extensive_search": False},
        config=config,
    )
    if found is None:
        return Extracted("", "", "precision" if precision else "recall")
    title: str = (getattr(found, "title", None) or "")[:1000]
    main: str = (getattr(found, "text", None) or "")[:100_000]
    # NFC: a windows-1258 page decodes to combining tone marks
    return Extracted(unicodedata.normalize("NFC", title), unicodedata.normalize("NFC", main), "precision" if precision else "recall")
