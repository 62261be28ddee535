"""Signing in and out: the token form, Sign in with Slack's two legs, and signing out."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from service.ops.web.access import SESSION_COOKIE, safe_next
from service.ops.web.render import page
from service.ops.web.slack_signin import FLOW_COOKIE, SignInError, SlackSignIn

if TYPE_CHECKING:
    from service.app import App

log = logging.getLogger("newswatch.web")


def slack(app: App) -> SlackSignIn | None:
    """Sign in with Slack, when it is configured."""
    if not app.settings.slack_client_id:
        return None
    from service.destinations import SLACK_API

    return SlackSignIn(app.settings, app.slack_session, app.settings.slack_api_url or SLACK_API)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/signin", signin_page)
    app.router.add_post("/signin", signin_token)
    app.router.add_get("/signout", signout)
    app.router.add_get("/auth/slack", slack_start)
    app.router.add_get("/auth/slack/callback", slack_callback)


def _web(request: web.Request):  # type: ignore[no-untyped-def]
    from service.ops.web import WEB

    return request.app[WEB]


def _signin(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    shared = _web(request)
    settings = shared.app.settings
    return page(
        request,
        "signin.html",
        status=status,
        error=error,
        token=bool(settings.web_token),
        slack=shared.signin is not None,
        proxy=settings.web_proxy_header,
        next=safe_next(request.query.get("next")),
    )


async def signin_page(request: web.Request) -> web.Response:
    """How to sign in here."""
    return _signin(request)


async def signin_token(request: web.Request) -> web.Response:
    """The token form: a session if the token is right."""
    form = await request.post()
    user = _web(request).access.token_user(str(form.get("token", "")))
    if user is None:
        log.warning("web sign-in with a wrong token from %s", request.remote)
        return _signin(request, "That is not the token this newswatch was given.", 403)
    response = web.HTTPFound(safe_next(str(form.get("next", "/"))))
    _web(request).access.sessions.issue(response, user)
    raise response


async def signout(request: web.Request) -> web.Response:
    """End the session."""
    response = web.HTTPFound("/signin")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def slack_start(request: web.Request) -> web.Response:
    """Off to Slack."""
    shared = _web(request)
    if shared.signin is None:
        raise web.HTTPNotFound(text="Sign in with Slack is not configured here.")
    raise shared.signin.start(shared.access.sessions, request.query.get("next", "/"))


async def slack_callback(request: web.Request) -> web.Response:
    """Back from Slack: a session for the person it signed in."""
    shared = _web(request)
    if shared.signin is None:
        raise web.HTTPNotFound(text="Sign in with Slack is not configured here.")
    try:
        user, next_path = await shared.signin.finish(request, shared.access.sessions)
    except SignInError as exc:
        return _signin(request, f"Slack sign-in failed: {exc}.", 403)
    response = web.HTTPFound(next_path)
    response.del_cookie(FLOW_COOKIE, path="/auth")
    shared.access.sessions.issue(response, user)
    log.info("signed in with Slack: %s", user.id)
    raise response
