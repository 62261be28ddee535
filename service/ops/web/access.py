"""Who may read and change what through the web pages and /api/v1.

- Without access control the pages are served on a loopback address only (anyone who can reach
  it already has the machine): everyone there is the user `web:local`, allowed to change things.
- `NEWSWATCH_WEB_TOKEN`: a shared token, typed once on the sign-in page (a session cookie
  follows) or sent by API clients as `Authorization: Bearer TOKEN`.
- `NEWSWATCH_WEB_PROXY_HEADER`: a reverse proxy that signs people in names them in that header;
  it is believed only from `NEWSWATCH_WEB_PROXY_FROM` (loopback by default).
- Sign in with Slack (`SLACK_CLIENT_ID`, …): people are their Slack user ids, and `slack.admins`
  of rules.yaml says who may change things, as it does for Slack's buttons.

Reading needs a signed-in user whenever access control is configured. Every write needs the
session's CSRF token (a form field `csrf` or the `X-CSRF-Token` header; an API client that sends
the token in `Authorization` has no cookie to abuse and needs none) and a user allowed to make
it: feedback, anyone signed in (as Slack's Relevant / Not relevant); the playground's
computations, anyone signed in; everything else (silences, retries, fetching a URL), a user
`may_change` allows, as `slack.admins` decides for Slack's buttons.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from service.settings import Settings

SESSION_COOKIE = "newswatch_session"
SESSION_SECONDS = 12 * 3600
OPEN_PATHS = ("/healthz", "/readyz", "/metrics", "/static/", "/signin", "/signout", "/auth/slack")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
READ_ONLY_POSTS = ("/playground/check", "/playground/download", "/playground/text", "/api/v1/rules/preview")  # compute, change nothing
FEEDBACK = re.compile(r"^(/api/v1)?/matches/\d+/feedback$")  # a rating: open to every signed-in user, as in Slack
SUGGESTIONS = re.compile(r"^(/api/v1)?/rules/[^/]+/suggestions$")  # measured rule changes: computed and shown, never written
LOOPBACK_NAMES = ("localhost", "ip6-localhost")


class Refused(Exception):
    """The web server must not start with these settings; the message says why and what to set."""


@dataclass(frozen=True)
class User:
    """Someone using the pages: `id` is what feedback rows record (a Slack user id, or `web:NAME`)."""

    id: str
    name: str
    via: str  # local, token, proxy or slack

    @property
    def by(self) -> str:
        """How silences record who made them: `slack:U…` as Slack's buttons do, else the id."""
        return f"slack:{self.id}" if self.via == "slack" else self.id


@dataclass(frozen=True)
class Session:
    """A signed-in browser: its user, its CSRF token, and when it ends."""

    user: User
    csrf: str
    expires: int


def is_loopback(host: str) -> bool:
    """Whether a bind address reaches this machine only."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def configured(settings: Settings) -> bool:
    """Whether any access control is set."""
    return bool(settings.web_token or settings.web_proxy_header or settings.slack_client_id)


def check(settings: Settings) -> bool:
    """Whether the pages are served (False: health and metrics only); raises Refused for settings that must not start."""
    if settings.slack_client_id:
        missing = [name for name, value in _slack_settings(settings) if not value]
        if missing:
            raise Refused(f"Sign in with Slack needs {', '.join(missing)} as well as SLACK_CLIENT_ID")
    if settings.web == "off" or not settings.http_port:
        return False
    if is_loopback(settings.http_host) or configured(settings):
        return True
    if settings.web == "auto":
        return False
    raise Refused(
        f"NEWSWATCH_HTTP_HOST={settings.http_host} serves the web pages beyond this machine, and no access control is set: "
        "set NEWSWATCH_WEB_TOKEN, NEWSWATCH_WEB_PROXY_HEADER or Sign in with Slack (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, "
        "SLACK_TEAM_ID, NEWSWATCH_WEB_URL); or NEWSWATCH_WEB=auto to serve only /healthz, /readyz and /metrics there; "
        "or bind 127.0.0.1 (see docs/web.md)"
    )


def _slack_settings(settings: Settings) -> list[tuple[str, str | None]]:
    """What Sign in with Slack needs."""
    return [
        ("SLACK_CLIENT_SECRET", settings.slack_client_secret),
        ("SLACK_TEAM_ID", settings.slack_team_id),
        ("NEWSWATCH_WEB_URL", settings.web_url),
    ]


class Sessions:
    """Session cookies signed with HMAC-SHA256: nothing is stored on the server, so replicas sharing the secret share sessions."""

    def __init__(self, secret: str | None, secure: bool) -> None:
        self._key = hashlib.sha256((secret or secrets.token_hex(32)).encode()).digest()
        self.secure = secure

    def sign(self, data: dict[str, object]) -> str:
        """A signed value carrying `data`."""
        body = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{body}.{self._mac(body)}"

    def unsign(self, value: str) -> dict[str, object] | None:
        """The data of a value this process (or one sharing the secret) signed, or None."""
        body, _, mac = value.partition(".")
        if not mac or not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _mac(self, body: str) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, body.encode(), hashlib.sha256).digest()).decode().rstrip("=")

    def new(self, user: User) -> Session:
        """A new session for `user`, with its own CSRF token."""
        return Session(user, secrets.token_urlsafe(24), int(time.time()) + SESSION_SECONDS)

    def set(self, response: web.StreamResponse, session: Session) -> None:
        """Send the session's cookie with `response`."""
        user = session.user
        value = self.sign({"u": user.id, "n": user.name, "v": user.via, "c": session.csrf, "e": session.expires})
        response.set_cookie(SESSION_COOKIE, value, max_age=SESSION_SECONDS, httponly=True, samesite="Lax", secure=self.secure, path="/")

    def issue(self, response: web.StreamResponse, user: User) -> Session:
        """Start a session for `user` on `response`."""
        session = self.new(user)
        self.set(response, session)
        return session

    def read(self, request: web.Request) -> Session | None:
        """The request's session, if its cookie is genuine and unexpired."""
        data = self.unsign(request.cookies.get(SESSION_COOKIE, ""))
        if data is None or not isinstance(data.get("e"), int) or int(data["e"]) < time.time():  # type: ignore[call-overload]
            return None
        user = User(str(data.get("u")), str(data.get("n")), str(data.get("v")))
        return Session(user, str(data.get("c")), int(data["e"]))  # type: ignore[call-overload]


