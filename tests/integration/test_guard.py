"""Links in feeds are untrusted: a public feed's article links may not reach loopback, private or metadata addresses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from service.ingest.article import Articles
from service.ingest.extract import Extracted
from service.ingest.fetch import Fetched, Fetcher, FetchFailed, build_client
from service.ingest.guard import Guard, is_public
from service.ingest.model import Status
from tests.support.feedserver import FeedServer

PUBLIC_FEED = "http://93.184.216.34/feed.xml"  # a public address, never contacted: only its address is looked at
PAGE = b"<html><body><article><p>" + b"Border news from the province. " * 20 + b"</p></article></body></html>"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.9", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared (carrier-grade NAT)
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),  # loopback written as IPv6
        ("::ffff:8.8.8.8", True),
        ("not-an-address", False),
    ],
)
def test_only_globally_routable_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


async def test_refusals_name_the_address_for_literals_and_names() -> None:
    guard = Guard()
    assert await guard.refusal(PUBLIC_FEED) is None
    assert await guard.refusal("http://[::1]:8080/x") == "::1 is not a public address"
    refused = await guard.refusal("http://localhost:8080/x")  # resolves through the system resolver
    assert refused is not None and refused.startswith("localhost resolves to ") and "127.0.0.1" in refused
    assert not await guard.is_public_url("file:///etc/passwd")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with build_client("newswatch-test") as http:
        yield http


async def extract(body: bytes, url: str, content_type: str) -> Extracted:
    return Extracted(title="", text=body.decode().split("<p>")[1].split("</p>")[0])


async def test_a_public_feeds_link_to_loopback_is_not_fetched_and_says_why(
    feeds: FeedServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    page = feeds.serve("news/1.html", PAGE, content_type="text/html", validators=False)
    articles = Articles(Fetcher(client, tmp_path), extract, "newswatch-test", budget=10, pace=0)
    refused = await articles.fetch(page, origin=PUBLIC_FEED)
    assert refused.status is Status.FAILED and "127.0.0.1 is not a public address" in refused.detail
    assert feeds.hits == {}  # neither the page nor its robots.txt was asked for
    # The same link from a feed the operator put on loopback (an intranet, a test server) is fetched.
    fetched = await articles.fetch(page, origin=feeds.url("feed.xml"))
    assert fetched.status is Status.FETCHED and feeds.hits.get("news/1.html") == 1


async def test_a_redirect_from_a_public_address_to_a_private_one_is_refused(
    feeds: FeedServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    # Here 127.0.0.1 plays a public server and 127.0.0.2 the private network behind it.
    guard = Guard(public=lambda address: address != "127.0.0.2")
    fetcher = Fetcher(client, tmp_path, guard=guard, total_timeout=5)
    feed = feeds.serve("moved.rss", b"", status=302, headers={"Location": "http://127.0.0.2:9/latest/meta-data/"})
    result = await fetcher.fetch(feed)  # a feed fetch: the feed is public, so its redirects must stay public
    assert isinstance(result, FetchFailed) and result.code == "not_public" and "127.0.0.2 is not a public address" in result.message
    page = feeds.serve("news/2.html", b"", status=301, headers={"Location": "http://127.0.0.2:9/admin"})
    result = await fetcher.fetch(page, public_only=True)
    assert isinstance(result, FetchFailed) and result.code == "not_public"
    # Where the feed itself is private, its redirects may go to private addresses: the fetch is attempted.
    result = await Fetcher(client, tmp_path, total_timeout=5).fetch(feed)
    assert isinstance(result, FetchFailed) and result.code != "not_public"


async def test_the_connection_itself_reaches_public_addresses_only(feeds: FeedServer, client: httpx.AsyncClient, tmp_path: Path) -> None:
    # A name that looked public when checked and resolves to loopback when connecting (DNS rebinding):
    # the check is told everything is public, the public client's resolver still refuses loopback.
    page = feeds.serve("news/3.html", PAGE, content_type="text/html", validators=False)
    port = page.split(":")[2].split("/")[0]
    async with build_client("newswatch-test", guard=Guard()) as public_client:
        fetcher = Fetcher(client, tmp_path, public_client=public_client, guard=Guard(public=lambda address: True), total_timeout=5)
        result = await fetcher.fetch(f"http://localhost:{port}/news/3.html", public_only=True)
        assert isinstance(result, FetchFailed) and result.code == "connection" and "no public address" in result.message
        assert feeds.hits == {}
        # The same fetch without `public_only` goes through the ordinary client.
        assert isinstance(await fetcher.fetch(f"http://localhost:{port}/news/3.html"), Fetched)
