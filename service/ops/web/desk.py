"""What the pages and /api/v1 show, assembled once from `service.storage.views`: both call these, so they never disagree.

Each function returns plain data (dicts and lists, times as datetimes): the API serialises it,
the templates render it. Nothing here recomputes a decision that was stored: a match's
evidence is read as the matcher stored it; story threads are `service.ingest.story`'s.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from alerts.queue import DeliveryStatus
from service.ingest import story
from service.ops.actions import Actions
from service.ops.web.slacklinks import permalink
from service.storage import views
from service.storage.db import Database
from service.storage.feedback import Choice, FeedbackStore
from service.storage.views import MatchQuery

if TYPE_CHECKING:
    from service.app import App

SLACK_KINDS = ("slack",)  # destination kinds whose remote id is a Slack message
CLOSED_KEPT = 50_000  # story threads of items older than story.WINDOW, kept per database: they never change
_CLOSED: WeakKeyDictionary[Database, OrderedDict[int, tuple[str, ...]]] = WeakKeyDictionary()


async def now_page(app: App) -> dict[str, Any]:
    """The Now page: polling, failing feeds, paused article sites, the outbox by destination, silences, the config."""
    now = app.clock()
    polls = await views.poll_summary(app.engine)
    outbox: dict[str, dict[str, int]] = {}
    errors: dict[str, str] = {}
    for destination, status, count, error in await views.delivery_summary(app.engine):
        outbox.setdefault(destination, {})[status] = int(count)
        if error and status in (DeliveryStatus.DEAD, DeliveryStatus.PENDING):
            errors[destination] = error
    config = app.config
    return {
        "now": now,
        "feeds": int(polls.feeds),
        "last_poll": polls.last_polled_at,
        "next_due": polls.next_poll_at,
        "failing": [{"id": i, "name": n, "error": e} for i, n, e in await views.failing_feeds(app.engine, 50)],
        "paused": [_paused(r) for r in await views.paused_articles(app.engine, now)],
        "outbox": [{"destination": d, "counts": c, "error": errors.get(d)} for d, c in sorted(outbox.items())],
        "silences": [silence(r) for r in await Actions(app.engine, app.config, app.clock).silences()],
        "config": {
            "version": config().version,
            "rules": len(config().ruleset.rules),
            "reloaded_at": config.last_reload_at,
            "rejected": (config.last_error or "").splitlines(),
        },
    }


def _paused(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name or row.id, "error": row.article_error, "until": row.article_retry_at}


def silence(row: Any) -> dict[str, Any]:
    """A silence as shown."""
    return {
        "id": row.id,
        "kind": row.kind,
        "target": row.target,
        "reason": row.reason,
        "created_at": row.created_at,
        "until": row.until,
        "created_by": row.created_by or "the command line",
        "ended_by": None if row.ended_by is None else row.ended_by or "the command line",
    }


async def match_list(app: App, q: MatchQuery, workspace: str | None = None) -> list[dict[str, Any]]:
    """Matches, newest first, each with its evidence, deliveries (linked in Slack, given its `workspace` URL) and story thread."""
    rows = await views.match_listing(app.engine, q)
    return await _matches(app, rows, workspace=workspace)


async def match_one(app: App, match_id: int, workspace: str | None = None) -> dict[str, Any] | None:
    """One match with the item's other rules and every outlet of its story."""
    row = await views.match_detail(app.engine, match_id)
    if row is None:
        return None
    [shown] = await _matches(app, [row], workspace=workspace)
    shown["story"] = await _story_of(app, row)
    shown["summary"] = row.summary
    shown["article_detail"] = row.article_detail
    shown["rules"] = [
        {"rule": m.rule_id, "name": m.rule_name or m.rule_id, "evidence": m.evidence, "suppressed": m.suppressed}
        for m in await views.item_matches(app.engine, row.item_id)
    ]
    return shown


