"""A feed server in its own process for benchmarks: /f/N.xml serves feed N with ETag, Last-Modified, 304 and gzip."""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import random
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache
from typing import Any

from aiohttp import web

WORDS = [
    "Cambodia",
    "Vietnam",
    "border",
    "talks",
    "trade",
    "market",
    "rain",
    "river",
    "province",
    "officials",
    "minister",
    "ministry",
    "agreement",
    "demarcation",
    "markers",
    "gate",
    "crossing",
    "police",
    "farmers",
    "rice",
    "Mekong",
    "delta",
    "school",
    "hospital",
    "election",
    "council",
]


def vocabulary(size: int = 5_000) -> list[str]:
    """News-like words plus synthetic ones, so that a rule's terms co-occur in few items."""
    rng = random.Random(1)
    return WORDS + ["".join(rng.choice("abcdeghiklmnoprstuvy") for _ in range(rng.randint(4, 9))) for _ in range(size)]


VOCABULARY = vocabulary()


@lru_cache(maxsize=20_000)
def feed(n: int, items: int, generation: int) -> tuple[bytes, str]:
    """Feed n's RSS document (about 1 KB per item before compression) and its ETag."""
    base = datetime(2026, 11, 1, tzinfo=UTC)
    rng = random.Random(n)
    parts = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {n}</title><link>https://e.org/{n}</link>']
    for i in range(items + generation):
        words = " ".join(rng.choice(VOCABULARY) for _ in range(140))
        when = format_datetime(base + timedelta(minutes=n + i), usegmt=True)
        parts.append(
            f"<item><guid>f{n}-i{i}</guid><title>Item {i} of feed {n}: {WORDS[(n + i) % len(WORDS)]} news</title>"
            f"<link>https://e.org/{n}/{i}</link><pubDate>{when}</pubDate><description>{words}</description></item>"
        )
    parts.append("</channel></rss>")
    body = "".join(parts).encode()
    return body, '"' + hashlib.sha1(body).hexdigest()[:16] + '"'


def serve(port: int, items: int, ready: Any) -> None:
    """Run the server until killed."""

    async def handler(request: web.Request) -> web.StreamResponse:
        n = int(request.match_info["n"])
        body, etag = feed(n, int(request.query.get("items", items)), int(request.query.get("g", "0")))
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        response = web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})
        response.enable_compression()
        return response

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/f/{n}.xml", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=2048).start()
        ready.send(True)
        await asyncio.Event().wait()

    asyncio.run(main())


def start(items: int) -> tuple[multiprocessing.Process, str]:
    """Start the server process; return it and its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.get_context("spawn").Process(target=serve, args=(port, items, child), daemon=True)
    proc.start()
    parent.recv()
    return proc, f"http://127.0.0.1:{port}"
