"""No floods, on both databases with the real Slack client: story threads, digests, throttles."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from service.ingest.parse import parse_article
from service.storage.schema import deliveries
from tests.conftest import FIXTURES, AppFactory, FakeClock, write_config
from tests.support.feedgen import Entry, rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import SlackServer

SEED = "004_7dee21eaf8f7a444.txt"  # PM Chính – PM Hun Manet phone talks


def rules(digest: Any = "off", throttle: dict[str, Any] | None = None, threads: bool = True) -> dict[str, Any]:
    rule: dict[str, Any] = {"id": "kh", "name": "Cambodia", "destinations": ["desk"], "match": {"any": ["Cambodia*"]}}
    if throttle:
        rule["throttle"] = throttle
    return {"destinations": {"desk": {"type": "slack", "channel": "#desk", "digest": digest, "threads": threads}}, "rules": [rule]}


def feed(feed_id: str, url: str) -> dict[str, Any]:
    return {"id": feed_id, "url": url, "name": feed_id.upper(), "first_poll_alerts": "all"}


def story_entries() -> tuple[Entry, Entry]:
    """The seed story as its outlet published it, and as another outlet republished it."""
    item = parse_article((FIXTURES / SEED).read_text(encoding="utf-8"), SEED)
    paragraphs = [p for p in item.content.split("\n") if p.strip()]
    copy = "Hanoi (VNA) – " + paragraphs[0].split("—", 1)[1].strip() + "\n" + paragraphs[1]
    copy = "".join(c for c in unicodedata.normalize("NFKD", copy) if not unicodedata.combining(c))
    now = datetime.now(UTC)
    original = Entry(
        "vns-1", "Vietnamese, Cambodian PMs hold phone talks", "https://vns.example/pm-talks", content=item.content, published=now
    )
    syndicated = Entry(
        "vna-1", "PM Chinh, Cambodian PM Hun Manet discuss ties", "https://vna.example/chinh-hun-manet", summary=copy, published=now
    )
    return original, syndicated


def news(n: int, start: int = 0) -> list[Entry]:
    now = datetime.now(UTC)
    return [
        Entry(
            f"g{i}", f"Cambodia story number {i}", f"https://example.org/{i}", summary=f"Distinct report {i} about Cambodia.", published=now
        )
        for i in range(start, start + n)
    ]


async def delivery_rows(app: Any) -> list[Any]:
    async with app.engine.connect() as conn:
        return list(await conn.execute(sa.select(deliveries).order_by(deliveries.c.id)))


async def test_the_same_story_from_another_outlet_goes_into_the_first_alerts_thread(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    original, syndicated = story_entries()
    url_a, url_b = feeds.serve("a.rss", rss([original])), feeds.serve("b.rss", rss([]))
    write_config(tmp_path / "config", [feed("vns", url_a), feed("vna", url_b)], rules())
    app = await make_app()
    await app.poll_once()
    [first] = slack.messages["desk"]
    assert "thread_ts" not in first
    clock.advance(hours=5)
    feeds.serve("b.rss", rss([syndicated]))
    await app.poll_once()
    [_, reply] = slack.messages["desk"]
    assert reply["thread_ts"] == first["ts"]
    assert reply["text"].startswith("Also reported by VNA:") and "https://vna.example/chinh-hun-manet" in reply["text"]
    modes = [(r.mode, r.thread_ts) for r in await delivery_rows(app)]
    assert modes == [("alert", None), ("reply", first["ts"])]


async def test_the_same_story_twice_in_one_poll_is_one_alert_and_one_reply(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    original, syndicated = story_entries()
    write_config(
        tmp_path / "config",
        [feed("vns", feeds.serve("a.rss", rss([original]))), feed("vna", feeds.serve("b.rss", rss([syndicated])))],
        rules(),
    )
    app = await make_app()
    await app.poll_once()
    first, reply = slack.messages["desk"]
    assert "thread_ts" not in first and reply["thread_ts"] == first["ts"]


async def test_a_story_after_the_thread_window_or_with_threads_off_is_a_new_alert(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    original, syndicated = story_entries()
    url_b = feeds.serve("b.rss", rss([]))
    write_config(tmp_path / "config", [feed("vns", feeds.serve("a.rss", rss([original]))), feed("vna", url_b)], rules())
    app = await make_app()
    await app.poll_once()
    clock.advance(hours=73)
    feeds.serve("b.rss", rss([syndicated]))
    await app.poll_once()
    assert [m.get("thread_ts") for m in slack.messages["desk"]] == [None, None]


async def test_a_reply_whose_thread_was_deleted_goes_out_on_its_own(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    original, syndicated = story_entries()
    url_b = feeds.serve("b.rss", rss([]))
    write_config(tmp_path / "config", [feed("vns", feeds.serve("a.rss", rss([original]))), feed("vna", url_b)], rules())
    app = await make_app()
    await app.poll_once()
    slack.messages["desk"].clear()  # someone deleted the first alert: Slack answers invalid_thread_ts
    feeds.serve("b.rss", rss([syndicated]))
    await app.poll_once()
    [alone] = slack.messages["desk"]
    assert "invalid_thread_ts" in slack.rejected and "thread_ts" not in alone
    assert [(r.status, r.mode, r.thread_ts) for r in await delivery_rows(app)] == [("sent", "alert", None)] * 2


async def test_a_burst_over_the_limit_is_one_digest_listing_every_link(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    write_config(tmp_path / "config", [feed("f", feeds.serve("f.rss", rss(news(12))))], rules(digest={"max_alerts": 10, "window": "10m"}))
    app = await make_app()
    await app.poll_once()
    [digest] = slack.messages["desk"]
    assert "Digest: 12 alerts" in str(digest["blocks"])
    assert all(f"https://example.org/{i}" in str(digest["blocks"]) for i in range(12))
    assert {(r.status, r.mode, r.remote_id) for r in await delivery_rows(app)} == {("sent", "digest", digest["ts"])}


async def test_a_busy_window_holds_the_excess_and_sends_it_as_one_digest_later(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    url = feeds.serve("f.rss", rss(news(2)))
    write_config(tmp_path / "config", [feed("f", url)], rules(digest={"max_alerts": 2, "window": "10m"}))
    app = await make_app()
    await app.poll_once()
    assert len(slack.messages["desk"]) == 2
    clock.advance(minutes=1)
    feeds.serve("f.rss", rss(news(4)))
    await app.poll_once()
    assert len(slack.messages["desk"]) == 2  # held: the window already had its two alerts
    held = [r for r in await delivery_rows(app) if r.status == "pending"]
    assert len(held) == 2 and {r.mode for r in held} == {"digest"}
    clock.advance(minutes=1)
    feeds.serve("f.rss", rss(news(5)))
    await app.poll_once()
    assert len(slack.messages["desk"]) == 2  # joins the held ones
    clock.advance(minutes=10)
    await app.poll_once()
    digest = slack.messages["desk"][-1]
    assert len(slack.messages["desk"]) == 3 and "Digest: 3 alerts" in str(digest["blocks"])
    assert all(r.status == "sent" for r in await delivery_rows(app))


async def test_a_throttled_rule_sends_the_rest_in_the_next_digest(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    url = feeds.serve("f.rss", rss(news(1)))
    write_config(tmp_path / "config", [feed("f", url)], rules(throttle={"max_alerts": 1, "per": "1h"}))
    app = await make_app()
    await app.poll_once()
    clock.advance(minutes=1)
    feeds.serve("f.rss", rss(news(3)))
    await app.poll_once()
    assert len(slack.messages["desk"]) == 1
    clock.advance(minutes=11)
    await app.poll_once()
    digest = slack.messages["desk"][-1]
    assert "Digest: 2 alerts" in str(digest["blocks"]) and "2 held back" in str(digest["blocks"])


async def test_a_digest_survives_an_outage_and_is_sent_once(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    write_config(tmp_path / "config", [feed("f", feeds.serve("f.rss", rss(news(4))))], rules(digest={"max_alerts": 2, "window": "10m"}))
    app = await make_app()
    slack.faults.outage = True
    await app.poll_once()
    assert slack.messages["desk"] == [] and {r.status for r in await delivery_rows(app)} == {"pending"}
    slack.faults.outage = False
    for _ in range(3):
        clock.advance(minutes=15)
        await app.poll_once()
    [digest] = slack.messages["desk"]
    assert "Digest: 4 alerts" in str(digest["blocks"])
    assert {r.status for r in await delivery_rows(app)} == {"sent"}


async def test_an_operations_destination_hears_once_when_a_feed_fails_and_once_when_it_recovers(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    config = rules()
    config["destinations"]["ops"] = {"type": "slack", "channel": "#other"}
    config["operations"] = {"destination": "ops", "after_failures": 3}
    url = feeds.serve("f.rss", b"", status=500)
    write_config(tmp_path / "config", [feed("f", url)], config)
    app = await make_app()
    since = clock()
    for _ in range(5):
        await app.poll_once()
        clock.advance(hours=7)  # past the longest backoff
    [failing] = slack.messages["other"]
    assert failing["text"].startswith("[newswatch] Feed F (f) failing since") and "3 failed polls in a row" in failing["text"]
    assert "http_500" in failing["text"]
    feeds.serve("f.rss", rss(news(1)))
    await app.poll_once()
    clock.advance(hours=7)
    await app.poll_once()
    recovered = f"[newswatch] Feed F (f) recovered after 5 failed polls (failing since {since:%Y-%m-%d %H:%M} UTC)."
    assert [m["text"] for m in slack.messages["other"][1:]] == [recovered]
    assert len(slack.messages["desk"]) == 1  # the feed's item alerted as usual


@pytest.mark.parametrize("before", [None, 10], ids=["set", "lowered"])
async def test_a_feed_already_past_the_threshold_is_reported_at_its_next_poll_after_operations_is_set_or_lowered(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock, before: int | None
) -> None:
    config = rules()
    config["destinations"]["ops"] = {"type": "slack", "channel": "#other"}
    if before is not None:
        config["operations"] = {"destination": "ops", "after_failures": before}
    write_config(tmp_path / "config", [feed("f", feeds.serve("f.rss", b"", status=500))], config)
    app = await make_app()
    for _ in range(4):
        await app.poll_once()
        clock.advance(hours=7)  # past the longest backoff
    assert slack.messages["other"] == []
    config["operations"] = {"destination": "ops", "after_failures": 3}
    write_config(tmp_path / "config", [feed("f", feeds.url("f.rss"))], config)
    assert app.config.reload() == "loaded"
    await app.poll_once()
    [failing] = slack.messages["other"]
    assert failing["text"].startswith("[newswatch] Feed F (f) failing since") and "5 failed polls in a row" in failing["text"]
    clock.advance(hours=7)
    await app.poll_once()  # reported once per run of failures
    assert len(slack.messages["other"]) == 1
    feeds.serve("f.rss", rss(news(1)))
    clock.advance(hours=7)
    await app.poll_once()
    assert [m["text"].split(" (failing")[0] for m in slack.messages["other"][1:]] == [
        "[newswatch] Feed F (f) recovered after 6 failed polls"
    ]


async def test_a_burst_is_seen_whole_even_when_a_claim_takes_only_part_of_it(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    from tests.conftest import deliverer as replica

    write_config(tmp_path / "config", [feed("f", feeds.serve("f.rss", rss(news(12))))], rules(digest={"max_alerts": 10, "window": "10m"}))
    app = await make_app()
    await app.pipeline.poll_due(force=True)
    deliverer = replica(app, "small", batch=3)  # a claim of 3, as when many destinations share one batch
    while (await deliverer.run_once()).sent:
        pass
    [digest] = slack.messages["desk"]
    assert "Digest: 12 alerts" in str(digest["blocks"])


async def test_a_silence_holds_every_alert_of_a_burst_seen_whole(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, clock: FakeClock
) -> None:
    from service.storage.silences import Silences
    from tests.conftest import deliverer as replica

    now = datetime.now(UTC)
    entries = [Entry(f"a{i}", f"alpha report {i}", f"https://example.org/a{i}", published=now) for i in range(2)]
    entries += [Entry(f"b{i}", f"beta report {i}", f"https://example.org/b{i}", published=now) for i in range(10)]
    config = rules(digest={"max_alerts": 10, "window": "10m"})
    config["rules"] = [
        {"id": "alpha", "destinations": ["desk"], "match": {"any": ["alpha"]}},
        {"id": "beta", "destinations": ["desk"], "match": {"any": ["beta"]}},
    ]
    write_config(tmp_path / "config", [feed("f", feeds.serve("f.rss", rss(entries)))], config)
    app = await make_app()
    await app.pipeline.poll_due(force=True)
    await Silences(app.engine).add("rule", "beta", clock() + timedelta(hours=1), "", clock())  # after the deliveries were queued
    deliverer = replica(app, "small", batch=3)
    while (await deliverer.run_once()).sent:
        pass
    sent = str(slack.messages["desk"])
    assert "https://example.org/a0" in sent and "https://example.org/a1" in sent and "example.org/b" not in sent
    assert sorted(r.status for r in await delivery_rows(app)) == ["muted"] * 10 + ["sent"] * 2
