"""Fetch feeds over HTTP(S) or from files: conditional GET, redirects, size cap, typed outcomes.

A fetch returns `Fetched`, `NotModified` or `FetchFailed`; "nothing new" is never an exception,
and every network or HTTP failure is translated here into a coded `FetchFailed`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import functools
import ssl
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
import httpx
import yarl
from aiohttp.abc import AbstractResolver
from aiohttp.connector import Connection
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions

from alerts.display import urls_shown
from alerts.format import retry_after_seconds
from service.ingest.guard import Guard

MAX_REDIRECTS = 5
PERMANENT = {301, 308}
REDIRECTS = {301, 302, 303, 307, 308}
MAX_HEADERS = 100  # header lines in one answer; more is refused as a malformed answer
MAX_HEADER_LINE = 8190  # bytes in the status line or one header line
Network = Literal["auto", "public", "private"]  # a feed's `network:`: where its links may lead (service.ingest.guard)
_PEERS: ContextVar[list[str] | None] = ContextVar("newswatch_peers", default=None)


@dataclass(frozen=True, slots=True)
class Fetched:
    """A body to parse, with the validators to send next time."""

    body: bytes
    url: str
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = ""
    moved_to: str | None = None  # set when every redirect on the way was permanent
    max_age: int | None = None


@dataclass(frozen=True, slots=True)
class NotModified:
    """The server says nothing changed since the validators we sent."""

    etag: str | None = None
    last_modified: str | None = None
    max_age: int | None = None


@dataclass(frozen=True, slots=True)
class FetchFailed:
    """A failed fetch: `code` is stable (timeout, connection, http_500, too_large, ...)."""

    code: str
    message: str
    retry_after: float | None = None
    gone: bool = False


FetchResult = Fetched | NotModified | FetchFailed


class _PeerResponse(aiohttp.ClientResponse):
    """aiohttp's response, noting the address it came from for the fetch that asked (httpx's transport hides the connection)."""

    async def start(self, connection: Connection) -> aiohttp.ClientResponse:
        """Note the peer's address, then read the answer as aiohttp does."""
        seen, transport = _PEERS.get(), connection.transport
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


async def _open_get(client: httpx.AsyncClient, url: str, headers: Mapping[str, str]) -> httpx.Response:
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


def _max_age(cache_control: str | None) -> int | None:
    """The max-age of a Cache-Control header, if any."""
    for part in (cache_control or "").split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() == "max-age" and value.strip().isdigit():
            return int(value.strip())
    return None


def url_problem(url: str) -> str | None:
    """Why `url` cannot be fetched over HTTP (not http(s), no host, malformed), or None."""
    parsed = _parsed(url)
    return parsed if isinstance(parsed, str) else None


@functools.lru_cache(maxsize=16_384)
def _wire_url(url: str) -> yarl.URL:
    """The URL aiohttp sends for `url` (checked by `url_problem`): httpx's reading of it (an IDNA host in ASCII), cached as `_parsed`."""
    return yarl.URL(str(_parsed(url)))


@functools.lru_cache(maxsize=16_384)
def _host(url: str) -> str:
    """The host:port a fetch of `url` is counted against (its gate), cached as `_parsed`."""
    return urlsplit(url).netloc.lower()


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


def _malformed_answer(exc: aiohttp.ClientResponseError) -> FetchFailed:
    """An answer aiohttp could not read: too many headers, a header too long, not HTTP at all."""
    message = exc.message.split(":", 1)[0] if exc.message else type(exc).__name__
    if "more than" in message and "bytes" in message:
        message = "a header line is too long"
    return FetchFailed("bad_response", f"malformed HTTP answer: {message[:120]}")


def _network_failure(exc: httpx.HTTPError) -> FetchFailed:
    """Classify a transport error; the aiohttp transport reports a refused connection as a connect timeout."""
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientConnectorCertificateError):  # the system's trust store, or SSL_CERT_FILE, lacks its CA
        why = getattr(cause.certificate_error, "verify_message", "") or cause.certificate_error
        return FetchFailed(
            "connection",
            f"the certificate of {cause.host}:{cause.port} is not trusted ({why}); "
            "where a proxy or a private CA intercepts HTTPS, point SSL_CERT_FILE at its bundle",
        )
    if isinstance(cause, aiohttp.ClientConnectorError) and str(cause.os_error) not in ("", "None"):
        return FetchFailed("connection", f"cannot connect to {cause.host}:{cause.port}: {cause.os_error}")
    if isinstance(cause, aiohttp.ClientConnectorError) or isinstance(exc, httpx.ConnectError):
        return FetchFailed("connection", f"cannot connect: {cause or exc}")
    if isinstance(cause, aiohttp.ServerDisconnectedError):
        return FetchFailed("network", "the server closed the connection")
    if isinstance(exc, httpx.TimeoutException):
        return FetchFailed("timeout", f"timed out ({type(exc).__name__})")
    return FetchFailed("network", f"{type(exc).__name__}: {exc}")


