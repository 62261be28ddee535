"""The rule playground, the missed-story page and suggested rule changes: tools that read, fetch and match, and never write the config."""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from service.config.load import OneRule, load_rule
from service.config.yamlfile import ConfigError
from service.ingest.model import Item
from service.ops import actions
from service.ops.web.access import CSRF, USER
from service.ops.web.pages import shared
from service.ops.web.render import page
from service.ops.web.rulebook import rule_sources
from service.rules import normalise, text
from service.rules.explain import explain

NEW_RULE = """id: my-rule
name: My rule
destinations: [DESTINATION]
match:
  all: ["@vietnam", "@cambodia", "@border"]
"""


def add_routes(app: web.Application) -> None:
    app.router.add_get("/playground", playground)
    app.router.add_post("/playground/check", check)
    app.router.add_get("/playground/replays/{id}", progress)
    app.router.add_post("/playground/text", test_text)
    app.router.add_post("/playground/url", test_url)
    app.router.add_post("/playground/download", download)
    app.router.add_get("/missed", missed)
    app.router.add_post("/missed", missed_check)
    app.router.add_post("/rules/{rule}/suggestions", suggestions)
    app.router.add_get("/rules/suggestions/{id}", suggestions_progress)


async def playground(request: web.Request) -> web.Response:
    """The editor, with a rule in force (`?rule=ID`) or a new one."""
    config = shared(request).app.config()
    wanted = request.query.get("rule")
    source = next((r["text"] for r in rule_sources(config) if r["id"] == wanted), None) if wanted else None
    if source is None:
        source = NEW_RULE.replace("DESTINATION", next(iter(config.rules_file.destinations), "desk"))
    return page(request, "playground.html", source=source, rules=[r.id for r in config.rules_file.rules], days=30)


def _loaded(source: str, request: web.Request) -> tuple[OneRule | None, list[str]]:
    """The rule as typed, or its problems at line:column of what was typed."""
    try:
        return load_rule(source, shared(request).app.config()), []
    except ConfigError as exc:
        return None, [str(p) for p in exc.problems]


async def check(request: web.Request) -> web.Response:
    """On each pause in typing: check and compile the rule, run its examples, start its replay."""
    form = await request.post()
    source = str(form.get("source", ""))
    loaded, problems = _loaded(source, request)
    if loaded is None:
        return page(request, "_check.html", problems=problems, loaded=None, replay=None)
    try:
        days = int(str(form.get("days") or 30))
    except ValueError:
        days = 30
    replay = shared(request).playground.start(request[USER].id + request.get(CSRF, ""), loaded, days)
    return page(request, "_check.html", problems=[], loaded=loaded, replay=replay)


async def suggestions(request: web.Request) -> web.Response:
    """Start working out (or show again) the measured changes `rules suggest` finds for a rule."""
    form = await request.post()
    rule = request.match_info["rule"]
    if not shared(request).advice.offers(rule):
        return page(request, "_suggestions.html", status=404, job=None, missing=rule)
    try:
        days = int(str(form.get("days") or 30))
    except ValueError:
        days = 30
    return page(request, "_suggestions.html", job=shared(request).advice.start(rule, days), missing=None)


async def suggestions_progress(request: web.Request) -> web.Response:
    """A suggestion job's progress, then its report."""
    return page(request, "_suggestions.html", job=shared(request).advice.get(request.match_info["id"]), missing=None)


async def progress(request: web.Request) -> web.Response:
    """A replay's progress, then its diff."""
    replay = shared(request).playground.get(request.match_info["id"])
    if replay is None:
        return page(request, "_replay.html", replay=None)
    return page(request, "_replay.html", replay=replay)


async def download(request: web.Request) -> web.Response:
    """The rule as typed, as a file to put into rules.yaml by hand (the config stays the files')."""
    form = await request.post()
    loaded, _ = _loaded(str(form.get("source", "")), request)
    name = loaded.spec.id if loaded else "rule"
    return web.Response(
        text=str(form.get("source", "")),
        content_type="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{name}.yaml"'},
    )


