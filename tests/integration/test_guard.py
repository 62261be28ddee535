"""Links in feeds are untrusted: a public feed's article links may not reach loopback, private or metadata addresses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from service.ingest.article import Articles
from service.ingest.client import build_client
from service.ingest.extract import Extracted
from service.ingest.fetch import Fetched, Fetcher, FetchFailed
from service.ingest.guard import Guard, is_public
from service.ingest.model import Status
from service.storage.schema import items
from tests.conftest import AppFactory, write_config
from tests.support.dns import HostsResolver
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer

PUBLIC_FEED = "http://93.184.216.34/feed.xml"  # a public address, never contacted: only its address is looked at
RULES = {"destinations": {"d": {"type": "console"}}, "rules": [{"id": "r", "destinations": ["d"], "match": {"any": ["border"]}}]}
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
        # IPv4 addresses wrapped in IPv6: public only if the IPv4 address is
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 (RFC 6052) to the metadata address 169.254.169.254
        ("64:ff9b::7f00:1", False),  # NAT64 to 127.0.0.1
        ("64:ff9b::a00:5", False),  # NAT64 to 10.0.0.5
        ("64:ff9b::808:808", True),  # NAT64 to 8.8.8.8
        ("64:ff9b:1::a9fe:a9fe", False),  # local-use NAT64 (RFC 8215): never public
        ("64:ff9b:1::808:808", False),
        ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2002:808:808::1", True),  # 6to4 of 8.8.8.8
        ("::169.254.169.254", False),  # IPv4-compatible
        ("::127.0.0.1", False),
        ("::ffff:0:a9fe:a9fe", False),  # SIIT (IPv4-translated)
        ("::ffff:0:a00:5", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo, its client 192.0.2.45
        ("2001:0:a00:5::f5ff:fffa", False),  # Teredo through the server 10.0.0.5
    ],
)
def test_only_globally_routable_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


async def test_refusals_never_say_what_a_name_resolved_to() -> None:
    guard = Guard()
    assert await guard.refusal(PUBLIC_FEED) is None
    assert await guard.refusal("http://[::1]:8080/x") == "::1 is not a public address"
    assert await guard.refusal("http://[64:ff9b::a9fe:a9fe]/latest/meta-data/") == "64:ff9b::a9fe:a9fe is not a public address"
    # a name: the refusal says so, and not where it leads (whoever asked from Slack learns nothing of our network)
    assert await guard.refusal("http://localhost:8080/x") == "localhost is not a public address"
    await guard.close()


async def test_a_public_feeds_link_to_an_ipv4_address_wrapped_in_ipv6_is_not_fetched(client: httpx.AsyncClient, tmp_path: Path) -> None:
    articles = Articles(Fetcher(client, tmp_path, total_timeout=5), extract, "newswatch-test", budget=10, pace=0)
    for link in ("http://[64:ff9b::a9fe:a9fe]/latest/meta-data/", "http://[2002:a9fe:a9fe::1]/", "http://[::ffff:0:7f00:1]/"):
        refused = await articles.fetch(link, origin=PUBLIC_FEED)
        assert refused.status is Status.FAILED and "is not a public address" in refused.detail, (link, refused.detail)


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
    fetcher = Fetcher(client, tmp_path)
    articles = Articles(fetcher, extract, "newswatch-test", budget=10, pace=0)
    refused = await articles.fetch(page, origin=PUBLIC_FEED)  # a feed this process never fetched counts as public
    assert refused.status is Status.FAILED and "127.0.0.1 is not a public address" in refused.detail
    assert feeds.hits == {}  # neither the page nor its robots.txt was asked for
    # The same link from a feed fetched from loopback (an intranet, a test server) is fetched.
    feed = feeds.serve("feed.xml", b"<rss/>")
    assert isinstance(await fetcher.fetch(feed, network="auto"), Fetched)
    fetched = await articles.fetch(page, origin=feed)
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


@pytest.fixture
async def private_net() -> AsyncIterator[FeedServer]:
    """A server on 127.0.0.2, playing the private network (and the metadata service) behind the public one."""
    server = FeedServer()
    await server.start("127.0.0.2")
    yield server
    await server.stop()


async def test_where_a_feeds_links_may_lead_is_decided_by_where_it_was_fetched_from_or_by_its_network_setting(
    tmp_path: Path, feeds: FeedServer, private_net: FeedServer, make_app: AppFactory
) -> None:
    # 127.0.0.1 plays the internet and 127.0.0.2 the private network; the outlet's name has a record of each.
    guard = Guard(public=lambda address: address == "127.0.0.1", lookup=lambda: HostsResolver({"outlet.test": ["127.0.0.1", "127.0.0.2"]}))
    feeds_yaml = []
    for name, server, network in (
        ("outlet", feeds, "auto"),  # fetched from a public address: its links stay public, whatever else its name resolves to
        ("trusted", feeds, "private"),  # the operator vouches for it
        ("intranet", private_net, "auto"),  # fetched from a private address: the operator's own network
        ("relay", private_net, "public"),  # a relay on our network of public content: its links stay public
    ):
        link = private_net.serve(f"meta/{name}", PAGE, content_type="text/html", validators=False)
        feed = server.serve(f"{name}.rss", rss([Entry(name, f"{name}: border news", link, "Officials met.")]))
        url = feed.replace("127.0.0.1", "outlet.test")
        feeds_yaml.append({"id": name, "url": url, "first_poll_alerts": "all", "max_age": "off", "article": "always", "network": network})
    write_config(tmp_path / "config", feeds_yaml, RULES)
    app = await make_app(guard=guard, article_pace=0.0)
    await app.poll_once()
    async with app.engine.connect() as conn:
        stored = {r.feed_id: r for r in await conn.execute(sa.select(items))}
    assert {name: private_net.hits.get(f"meta/{name}", 0) for name in stored} == {"outlet": 0, "trusted": 1, "intranet": 1, "relay": 0}
    assert {name: row.article_status for name, row in stored.items()} == {
        "outlet": "failed",
        "trusted": "fetched",
        "intranet": "fetched",
        "relay": "failed",
    }
    for name in ("outlet", "relay"):
        assert stored[name].article_detail == "not fetched: the feed is public and 127.0.0.2 is not a public address"


async def test_a_feed_fetched_from_a_public_address_may_not_redirect_to_a_private_one_through_its_name(
    tmp_path: Path, feeds: FeedServer, private_net: FeedServer, client: httpx.AsyncClient
) -> None:
    guard = Guard(public=lambda address: address == "127.0.0.1", lookup=lambda: HostsResolver({"outlet.test": ["127.0.0.1", "127.0.0.2"]}))
    secret = private_net.serve("latest/meta-data/", b"iam-role-credentials")
    feed = feeds.serve("moved.rss", b"", status=302, headers={"Location": secret.replace("127.0.0.2", "outlet.test")})
    result = await Fetcher(client, tmp_path, guard=guard, total_timeout=5).fetch(feed, network="auto")
    assert isinstance(result, FetchFailed) and result.code == "not_public"
    assert "outlet.test is not a public address" in result.message and "127.0.0.2" not in result.message
    assert private_net.hits == {}
    await guard.close()
