"""Parsing in one process: what a parse worker does per feed, and the share of it that is HTML-to-text.

The feeds are the process benchmark's (20 items whose descriptions are ~800 characters of
HTML: a linked photo and a paragraph). Printed: `parse_feed` per feed, and `html_to_text`
per field on the same descriptions (the decoded HTML, as feedparser hands it over), each the
best of a few passes on one core, in CPU time (steadier than wall time on a shared machine).
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable

from bench import feedserver_proc
from service.ingest.parse import html_to_text, parse_feed

FEEDS, ITEMS, PASSES = 200, 20, 5


def best(run: Callable[[], object]) -> float:
    """The fastest of PASSES runs, in CPU seconds."""
    times = []
    for _ in range(PASSES):
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
    return min(times)


def main() -> None:
    """Print the figures."""
    documents = [feedserver_proc.feed(n, ITEMS, 0, html=True)[0] for n in range(FEEDS)]
    fields = [html.unescape(d) for doc in documents for d in re.findall(r"<description>(.*?)</description>", doc.decode())]
    parse = best(lambda: [parse_feed(doc, f"https://e.org/{n}.xml", f"f{n}", "application/rss+xml") for n, doc in enumerate(documents)])
    text = best(lambda: [html_to_text(f) for f in fields])
    print(f"parsing, one process ({FEEDS} feeds x {ITEMS} items with ~800-character HTML descriptions, CPU time, best of {PASSES})")
    print(f"  parse_feed:   {parse / FEEDS * 1000:6.2f} ms per feed")
    print(f"  html_to_text: {text / len(fields) * 1e6:6.1f} µs per description ({text / FEEDS * 1000:.2f} ms per feed)")


if __name__ == "__main__":
    main()
