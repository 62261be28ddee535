"""Fetch feeds over HTTP(S) or from files: conditional GET, redirects, size cap, typed outcomes.

A fetch returns `Fetched`, `NotModified` or `FetchFailed`; "nothing new" is never an exception,
and every network or HTTP failure is translated here into a coded `FetchFailed`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
import httpx

from alerts.display import urls_shown
from alerts.format import retry_after_seconds
from service.ingest.client import PEERS, open_get, url_problem
from service.ingest.guard import Guard

MAX_REDIRECTS = 5
PERMANENT = {301, 308}
REDIRECTS = {301, 302, 303, 307, 308}
Network = Literal["auto", "public", "private"]  # a feed's `network:`: where its links may lead (service.ingest.guard)


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


def _max_age(cache_control: str | None) -> int | None:
    """The max-age of a Cache-Control header, if any."""
    for part in (cache_control or "").split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() == "max-age" and value.strip().isdigit():
            return int(value.strip())
    return None


@functools.lru_cache(maxsize=16_384)
def _host(url: str) -> str:
    """The host:port a fetch of `url` is counted against (its gate), cached as the client caches parsed URLs."""
    return urlsplit(url).netloc.lower()


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
        token = PEERS.set(seen)
        try:
            result = await self._fetch(url, etag, last_modified, accept, public_only, seen, trusted=network == "private")
        finally:
            PEERS.reset(token)
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
                response = await open_get(client, current, headers)
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
