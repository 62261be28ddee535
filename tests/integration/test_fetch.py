"""The fetcher against a real local server: validators, redirects, caps, errors."""

from __future__ import annotations

import gzip
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trustme

from service.ingest.client import build_client
from service.ingest.fetch import Fetched, Fetcher, FetchFailed, NotModified
from tests.support.feedserver import FeedServer


@pytest.fixture
async def fetcher(tmp_path: Path) -> AsyncIterator[Fetcher]:
    async with build_client("newswatch-test") as client:
        yield Fetcher(client, tmp_path, max_bytes=100_000, total_timeout=2)


async def test_conditional_get_returns_not_modified(feeds: FeedServer, fetcher: Fetcher) -> None:
    url = feeds.serve("f.rss", b"<rss/>")
    first = await fetcher.fetch(url)
    assert isinstance(first, Fetched) and first.etag and first.last_modified
    again = await fetcher.fetch(url, first.etag, first.last_modified)
    assert isinstance(again, NotModified)
    feeds.serve("f.rss", b"<rss><channel/></rss>")
    changed = await fetcher.fetch(url, first.etag, first.last_modified)
    assert isinstance(changed, Fetched) and changed.body == b"<rss><channel/></rss>"


async def test_a_conditional_get_sends_the_feed_headers_and_the_validators(feeds: FeedServer, fetcher: Fetcher) -> None:
    """What a server sees: our name, the feed types, compression httpx can decode, the validators; an Accept of the caller's replaces the types."""
    url = feeds.serve("f.rss", gzip.compress(b"<rss/>"), headers={"Content-Encoding": "gzip"})
    first = await fetcher.fetch(url)
    assert isinstance(first, Fetched) and first.body == b"<rss/>" and first.etag and first.last_modified
    assert isinstance(await fetcher.fetch(url, first.etag, first.last_modified), NotModified)
    seen = feeds.headers_seen["f.rss"]
    assert seen["User-Agent"] == "newswatch-test" and seen["Host"] == f"127.0.0.1:{feeds.port}"
    assert seen["Accept"].startswith("application/rss+xml, application/atom+xml") and "gzip" in seen["Accept-Encoding"]
    assert (seen["If-None-Match"], seen["If-Modified-Since"]) == (first.etag, first.last_modified)
    assert "Cookie" not in seen
    assert isinstance(await fetcher.fetch(url, accept="text/html"), Fetched)
    assert feeds.headers_seen["f.rss"]["Accept"] == "text/html" and "If-None-Match" not in feeds.headers_seen["f.rss"]


async def test_a_body_that_does_not_decode_as_it_says_is_a_failed_fetch(feeds: FeedServer, fetcher: Fetcher) -> None:
    """httpx decodes under the cap on the direct GET too: a gzip header over plain bytes is a network failure, not a crash."""
    result = await fetcher.fetch(feeds.serve("f.rss", b"<rss/> not gzip", headers={"Content-Encoding": "gzip"}))
    assert isinstance(result, FetchFailed) and result.code == "network" and "DecodingError" in result.message, result


async def test_no_cookie_is_kept_or_sent(feeds: FeedServer, fetcher: Fetcher) -> None:
    """A cookie one site sets must not go to the next (one client fetches every site), nor back to it: feeds need none."""
    url = feeds.serve("f.rss", b"<rss/>", headers={"Set-Cookie": "session=abc; Path=/"})
    other = feeds.serve("g.rss", b"<rss/>")
    for target in (url, url, other):
        assert isinstance(await fetcher.fetch(target), Fetched)
    assert feeds.hits == {"f.rss": 2, "g.rss": 1} and feeds.cookies == []


