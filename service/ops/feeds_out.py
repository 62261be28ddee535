"""Feeds of matches over HTTP, on the health server: every `type: feed` destination as Atom and JSON Feed.

    GET /feeds/{destination}.atom   /feeds/{destination}.json           everything sent to it
    GET /feeds/{destination}/{rule}.atom   /feeds/{destination}/{rule}.json   one rule's stories there

Read with the destination's token (its `token_env`), as `Authorization: Bearer TOKEN` or
`?token=TOKEN` (for readers that cannot set a header). Conditional GET is honoured: the ETag
is the body's hash and Last-Modified its newest entry, so an unchanged feed answers 304.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from service.ingest import story as story_module
from service.ops import feedformat
from service.storage import views

if TYPE_CHECKING:
    from service.app import App

FORMATS = {
    "atom": ("application/atom+xml; charset=utf-8", feedformat.atom),
    "json": ("application/feed+json; charset=utf-8", feedformat.json_feed),
}
FOLD = 3  # rows read per story asked for: a story's later reports fold into it


def register(app: web.Application, service: App) -> None:
    """Add the feed routes to the health server's application."""
    handler = _handler(service)
    app.router.add_get("/feeds/{destination}/{file}", handler)
    app.router.add_get("/feeds/{file}", handler)


def _handler(service: App) -> Callable[[web.Request], Any]:
    """The one handler of both routes."""

    async def serve(request: web.Request) -> web.StreamResponse:
        destination, rule, fmt = _parse(request)
        config = service.config()
        spec: Any = config.rules_file.destinations.get(destination)
        if spec is None or spec.type != "feed":
            raise web.HTTPNotFound(text=f"no feed named '{destination}'\n")
        _authorise(request, service.settings.environ.get(spec.token_env, ""))
        if rule is not None and not any(r.id == rule and destination in r.destinations for r in config.rules_file.rules):
            raise web.HTTPNotFound(text=f"rule '{rule}' does not send to '{destination}'\n")
        rows = await views.feed_deliveries(service.engine, destination, rule, spec.size * FOLD)
        names = await views.match_terms(service.engine, sorted({r.item_id for r in rows if r.item_id is not None}))
        reports = {row.id: feedformat.report(row, names) for row in rows}
        found = await asyncio.to_thread(feedformat.stories, rows, reports, story_module.same_story, spec.size, story_module.WINDOW)
        title = spec.title or f"newswatch: {destination}" + (f" · {rule}" if rule else "")
        urn = f"urn:newswatch:feed:{destination}" + (f":{rule}" if rule else "")
        info = feedformat.FeedInfo(urn, title, str(request.url.with_query(None)), spec.web_url)
        content_type, write = FORMATS[fmt]
        return _conditional(request, write(info, found), content_type, max((s.updated for s in found), default=None))

    return serve


def _parse(request: web.Request) -> tuple[str, str | None, str]:
    """(destination, rule or None, format) from the path; 404 for another file name."""
    file = request.match_info["file"]
    stem, _, fmt = file.rpartition(".")
    if fmt not in FORMATS or not stem:
        raise web.HTTPNotFound(text="feeds end in .atom or .json\n")
    if "destination" in request.match_info:
        return request.match_info["destination"], stem, fmt
    return stem, None, fmt


def _authorise(request: web.Request, token: str) -> None:
    """401 unless the request carries the feed's token (503 if the token is not set)."""
    if not token:
        raise web.HTTPServiceUnavailable(text="this feed's token is not set in the environment\n")
    given = request.query.get("token", "")
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        given = header[7:].strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise web.HTTPUnauthorized(
            text="a token is needed: Authorization: Bearer TOKEN, or ?token=TOKEN\n",
            headers={"WWW-Authenticate": 'Bearer realm="newswatch feeds"'},
        )


def _conditional(request: web.Request, body: bytes, content_type: str, updated: datetime | None) -> web.Response:
    """The feed, or 304 when the reader already has it (If-None-Match first, else If-Modified-Since)."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if updated is not None:
        headers["Last-Modified"] = format_datetime(updated.replace(microsecond=0), usegmt=True)
    if _fresh(request, etag, updated):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers={**headers, "Content-Type": content_type})


def _fresh(request: web.Request, etag: str, updated: datetime | None) -> bool:
    """True if the reader's copy is current."""
    if (tags := request.headers.get("If-None-Match")) is not None:
        return "*" in tags or etag in [t.strip().removeprefix("W/") for t in tags.split(",")]
    since = request.headers.get("If-Modified-Since")
    if since is None or updated is None:
        return False
    try:
        return updated.replace(microsecond=0) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
