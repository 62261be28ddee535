"""A feed server on 127.0.0.1: serves documents with ETag/Last-Modified and 304s, or faults."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from dataclasses import dataclass, field
from email.utils import formatdate

from aiohttp import web


@dataclass
class Route:
    """What one path answers."""

    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    validators: bool = True
    version: int = 0


class FeedServer:
    """Serves feeds from memory; tests change them between polls."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Route] = {}  # by path; "POST path" answers POSTs to it
        self.posted: dict[str, list[dict[str, str]]] = {}  # the forms POSTed to each path
        self.hits: dict[str, int] = {}
        self.conditional_hits: dict[str, int] = {}
        self.user_agents: set[str] = set()  # every User-Agent that asked for anything
        self.cookies: list[str] = []  # every Cookie header sent with a request
        self.headers_seen: dict[str, dict[str, str]] = {}  # by path: the headers of the last GET
        self._runner: web.AppRunner | None = None
        self.base = ""
        self.port = 0

    async def start(self, host: str | None = None, tls: ssl.SSLContext | None = None) -> str:
        """Listen on a free port of a loopback address (the one given, else the server's); return the base URL (https with `tls`)."""
        host = self.host = host or self.host
        app = web.Application()
        app.router.add_route("GET", "/{path:.*}", self._handle)
        app.router.add_route("POST", "/{path:.*}", self._handle_post)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, 0, ssl_context=tls)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"{'https' if tls else 'http'}://{host}:{self.port}"
        return self.base

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner:
            await self._runner.cleanup()

    def url(self, path: str) -> str:
        """The full URL of a path."""
        return f"{self.base}/{path.lstrip('/')}"

    def serve(self, path: str, body: bytes, **options: object) -> str:
        """Serve `body` at `path` (replacing what was there); return its URL."""
        old = self.routes.get(path.lstrip("/"))
        route = Route(body=body, **options)  # type: ignore[arg-type]
        route.version = (old.version + 1) if old else 0
        self.routes[path.lstrip("/")] = route
        return self.url(path)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        self.hits[path] = self.hits.get(path, 0) + 1
        self.user_agents.add(request.headers.get("User-Agent", ""))
        self.cookies += request.headers.getall("Cookie", [])
        self.headers_seen[path] = dict(request.headers)
        route = self.routes.get(path)
        if route is None:
            return web.Response(status=404, text="not found")
        if route.delay:
            await asyncio.sleep(route.delay)
        if route.status != 200:
            return web.Response(status=route.status, text="error", headers=route.headers)
        etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
        modified = formatdate(1_750_000_000 + route.version * 60, usegmt=True)
        if route.validators and (request.headers.get("If-None-Match") == etag or request.headers.get("If-Modified-Since") == modified):
            self.conditional_hits[path] = self.conditional_hits.get(path, 0) + 1
            return web.Response(status=304, headers={"ETag": etag})
        headers = {"ETag": etag, "Last-Modified": modified, **route.headers} if route.validators else dict(route.headers)
        return web.Response(body=route.body, headers={"Content-Type": route.content_type, **headers})

    async def _handle_post(self, request: web.Request) -> web.StreamResponse:
        """A POSTed form is recorded; the answer is the route served as "POST path"."""
        path = request.match_info["path"]
        self.posted.setdefault(path, []).append({k: str(v) for k, v in (await request.post()).items()})
        route = self.routes.get(f"POST {path}")
        if route is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=route.body, status=route.status, headers={"Content-Type": route.content_type, **route.headers})