async def test_a_certificate_no_trusted_authority_signed_is_refused(fetcher: Fetcher) -> None:
    """TLS is verified: a feed served over https with a throwaway CA's certificate fails, naming the certificate."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(tls)
    server = FeedServer()
    await server.start(tls=tls)
    try:
        url = server.serve("f.rss", b"<rss/>")
        assert url.startswith("https://")
        result = await fetcher.fetch(url)
        assert isinstance(result, FetchFailed) and result.code == "connection", result
        assert "certificate" in result.message.lower(), result.message
        assert server.hits == {}  # refused at the handshake, before any request
    finally:
        await server.stop()


async def test_permanent_redirects_are_remembered_temporary_ones_are_not(feeds: FeedServer, fetcher: Fetcher) -> None:
    target = feeds.serve("new.rss", b"<rss/>")
    moved = feeds.serve("old.rss", b"", status=301, headers={"Location": "/new.rss"})
    hop = feeds.serve("hop.rss", b"", status=302, headers={"Location": moved})
    assert (await fetcher.fetch(moved)) == Fetched(b"<rss/>", target, *_validators(await fetcher.fetch(target)), moved_to=target)
    via_temporary = await fetcher.fetch(hop)
    assert isinstance(via_temporary, Fetched) and via_temporary.moved_to is None


def _validators(result: object) -> tuple[str | None, str | None, str]:
    assert isinstance(result, Fetched)
    return result.etag, result.last_modified, result.content_type


async def test_redirect_loops_and_non_http_targets_fail(feeds: FeedServer, fetcher: Fetcher) -> None:
    loop = feeds.serve("loop.rss", b"", status=302, headers={"Location": "/loop.rss"})
    assert (await fetcher.fetch(loop)) == FetchFailed("redirect", "more than 5 redirects")
    sneaky = feeds.serve("file.rss", b"", status=302, headers={"Location": "file:///etc/passwd"})
    result = await fetcher.fetch(sneaky)
    assert isinstance(result, FetchFailed) and result.code == "redirect"


@pytest.mark.parametrize(
    ("status", "headers", "code", "retry_after", "gone"),
    [
        (500, {}, "http_500", None, False),
        (404, {}, "http_404", None, False),
        (429, {"Retry-After": "120"}, "http_429", 120.0, False),
        (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, "http_503", 0.0, False),
        (410, {}, "gone", None, True),
    ],
)
async def test_http_errors_are_typed(
    feeds: FeedServer, fetcher: Fetcher, status: int, headers: dict[str, str], code: str, retry_after: float | None, gone: bool
) -> None:
    result = await fetcher.fetch(feeds.serve("e.rss", b"", status=status, headers=headers))
    assert isinstance(result, FetchFailed)
    assert (result.code, result.retry_after, result.gone) == (code, retry_after, gone)


async def test_bodies_over_the_cap_are_refused_even_when_compressed(feeds: FeedServer, fetcher: Fetcher) -> None:
    big = await fetcher.fetch(feeds.serve("big.rss", b"x" * 200_000))
    assert isinstance(big, FetchFailed) and big.code == "too_large"
    bomb = gzip.compress(b"\0" * 50_000_000)
    result = await fetcher.fetch(feeds.serve("bomb.rss", bomb, headers={"Content-Encoding": "gzip"}))
    assert isinstance(result, FetchFailed) and result.code == "too_large"
    assert len(bomb) < 100_000  # the compressed body alone is under the cap


async def test_timeouts_and_refused_connections(feeds: FeedServer, fetcher: Fetcher) -> None:
    slow = await fetcher.fetch(feeds.serve("slow.rss", b"<rss/>", delay=5))
    assert isinstance(slow, FetchFailed) and slow.code == "timeout"
    refused = await fetcher.fetch("http://127.0.0.1:9/feed.rss")
    assert isinstance(refused, FetchFailed) and refused.code == "connection"


async def test_file_urls_are_relative_to_the_config_folder(tmp_path: Path, fetcher: Fetcher) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "f.xml").write_bytes(b"<rss/>")
    first = await fetcher.fetch("file:demo/f.xml")
    assert isinstance(first, Fetched) and first.body == b"<rss/>"
    assert isinstance(await fetcher.fetch("file:demo/f.xml", None, first.last_modified), NotModified)
    missing = await fetcher.fetch("file:demo/none.xml")
    assert isinstance(missing, FetchFailed) and missing.code == "file_not_found"


async def test_user_agent_names_the_project(feeds: FeedServer) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["user-agent"])
        return httpx.Response(200, content=b"<rss/>")

    from service.settings import Settings

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), headers={"User-Agent": Settings().user_agent}) as client:
        await Fetcher(client, Path(".")).fetch("https://example.org/f.rss")
    assert seen[0].startswith("newswatch/") and "+https://" in seen[0]
