"""Helpers for tests of the web pages: serve an App's pages on a free loopback port, read a page's CSRF token."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from service.app import App
from service.ops import web
from service.ops.worker import Worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def pages(app: App, port: int | None = None) -> AsyncIterator[str]:
    """The app's pages and /api/v1 on 127.0.0.1 (a given port, or a free one); yields their base URL."""
    port = port or free_port()
    runner = await web.serve(Worker(app, poll_every=3600, deliver_every=3600, reload_every=3600), "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def csrf_of(client: httpx.AsyncClient, base: str) -> str:
    """Open a page and return its CSRF token (the session cookie stays in the client)."""
    response = await client.get(f"{base}/silences")
    assert response.status_code == 200, response.text[:300]
    return response.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
