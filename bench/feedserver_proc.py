"""A feed server in its own process for benchmarks: /f/N.xml serves feed N with ETag, Last-Modified, 304 and gzip.

For the article benchmark it also serves article pages (/a/N.html, in an outlet's shape, the
border sentence in paragraph six), listens on several loopback addresses (one "outlet" each),
and `/bump` makes every tenth feed gain one new item whose page must be fetched. `/grow?every=20`
makes every twentieth feed (5 %) gain one more plain item each time it is called: the steady
state of a poller that finds a few feeds changed at each poll.
"""

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


def description(rng: random.Random, n: int, i: int, html: bool) -> str:
    """An item's description: 140 plain words, or (`html`) what news feeds carry: a linked photo and ~800 characters of HTML."""
    if not html:
        return " ".join(rng.choice(VOCABULARY) for _ in range(140))
    words = " ".join(rng.choice(VOCABULARY) for _ in range(90))
    markup = (
        f'<a href="https://e.org/{n}/{i}"><img src="https://e.org/img/{n}-{i}.jpg" alt="Photo {i}" width="500" height="300"></a>'
        f"<br/><p>{words}</p>"
    )
    return markup.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@lru_cache(maxsize=20_000)
def feed(n: int, items: int, generation: int, html: bool = False) -> tuple[bytes, str]:
    """Feed n's RSS document (about 1 KB per item before compression) and its ETag."""
    base = datetime(2026, 11, 1, tzinfo=UTC)
    rng = random.Random(n)
    parts = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {n}</title><link>https://e.org/{n}</link>']
    for i in range(items + generation):
        words = description(rng, n, i, html)
        when = format_datetime(base + timedelta(minutes=n + i), usegmt=True)
        parts.append(
            f"<item><guid>f{n}-i{i}</guid><title>Item {i} of feed {n}: {WORDS[(n + i) % len(WORDS)]} news</title>"
            f"<link>https://e.org/{n}/{i}</link><pubDate>{when}</pubDate><description>{words}</description></item>"
        )
    parts.append("</channel></rss>")
    body = "".join(parts).encode()
    return body, '"' + hashlib.sha1(body).hexdigest()[:16] + '"'


CANDIDATE_LEAD = "Officials of the two neighbours met in the province on Monday to review cooperation, Cambodia's state news agency said."
PARAGRAPHS = [
    CANDIDATE_LEAD,
    "The delegations discussed trade, investment, transport links and the fight against the smuggling of goods and drugs.",
    "They welcomed the growth of two-way trade, which rose by a fifth in the first nine months of the year.",
    "Both sides agreed to hold more exchanges between their youth unions, universities and chambers of commerce.",
    "The provincial leaders also visited a new market and a hospital built with the neighbour's help.",
    "Việt Nam and Cambodia agreed to speed up land border demarcation and marker planting on the remaining sections.",
    "The next meeting will take place in the neighbouring province next year.",
]


def candidate(n: int, page_base: str) -> str:
    """The new item feed n gains on /bump: title and a one-sentence lead; the border is only in its page."""
    when = format_datetime(datetime.now(UTC), usegmt=True)
    return (
        f"<item><guid>f{n}-candidate</guid><title>Provincial leaders meet neighbours, feed {n}</title>"
        f"<link>{page_base}/a/{n}.html</link><pubDate>{when}</pubDate><description>{CANDIDATE_LEAD}</description></item>"
    )


def page(n: int) -> bytes:
    """Article page n: menu, related links, comments and footer around seven paragraphs."""
    paragraphs = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    related = "".join(f'<li><a href="/a/{n + k}.html">Vietnam, Cambodia finish border demarcation, part {k}</a></li>' for k in range(5))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Leaders meet</title><script>var x = 1;</script></head><body>"
        "<nav><ul>" + "".join(f"<li><a href='/s/{k}'>Section {k}</a></li>" for k in range(12)) + "</ul></nav>"
        f"<article><h1>Provincial leaders meet neighbours, feed {n}</h1><div class='content'>{paragraphs}</div></article>"
        f"<aside class='related'><h3>Related</h3><ul>{related}</ul></aside><footer>Contact us</footer></body></html>"
    ).encode()


def serve(port: int, items: int, ready: Any, hosts: int = 1) -> None:
    """Run the server until killed; with `hosts`, listen on 127.0.0.1 to 127.0.0.<hosts>."""
    bumped = {"on": False}
    grown = {"times": 0, "every": 20}

    async def handler(request: web.Request) -> web.StreamResponse:
        n = int(request.match_info["n"])
        generation = int(request.query.get("g", "0")) + (grown["times"] if n % grown["every"] == 0 else 0)
        body, etag = feed(n, int(request.query.get("items", items)), generation, request.query.get("html") == "1")
        if bumped["on"] and n % 10 == 0:
            extra = candidate(n, f"http://127.0.0.{1 + (n // 10) % hosts}:{port}").encode()  # 5 pages per host
            body = body.replace(b"</channel>", extra + b"</channel>")
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'

        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        response = web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})
        response.enable_compression()
        return response

    async def article(request: web.Request) -> web.StreamResponse:
        return web.Response(body=page(int(request.match_info["n"])), content_type="text/html", charset="utf-8")

    async def bump(request: web.Request) -> web.StreamResponse:
        bumped["on"] = True
        return web.Response(text="ok")

    async def grow(request: web.Request) -> web.StreamResponse:
        grown["times"] += 1
        grown["every"] = int(request.query.get("every", "20"))
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/f/{n}.xml", handler)
        app.router.add_get("/a/{n}.html", article)
        app.router.add_get("/bump", bump)
        app.router.add_get("/grow", grow)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for host in range(1, hosts + 1):
            await web.TCPSite(runner, f"127.0.0.{host}", port, backlog=2048).start()
        ready.send(True)
        await asyncio.Event().wait()

    asyncio.run(main())


def start(items: int, hosts: int = 1) -> tuple[multiprocessing.Process, str]:
    """Start the server process; return it and its base URL (on 127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.get_context("spawn").Process(target=serve, args=(port, items, child, hosts), daemon=True)
    proc.start()
    parent.recv()
    return proc, f"http://127.0.0.1:{port}"
