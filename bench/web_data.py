"""A newsroom's database for the web benchmark: 100,000 stored items over 150 days, matched by the shipped rules.

Items are real news text (the labelled set: English, Vietnamese, Khmer, Thai, ...): most are
other news made of sentences of the unlabelled stories; about one in twenty-five is a border
story told by one to four of the 200 outlets within a few hours, as wire copy spreads. Every item
is matched by the shipped rules in its feed's context, exactly as the service does, so matches,
evidence, story fingerprints and deliveries are the real ones; deliveries are then given the
outcomes a desk sees (mostly sent, some dead, pending or muted), a fifth of the sent alerts are
rated, and silences come and go. Rows go in with SQLAlchemy Core executemany, ids given.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from service.app import App
from service.ingest import story
from service.ingest.model import Item
from service.ingest.route import route
from service.rules.match import Ruleset, item_fields
from service.storage.schema import deliveries, feedback, feeds, items, matches, mutes

ROOT = Path(__file__).resolve().parents[1]
LABELLED = [ROOT / "tests" / "fixtures" / "labelled" / name for name in ("tuning.jsonl", "heldout.jsonl")]
FEEDS = 200
DAYS = 150  # 100,000 items over 150 days: the last 30 days hold 20,000
STORY_SHARE = 0.02  # of the events: each is told by 1 to 4 outlets, so ~5 % of items are border stories
CHUNK = 2_000
USERS = [f"U0DESK{i}" for i in range(6)]


@dataclass
class Filled:
    """What was stored."""

    items: int = 0
    matches: int = 0
    deliveries: int = 0
    feedback: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


def write_config(directory: Path) -> None:
    """200 feeds (never polled here) and the shipped rules."""
    languages = ["en", "vi", "km", "th"]
    specs = [
        {"id": f"f{i:03d}", "name": f"Outlet {i}", "url": f"https://outlet{i}.example/rss.xml", "language": languages[i % 4]}
        for i in range(FEEDS)
    ]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "feeds.yaml").write_text(yaml.safe_dump({"feeds": specs}), encoding="utf-8")
    (directory / "rules.yaml").write_text((ROOT / "config" / "rules.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (directory / "examples").mkdir(exist_ok=True)
    for example in (ROOT / "config" / "examples").iterdir():
        (directory / "examples" / example.name).write_bytes(example.read_bytes())


class Texts:
    """News text to build items of: border stories, and sentences of other news.

    Other news is made of the labelled set's sentences that no rule's term occurs in, and, in
    three items of ten, one sentence that names a country or a border place without matching
    (the near misses a desk's feeds are full of), so that matching does its usual work.
    """

    def __init__(self, rng: random.Random, ruleset: Ruleset) -> None:
        stories = [json.loads(line) for path in LABELLED for line in path.read_text(encoding="utf-8").splitlines()]
        self.rng = rng
        self.stories = [s for s in stories if s["labels"]]
        sentences = [x for s in stories for x in re.split(r"(?<=[.!?])\s+", s["summary"]) if len(x) > 30]
        hits = {x: _hits(x, ruleset) for x in sentences + [s["title"] for s in stories]}
        self.titles = [s["title"] for s in stories if hits[s["title"]] == 0]
        self.clean = [x for x in sentences if hits[x] == 0]
        self.near = [x for x in sentences if hits[x] > 0 and not ruleset.match(Item(feed_id="x", key="x", title="", summary=x), ())]

    def other(self) -> tuple[str, str]:
        """A title and ~700 characters of other news."""
        picked = self.rng.sample(self.clean, 6)
        if self.rng.random() < 0.3:
            picked[self.rng.randrange(6)] = self.rng.choice(self.near)
        return self.rng.choice(self.titles), " ".join(picked)[:900]

    def border(self) -> tuple[str, str]:
        """A border story's title and summary, with other sentences around it as a feed carries."""
        chosen = self.rng.choice(self.stories)
        return chosen["title"], chosen["summary"] + " " + " ".join(self.rng.sample(self.clean, 2))


def _hits(sentence: str, ruleset: Ruleset) -> int:
    """How many terms of the rules occur in a sentence."""
    item = Item(feed_id="x", key="x", title="", summary=sentence)
    return len(ruleset.hits(item_fields(item, ruleset.rules[0].fields))[0])


def made_items(count: int, now: datetime, rng: random.Random, ruleset: Ruleset) -> list[tuple[Item, datetime]]:
    """`count` items, oldest first, each with the moment it was first seen."""
    texts, out = Texts(rng, ruleset), []
    start = now - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / count
    while len(out) < count:
        seen = start + step * len(out)
        if rng.random() < STORY_SHARE:
            title, summary = texts.border()
            for copy, outlet in enumerate(rng.sample(range(FEEDS), rng.randint(1, 4))):
                out.append((_item(len(out), outlet, title if copy == 0 else f"{title} ({copy})", summary, seen), seen))
                seen += timedelta(minutes=rng.randint(5, 240))
        else:
            title, summary = texts.other()
            out.append((_item(len(out), rng.randrange(FEEDS), title, summary, seen), seen))
    out = out[:count]
    out.sort(key=lambda pair: pair[1])
    return out


def _item(n: int, outlet: int, title: str, summary: str, seen: datetime) -> Item:
    feed_id = f"f{outlet:03d}"
    link = f"https://outlet{outlet}.example/news/{n}.html"
    return Item(feed_id=feed_id, key=link, title=title, link=link, guid=link, summary=summary, published=seen - timedelta(minutes=7))


async def fill(app: App, count: int, now: datetime, seed: int = 7) -> Filled:
    """Store `count` items with their real matches and deliveries, feedback, silences and feed states."""
    rng = random.Random(seed)
    config = app.config()
    rows: dict[str, list[dict[str, Any]]] = {"items": [], "matches": [], "deliveries": []}
    for item_id, (item, seen) in enumerate(made_items(count, now, rng, config.ruleset), 1):
        context = config.feed(item.feed_id).context()  # type: ignore[union-attr]
        found = config.ruleset.match(item, context.scope)
        routed = route(item.feed_id, found, None, delivery_of=config.delivery_of)
        signature = story.signature(item.title, item.summary, "") if routed.routes else None
        rows["items"].append(_item_row(item_id, item, seen, signature, context.language))
        rows["matches"] += [_match_row(len(rows["matches"]) + 1 + i, item_id, m, seen) for i, m in enumerate(found)]
        for r in routed.routes:
            rows["deliveries"].append(_delivery_row(len(rows["deliveries"]) + 1, item_id, r, seen, rng))
    filled = Filled(len(rows["items"]), len(rows["matches"]), len(rows["deliveries"]))
    rows["feedback"] = _feedback_rows(rows["deliveries"], rng)
    filled.feedback = len(rows["feedback"])
    for d in rows["deliveries"]:
        filled.statuses[d["status"]] = filled.statuses.get(d["status"], 0) + 1
    async with app.engine.begin() as conn:
        for table in (items, matches, deliveries, feedback):
            for start in range(0, len(rows[table.name]), CHUNK):
                await conn.execute(table.insert(), rows[table.name][start : start + CHUNK])
        await conn.execute(mutes.insert(), _mute_rows(now, rng))
        await _feed_states(conn, now, rng)
        if conn.dialect.name == "postgresql":  # ids were given: move the sequences past them
            for table in (items, matches, deliveries, feedback, mutes):
                await conn.execute(
                    sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))")
                )
    if app.engine.dialect == "postgresql":  # what autovacuum does after a load like this one, done now rather than mid-measurement
        async with app.engine.connect() as conn:
            await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(sa.text("VACUUM ANALYZE"))
    return filled