class Fetcher:
    """Fetches one URL at a time per call; at most `per_host` at once to one host (a number, or a host's own limit).

    `public_only` fetches (pages linked from feeds on public addresses, see `service.ingest.guard`)
    go through `public_client`, whose connections reach public addresses only, and every hop is
    checked first so that a refusal says why. An answer from a public address may not redirect
    to a non-public one. A fetch given the feed's `network` setting remembers whether the links
    of what it fetched may lead to public addresses only (`links_public`): as the setting says,
    or by the address the answer actually came from.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        config_dir: Path,
        max_bytes: int = 10_000_000,
        per_host: int | Callable[[str], int] = 2,
        total_timeout: float = 60.0,
        public_client: httpx.AsyncClient | None = None,
        guard: Guard | None = None,
        full_urls: Callable[[], bool] = lambda: False,
    ) -> None:
        self._client = client
        self._full_urls = full_urls  # else URLs in failures lose their query string and user:password (they may hold keys)
        self._public_client = public_client or client
        self._guard = guard or Guard()
        self._config_dir = config_dir
        self._max_bytes = max_bytes
        self._total_timeout = total_timeout
        self._limit = per_host if callable(per_host) else (lambda host: per_host)
        self._gates: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._links: dict[str, bool] = {}  # fetched URL -> its links may lead to public addresses only

    async def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
        public_only: bool = False,
        network: Network | None = None,
    ) -> FetchResult:
        """Fetch `url`, conditionally if validators are given; `accept` replaces the feed types' Accept header.

        With the feed's `network` setting, remember where the links of what was fetched may lead.
        """
        seen: list[str] = []
        token = _PEERS.set(seen)
        try:
            result = await self._fetch(url, etag, last_modified, accept, public_only, seen, trusted=network == "private")
        finally:
            _PEERS.reset(token)
        if network is not None and not isinstance(result, FetchFailed):
            self._links[url] = self._links_public(url, network, seen[-1] if seen else None)
        if isinstance(result, FetchFailed) and not self._full_urls():
            result = dataclasses.replace(result, message=urls_shown(result.message))
        return result

    def links_public(self, url: str) -> bool | None:
        """Whether the links of the document last fetched from `url` may lead to public addresses only (None: never fetched)."""
        return self._links.get(url)

    def remember_links(self, url: str, like: str) -> None:
        """Let `url`'s links lead where those of `like`, fetched on its behalf (a site's robots.txt), may."""
        if like in self._links:
            self._links[url] = self._links[like]

    def _links_public(self, url: str, network: Network, peer: str | None) -> bool:
        """The operator's word, else the address the answer came from (a file is the operator's own)."""
        if network != "auto":
            return network == "public"
        return not url.startswith("file:") and (peer is None or self._guard.is_public_address(peer))

    async def _fetch(
        self, url: str, etag: str | None, last_modified: str | None, accept: str | None, public_only: bool, seen: list[str], trusted: bool
    ) -> FetchResult:
        """Fetch, every failure translated into a FetchFailed."""
        if url.startswith("file:"):
            if public_only:
                return FetchFailed("not_public", "a file: URL is not a public address")
            return await asyncio.to_thread(self._read_file, url, last_modified)
        if problem := url_problem(url):
            return FetchFailed("invalid_url", problem)
        async with self._gate(_host(url)):
            try:
                async with asyncio.timeout(self._total_timeout):
                    return await self._get(url, etag, last_modified, accept, public_only, seen, trusted)
            except TimeoutError:
                return FetchFailed("timeout", f"no complete answer within {self._total_timeout:g} s")
            except httpx.HTTPError as exc:
                return _network_failure(exc)
            except aiohttp.ClientResponseError as exc:  # not translated by the transport
                return _malformed_answer(exc)
            except aiohttp.ClientError as exc:
                return FetchFailed("network", f"{type(exc).__name__}: {str(exc)[:200]}")

    async def post(self, url: str, form: Mapping[str, str], public_only: bool = False) -> FetchResult:
        """POST a form (an aggregator's link-resolving call) under the same caps; a redirect in answer is a failure."""
        if urlsplit(url).scheme not in ("http", "https"):
            return FetchFailed("not_http", f"not an http(s) URL: {url}")
        if public_only and (refused := await self._guard.refusal(url)):
            return FetchFailed("not_public", f"refused {url}: {refused}")
        client = self._public_client if public_only else self._client
        async with self._gate(_host(url)):
            try:
                async with asyncio.timeout(self._total_timeout), client.stream("POST", url, data=dict(form)) as response:
                    if response.status_code in REDIRECTS:
                        return FetchFailed("redirect", f"a POST to {url} answered with a redirect")
                    return await self._answer(response, url, url, False)
            except TimeoutError:
                return FetchFailed("timeout", f"no complete answer within {self._total_timeout:g} s")
            except httpx.HTTPError as exc:
                return _network_failure(exc)

    def _gate(self, host: str) -> asyncio.Semaphore:
        """The host's semaphore at its current limit (a changed limit takes effect for the next requests)."""
        limit = max(1, self._limit(host))
        gate = self._gates.get((host, limit))
        if gate is None:
            gate = self._gates[host, limit] = asyncio.Semaphore(limit)
        return gate

    async def _get(
        self, url: str, etag: str | None, last_modified: str | None, accept: str | None, public_only: bool, seen: list[str], trusted: bool
    ) -> FetchResult:
        """GET with manual redirects, so that permanent moves can be remembered and every hop checked.

        After an answer from a public address only public ones may follow, unless the feed is `trusted` (`network: private`).
        """
        headers = {"Accept": accept} if accept else {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        permanent, current = True, url
        for _ in range(MAX_REDIRECTS + 1):
            if public_only and (refused := await self._guard.refusal(current)):
                return FetchFailed("not_public", f"refused {current}: {refused}")
            client = self._public_client if public_only else self._client
            try:  # `current` was checked by url_problem before the first hop, and by _redirect_target before every other
                response = await _open_get(client, current, headers)
                try:
                    if response.status_code in REDIRECTS and "location" in response.headers:
                        permanent = permanent and response.status_code in PERMANENT
                        target = _redirect_target(current, response.headers["location"])
                        if target is None:
                            return FetchFailed("redirect", f"redirect to a malformed or non-HTTP URL from {current}")
                        if not trusted and seen and self._guard.is_public_address(seen[-1]):
                            public_only = True
                        current = target
                        continue
                    return await self._answer(response, current, url, permanent)
                finally:
                    await response.aclose()
            except httpx.InvalidURL:  # `current` was checked: httpx read the Location header as a URL and could not
                return FetchFailed("redirect", f"redirect to a malformed or non-HTTP URL from {current}")
        return FetchFailed("redirect", f"more than {MAX_REDIRECTS} redirects")

    async def _answer(self, response: httpx.Response, final: str, asked: str, permanent: bool) -> FetchResult:
        """Turn the final response into a result, reading the body under the size cap."""
        status = response.status_code
        max_age = _max_age(response.headers.get("cache-control"))
        if status == 304:
            return NotModified(response.headers.get("etag"), response.headers.get("last-modified"), max_age)
        if status == 410:
            return FetchFailed("gone", "HTTP 410 Gone: the feed was removed", gone=True)
        if status >= 400 or status < 200:
            retry = retry_after_seconds(response.headers.get("retry-after"), datetime.now(UTC))
            return FetchFailed(f"http_{status}", f"HTTP {status} {response.reason_phrase}".strip(), retry_after=retry)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            return FetchFailed("too_large", f"body of {int(declared):,} bytes exceeds the cap of {self._max_bytes:,}")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():  # decoded bytes: a gzip bomb hits the cap too
            size += len(chunk)
            if size > self._max_bytes:
                return FetchFailed("too_large", f"body exceeds the cap of {self._max_bytes:,} bytes")
            chunks.append(chunk)
        return Fetched(
            body=b"".join(chunks),
            url=final,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            content_type=response.headers.get("content-type", ""),
            moved_to=final if permanent and final != asked else None,
            max_age=max_age,
        )

    def _read_file(self, url: str, last_modified: str | None) -> FetchResult:
        """Read a file: URL (relative paths are relative to the config folder)."""
        path = Path(unquote(urlsplit(url).path))
        path = path if path.is_absolute() else self._config_dir / path
        try:
            stat = path.stat()
            mtime = email.utils.formatdate(stat.st_mtime, usegmt=True) + f" {stat.st_size}"
            if last_modified == mtime:
                return NotModified(last_modified=mtime)
            if stat.st_size > self._max_bytes:
                return FetchFailed("too_large", f"file of {stat.st_size:,} bytes exceeds the cap of {self._max_bytes:,}")
            return Fetched(body=path.read_bytes(), url=url, last_modified=mtime, content_type="application/xml")
        except FileNotFoundError:
            return FetchFailed("file_not_found", f"no such file: {path}")
        except OSError as exc:
            return FetchFailed("file_error", f"cannot read {path}: {exc.strerror}")


def _redirect_target(current: str, location: str) -> str | None:
    """Where a redirect leads, if that is a well-formed http(s) URL."""
    try:
        target = urljoin(current, location.strip())
    except ValueError:
        return None
    return None if url_problem(target) else target
