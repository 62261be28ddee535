"""Alerts quote their evidence, and `rules test` agrees with the service field by field.

The same items go through the running service (feed server → prepare → match → route → store →
the real slack-sdk → the strict Slack server) and through `newswatch rules test` in a subprocess:
a feed file of feeds.yaml, a feed URL of feeds.yaml with `article: auto`, and an article URL.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from alerts.slack.blocks import ARTICLE_LABEL
from service.storage.schema import deliveries, items, matches
from tests.conftest import ROOT, AppFactory, seed_entries, write_config
from tests.integration.test_articles import HEADLINES, feed_entry
from tests.integration.test_cli import env, newswatch
from tests.support.feedgen import rss
from tests.support.feedserver import FeedServer
from tests.support.slackserver import SlackServer

TAGGED = {
    "id": "tagged",
    "name": "Border, Vietnamese outlets",
    "destinations": ["tag-desk"],
    "feeds": ["vietnam"],
    "match": {"any": ["@border"]},
}


def quotes(slack: SlackServer, channel: str) -> list[str]:
    """The quote section of each alert in a channel (the section after the linked title)."""
    return [m["blocks"][3]["text"]["text"] for m in slack.messages[channel]]


OPTIONS = {"first_poll_alerts": "all", "max_age": "off", "interval": 60}


async def test_seed_alerts_served_whole_quote_each_rules_own_sentence_and_not_the_article(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    whole = feeds.serve("whole.rss", rss(seed_entries()))
    write_config(tmp_path / "config", [{"id": "whole", "url": whole, **OPTIONS}])
    app = await make_app()
    await app.poll_once()
    vn_kh, kh_th = quotes(slack, "vn-kh-border"), quotes(slack, "kh-th-border")
    assert len(vn_kh) == len(kh_th) == 2
    assert all("marker planting" in q for q in vn_kh) and any("*demarcation* and *marker planting*" in q for q in vn_kh)
    assert any("General *Border* Committee" in q for q in kh_th) and any("ceasefire" in q and "*Thailand*" in q for q in kh_th)
    assert not any(q.startswith(ARTICLE_LABEL) for q in vn_kh + kh_th)  # served as full text: the feed held the evidence


async def test_seed_alerts_served_as_title_and_lead_quote_the_page_and_say_so(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    lead = feeds.serve("lead.rss", rss([feed_entry(feeds, stem) for stem in HEADLINES]))
    write_config(tmp_path / "config", [{"id": "lead", "url": lead, **OPTIONS}])
    app = await make_app()
    await app.poll_once()
    vn_kh, kh_th = quotes(slack, "vn-kh-border"), quotes(slack, "kh-th-border")
    assert len(vn_kh) == len(kh_th) == 2 and all(q.startswith(ARTICLE_LABEL) for q in vn_kh + kh_th)
    assert all("marker planting" in q for q in vn_kh) and any("General *Border* Committee" in q for q in kh_th)


def configure(directory: Path, feeds: list[dict[str, Any]]) -> Path:
    """The shipped rules plus a rule scoped to the tag `vietnam`, and its own destination."""
    rules = yaml.safe_load((ROOT / "config" / "rules.yaml").read_text(encoding="utf-8"))
    rules["destinations"]["tag-desk"] = {"type": "slack", "channel": "#desk"}
    rules["rules"].append(TAGGED)
    write_config(directory, feeds, rules)
    shutil.copytree(ROOT / "config" / "examples", directory / "examples", dirs_exist_ok=True)
    return directory


async def service_view(app: Any) -> dict[str, dict[str, Any]]:
    """What the service stored, by item link: each rule's evidence and reason not to alert, and each destination's copy."""
    async with app.engine.connect() as conn:
        links = {r.id: r.link for r in await conn.execute(sa.select(items.c.id, items.c.link))}
        found = list(await conn.execute(sa.select(matches)))
        sent = list(await conn.execute(sa.select(deliveries)))
    view: dict[str, dict[str, Any]] = {link: {"rules": {}, "deliveries": {}} for link in links.values()}
    for m in found:
        view[links[m.item_id]]["rules"][m.rule_id] = {"evidence": m.evidence, "suppressed": m.suppressed}
    for d in sent:
        view[links[d.item_id]]["deliveries"][d.destination] = {"rules": d.rule_ids, "evidence": d.evidence, "muted": d.status == "muted"}
    return view


def cli_view(out: str) -> dict[str, dict[str, Any]]:
    """The same, from `rules test --format json`."""
    view = {}
    for line in out.splitlines():
        data = json.loads(line)
        rules = {m["rule"]: {"evidence": m["evidence"], "suppressed": m["suppressed"]} for m in data["matches"]}
        copies = {d["destination"]: {"rules": d["rules"], "muted": d["muted"]} for d in data["deliveries"]}
        for d in copies.values():
            d["evidence"] = [rules[r]["evidence"] for r in d["rules"]]
        view[data["link"]] = {"rules": rules, "deliveries": copies}
    return view


async def test_rules_test_and_the_service_agree_field_by_field(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory, database_url: str
) -> None:
    lead = feeds.serve("lead.rss", rss([feed_entry(feeds, stem) for stem in HEADLINES]))
    config = tmp_path / "config"
    config.mkdir()
    (config / "seeds.xml").write_bytes(rss(seed_entries()))
    configure(
        config,
        [
            {"id": "vns", "url": lead, "tags": ["vietnam"], "article": "auto", **OPTIONS},
            {"id": "seeds", "url": "file:seeds.xml", "tags": ["demo"], **OPTIONS},
        ],
    )
    app = await make_app()
    await app.poll_once()
    stored = await service_view(app)
    environ = env(config, database_url)
    for source, extra in (
        (lead, ()),
        (str(config / "seeds.xml"), ()),
        (feeds.url(f"news/{next(iter(HEADLINES))}.html"), ("--feed", "vns")),
    ):
        code, out, err = await newswatch("rules", "test", "--format", "json", *extra, source, environ=environ)
        assert code == 0, err
        tested = cli_view(out)
        assert tested, f"rules test found no items in {source}"
        for link, seen in tested.items():
            assert seen == stored[link], f"{source}: {link}"
    assert "tagged" in stored[feeds.url(f"news/{next(iter(HEADLINES))}.html")]["rules"]  # the tag-scoped rule matched in both
    assert all("tagged" not in v["rules"] for link, v in stored.items() if "seeds" in link)  # and only where the tag applies


async def test_alerts_queued_before_evidence_was_stored_still_send_with_a_quote(
    tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory
) -> None:
    whole = feeds.serve("whole.rss", rss(seed_entries()))
    write_config(tmp_path / "config", [{"id": "whole", "url": whole, **OPTIONS}])
    app = await make_app()
    await app.pipeline.poll_due(force=True)
    async with app.engine.begin() as conn:  # as a delivery queued by a release before migration 0008 is stored
        await conn.execute(deliveries.update().values(evidence=None))
        await conn.execute(matches.update().values(evidence=None))
    await app.poll_once()
    vn_kh = quotes(slack, "vn-kh-border")
    assert len(vn_kh) == 2 and all(q for q in vn_kh)  # the quote of that time: the lead, with the matched terms
    assert all("*Cambodia" in q for q in vn_kh), vn_kh
