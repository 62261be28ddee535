"""The OpenAPI 3.1 document of /api/v1 (a test checks every route is in it and every path it names is routed)."""

from __future__ import annotations

from typing import Any

from service import __version__


def _get(summary: str, params: list[dict[str, Any]] | None = None, schema: str = "Object") -> dict[str, Any]:
    return {
        "summary": summary,
        "parameters": params or [],
        "responses": {"200": _json(schema), "401": {"description": "not signed in"}},
    }


def _write(summary: str, body: dict[str, Any] | None, ok: str = "200", schema: str = "Object") -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            ok: _json(schema),
            "400": {"description": "the request is not valid"},
            "401": {"description": "not signed in"},
            "403": {"description": "not allowed (slack.admins), or no CSRF token with a session cookie"},
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _json(schema: str) -> dict[str, Any]:
    return {"description": "OK", "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _query(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": kind}}


def _path_id(name: str = "id") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


MATCH_FILTERS = [
    _query("rule", "a rule id"),
    _query("feed", "a feed id"),
    _query("language", "the item's language (en, vi, …)"),
    _query("destination", "a destination the item was sent to"),
    _query("since", "first day, YYYY-MM-DD (UTC)"),
    _query("until", "day after the last, YYYY-MM-DD (UTC)"),
    _query("q", "words in the title or summary"),
    _query("before", "a match id: the page after it (newest first)", "integer"),
    _query("limit", "at most this many (default 50, at most 500)", "integer"),
]


def document() -> dict[str, Any]:
    """The whole document."""
    silence = {
        "type": "object",
        "required": ["target", "duration"],
        "properties": {
            "target": {"type": "string", "description": "a rule id, destination or feed id (rule:, destination: or feed: before it)"},
            "duration": {"type": "string", "description": "2h, 1d, 1w …"},
            "reason": {"type": "string"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "newswatch", "version": __version__, "description": "What the web pages show, as JSON. See docs/web.md."},
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer", "description": "NEWSWATCH_WEB_TOKEN"}},
            "schemas": {"Object": {"type": "object"}},
        },
        "security": [{"token": []}, {}],
        "paths": {
            "/api/v1/matches": {"get": _get("Matches, newest first, with evidence, deliveries and story threads", MATCH_FILTERS)},
            "/api/v1/matches/{id}": {"get": _get("One match with the item's other rules and its story", [_path_id()])},
            "/api/v1/matches/{id}/feedback": {
                "post": {
                    **_write(
                        "Rate the match's alert as Slack's buttons do",
                        {"type": "object", "required": ["choice"], "properties": {"choice": {"enum": ["relevant", "not_relevant"]}}},
                    ),
                    "parameters": [_path_id()],
                }
            },
            "/api/v1/stories": {
                "get": _get("Stories told by several items, with their timelines", [_query("days", "last N days", "integer")])
            },
            "/api/v1/feeds": {"get": _get("Every feed's health")},
            "/api/v1/deliveries": {
                "get": _get(
                    "Deliveries and counts per destination",
                    [_query("status", "pending, failed, dead, sent, muted"), _query("destination", "")],
                )
            },
            "/api/v1/deliveries/retry": {
                "post": _write(
                    "Re-queue deliveries (ids) or every dead one (dead: true)",
                    {"type": "object", "properties": {"ids": {"type": "array", "items": {"type": "integer"}}, "dead": {"type": "boolean"}}},
                )
            },
            "/api/v1/silences": {
                "get": _get("Silences in force and those ended in the last 7 days"),
                "post": _write("Silence a rule, destination or feed", silence, ok="201"),
            },
            "/api/v1/silences/{id}": {"delete": {**_write("End a silence now", None), "parameters": [_path_id()]}},
            "/api/v1/rules/preview": {
                "post": _write(
                    "Check one rule (YAML) as `rules check` does and start its replay over stored items",
                    {
                        "type": "object",
                        "required": ["rule"],
                        "properties": {"rule": {"type": "string"}, "days": {"type": "integer", "default": 30}},
                    },
                    ok="202",
                )
            },
            "/api/v1/rules/preview/{id}": {
                "get": _get("A replay's progress, then +new / −lost / unchanged with items", [{**_path_id(), "schema": {"type": "string"}}])
            },
            "/api/v1/rules/{rule}/suggestions": {
                "post": {
                    **_write(
                        "Start `rules suggest` for a rule over the last `days` (7, 30 or 90) days of stored items; writes nothing",
                        {"type": "object", "properties": {"days": {"type": "integer", "enum": [7, 30, 90], "default": 30}}},
                        ok="202",
                    ),
                    "parameters": [{"name": "rule", "in": "path", "required": True, "schema": {"type": "string"}}],
                }
            },
            "/api/v1/rules/suggestions/{id}": {
                "get": _get(
                    "The suggestions' progress, then each with why, its measured effect and its diff",
                    [{**_path_id(), "schema": {"type": "string"}}],
                )
            },
            "/api/v1/openapi.json": {"get": _get("This document")},
        },
    }