async def _matches(app: App, rows: list[Any], workspace: str | None = None) -> list[dict[str, Any]]:
    """Rows of matches as shown: deliveries per destination and the other outlets of the same story."""
    sent = await views.item_deliveries(app.engine, [r.item_id for r in rows])
    alike = await _alike(app, [r for r in rows if r.signature is not None])
    kinds = {name: str(getattr(spec, "type", "")) for name, spec in app.config().rules_file.destinations.items()}
    out = []
    for r in rows:
        deliveries = [_delivery(d, kinds.get(d.destination), workspace) for d in sent.get(r.item_id, [])]
        rated = [d for d in deliveries if r.rule_id in d["rules"]]
        rated.sort(key=lambda d: (d["status"] != DeliveryStatus.SENT, d["id"]))
        out.append(
            {
                "id": r.id,
                "url": f"/matches/{r.id}",
                "time": r.created_at,
                "rule": r.rule_id,
                "rule_name": r.rule_name or r.rule_id,
                "title": r.title,
                "link": r.link,
                "feed": r.feed_id,
                "feed_name": r.feed_name or r.feed_id,
                "language": r.language,
                "published": r.published_at or r.first_seen_at,
                "evidence": r.evidence,
                "terms": [t["term"] for t in r.terms],
                "suppressed": r.suppressed,
                "deliveries": deliveries,
                "rate": rated[0]["id"] if rated else None,  # the alert a rating on this page is about
                "also_reported": len(set(alike.get(r.item_id, ())) - {r.feed_id}),
                "story": [],
            }
        )
    return out


def _delivery(row: Any, kind: str | None, workspace: str | None) -> dict[str, Any]:
    in_slack = bool(row.remote_id) and kind in SLACK_KINDS and row.status == DeliveryStatus.SENT
    return {
        "id": row.id,
        "destination": row.destination,
        "rules": list(row.rule_ids),
        "status": row.status,
        "mode": row.mode,
        "sent_at": row.sent_at,
        "error": row.last_error if row.status != DeliveryStatus.SENT else None,
        "in_slack": in_slack,
        "permalink": permalink(workspace, row.remote_channel, row.remote_id, row.thread_ts) if in_slack else None,
    }


async def _alike(app: App, rows: list[Any]) -> dict[int, tuple[str, ...]]:
    """For each item listed, the feeds of the fingerprinted items that tell the same story within `story.WINDOW` of it.

    Only the periods around the listed items are read (merged where they overlap), and each
    candidate is looked up among the listed items' fingerprints (`story.alike`): a page of
    matches spread over months costs what its items' own days cost. An item whose window has
    closed keeps its answer for good (later items are seen later; items that alerted are never
    pruned), so each process works it out once.
    """
    closed = _CLOSED.setdefault(app.engine, OrderedDict())
    known = {r.item_id: closed[r.item_id] for r in rows if r.item_id in closed}
    rows = [r for r in rows if r.item_id not in known]
    seen = {r.item_id: r.first_seen_at for r in rows}
    spans: list[tuple[datetime, datetime | None]] = []
    for t in sorted(seen.values()):
        if spans and t - story.WINDOW <= (spans[-1][1] or t):
            spans[-1] = (spans[-1][0], t + story.WINDOW)
        else:
            spans.append((t - story.WINDOW, t + story.WINDOW))
    around = {a.id: a for a in await views.fingerprinted(app.engine, spans, brief=True)}
    found = story.alike({r.item_id: r.signature for r in rows}, [(a.id, a.signature) for a in around.values()])
    now = app.clock()
    for i, near in found.items():
        known[i] = tuple(around[c].feed_id for c in near if abs(around[c].first_seen_at - seen[i]) <= story.WINDOW)
        if seen[i] + story.WINDOW < now:
            closed[i] = known[i]
    while len(closed) > CLOSED_KEPT:
        closed.popitem(last=False)
    return known


async def _story_of(app: App, row: Any) -> list[dict[str, Any]]:
    """The timeline of a match's story: its item's cluster among the items fingerprinted around it."""
    if row.signature is None:
        return []
    around = await views.fingerprinted(app.engine, [(row.first_seen_at - story.WINDOW, row.first_seen_at + story.WINDOW)])
    by_id = {a.id: a for a in around}
    cluster = next((c for c in story.clusters([(a.id, a.signature) for a in around]) if row.item_id in c), [])
    return sorted((_story_item(by_id[i]) for i in cluster if i != row.item_id), key=lambda s: s["time"])


def _story_item(row: Any) -> dict[str, Any]:
    return {
        "item_id": row.id,
        "title": row.title,
        "link": row.link,
        "feed": row.feed_id,
        "feed_name": row.feed_name or row.feed_id,
        "time": row.published_at or row.first_seen_at,
    }


async def story_list(app: App, days: int) -> list[dict[str, Any]]:
    """Stories told by more than one item in the last `days` days, newest first, each with its timeline."""
    since = app.clock() - timedelta(days=days)
    rows = await views.fingerprinted(app.engine, [(since, None)])
    by_id = {r.id: r for r in rows}
    stories = []
    for cluster in story.clusters([(r.id, r.signature) for r in rows]):
        if len(cluster) < 2:
            continue
        timeline = sorted((_story_item(by_id[i]) for i in cluster), key=lambda s: s["time"])
        outlets = sorted({s["feed_name"] for s in timeline})
        stories.append(
            {
                "title": timeline[0]["title"],
                "first": timeline[0]["time"],
                "last": timeline[-1]["time"],
                "outlets": outlets,
                "items": timeline,
            }
        )
    return sorted(stories, key=lambda s: s["last"], reverse=True)


