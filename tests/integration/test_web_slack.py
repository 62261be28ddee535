"""Sign in with Slack, the whole flow against the strict Slack server: state, nonce, workspace; and `slack.admins` on the pages."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
import yaml

from service.app import App
from service.storage.schema import feedback, mutes
from tests.conftest import ROOT, AppFactory, write_config
from tests.integration.test_web import feeds_of
from tests.support.feedserver import FeedServer
from tests.support.slackoidc import CLIENT_ID, CLIENT_SECRET
from tests.support.slackserver import SlackServer
from tests.support.webpages import csrf_of, free_port, pages

ADMIN, DESK, STRANGER = "U0ADMIN", "U0DESK", "U0OTHER"


@pytest.fixture
async def signed(tmp_path: Path, feeds: FeedServer, slack: SlackServer, make_app: AppFactory) -> AsyncIterator[tuple[str, App]]:
    """A service with Slack sign-in for workspace T000 (`slack.admins`: ADMIN), after one poll, and its Slack accounts."""
    rules = yaml.safe_load((ROOT / "config" / "rules.yaml").read_text(encoding="utf-8")) | {"slack": {"admins": [ADMIN]}}
    write_config(tmp_path / "config", feeds_of(feeds), rules)
    shutil.copytree(ROOT / "config" / "examples", tmp_path / "config" / "examples")  # the shipped rules' examples
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    slack.signin.redirect_urls = [f"{base}/auth/slack/callback"]
    slack.signin.add_user(ADMIN, "Ada Admin")
    slack.signin.add_user(DESK, "Dan Desk")
    slack.signin.add_user(STRANGER, "Olga Other", team="T999")
    app = await make_app(
        slack_client_id=CLIENT_ID, slack_client_secret=CLIENT_SECRET, slack_team_id="T000", web_url=base, http_host="127.0.0.1"
    )
    await app.poll_once()
    async with pages(app, port) as served:
        yield served, app


async def sign_in(client: httpx.AsyncClient, base: str, slack: SlackServer, user: str | None) -> httpx.Response:
    """Go through Sign in with Slack as `user` (None: they cancel on Slack's page); the last answer."""
    slack.signin.signing_in = user
    return await client.get(f"{base}/auth/slack?next=/matches", follow_redirects=True)


async def to_slack(client: httpx.AsyncClient, base: str) -> tuple[dict[str, str], str]:
    """Start a sign-in and let Slack answer, without coming back: (what was asked of Slack, the callback address)."""
    asked = await client.get(f"{base}/auth/slack")
    assert asked.status_code == 302
    query = {k: v[0] for k, v in parse_qs(urlsplit(asked.headers["Location"]).query).items()}
    answered = await client.get(asked.headers["Location"])
    assert answered.status_code == 302, answered.text
    return query, answered.headers["Location"]


async def test_a_desk_member_signs_in_with_slack_and_is_their_slack_self(signed: tuple[str, App], slack: SlackServer) -> None:
    base, _ = signed
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{base}/")).status_code == 302
        assert "Sign in with Slack" in (await client.get(f"{base}/signin")).text
        slack.signin.signing_in = DESK
        asked, back = await to_slack(client, base)
        assert asked["client_id"] == CLIENT_ID and asked["team"] == "T000" and set(asked["scope"].split()) == {"openid", "profile"}
        assert asked["redirect_uri"] == f"{base}/auth/slack/callback" and asked["state"] and asked["nonce"]
        landed = await client.get(back, follow_redirects=True)
        assert landed.status_code == 200 and landed.url.path == "/" and '<span class="who">Dan Desk' in landed.text
    async with httpx.AsyncClient() as someone_else:
        again = await someone_else.get(back)  # the same answer from Slack, replayed elsewhere: no session for them
        assert again.status_code == 403 and "did not start here" in again.text
    assert CLIENT_SECRET not in landed.text


async def test_an_answer_from_slack_for_another_sign_in_is_refused(signed: tuple[str, App], slack: SlackServer) -> None:
    base, _ = signed
    slack.signin.signing_in = DESK
    async with httpx.AsyncClient() as victim, httpx.AsyncClient() as attacker:
        _, victims_answer = await to_slack(victim, base)
        await to_slack(attacker, base)  # the attacker's own flow cookie, with their state and nonce
        state = await attacker.get(victims_answer)  # login CSRF: the victim's answer in the attacker's browser
        assert state.status_code == 403 and "belongs to another sign-in" in state.text
        _, attackers_answer = await to_slack(attacker, base)
        victims_state = parse_qs(urlsplit(victims_answer).query)["state"][0]
        code = parse_qs(urlsplit(attackers_answer).query)["code"][0]
        injected = await victim.get(f"{base}/auth/slack/callback", params={"code": code, "state": victims_state})
        assert injected.status_code == 403 and "nonce" in injected.text  # a code made for another sign-in: its nonce differs
        assert (await victim.get(f"{base}/matches")).status_code == 302


async def test_someone_of_another_workspace_or_who_cancels_is_not_signed_in(signed: tuple[str, App], slack: SlackServer) -> None:
    base, _ = signed
    async with httpx.AsyncClient() as client:
        other = await sign_in(client, base, slack, STRANGER)
        assert other.status_code == 403 and "another Slack workspace" in other.text
        cancelled = await sign_in(client, base, slack, None)
        assert cancelled.status_code == 403 and "Slack said access_denied" in cancelled.text
        assert (await client.get(f"{base}/matches")).status_code == 302
    assert slack.signin.errors == ["access_denied"]  # every code was exchanged as Slack expects it


async def test_a_signed_in_member_may_rate_alerts_but_only_admins_may_mute_or_retry(signed: tuple[str, App], slack: SlackServer) -> None:
    base, app = signed
    mute = {"target": "rule:vn-kh-border", "duration": "1d"}
    async with httpx.AsyncClient() as desk, httpx.AsyncClient() as admin:
        assert (await sign_in(desk, base, slack, DESK)).status_code == 200
        csrf = await csrf_of(desk, base)
        match = (await desk.get(f"{base}/api/v1/matches")).json()["matches"][0]
        rated = await desk.post(f"{base}/matches/{match['id']}/feedback", data={"choice": "not_relevant", "csrf": csrf})
        assert rated.status_code == 200 and "Marked not relevant by Dan Desk" in rated.text
        asked = await desk.post(f"{base}/rules/vn-kh-border/suggestions", data={"days": "7", "csrf": csrf})  # computes, writes nothing
        assert asked.status_code == 200 and "measuring changes to vn-kh-border" in asked.text
        refused = await desk.post(f"{base}/silences", data={**mute, "csrf": csrf})
        assert refused.status_code == 403 and "may read but not change" in refused.text
        assert (await desk.post(f"{base}/deliveries/retry", data={"all": "dead", "csrf": csrf})).status_code == 403
        assert (await desk.post(f"{base}/api/v1/silences", json=mute, headers={"X-CSRF-Token": csrf})).status_code == 403
        assert (await sign_in(admin, base, slack, ADMIN)).status_code == 200
        muted = await admin.post(f"{base}/silences", data={**mute, "csrf": await csrf_of(admin, base)})
        assert muted.status_code == 303
    async with app.engine.connect() as conn:
        assert [(r.user_id, r.choice) for r in await conn.execute(sa.select(feedback))] == [(DESK, "not_relevant")]
        assert [r.created_by for r in await conn.execute(sa.select(mutes))] == [f"slack:{ADMIN}"]