USER = web.RequestKey("user", User)
CSRF = web.RequestKey("csrf", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MayChange = Callable[[User], Awaitable[bool]]


class Access:
    """The middleware that signs requests in, checks writes and issues sessions."""

    def __init__(self, settings: Settings, may_change: MayChange) -> None:
        self._settings = settings
        self._may_change = may_change
        self.sessions = Sessions(settings.web_secret, bool(settings.web_url and settings.web_url.startswith("https://")))
        self._proxies = [ipaddress.ip_network(n.strip(), strict=False) for n in settings.web_proxy_from.split(",") if n.strip()]
        self.required = configured(settings)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Sign the request in, refuse what its user may not do, and keep a session for the CSRF token."""
        if request.path.startswith(OPEN_PATHS):
            return await handler(request)
        bearer = self._bearer(request)
        session = self.sessions.read(request)
        user = bearer or self._proxy_user(request) or (session.user if session else None) or self._local()
        if session is not None and session.user != user:
            session = None  # the proxy now names someone else
        if user is None:
            return _unauthorised(request)
        request[USER] = user
        if request.method not in SAFE_METHODS:
            refused = await self._refuse_write(request, user, session, bearer is not None)
            if refused is not None:
                return refused
        fresh = self.sessions.new(user) if session is None and bearer is None else None
        current = session or fresh
        request[CSRF] = current.csrf if current else ""
        response = await handler(request)
        if fresh is not None and not response.prepared:
            self.sessions.set(response, fresh)
        return response

    async def _refuse_write(self, request: web.Request, user: User, session: Session | None, bearer: bool) -> web.Response | None:
        """Why a write is refused (CSRF token missing or wrong, user not allowed), or None."""
        if not bearer:
            given: object = request.headers.get("X-CSRF-Token")
            if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                given = (await request.post()).get("csrf")
            if session is None or not isinstance(given, str) or not hmac.compare_digest(given, session.csrf):
                return _refusal(request, 403, "This change came without this page's CSRF token: reload the page and try again.")
        open_to_all = request.path in READ_ONLY_POSTS or FEEDBACK.match(request.path) or SUGGESTIONS.match(request.path)
        if not open_to_all and not await self._may_change(user):
            return _refusal(request, 403, f"{user.name} may read but not change anything here (slack.admins in rules.yaml says who may).")
        return None

    def _bearer(self, request: web.Request) -> User | None:
        """The token user, for an `Authorization: Bearer TOKEN` that carries the configured token."""
        token = self._settings.web_token
        header = request.headers.get("Authorization", "")
        if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
            return User("web:token", "token", "token")
        return None

    def _proxy_user(self, request: web.Request) -> User | None:
        """The user a trusted reverse proxy names, if the request came through one."""
        header = self._settings.web_proxy_header
        name = request.headers.get(header, "").strip() if header else ""
        if not name or not self._trusted(request.remote):
            return None
        return User(f"web:{name[:60]}", name[:120], "proxy")

    def _trusted(self, remote: str | None) -> bool:
        """Whether the peer is a reverse proxy we believe."""
        try:
            address = ipaddress.ip_address(remote or "")
        except ValueError:
            return False
        return any(address in network for network in self._proxies)

    def _local(self) -> User | None:
        """Everyone on a loopback address without access control."""
        return None if self.required else User("web:local", "local", "local")

    def token_user(self, token: str) -> User | None:
        """The token user, if `token` is the configured one (the sign-in form)."""
        configured_token = self._settings.web_token
        if configured_token and hmac.compare_digest(token.strip().encode(), configured_token.encode()):
            return User("web:token", "token", "token")
        return None


def _unauthorised(request: web.Request) -> web.StreamResponse:
    """Not signed in: the API says so, a page sends the browser to sign in."""
    if request.path.startswith("/api/"):
        return web.json_response({"error": "sign in first: Authorization: Bearer TOKEN, or a session"}, status=401)
    if request.headers.get("HX-Request"):
        return web.Response(status=401, headers={"HX-Redirect": "/signin"})
    raise web.HTTPFound(f"/signin?next={_quote(request.path_qs)}")


def _refusal(request: web.Request, status: int, message: str) -> web.Response:
    """A refused write: JSON for the API, text for a page (htmx shows it)."""
    if request.path.startswith("/api/"):
        return web.json_response({"error": message}, status=status)
    return web.Response(status=status, text=message)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="")


def safe_next(value: str | None) -> str:
    """A path on this site to go to after signing in (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