def _item_row(item_id: int, item: Item, seen: datetime, signature: bytes | None, language: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "feed_id": item.feed_id,
        "key": item.key,
        "guid": item.guid,
        "link": item.link,
        "title": item.title,
        "summary": item.summary,
        "content": "",
        "author": "",
        "language": language,
        "published_at": item.published,
        "first_seen_at": seen,
        "signature": signature,
        "article": "",
        "article_status": "disabled",
        "article_detail": None,
    }


def _match_row(match_id: int, item_id: int, m: Any, seen: datetime) -> dict[str, Any]:
    terms = [{"term": t.term, "fields": list(t.fields), "positions": list(t.positions[:20])} for t in m.terms]
    evidence = m.evidence.as_data(m.rule_id)
    return {"id": match_id, "item_id": item_id, "rule_id": m.rule_id, "rule_name": m.rule_name, "terms": terms, "suppressed": None,
            "created_at": seen, "evidence": evidence}  # fmt: skip


def _delivery_row(delivery_id: int, item_id: int, r: Any, seen: datetime, rng: random.Random) -> dict[str, Any]:
    """A delivery with the outcome a desk sees: 92 % sent, 3 % dead, 2 % pending, 3 % muted."""
    roll = rng.random()
    status = "sent" if roll < 0.92 else "dead" if roll < 0.95 else "pending" if roll < 0.97 else "muted"
    sent = status == "sent"
    ts = f"{int(seen.timestamp())}.{delivery_id % 1_000_000:06d}"
    return {
        "id": delivery_id,
        "item_id": item_id,
        "destination": r.destination,
        "rule_ids": list(r.rule_ids),
        "status": status,
        "attempts": 25 if status == "dead" else 0,
        "next_attempt_at": seen,
        "last_error": "slack: HTTP 503 (gave up after 25 attempts)" if status == "dead" else None,
        "remote_id": ts if sent else None,
        "remote_channel": ("C0VNKHBORDER" if r.destination == "border-desk" else "C0KHTHBORDER") if sent else None,
        "created_at": seen,
        "sent_at": seen + timedelta(seconds=2) if sent else None,
        "mode": "alert" if status != "muted" else None,
        "evidence": [e.as_data(rule) for rule, e in zip(r.rule_ids, r.evidence, strict=True)],
    }


