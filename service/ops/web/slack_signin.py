"""Sign in with Slack (OpenID Connect, authorization code flow), with slack-sdk's client.

The browser goes to Slack's /openid/connect/authorize with a `state` and a `nonce` kept in a
short-lived signed cookie; Slack sends it back with a code, which `openid.connect.token`
exchanges (client id and secret) for an ID token and a user token. The ID token comes straight
from Slack over TLS, so its issuer is trusted without checking its signature (OpenID Connect
Core 3.1.3.7); its issuer, audience, expiry and nonce are checked, and its workspace must be
`SLACK_TEAM_ID`. `openid.connect.userInfo`, asked with the user token, must name the same
person (Core 5.3.2); it gives the name shown.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from service.ops.web.access import Sessions, User, safe_next
from service.settings import Settings

ISSUER = "https://slack.com"
FLOW_COOKIE = "newswatch_signin"
FLOW_SECONDS = 600
SCOPES = "openid profile"


class SignInError(Exception):
    """Slack did not sign the person in: the message says why, for them."""


class SlackSignIn:
    """The two legs of the flow: where to send the browser, and what its callback proves."""

    def __init__(self, settings: Settings, session: aiohttp.ClientSession, api_url: str) -> None:
        assert settings.slack_client_id and settings.slack_client_secret and settings.slack_team_id and settings.web_url
        self._client_id = settings.slack_client_id
        self._secret = settings.slack_client_secret
        self._team = settings.slack_team_id
        self._session = session
        self._api = api_url.rstrip("/") + "/"
        self.redirect_uri = settings.web_url.rstrip("/") + "/auth/slack/callback"

    @property
    def authorize_endpoint(self) -> str:
        """Slack's authorize page: beside its Web API (`https://slack.com/api/` → `https://slack.com/openid/connect/authorize`)."""
        return self._api.removesuffix("api/") + "openid/connect/authorize"

    def start(self, sessions: Sessions, next_path: str) -> web.Response:
        """Send the browser to Slack, remembering the state, nonce and where to go after."""
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        query = {
            "response_type": "code",
            "client_id": self._client_id,
            "scope": SCOPES,
            "redirect_uri": self.redirect_uri,
            "state": state,
            "nonce": nonce,
            "team": self._team,
        }
        response = web.HTTPFound(f"{self.authorize_endpoint}?{urlencode(query)}")
        flow = sessions.sign({"s": state, "n": nonce, "next": safe_next(next_path), "e": int(time.time()) + FLOW_SECONDS})
        response.set_cookie(FLOW_COOKIE, flow, max_age=FLOW_SECONDS, httponly=True, samesite="Lax", secure=sessions.secure, path="/auth")
        return response

    async def finish(self, request: web.Request, sessions: Sessions) -> tuple[User, str]:
        """The user Slack signed in and the path to go to; raises SignInError."""
        flow = sessions.unsign(request.cookies.get(FLOW_COOKIE, ""))
        if flow is None or int(str(flow.get("e", 0))) < time.time():
            raise SignInError("this sign-in took too long or did not start here: try again")
        if request.query.get("error"):
            raise SignInError(f"Slack said {request.query['error']}")
        if not secrets.compare_digest(request.query.get("state", ""), str(flow.get("s"))):
            raise SignInError("this answer from Slack belongs to another sign-in: try again")
        claims, token = await self._claims(request.query.get("code", ""))
        if claims.get("nonce") != flow.get("n"):
            raise SignInError("Slack's answer does not carry this sign-in's nonce")
        if claims.get("https://slack.com/team_id") != self._team:
            raise SignInError("you signed in to another Slack workspace than this newswatch's")
        user_id = str(claims.get("https://slack.com/user_id") or claims.get("sub") or "")
        if not user_id:
            raise SignInError("Slack's answer names no user")
        info = await self._call("openid.connect.userInfo", token)
        if info.get("sub") != claims.get("sub"):
            raise SignInError("Slack's two answers name different people")
        return User(user_id, str(info.get("name") or claims.get("name") or user_id), "slack"), str(flow.get("next") or "/")

    async def _claims(self, code: str) -> tuple[dict[str, Any], str]:
        """Exchange the code at `openid.connect.token`; the ID token's claims (issuer, audience, expiry checked) and the user token."""
        form = {"client_id": self._client_id, "client_secret": self._secret, "code": code, "redirect_uri": self.redirect_uri}
        response = await self._call("openid.connect.token", data=form)  # credentials as form fields: slack-sdk's auth= path is deprecated
        claims = _payload(str(response.get("id_token") or ""))
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if claims.get("iss") != ISSUER or self._client_id not in audiences:
            raise SignInError("Slack's ID token is not for this app")
        if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
            raise SignInError("Slack's ID token has expired")
        return claims, str(response.get("access_token") or "")

    async def _call(self, method: str, token: str | None = None, data: dict[str, str] | None = None) -> Any:
        """One Web API method with slack-sdk's client; Slack's refusals and network errors as SignInError."""
        from slack_sdk.errors import SlackApiError
        from slack_sdk.web.async_client import AsyncWebClient

        client = AsyncWebClient(token=token, base_url=self._api, session=self._session, timeout=15, retry_handlers=[])
        try:
            return await client.api_call(method, data=data)
        except SlackApiError as exc:
            raise SignInError(f"Slack refused the sign-in: {exc.response.get('error', 'error')}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SignInError(f"Slack could not be reached: {type(exc).__name__}") from None


def _payload(token: str) -> dict[str, Any]:
    """The claims of a JWT (header.payload.signature)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise SignInError("Slack sent no ID token")
    try:
        data = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        raise SignInError("Slack's ID token cannot be read") from None
    if not isinstance(data, dict):
        raise SignInError("Slack's ID token cannot be read")
    return data
