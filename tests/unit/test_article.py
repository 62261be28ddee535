"""Article pages: robots.txt, the per-host pace, statuses, decoding, and the prepare → match decisions."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from service.config.schema import RulesFile
from service.ingest.article import Articles, Robots
from service.ingest.extract import Extracted, decode_html
from service.ingest.fetch import Fetched, FetchFailed, FetchResult
from service.ingest.model import Article, FeedContext, Item, Status
from service.ingest.prepare import prepare
from service.rules.compile import Groups, compile_rules
from tests.support.pages import encode_1258


@dataclass
class FakeFetcher:
    """Answers from a table by URL, records what was asked; an unknown URL is a 404, as a server says."""

    pages: dict[str, FetchResult] = field(default_factory=dict)
    asked: list[tuple[str, str | None]] = field(default_factory=list)

    async def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None, accept: str | None = None, public_only: bool = False
    ) -> FetchResult:
        self.asked.append((url, accept))
        return self.pages.get(url, FetchFailed("http_404", "HTTP 404 Not Found"))

    def links_public(self, url: str) -> bool | None:
        return None


class FakeTime:
    """A monotonic clock that only moves when the code sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def page(url: str, text: str = "x" * 400) -> Fetched:
    return Fetched(body=f"<html><body><p>{text}</p></body></html>".encode(), url=url, content_type="text/html")


async def extract(body: bytes, url: str, content_type: str) -> Extracted:
    return Extracted(title="", text=body.decode().removeprefix("<html><body><p>").removesuffix("</p></body></html>"))


def articles(fetcher: FakeFetcher, time: FakeTime, pace: float = 1.0) -> Articles:
    return Articles(fetcher, extract, "newswatch/1.0 (+https://example.org)", budget=20, pace=pace, clock=time, sleep=time.sleep)


async def test_pages_of_one_host_are_paced_and_robots_txt_is_read_once() -> None:
    fetcher, time = FakeFetcher(), FakeTime()
    fetcher.pages = {f"https://a.example/{i}": page(f"https://a.example/{i}") for i in range(3)}
    fetcher.pages["https://b.example/1"] = page("https://b.example/1")
    pages = articles(fetcher, time, pace=2.0)
    results = [
        await pages.fetch(url) for url in ("https://a.example/0", "https://a.example/1", "https://b.example/1", "https://a.example/2")
    ]
    assert [r.status for r in results] == [Status.FETCHED] * 4
    assert time.slept == [2.0, 2.0]  # b.example's page did not wait for a.example's pace
    robots = [url for url, _ in fetcher.asked if url.endswith("/robots.txt")]
    assert robots == ["https://a.example/robots.txt", "https://b.example/robots.txt"]  # 404: everything allowed, once per host
    assert all(accept and "text/html" in accept for url, accept in fetcher.asked if not url.endswith("robots.txt"))


async def test_robots_txt_rules_for_our_agent_and_an_unreachable_robots_txt() -> None:
    fetcher, time = FakeFetcher(), FakeTime()
    fetcher.pages["https://a.example/robots.txt"] = Fetched(
        body=b"User-agent: *\nAllow: /\n\nUser-agent: newswatch\nDisallow: /private/\n", url="https://a.example/robots.txt"
    )
    fetcher.pages["https://b.example/robots.txt"] = FetchFailed("http_503", "HTTP 503 Service Unavailable")
    fetcher.pages["https://a.example/news/1"] = page("https://a.example/news/1")
    robots = Robots(fetcher, "newswatch/1.0", time)
    assert await robots.allowed("https://a.example/news/1")
    assert not await robots.allowed("https://a.example/private/2")
    assert not await robots.allowed("https://b.example/news/1")  # 5xx: assume nothing is allowed, for now (RFC 9309)
    time.now += 601
    fetcher.pages["https://b.example/robots.txt"] = FetchFailed("http_404", "HTTP 404 Not Found")
    assert await robots.allowed("https://b.example/news/1")  # asked again after ten minutes