def _feedback_rows(sent: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """A fifth of the sent alerts rated by one or two people, mostly relevant."""
    out: list[dict[str, Any]] = []
    for d in sent:
        if d["status"] != "sent" or rng.random() > 0.2:
            continue
        for user in rng.sample(USERS, rng.randint(1, 2)):
            when = d["sent_at"] + timedelta(minutes=rng.randint(1, 600))
            choice = "relevant" if rng.random() < 0.8 else "not_relevant"
            out.append({"id": len(out) + 1, "delivery_id": d["id"], "item_id": d["item_id"], "destination": d["destination"],
                        "rule_ids": d["rule_ids"], "user_id": user, "choice": choice, "created_at": when, "updated_at": when})  # fmt: skip
    return out


def _mute_rows(now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    """Thirty silences over the last weeks, two still in force."""
    out = []
    for i in range(32):
        made = now - timedelta(days=rng.randint(0, 30), hours=rng.randint(1, 20))
        until = now + timedelta(hours=6) if i < 2 else made + timedelta(hours=rng.randint(1, 24))
        target = rng.choice(["vn-kh-border", "kh-th-border"])
        out.append({"id": i + 1, "kind": "rule", "target": target, "reason": "busy night", "created_at": made, "until": until,
                    "created_by": rng.choice(["", "slack:U0DESK1", "web:local"]), "ended_by": None})  # fmt: skip
    return out


async def _feed_states(conn: Any, now: datetime, rng: random.Random) -> None:
    """Every feed polled lately; six failing for a while, two with article pages paused."""
    await conn.execute(
        feeds.update().values(status="ok", last_polled_at=now - timedelta(minutes=3), last_success_at=now - timedelta(minutes=3))
    )
    for i in range(6):
        await conn.execute(
            feeds.update()
            .where(feeds.c.id == f"f{i * 31:03d}")
            .values(
                status="error", consecutive_failures=rng.randint(3, 40), last_error="HTTP 503", failing_since=now - timedelta(hours=i + 1)
            )
        )
    for i in (7, 8):
        until = now + timedelta(hours=2)
        await conn.execute(
            feeds.update().where(feeds.c.id == f"f{i:03d}").values(article_failures=3, article_error="timeout", article_retry_at=until)
        )
