"""The pages: Now, Matches (and /matches/{id}, a stable address per match), Stories, Feeds, Rules, Silences, Deliveries."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from service.ops.actions import ActionError, Actions
from service.ops.web import advice, desk
from service.ops.web.access import USER
from service.ops.web.render import page
from service.ops.web.rulebook import rule_sources
from service.storage.views import MatchQuery

DURATIONS = [("1h", "1 hour"), ("4h", "4 hours"), ("1d", "1 day"), ("3d", "3 days"), ("1w", "1 week")]


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", now)
    app.router.add_get("/matches", matches)
    app.router.add_get("/matches/{id:\\d+}", match)
    app.router.add_post("/matches/{id:\\d+}/feedback", feedback)
    app.router.add_get("/stories", stories)
    app.router.add_get("/feeds", feeds)
    app.router.add_get("/rules", rules)
    app.router.add_get("/silences", silences)
    app.router.add_post("/silences", add_silence)
    app.router.add_post("/silences/{id:\\d+}/expire", expire_silence)
    app.router.add_get("/deliveries", deliveries)
    app.router.add_post("/deliveries/retry", retry)


def shared(request: web.Request) -> Any:
    """The Web object of this server."""
    from service.ops.web import WEB

    return request.app[WEB]


def actions(request: web.Request) -> Actions:
    app = shared(request).app
    return Actions(app.engine, app.config, app.clock)


async def now(request: web.Request) -> web.Response:
    return page(request, "now.html", data=await desk.now_page(shared(request).app))


def match_query(request: web.Request) -> MatchQuery:
    """The filters of a Matches request (the page's form, or the API's query)."""
    q = request.query
    try:
        return MatchQuery(
            rule=q.get("rule") or None,
            feed=q.get("feed") or None,
            language=q.get("language") or None,
            destination=q.get("destination") or None,
            since=desk.parse_day(q.get("since")),
            until=desk.parse_day(q.get("until")),
            text=(q.get("q") or "").strip()[:200] or None,
            before=int(q["before"]) if q.get("before") else None,
            limit=min(int(q.get("limit") or 50), 500),
        )
    except ValueError:
        raise web.HTTPBadRequest(text="dates are YYYY-MM-DD; before and limit are numbers") from None


async def matches(request: web.Request) -> web.Response:
    app = shared(request).app
    query = match_query(request)
    listed = await desk.match_list(app, query, await shared(request).links.workspace())
    config = app.config()
    choices = {
        "rules": [r.id for r in config.rules_file.rules],
        "feeds": [f.id for f in config.feeds],
        "destinations": list(config.rules_file.destinations),
    }
    kept = {k: v for k, v in request.query.items() if k != "before"}
    older = f"/matches?{urlencode({**kept, 'before': listed[-1]['id']})}" if len(listed) == query.limit else None
    return page(request, "matches.html", matches=listed, query=request.query, choices=choices, older=older)


async def match(request: web.Request) -> web.Response:
    here = shared(request)
    found = await desk.match_one(here.app, int(request.match_info["id"]), await here.links.workspace())
    if found is None:
        return page(request, "error.html", status=404, message="No such match: it may have been pruned.")
    return page(request, "match.html", m=found)


async def feedback(request: web.Request) -> web.Response:
    """Relevant / Not relevant: the same feedback row as Slack's buttons, for the alert of this match."""
    found = await desk.match_one(shared(request).app, int(request.match_info["id"]))
    form = await request.post()
    if found is None or found["rate"] is None:
        raise web.HTTPNotFound(text="This match made no alert to rate.")
    user = request[USER]
    try:
        await actions(request).feedback(found["rate"], user.id, str(form.get("choice", "")))
    except ActionError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    label = "relevant" if form.get("choice") == "relevant" else "not relevant"
    return page(request, "_feedback.html", m=found, said=f"Marked {label} by {user.name}")


async def stories(request: web.Request) -> web.Response:
    days = _days(request, 3)
    return page(request, "stories.html", stories=await desk.story_list(shared(request).app, days), days=days)


def _days(request: web.Request, default: int) -> int:
    try:
        return max(1, min(int(request.query.get("days") or default), 90))
    except ValueError:
        raise web.HTTPBadRequest(text="days is a number") from None


async def feeds(request: web.Request) -> web.Response:
    return page(request, "feeds.html", feeds=await desk.feed_list(shared(request).app))


async def rules(request: web.Request) -> web.Response:
    app = shared(request).app
    figures = await desk.rule_figures(app)
    return page(request, "rules.html", rules=rule_sources(app.config()), figures=figures, rejected=app.config.last_error, days=advice.DAYS)


async def silences(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    app = shared(request).app
    config = app.config()
    targets = [("rule", r.id) for r in config.rules_file.rules]
    targets += [("destination", d) for d in config.rules_file.destinations] + [("feed", f.id) for f in config.feeds]
    data = await desk.silence_list(app)
    return page(request, "silences.html", status=status, data=data, targets=targets, durations=DURATIONS, error=error)


async def add_silence(request: web.Request) -> web.Response:
    """Mute a rule, destination or feed for a while, recorded with who did."""
    form = await request.post()
    try:
        await actions(request).mute(
            str(form.get("target", "")), str(form.get("duration", "")), str(form.get("reason", ""))[:500], by=request[USER].by
        )
    except ActionError as exc:
        return await silences(request, str(exc), 400)
    raise web.HTTPSeeOther("/silences")


async def expire_silence(request: web.Request) -> web.Response:
    """End a silence now, recorded with who did."""
    try:
        await actions(request).unmute(int(request.match_info["id"]), by=request[USER].by)
    except ActionError as exc:
        return await silences(request, str(exc), 400)
    raise web.HTTPSeeOther("/silences")


async def deliveries(request: web.Request) -> web.Response:
    status = request.query.get("status", "dead") or None
    destination = request.query.get("destination") or None
    data = await desk.delivery_list(shared(request).app, None if status == "all" else status, destination)
    return page(request, "deliveries.html", data=data, shown=status, destination=destination)


async def retry(request: web.Request) -> web.Response:
    """Re-queue the chosen deliveries, or every dead one."""
    form = await request.post()
    try:
        ids = [int(str(v)) for v in form.getall("id", [])]
    except ValueError:
        raise web.HTTPBadRequest(text="delivery ids are numbers") from None
    await actions(request).retry(ids, dead=not ids and form.get("all") == "dead")
    raise web.HTTPSeeOther("/deliveries")
