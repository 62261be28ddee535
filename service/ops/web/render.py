"""Pages from Jinja2 templates, autoescaped: feed text is shown as text, never as markup or as a template."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from service.ops.web.access import CSRF, USER

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("service.ops.web", "templates"),
    autoescape=True,  # every template, whatever its name
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
NAV = [
    ("/", "Now"),
    ("/matches", "Matches"),
    ("/stories", "Stories"),
    ("/feeds", "Feeds"),
    ("/rules", "Rules"),
    ("/playground", "Playground"),
    ("/missed", "Missed story"),
    ("/silences", "Silences"),
    ("/deliveries", "Deliveries"),
]


def highlight(text: str | None, spans: Sequence[Sequence[int]] | None) -> Markup:
    """`text` escaped, with the (start, end) spans marked."""
    text = text or ""
    out, at = [], 0
    for start, end in sorted((int(s), int(e)) for s, e in spans or ()):
        if start < at or end > len(text) or start >= end:
            continue
        out += [escape(text[at:start]), Markup("<mark>"), escape(text[start:end]), Markup("</mark>")]
        at = end
    out.append(escape(text[at:]))
    return Markup("").join(out)


def when(value: datetime | None) -> str:
    """A UTC time, to the minute."""
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "–"


def number(value: int | float | None) -> str:
    """12,345."""
    return "–" if value is None else f"{value:,}"


ENV.filters.update(highlight=highlight, when=when, number=number, tojson_attr=lambda v: json.dumps(v))
ENV.globals["NAV"] = NAV


def page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """A page (or, for an htmx request of a fragment template, the fragment) with the signed-in user and their CSRF token."""
    body = ENV.get_template(template).render(
        user=request.get(USER),
        csrf=request.get(CSRF, ""),
        path=request.path,
        **context,
    )
    return web.Response(text=body, status=status, content_type="text/html", headers={"Cache-Control": "no-store"})