async def feed_list(app: App) -> list[dict[str, Any]]:
    """Every feed's health: last fetch, status, failures and last error, items per day, article mode and failures."""
    now = app.clock()
    week = await views.items_per_feed(app.engine, now - timedelta(days=7))
    config = app.config()
    out = []
    for r in await views.feed_rows(app.engine):
        spec = config.feed(r.id)
        paused = r.article_retry_at is not None and r.article_retry_at > now
        out.append(
            {
                "id": r.id,
                "name": r.name or r.id,
                "url": r.fetch_url or r.url,
                "status": r.status if r.active else "removed",
                "last_polled": r.last_polled_at,
                "last_success": r.last_success_at,
                "next_poll": r.next_poll_at,
                "failures": r.consecutive_failures,
                "error": r.last_error if r.consecutive_failures else None,
                "week": week.get(r.id, 0),  # items first seen in the last 7 days
                "per_day": round(week.get(r.id, 0) / 7, 1),
                "article": spec.article if spec else None,
                "article_state": "paused" if paused else "failing" if r.article_failures else "ok",
                "article_failures": r.article_failures,
                "article_error": r.article_error if r.article_failures else None,
            }
        )
    return out


async def delivery_list(app: App, status: str | None, destination: str | None, limit: int = 200) -> dict[str, Any]:
    """Deliveries (dead letters first by default) and the counts per destination."""
    rows = await views.deliveries_listing(app.engine, status, destination, limit)
    listed = [
        {
            "id": r.id,
            "destination": r.destination,
            "status": r.status,
            "mode": r.mode,
            "attempts": r.attempts,
            "next_attempt": r.next_attempt_at,
            "error": r.last_error,
            "title": r.title,
            "link": r.link,
            "rules": list(r.rule_ids),
            "created_at": r.created_at,
        }
        for r in rows
    ]
    counts: dict[str, dict[str, int]] = {}
    for d, s, n, _ in await views.delivery_summary(app.engine):
        counts.setdefault(d, {})[s] = int(n)
    return {"deliveries": listed, "counts": counts}


async def silence_list(app: App) -> dict[str, Any]:
    """Silences in force, and those that ended in the last 7 days (with who ended them)."""
    from service.storage.silences import Silences

    now = app.clock()
    ended = await Silences(app.engine).ended(now - timedelta(days=7), now)
    in_force = await Actions(app.engine, app.config, app.clock).silences()
    return {"in_force": [silence(r) for r in in_force], "ended": [silence(r) for r in ended]}


async def rule_figures(app: App, days: int = 14) -> dict[str, dict[str, Any]]:
    """Per rule: matches per day (UTC) over `days` days, precision from feedback (30 days), the last false alarms."""
    now = app.clock()
    per_day: dict[str, Counter[str]] = {}
    for rule, when in await views.match_times(app.engine, now - timedelta(days=days)):
        per_day.setdefault(rule, Counter())[when.date().isoformat()] += 1
    store = FeedbackStore(app.engine)
    since = now - timedelta(days=30)
    stats = await store.rule_stats(since)
    false_alarms: dict[str, list[dict[str, Any]]] = {}
    seen: set[int] = set()
    for r in await store.listing(since):
        if r.choice != Choice.NOT_RELEVANT or r.delivery_id in seen:
            continue
        seen.add(r.delivery_id)
        for rule in r.rule_ids:
            if len(false_alarms.setdefault(rule, [])) < 3:
                false_alarms[rule].append({"title": r.title, "link": r.link, "time": r.updated_at, "by": r.user_id})
    dates = [(now - timedelta(days=d)).date().isoformat() for d in range(days - 1, -1, -1)]
    rules = {r.id for r in app.config().rules_file.rules} | set(per_day) | set(stats)
    return {
        rule: {
            "per_day": [{"date": d, "matches": per_day.get(rule, Counter())[d]} for d in dates],
            "sent": stats[rule].sent if rule in stats else 0,
            "rated": stats[rule].rated if rule in stats else 0,
            "precision": stats[rule].precision if rule in stats else None,
            "false_alarms": false_alarms.get(rule, []),
        }
        for rule in rules
    }


def parse_day(value: str | None) -> datetime | None:
    """A YYYY-MM-DD date from a form, as the UTC midnight that starts it; None if empty."""
    from datetime import UTC

    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
