"""The HTTP client that fetches run on: httpx's API over aiohttp's connection pool, and URLs as it reads them.

`build_client` makes the shared client: bounded answer headers, no cookies, TLS from the
system's trust store, and (with a guard) connections to public addresses only. `open_get` is
a feed's or a page's GET through it; `url_problem` says why a URL cannot be fetched. The
fetcher (`service.ingest.fetch`) turns what comes back into typed outcomes.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable, Mapping
from contextvars import ContextVar

import aiohttp
import httpx
import yarl
from aiohttp.abc import AbstractResolver
from aiohttp.connector import Connection
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions

from service.ingest.guard import Guard

MAX_HEADERS = 100  # header lines in one answer; more is refused as a malformed answer
MAX_HEADER_LINE = 8190  # bytes in the status line or one header line
PEERS: ContextVar[list[str] | None] = ContextVar("newswatch_peers", default=None)  # addresses answers came from, per fetch


class _PeerResponse(aiohttp.ClientResponse):
    """aiohttp's response, noting the address it came from for the fetch that asked (httpx's transport hides the connection)."""

    async def start(self, connection: Connection) -> aiohttp.ClientResponse:
        """Note the peer's address, then read the answer as aiohttp does."""
        seen, transport = PEERS.get(), connection.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        if seen is not None and peer:
            seen.append(str(peer[0]))
        return await super().start(connection)


def build_client(
    user_agent: str,
    connect_timeout: float = 10.0,
    read_timeout: float = 20.0,
    max_connections: int = 100,
    guard: Guard | None = None,
    resolve: Callable[[], AbstractResolver] | None = None,
) -> httpx.AsyncClient:
    """The HTTP client shared by all fetches; with `guard`, one that connects to public addresses only.

    `resolve` makes the resolver of a client without a guard (the system's by default).
    """
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections // 2)

    def session() -> aiohttp.ClientSession:
        """The transport's session (made on first use, in the event loop): bounded headers; with a guard, public name lookups only.

        TLS: aiohttp's verified context (`ssl=True`), which aiohttp builds once when it is imported,
        from the system's trust store (or SSL_CERT_FILE / SSL_CERT_DIR): loading a CA bundle for
        each client cost 0.05-0.1 s of every start-up.
        """
        resolver = guard.resolver() if guard is not None else resolve() if resolve is not None else None
        connector = aiohttp.TCPConnector(limit=max_connections, ssl=True, resolver=resolver)
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # cookies: see _NoCookies
            response_class=_PeerResponse,
            max_headers=MAX_HEADERS,
            max_line_size=MAX_HEADER_LINE,
            max_field_size=MAX_HEADER_LINE,
        )

    # aiohttp under httpx: httpx's own pool tops out near 200 requests/s here
    # The transport's own context serves only a session it makes itself, and `session` makes ours: a bare context that
    # verifies (no CA loaded, so it would refuse every certificate) instead of httpx's default, which loads certifi's bundle.
    transport = AiohttpTransport(limits=limits, verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), client=session)
    client = FeedClient(
        transport,
        headers={
            "User-Agent": user_agent,
            "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5",
        },
        timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout, write=read_timeout, pool=read_timeout),
    )
    client._cookies = _NoCookies()  # the `cookies` setter would copy it into a plain store
    return client


class FeedClient(httpx.AsyncClient):
    """httpx's client over aiohttp's pool, with a direct GET for the fetcher.

    A fetcher's GET needs none of the client's request pipeline: no auth, no cookies (see
    `_NoCookies`), no redirects (the fetcher follows them itself and checks every hop), nothing
    to merge but its headers. `open_get` sends it straight through the transport's aiohttp session
    with the client's headers and timeouts, and answers with httpx's streamed response, so that
    the bytes on the wire and the decoding (httpx's decoders, under the fetcher's size cap) are
    the same as through `send`. It costs half the CPU of `send` per unchanged feed's 304: building
    httpx's Request, merging its headers and running its send pipeline was most of a 304's cost
    (docs/performance.md). Everything else (POSTs, tools) goes through httpx's own `send`.
    """

    def __init__(self, transport: AiohttpTransport, headers: Mapping[str, str], timeout: httpx.Timeout) -> None:
        super().__init__(headers=headers, timeout=timeout, transport=transport, follow_redirects=False)
        self._aiohttp = transport
        self._get_headers = {name.decode(): value.decode() for name, value in self.headers.raw}  # with httpx's Accept-Encoding
        self._get_timeout = aiohttp.ClientTimeout(sock_connect=timeout.connect, sock_read=timeout.read, connect=timeout.pool)

    async def open_get(self, url: str, headers: Mapping[str, str]) -> httpx.Response:
        """GET `url` (checked by `url_problem`) with the client's headers, `headers` replacing those of the same (canonical) name.

        The caller closes the answer.
        """
        session = self._aiohttp.client
        if not isinstance(session, aiohttp.ClientSession):  # made on first use, in the event loop, as the transport does
            session = self._aiohttp.client = self._aiohttp.get_client()
        with map_aiohttp_exceptions():
            answer = await session.request(
                "GET",
                _wire_url(url),
                headers={**self._get_headers, **headers},
                allow_redirects=False,
                auto_decompress=False,  # httpx decodes, as through its transport
                compress=False,
                timeout=self._get_timeout,
            ).__aenter__()
        return httpx.Response(
            answer.status,
            headers=answer.raw_headers,
            stream=AiohttpResponseStream(answer),
            extensions={"reason_phrase": answer.reason.encode()} if answer.reason else {},
        )


async def open_get(client: httpx.AsyncClient, url: str, headers: Mapping[str, str]) -> httpx.Response:
    """A streamed GET of a URL `url_problem` passed: directly on our client, through httpx's `send` on another (a MockTransport)."""
    if isinstance(client, FeedClient):
        return await client.open_get(url, headers)
    return await client.send(client.build_request("GET", _parsed(url), headers=headers), stream=True)


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing.

    Feeds and article pages need no cookies, and one client fetches every site: a cookie one
    site sets must not go to the next. httpx's extraction also builds a urllib Request for
    every response (15 us), and a stored cookie made each request copy the whole store.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        """Keep nothing."""


def url_problem(url: str) -> str | None:
    """Why `url` cannot be fetched over HTTP (not http(s), no host, malformed), or None."""
    parsed = _parsed(url)
    return parsed if isinstance(parsed, str) else None


@functools.lru_cache(maxsize=16_384)
def _wire_url(url: str) -> yarl.URL:
    """The URL aiohttp sends for `url` (checked by `url_problem`): httpx's reading of it (an IDNA host in ASCII), cached as `_parsed`."""
    return yarl.URL(str(_parsed(url)))


@functools.lru_cache(maxsize=16_384)
def _parsed(url: str) -> httpx.URL | str:
    """`url` as httpx reads it, or why it cannot be fetched over HTTP.

    Cached: a feed's URL is checked and parsed again at every poll, and httpx's parser costs
    about a tenth of an unchanged feed's fetch. The URL objects are immutable; 16,384 of them
    are a few MB at most.
    """
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decoding an IDNA host may raise too
    except (httpx.InvalidURL, ValueError) as exc:  # the idna package's errors are ValueErrors
        return f"malformed URL ({str(exc)[:80]})"
    if parsed.scheme not in ("http", "https"):
        return "not an http(s) URL"
    return parsed if host else "no host in the URL"
