"""Who may use the web pages: token sign-in, a trusted reverse proxy's header, and that header ignored where it is not trusted."""

from __future__ import annotations

from pathlib import Path

import httpx
import sqlalchemy as sa

from service.app import App
from service.storage.schema import mutes
from tests.conftest import AppFactory, write_config
from tests.integration.test_web import feeds_of
from tests.support.feedserver import FeedServer
from tests.support.webpages import csrf_of, pages

WEB_TOKEN = "web-token-" + "5" * 40
MUTE = {"target": "rule:vn-kh-border", "duration": "1h", "reason": "quiet"}


async def app_with(tmp_path: Path, feeds: FeedServer, make_app: AppFactory, **settings: str) -> App:
    write_config(tmp_path / "config", feeds_of(feeds))
    return await make_app(**settings)


async def silences_by(app: App) -> list[str]:
    async with app.engine.connect() as conn:
        return [r.created_by for r in await conn.execute(sa.select(mutes).order_by(mutes.c.id))]


async def test_the_token_signs_people_in_once_and_api_clients_on_every_request(
    tmp_path: Path, feeds: FeedServer, make_app: AppFactory
) -> None:
    app = await app_with(tmp_path, feeds, make_app, web_token=WEB_TOKEN)
    async with pages(app) as base, httpx.AsyncClient() as client:
        away = await client.get(f"{base}/feeds")
        assert (away.status_code, away.headers["Location"]) == (302, "/signin?next=/feeds")
        assert (await client.get(f"{base}/api/v1/feeds")).status_code == 401
        wrong = await client.post(f"{base}/signin", data={"token": "guess", "next": "/feeds"})
        assert wrong.status_code == 403 and "not the token" in wrong.text and (await client.get(f"{base}/feeds")).status_code == 302
        signed = await client.post(f"{base}/signin", data={"token": WEB_TOKEN, "next": "/feeds"})
        assert (signed.status_code, signed.headers["Location"]) == (302, "/feeds")
        feeds_page = await client.get(f"{base}/feeds")
        assert feeds_page.status_code == 200 and "Seed outlet" in feeds_page.text and WEB_TOKEN not in feeds_page.text
        assert (await client.post(f"{base}/silences", data=MUTE)).status_code == 403  # a session's writes carry its CSRF token
        csrf = await csrf_of(client, base)
        assert (await client.post(f"{base}/silences", data={**MUTE, "csrf": csrf})).status_code == 303
        await client.get(f"{base}/signout")
        assert (await client.get(f"{base}/feeds")).status_code == 302
    async with pages(app) as base, httpx.AsyncClient() as api:
        bearer = {"Authorization": f"Bearer {WEB_TOKEN}"}
        assert (await api.get(f"{base}/api/v1/feeds", headers={"Authorization": "Bearer guess"})).status_code == 401
        assert (await api.get(f"{base}/api/v1/feeds", headers=bearer)).status_code == 200
        added = await api.post(f"{base}/api/v1/silences", json=MUTE, headers=bearer)  # no cookie to abuse: no CSRF token needed
        assert added.status_code == 201, added.text
    assert await silences_by(app) == ["web:token", "web:token"]


async def test_a_trusted_proxy_names_the_user_and_nobody_else_can(tmp_path: Path, feeds: FeedServer, make_app: AppFactory) -> None:
    app = await app_with(tmp_path, feeds, make_app, web_proxy_header="X-Forwarded-User")
    async with pages(app) as base, httpx.AsyncClient(headers={"X-Forwarded-User": "alice"}) as alice, httpx.AsyncClient() as anonymous:
        assert (await anonymous.get(f"{base}/")).status_code == 302
        assert (await anonymous.get(f"{base}/api/v1/matches")).status_code == 401
        now = await alice.get(f"{base}/")
        assert now.status_code == 200 and '<span class="who">alice' in now.text
        csrf = await csrf_of(alice, base)
        assert (await alice.post(f"{base}/silences", data={**MUTE, "csrf": csrf})).status_code == 303
        alice.headers["X-Forwarded-User"] = "bob"  # the proxy now names someone else: alice's session is not theirs
        assert (await alice.post(f"{base}/silences", data={**MUTE, "csrf": csrf})).status_code == 403
    assert await silences_by(app) == ["web:alice"]


async def test_the_proxy_header_is_believed_only_from_the_proxy(tmp_path: Path, feeds: FeedServer, make_app: AppFactory) -> None:
    app = await app_with(tmp_path, feeds, make_app, web_proxy_header="X-Forwarded-User", web_proxy_from="10.0.0.0/8")
    async with pages(app) as base, httpx.AsyncClient(headers={"X-Forwarded-User": "mallory"}) as client:
        assert (await client.get(f"{base}/")).status_code == 302  # 127.0.0.1 is not the proxy: the header names nobody
        assert (await client.get(f"{base}/api/v1/silences")).status_code == 401


async def test_the_proxy_header_means_nothing_unless_configured(tmp_path: Path, feeds: FeedServer, make_app: AppFactory) -> None:
    local = await app_with(tmp_path, feeds, make_app)  # loopback, no access control: everyone here is web:local
    async with pages(local) as base, httpx.AsyncClient(headers={"X-Forwarded-User": "mallory"}) as client:
        csrf = await csrf_of(client, base)
        assert (await client.post(f"{base}/silences", data={**MUTE, "csrf": csrf})).status_code == 303
    assert await silences_by(local) == ["web:local"]
    tokened = await make_app(web_token=WEB_TOKEN)  # a token is configured, the header is not
    async with pages(tokened) as base, httpx.AsyncClient(headers={"X-Forwarded-User": "mallory"}) as client:
        assert (await client.get(f"{base}/")).status_code == 302
        assert (await client.get(f"{base}/api/v1/matches")).status_code == 401
