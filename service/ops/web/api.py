"""/api/v1: the pages' data as JSON (the same `desk` functions), described by /api/v1/openapi.json."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from aiohttp import web

from service.config.yamlfile import ConfigError
from service.ops.actions import ActionError
from service.ops.web import desk
from service.ops.web.access import USER
from service.ops.web.pages import actions, match_query, shared

VERSION = "1"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/api/v1/matches", matches)
    app.router.add_get("/api/v1/matches/{id:\\d+}", match)
    app.router.add_post("/api/v1/matches/{id:\\d+}/feedback", feedback)
    app.router.add_get("/api/v1/stories", stories)
    app.router.add_get("/api/v1/feeds", feeds)
    app.router.add_get("/api/v1/deliveries", deliveries)
    app.router.add_post("/api/v1/deliveries/retry", retry)
    app.router.add_get("/api/v1/silences", silences)
    app.router.add_post("/api/v1/silences", add_silence)
    app.router.add_delete("/api/v1/silences/{id:\\d+}", end_silence)
    app.router.add_post("/api/v1/rules/preview", preview)
    app.router.add_post("/api/v1/rules/{rule}/suggestions", suggestions)
    app.router.add_get("/api/v1/rules/suggestions/{id}", suggestions_progress)
    app.router.add_get("/api/v1/rules/preview/{id}", preview_progress)


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "_asdict"):
        return value._asdict()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def answer(data: Any, status: int = 200) -> web.Response:
    """JSON, times in ISO 8601."""
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=_default, ensure_ascii=False))


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="the body is JSON") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="the body is a JSON object")
    return data


async def matches(request: web.Request) -> web.Response:
    workspace = await shared(request).links.workspace()
    return answer({"matches": await desk.match_list(shared(request).app, match_query(request), workspace)})


async def match(request: web.Request) -> web.Response:
    found = await desk.match_one(shared(request).app, int(request.match_info["id"]), await shared(request).links.workspace())
    return answer(found) if found else answer({"error": "no such match"}, 404)


async def feedback(request: web.Request) -> web.Response:
    found = await desk.match_one(shared(request).app, int(request.match_info["id"]))
    if found is None or found["rate"] is None:
        return answer({"error": "this match made no alert to rate"}, 404)
    try:
        await actions(request).feedback(found["rate"], request[USER].id, str((await _body(request)).get("choice")))
    except ActionError as exc:
        return answer({"error": str(exc)}, 400)
    return answer({"delivery": found["rate"], "user": request[USER].id})


async def stories(request: web.Request) -> web.Response:
    days = max(1, min(int(request.query.get("days", "3") or 3), 90)) if request.query.get("days", "3").isdigit() else 3
    return answer({"stories": await desk.story_list(shared(request).app, days)})


async def feeds(request: web.Request) -> web.Response:
    return answer({"feeds": await desk.feed_list(shared(request).app)})


async def deliveries(request: web.Request) -> web.Response:
    status = request.query.get("status") or None
    return answer(await desk.delivery_list(shared(request).app, status, request.query.get("destination") or None))


async def retry(request: web.Request) -> web.Response:
    body = await _body(request)
    ids = body.get("ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        return answer({"error": "ids is a list of delivery ids"}, 400)
    return answer({"requeued": await actions(request).retry(ids, dead=not ids and body.get("dead") is True)})


async def silences(request: web.Request) -> web.Response:
    return answer(await desk.silence_list(shared(request).app))


async def add_silence(request: web.Request) -> web.Response:
    body = await _body(request)
    try:
        muted = await actions(request).mute(
            str(body.get("target", "")), str(body.get("duration", "")), str(body.get("reason", ""))[:500], by=request[USER].by
        )
    except ActionError as exc:
        return answer({"error": str(exc)}, 400)
    return answer({"id": muted.id, "kind": muted.kind, "target": muted.target, "until": muted.until}, 201)


async def end_silence(request: web.Request) -> web.Response:
    try:
        await actions(request).unmute(int(request.match_info["id"]), by=request[USER].by)
    except ActionError as exc:
        return answer({"error": str(exc)}, 404)
    return answer({"ended": int(request.match_info["id"])})


async def preview(request: web.Request) -> web.Response:
    """Start a replay of one rule (YAML) over the last `days` days; its problems at line:column if it does not load."""
    from service.config.load import load_rule

    body = await _body(request)
    try:
        loaded = load_rule(str(body.get("rule", "")), shared(request).app.config())
    except ConfigError as exc:
        return answer({"problems": [str(p) for p in exc.problems]}, 422)
    days = body.get("days", 30)
    replay = shared(request).playground.start(f"api:{request[USER].id}", loaded, days if isinstance(days, int) else 30)
    examples = {"examples": loaded.examples, "failing": [str(p) for p in loaded.failing]}
    return answer({"replay": replay.as_data(), **examples, "progress": f"/api/v1/rules/preview/{replay.id}"}, 202)


async def preview_progress(request: web.Request) -> web.Response:
    replay = shared(request).playground.get(request.match_info["id"])
    return answer(replay.as_data()) if replay else answer({"error": "no such replay in this process"}, 404)


async def suggestions(request: web.Request) -> web.Response:
    """Start working out (or answer again) the measured changes `rules suggest` finds for a rule over the last `days` days."""
    rule = request.match_info["rule"]
    if not shared(request).advice.offers(rule):
        return answer({"error": f"no enabled rule with id '{rule}'"}, 404)
    days = (await _body(request) if request.can_read_body else {}).get("days", 30)
    job = shared(request).advice.start(rule, days if isinstance(days, int) else 30)
    return answer({**job.as_data(), "progress": f"/api/v1/rules/suggestions/{job.id}"}, 200 if job.finished else 202)


async def suggestions_progress(request: web.Request) -> web.Response:
    job = shared(request).advice.get(request.match_info["id"])
    return answer(job.as_data()) if job else answer({"error": "no such suggestions in this process"}, 404)


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of /api/v1."""
    from service.ops.web.openapi import document

    return answer(document())