async def test_outcomes_that_are_not_articles() -> None:
    fetcher, time = FakeFetcher(), FakeTime()
    fetcher.pages["https://a.example/short"] = page("https://a.example/short", "Subscribe to read.")
    fetcher.pages["https://a.example/pdf"] = Fetched(body=b"%PDF-1.7", url="https://a.example/pdf", content_type="application/pdf")
    pages = articles(fetcher, time, pace=0)
    short = await pages.fetch("https://a.example/short")
    assert (short.status, short.text, short.detail) == (Status.SHORT, "", "only 18 characters of text (under 200): not used")
    fetcher.pages["https://a.example/empty"] = page("https://a.example/empty", "")
    assert (await pages.fetch("https://a.example/empty")).status is Status.FAILED
    assert "not an HTML page" in (await pages.fetch("https://a.example/pdf")).detail
    assert (await pages.fetch("https://a.example/gone")).detail.startswith("http_404")
    assert (await pages.fetch("ftp://a.example/x")).status is Status.FAILED
    assert ("ftp://a.example/x", None) not in fetcher.asked


def test_pages_are_decoded_by_their_header_then_their_meta_then_utf8() -> None:
    text = "Biên giới Việt Nam – Campuchia"
    decoded = decode_html(encode_1258(text), "text/html; charset=windows-1258")
    assert decoded != text and unicodedata.normalize("NFC", decoded) == text  # tone marks arrive as combining marks
    meta = b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252"></head>' + "café".encode("cp1252")
    assert decode_html(meta, "text/html").endswith("café")
    assert decode_html("ព្រំដែន".encode(), "text/html") == "ព្រំដែន"
    assert decode_html(b"caf\xe9", "text/html; charset=nonsense") == "café"  # an unknown charset: windows-1252 at worst


class Pages:
    """An article source that records what it was asked."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.asked: list[str] = []
        self.origins: list[str | None] = []

    async def fetch(self, url: str, origin: str | None = None) -> Article:
        self.asked.append(url)
        self.origins.append(origin)
        return Article(Status.FETCHED, self.text, "test page", url)


async def test_auto_fetches_only_short_items_that_a_rule_may_still_match() -> None:
    spec = RulesFile.model_validate(
        {
            "destinations": {"d": {"type": "console"}},
            "rules": [{"id": "r", "destinations": ["d"], "match": {"all": ["Cambodia", "border"]}}],
        }
    )
    ruleset = compile_rules(spec.rules, Groups({}))
    hinted = Item(feed_id="f", key="1", title="Talks with Cambodia", link="https://a.example/1", summary="Officials met.")
    matched = Item(feed_id="f", key="2", title="Cambodia border talks", link="https://a.example/2")
    unrelated = Item(feed_id="f", key="3", title="Rice prices", link="https://a.example/3")
    long_text = Item(feed_id="f", key="4", title="Cambodia", link="https://a.example/4", summary="word " * 200)
    pages = Pages("Both sides agreed to finish the border demarcation.")
    context = FeedContext("f", article="auto", url="https://a.example/feed")
    out = await prepare([hinted, matched, unrelated, long_text], ruleset, context, pages)
    assert pages.asked == ["https://a.example/1"]
    assert pages.origins == ["https://a.example/feed"]  # the page fetch knows which feed the link came from
    assert [p.article.status for p in out] == [Status.FETCHED, Status.NOT_NEEDED, Status.NOT_NEEDED, Status.NOT_NEEDED]
    assert [bool(p.matches) for p in out] == [True, True, False, False]
    [term] = [t for t in out[0].matches[0].terms if t.term == "border"]
    assert term.fields == ("article",)
    paused = await prepare([hinted], ruleset, FeedContext("f", article="always"), pages, paused="paused until 12:00")
    assert paused[0].article.status is Status.PAUSED and len(pages.asked) == 1
