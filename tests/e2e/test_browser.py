"""End to end in a real browser: Debian's headless Chromium, driven by Playwright (which never downloads a browser here)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect

from service.app import App
from tests.conftest import AppFactory
from tests.integration.test_suggest import config as suggest_config
from tests.integration.test_suggest import stored_feedback
from tests.integration.test_web import PAGES, missed_story, served  # noqa: F401  (the fixture)
from tests.support.feedserver import FeedServer
from tests.support.webpages import pages

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(os.environ.get("NEWSWATCH_SCREENSHOTS", "/nonexistent"))  # a folder (docs/images) to refresh the docs' screenshots into


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).exists(), "make test installs Debian's chromium; run it, or apt-get install chromium"
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        await launched.close()


async def test_the_desk_reads_rates_mutes_and_tries_a_rule_change_in_a_browser(
    served: tuple[str, App],  # noqa: F811
    browser: Browser,
    feeds: FeedServer,
) -> None:
    base, _ = served
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    for path in PAGES:
        response = await page.goto(base + path)
        assert response is not None and response.status == 200, path
        await expect(page.locator("header strong")).to_have_text("newswatch")

    await page.goto(f"{base}/matches")
    await expect(page.locator("text=<script>alert(1)</script> {{7*7}} border").first).to_be_visible()  # shown as text
    first = page.locator("article.match").first
    await first.get_by_role("button", name="Relevant", exact=True).click()
    await expect(first.locator(".said")).to_have_text("Marked relevant by local")
    if SHOTS.exists():
        await page.screenshot(path=str(SHOTS / "matches.png"))

    await page.goto(f"{base}/silences")
    await page.select_option("select[name=target]", "rule:vn-kh-border")
    await page.get_by_role("button", name="Mute").click()
    row = page.locator("tr", has_text="vn-kh-border")
    await expect(row).to_contain_text("web:local")
    await row.get_by_role("button", name="Expire now").click()
    await expect(page.locator("text=None.").first).to_be_visible()
    await expect(page.locator("li", has_text="vn-kh-border")).to_contain_text("ended")

    await page.goto(f"{base}/playground?rule=vn-kh-border")
    await expect(page.locator("#result .diff")).to_contain_text("unchanged of")  # the rule as it is: nothing new, nothing lost
    await page.fill("#source", "id: vn-kh-border\ndestinations: [border-desk]\nmatch:\n  any: [wire, rain]\n")
    await expect(page.locator("#result .diff")).to_contain_text("+1 new")
    await expect(page.locator("#result ul.new")).to_contain_text("Weather in Hà Nội")
    if SHOTS.exists():
        await page.screenshot(path=str(SHOTS / "playground.png"), full_page=True)
    await page.fill("#source", "id: vn-kh-border\ndestinations: [nowhere]\nmatch: {any: [rain]}\n")
    await expect(page.locator("#result")).to_contain_text("rule:2:16: undefined destination 'nowhere'")

    await page.goto(f"{base}/missed")
    await page.fill("input[name=url]", missed_story(feeds))
    await page.get_by_role("button", name="Why was it missed?").click()
    border = page.locator("section.explain", has_text="vn-kh-border")
    await expect(border).to_contain_text("the 1st (in one sentence): lacks @border")
    await expect(page.locator("pre.copy").first).to_contain_text('title: "Vietnam and Cambodia sign a rice deal"')


async def test_the_desk_asks_for_suggested_rule_changes_on_the_rules_page(tmp_path: Path, make_app: AppFactory, browser: Browser) -> None:
    directory = suggest_config(tmp_path)
    app = await make_app(config_dir=directory)
    now = datetime.now(UTC)
    await stored_feedback(app.engine, now, feed=False)
    async with pages(app) as base:
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(f"{base}/rules")
        rule = page.locator("section.rule", has_text="border")
        await rule.locator("select[name=days]").select_option("7")
        await rule.get_by_role("button", name="Suggest changes").click()
        done = rule.locator(".suggestions.done")
        await expect(done).to_contain_text("Evidence: 3 relevant, 3 false alarms", timeout=120_000)  # measured in its own process
        await expect(done.locator("li.suggestion").first).to_contain_text("exclude items with “casino”")
        await expect(done.locator("pre.diff").first).to_contain_text('none: ["casino"]')
        if SHOTS.exists():
            await page.screenshot(path=str(SHOTS / "suggestions.png"), full_page=True)
