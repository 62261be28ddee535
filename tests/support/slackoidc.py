"""Sign in with Slack (OpenID Connect) as Slack runs it, for the strict local Slack server.

- `GET /openid/connect/authorize` (Slack's page, beside its Web API): checks the app's client
  id, `response_type=code`, the scopes (`openid` required; `profile`, `email`), and a
  `redirect_uri` registered for the app (never redirecting anywhere else). Nobody clicks here:
  `signing_in` names the Slack user signed in to this browser, who consents (None: they click
  Cancel, and the browser comes back with `error=access_denied`). `team` is a hint, as on Slack:
  a person signed in to another workspace comes back signed in to that one.
- `openid.connect.token`: the app's credentials (HTTP Basic, as slack-sdk sends them, or form
  fields), a code issued to that app, unused and under ten minutes old, and the very
  `redirect_uri` the authorization was asked with. Errors as Slack's, with HTTP 200:
  `invalid_client_id`, `bad_client_secret`, `invalid_code`, `bad_redirect_uri`. The answer
  carries a user token and an ID token (a JWT) with Slack's claims: `iss` https://slack.com,
  `sub`, `aud` (the client id), `exp`, `iat`, `auth_time`, `nonce`, `at_hash`,
  `https://slack.com/team_id`, `https://slack.com/user_id`, and with `profile` the names.
- `openid.connect.userInfo`: the user token from that exchange (`invalid_auth` otherwise).

The ID token's signature is random bytes: this server has no RSA (Slack signs with RS256 and
publishes its keys); a client that takes the token straight from Slack over TLS may rely on TLS
instead (OpenID Connect Core 3.1.3.7), which is what newswatch does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

CLIENT_ID = "1111111111.2222222222"
CLIENT_SECRET = "oidc-client-secret-0000-test"
ISSUER = "https://slack.com"
CODE_SECONDS = 600
SCOPES = {"openid", "profile", "email"}


@dataclass(frozen=True)
class SlackUser:
    """A person with a Slack account: their id, workspace and name."""

    id: str
    team: str
    name: str


@dataclass
class Grant:
    """What an authorization code stands for."""

    client_id: str
    redirect_uri: str | None
    nonce: str | None
    user: SlackUser
    scopes: set[str]
    issued: float
    used: bool = False


@dataclass
class SignInWithSlack:
    """The OpenID Connect side of the strict Slack server."""

    redirect_urls: list[str] = field(default_factory=list)  # the app's Redirect URLs (OAuth & Permissions)
    users: dict[str, SlackUser] = field(default_factory=dict)
    signing_in: str | None = None  # the user signed in to Slack in this browser, who consents
    domains: dict[str, str] = field(default_factory=lambda: {"T000": "newswatch-test"})
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, SlackUser] = field(default_factory=dict)  # user tokens issued by openid.connect.token
    errors: list[str] = field(default_factory=list)  # every error answered, in order

    def add_user(self, user_id: str, name: str, team: str = "T000") -> None:
        """A Slack account that can sign in."""
        self.users[user_id] = SlackUser(user_id, team, name)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/openid/connect/authorize", self._authorize)
        app.router.add_post("/api/openid.connect.token", self._token)
        app.router.add_route("*", "/api/openid.connect.userInfo", self._user_info)

    def _refuse(self, error: str) -> web.Response:
        self.errors.append(error)
        return web.json_response({"ok": False, "error": error})

    async def _authorize(self, request: web.Request) -> web.Response:
        """Slack's authorize page: a code for the registered redirect, or an error page."""
        q = request.query
        if q.get("client_id") != CLIENT_ID:
            self.errors.append("invalid_client_id")
            return web.Response(status=400, text="invalid_client_id")
        redirect = q.get("redirect_uri") or (self.redirect_urls[0] if self.redirect_urls else "")
        if not any(redirect == url or redirect.startswith(url.rstrip("/") + "/") for url in self.redirect_urls):
            self.errors.append("bad_redirect_uri")
            return web.Response(status=400, text="bad_redirect_uri")  # Slack never sends the browser to an unregistered address
        scopes = set(q.get("scope", "").replace(",", " ").split())
        if q.get("response_type") != "code" or "openid" not in scopes or not scopes <= SCOPES:
            return self._back(
                redirect, q.get("state"), error="invalid_scope" if q.get("response_type") == "code" else "unsupported_response_type"
            )
        user = self.users.get(self.signing_in or "")
        if user is None:
            return self._back(redirect, q.get("state"), error="access_denied")
        code = f"{int(time.time())}.{secrets.token_hex(16)}"
        self.grants[code] = Grant(CLIENT_ID, q.get("redirect_uri"), q.get("nonce"), user, scopes, time.time())
        return self._back(redirect, q.get("state"), code=code)

    def _back(self, redirect: str, state: str | None, **answer: str) -> web.Response:
        """Send the browser back to the app with a code or an error (and the state it came with)."""
        if "error" in answer:
            self.errors.append(answer["error"])
        query = {**answer, **({"state": state} if state is not None else {})}
        joiner = "&" if urlsplit(redirect).query else "?"
        raise web.HTTPFound(f"{redirect}{joiner}{urlencode(query)}")

    async def _token(self, request: web.Request) -> web.Response:
        """openid.connect.token: a code exchanged for a user token and an ID token."""
        form = await request.post()
        client_id, secret = _credentials(request, form)
        if client_id != CLIENT_ID:
            return self._refuse("invalid_client_id")
        if secret != CLIENT_SECRET:
            return self._refuse("bad_client_secret")
        grant = self.grants.get(str(form.get("code", "")))
        if grant is None or grant.used or grant.client_id != client_id or time.time() - grant.issued > CODE_SECONDS:
            return self._refuse("invalid_code")
        if grant.redirect_uri is not None and form.get("redirect_uri") != grant.redirect_uri:
            return self._refuse("bad_redirect_uri")
        grant.used = True
        access = f"xoxp-{secrets.token_hex(12)}"
        self.tokens[access] = grant.user
        return web.json_response({"ok": True, "access_token": access, "token_type": "Bearer", "id_token": self._id_token(grant, access)})

    def _id_token(self, grant: Grant, access: str) -> str:
        """A JWT with the claims Slack's ID token carries."""
        now = int(time.time())
        user = grant.user
        digest = hashlib.sha256(access.encode()).digest()
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": user.id,
            "aud": grant.client_id,
            "exp": now + 300,
            "iat": now,
            "auth_time": now,
            "at_hash": _b64(digest[:16]),
            **({"nonce": grant.nonce} if grant.nonce is not None else {}),
            **self._profile(user, grant.scopes),
        }
        header = {"typ": "JWT", "alg": "RS256", "kid": "newswatch-test"}
        parts = [_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(secrets.token_bytes(256))]
        return ".".join(parts)

    def _profile(self, user: SlackUser, scopes: set[str]) -> dict[str, Any]:
        """Slack's own claims, and with `profile` the person's names."""
        claims: dict[str, Any] = {"https://slack.com/user_id": user.id, "https://slack.com/team_id": user.team}
        if "profile" in scopes:
            domain = self.domains.get(user.team, user.team.lower())
            claims |= {"name": user.name, "given_name": user.name.split()[0], "family_name": "", "locale": "en-US"}
            claims |= {"https://slack.com/team_name": domain.title(), "https://slack.com/team_domain": domain}
        if "email" in scopes:
            claims |= {"email": f"{user.id.lower()}@example.org", "email_verified": True}
        return claims

    async def _user_info(self, request: web.Request) -> web.Response:
        """openid.connect.userInfo: who the user token belongs to."""
        header = request.headers.get("Authorization", "")
        user = self.tokens.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if user is None:
            return self._refuse("invalid_auth" if header else "not_authed")
        return web.json_response({"ok": True, "sub": user.id, **self._profile(user, {"openid", "profile"})})


def _credentials(request: web.Request, form: Any) -> tuple[str, str]:
    """The client id and secret: HTTP Basic (slack-sdk's way) or form fields."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            login, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except ValueError:
            return "", ""
        return login, password
    return str(form.get("client_id", "")), str(form.get("client_secret", ""))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
