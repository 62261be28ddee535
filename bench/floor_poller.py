"""The floor of `make bench`'s whole-process comparison: a careful minimal poller, as fast as Python and feedparser allow.

It does what a poll must and nothing more: conditional GETs with aiohttp (20 at once), feedparser
in worker processes (one per core), new items kept by a unique key in SQLite through the
standard library's sqlite3, one transaction per batch. No rules, no article pages, no outbox:
what newswatch adds on top of this is what the comparison shows.

    python -m bench.floor_poller URLS_FILE DATABASE
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import sys
from concurrent.futures import ProcessPoolExecutor

import aiohttp
import feedparser

SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT);
CREATE TABLE IF NOT EXISTS items (feed TEXT NOT NULL, key TEXT NOT NULL, title TEXT, link TEXT, summary TEXT, published TEXT,
                                  UNIQUE (feed, key));
"""
Row = tuple[str, str, str, str, str, str]


def parse(body: bytes, url: str) -> list[Row]:
    """A feed's entries as rows (in a worker process: feedparser is CPU-bound)."""
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    rows = []
    for entry in parsed.entries:
        link = entry.get("link", "")
        key = entry.get("id") or link or hashlib.sha1(entry.get("title", "").encode()).hexdigest()
        rows.append((url, key, entry.get("title", ""), link, entry.get("summary", ""), entry.get("published", "")))
    return rows


class Poller:
    """One pass over the feeds."""

    def __init__(self, db: sqlite3.Connection, pool: ProcessPoolExecutor) -> None:
        self.db = db
        self.pool = pool
        self.validators = {url: (etag, modified) for url, etag, modified in db.execute("SELECT url, etag, last_modified FROM feeds")}
        self.rows: list[Row] = []
        self.states: list[tuple[str, str | None, str | None]] = []

    async def poll(self, session: aiohttp.ClientSession, gate: asyncio.Semaphore, url: str) -> None:
        """Fetch one feed conditionally; parse a changed one off the event loop."""
        etag, modified = self.validators.get(url, (None, None))
        headers = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", modified)) if v}
        try:
            async with gate, session.get(url, headers=headers) as response:
                if response.status == 304:
                    return
                body = await response.read()
                state = (url, response.headers.get("ETag"), response.headers.get("Last-Modified"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            print(f"{url}: {exc}", file=sys.stderr)
            return
        self.rows += await asyncio.get_running_loop().run_in_executor(self.pool, parse, body, url)
        self.states.append(state)

    def save(self) -> int:
        """Store new items and the feeds' validators in one transaction; return how many items were new."""
        with self.db:
            before = self.db.total_changes
            self.db.executemany("INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?, ?, ?)", self.rows)
            new = self.db.total_changes - before
            self.db.executemany("INSERT OR REPLACE INTO feeds VALUES (?, ?, ?)", self.states)
        return new


async def run(urls: list[str], path: str) -> int:
    """Poll every feed once; return the number of new items."""
    db = sqlite3.connect(path)
    db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + SCHEMA)
    with ProcessPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        poller = Poller(db, pool)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20), timeout=timeout) as session:
            gate = asyncio.Semaphore(20)
            await asyncio.gather(*(poller.poll(session, gate, url) for url in urls))
        new = poller.save()
    db.close()
    return new


def main() -> None:
    """Poll the feeds listed one per line in URLS_FILE into DATABASE."""
    with open(sys.argv[1], encoding="utf-8") as listed:
        urls = [line.strip() for line in listed if line.strip()]
    print(f"{asyncio.run(run(urls, sys.argv[2]))} new items", file=sys.stderr)


if __name__ == "__main__":
    main()
