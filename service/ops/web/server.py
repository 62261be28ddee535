"""The web server's socket: bounded so that no client can take the process's file descriptors, and with them its polling.

At most MAX_CONNECTIONS connections are served at once (more are closed as soon as they are
accepted), a connection that has not sent a whole request within IDLE_SECONDS (or stays idle
that long between requests) is closed, and request heads are limited in size.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

MAX_CONNECTIONS = 64  # served at once: health checks, scrapes and a desk's browsers
IDLE_SECONDS = 10.0  # to send a whole request, or between two requests on one connection
MAX_HEADERS = 32  # header lines in a request
MAX_HEADER_LINE = 4096  # bytes in the request line or one header line
BACKLOG = 64  # connections the kernel holds before they are accepted


class _Refused(asyncio.Protocol):
    """A connection over the limit: closed at once, so that it holds no file descriptor."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()  # type: ignore[attr-defined]


class LimitedSite(web.TCPSite):
    """A TCP site that serves at most MAX_CONNECTIONS connections at once and closes the others as they come."""

    async def start(self) -> None:
        """Listen, with the limit."""
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None

        def protocol() -> asyncio.BaseProtocol:
            return _Refused() if len(server.connections) >= MAX_CONNECTIONS else server()

        self._server = await asyncio.get_running_loop().create_server(protocol, self._host, self._port, backlog=self._backlog)


async def start(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve `app` on host:port with the limits; the caller cleans up the returned runner."""
    runner = web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=IDLE_SECONDS,  # aiohttp also closes a connection that sends no whole request within it
        max_headers=MAX_HEADERS,
        max_line_size=MAX_HEADER_LINE,
        max_field_size=MAX_HEADER_LINE,
    )
    await runner.setup()
    try:
        await LimitedSite(runner, host, port, backlog=BACKLOG).start()
    except OSError:  # the port is taken: nothing left behind
        await runner.cleanup()
        raise
    return runner