async def test_text(request: web.Request) -> web.Response:
    """The edited rule on a pasted article, as `rules test FILE` would read it."""
    form = await request.post()
    loaded, problems = _loaded(str(form.get("source", "")), request)
    if loaded is None:
        return page(request, "_tested.html", problems=problems, tested=[], error="")
    app = shared(request).app
    config = dataclasses.replace(app.config(), ruleset=loaded.ruleset)
    tested = await actions.test_text(str(form.get("text", "")), config, app.settings, app.clock())
    return page(request, "_tested.html", problems=[], tested=tested, error="")


async def test_url(request: web.Request) -> web.Response:
    """The edited rule on a page or feed fetched through the guarded fetcher (public addresses only)."""
    form = await request.post()
    loaded, problems = _loaded(str(form.get("source", "")), request)
    if loaded is None:
        return page(request, "_tested.html", problems=problems, tested=[], error="")
    url = str(form.get("url", "")).strip()
    if not url.startswith(("http://", "https://")):
        return page(request, "_tested.html", problems=[], tested=[], error="Give an http(s) URL of a page or a feed.")
    app = shared(request).app
    config = dataclasses.replace(app.config(), ruleset=loaded.ruleset)
    tested, error = await _fetch(url, config, app, articles=None)
    return page(request, "_tested.html", problems=[], tested=tested, error=error)


async def _fetch(url: str, config: Any, app: Any, articles: bool | None) -> tuple[list[actions.Tested], str]:
    """Every item of a URL, prepared, matched and routed as the service would, through the guard; or why not."""
    out: list[actions.Tested] = []
    try:
        async for _, result in actions.test([url], config, app.settings, app.clock(), articles=articles, guard=app.guard):
            if isinstance(result, str):
                return [], f"Could not read {url}: {result}"
            out.append(result)
    except actions.ActionError as exc:
        return [], str(exc)
    return out, "" if out else "No items found there."


async def missed(request: web.Request) -> web.Response:
    return page(request, "missed.html")


async def missed_check(request: web.Request) -> web.Response:
    """Fetch and extract a story that should have alerted, and say per rule why it did not."""
    form = await request.post()
    url = str(form.get("url", "")).strip()
    if not url.startswith(("http://", "https://")):
        return page(request, "_missed.html", error="Give the http(s) URL of the story.", found=None)
    app = shared(request).app
    config = app.config()
    feed = _feed_on_host(url, config)
    tested, error = await _fetch(url, config, app, articles=True)
    if error:
        return page(request, "_missed.html", error=error, found=None)
    item = tested[0].prepared.item
    context = feed.context() if feed else None
    why = explain(config.ruleset, item, context)
    found = {
        "item": item,
        "feed": feed.id if feed else None,
        "explanations": why,
        "example": example_yaml(item),
        "labelled": labelled_line(item, url, [e.rule_id for e in why if not e.matched]),
    }
    return page(request, "_missed.html", error="", found=found)


def _feed_on_host(url: str, config: Any) -> Any:
    """The polled feed on the story's site (its host, `www.` aside), if there is one."""
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    return next((f for f in config.feeds if (urlsplit(f.url).hostname or "").removeprefix("www.") == host), None)


def example_yaml(item: Item) -> str:
    """The story as a rule example (`examples: match:`), to paste into the rule that should have caught it."""
    lead = _lead(item)
    return (
        "examples:\n  match:\n    - title: "
        + json.dumps(item.title, ensure_ascii=False)
        + "\n      summary: "
        + json.dumps(lead, ensure_ascii=False)
        + "\n"
    )


def labelled_line(item: Item, url: str, labels: list[str]) -> str:
    """The story as a line of tests/fixtures/labelled/ (its README gives the fields)."""
    data = {
        "id": "missed-" + normalise.fold(urlsplit(url).path).strip().replace(" ", "-")[-40:],
        "source": url,
        "lang": (item.language or "").split("-")[0],
        "title": item.title,
        "summary": _lead(item),
        "labels": labels,
        "class": "missed-story",
        "published": item.published.date().isoformat() if item.published else "",
    }
    return json.dumps(data, ensure_ascii=False)


def _lead(item: Item) -> str:
    """The first sentences of the story: what a feed would carry."""
    body = (item.summary or item.content or item.article).strip()
    if item.title and body.startswith(item.title):  # a page's text often starts with its headline
        body = body[len(item.title) :].lstrip(" .:–-")
    sentences = text.units(body, "sentence")[:3]
    return text.truncate(" ".join(s.strip() for s in sentences), 600)
