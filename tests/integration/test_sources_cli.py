"""`newswatch feeds discover`, `feeds import` and `feeds export` in real subprocesses, as docs/sources.md shows them."""

from __future__ import annotations

import shutil
from pathlib import Path

from service.config import load_config
from tests.conftest import FIXTURES, ROOT, FakeClock, seed_entries
from tests.integration.test_cli import env, newswatch
from tests.support.feedgen import rss
from tests.support.feedserver import FeedServer
from tests.support.outlet import Outlet


def shipped_config(tmp_path: Path) -> Path:
    """A copy of the shipped config folder."""
    folder = tmp_path / "config"
    shutil.copytree(ROOT / "config", folder)
    return folder


async def test_discover_prints_the_sitemaps_and_listing_of_an_outlet_without_feeds_ready_to_paste(
    tmp_path: Path, feeds: FeedServer, clock: FakeClock
) -> None:
    Outlet(feeds, clock.now).add_seeds(clock.now)
    code, out, err = await newswatch("feeds", "discover", feeds.url("thoi-su"), environ=env(tmp_path, "sqlite:///unused.db"))
    assert code == 0, err
    assert f"    kind: sitemap\n    url: {feeds.url('/')}\n" in out  # the site: its robots.txt names the sitemaps
    assert f"#    url: {feeds.url('sitemap-index.xml')}\n" in out and "named by robots.txt: an index of sitemaps" in out  # alternatives
    assert f"    kind: listing\n    url: {feeds.url('thoi-su')}\n" in out and "# listing: 4 article links" in out
    assert "kind: feed" not in out and "xmlUrl" not in out
    pasted = "feeds:\n" + out
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "feeds.yaml").write_text(pasted, encoding="utf-8")
    shutil.copy(ROOT / "config" / "rules.yaml", tmp_path / "config" / "rules.yaml")
    shutil.copytree(ROOT / "config" / "examples", tmp_path / "config" / "examples")
    kinds = sorted(f.kind for f in load_config(tmp_path / "config").feeds)
    assert kinds == ["listing", "sitemap"]  # the site (its sitemaps, as robots.txt names them) and the page


async def test_discover_finds_the_feed_a_page_advertises(tmp_path: Path, feeds: FeedServer) -> None:
    feeds.serve("seeds.rss", rss(seed_entries(), "Seed articles"))
    page = b'<html><head><link rel="alternate" type="application/rss+xml" title="Seeds &amp; more" href="/seeds.rss"></head><body></body></html>'
    code, out, err = await newswatch(
        "feeds", "discover", feeds.serve("index.html", page, content_type="text/html"), environ=env(tmp_path, "x")
    )
    assert code == 0, err
    assert "# feed: advertised by the page: 2 items" in out and f"    url: {feeds.url('seeds.rss')}\n    name: Seeds & more\n" in out
    assert "only 0 links look like articles" in out


async def test_import_of_a_freshrss_export_appends_to_feeds_yaml_keeping_its_comments_and_export_gives_them_back(tmp_path: Path) -> None:
    folder = shipped_config(tmp_path)
    before = (folder / "feeds.yaml").read_text(encoding="utf-8")
    opml = str(FIXTURES / "opml" / "freshrss.opml")
    code, printed, err = await newswatch("feeds", "import", opml, environ=env(folder, "x"))
    assert code == 0, err and "  - id: kiripost\n    url: https://kiripost.com/feed\n    name: Kiripost\n    tags: [campuchia]\n" in printed
    assert (folder / "feeds.yaml").read_text(encoding="utf-8") == before  # printing writes nothing

    code, _, err = await newswatch("feeds", "import", opml, "--write", environ=env(folder, "x"))
    assert code == 0, err
    assert "added 4 feeds" in err and "already in feeds.yaml as 'khmer-times'" in err
    after = (folder / "feeds.yaml").read_text(encoding="utf-8")
    assert after.startswith(before) and after[len(before) :].startswith("  - id: kiripost\n")  # the list ends the file: appended
    code, _, err = await newswatch("rules", "check", str(folder), environ=env(folder, "x"))
    assert code == 0, err

    code, exported, err = await newswatch("feeds", "export", environ=env(folder, "x"))
    assert code == 0, err
    assert 'newswatch:kind="listing"' in exported and 'url="https://baotayninh.vn/thoi-su/"' in exported
    assert '<outline text="campuchia" title="campuchia">' in exported and 'newswatch:id="kiripost"' in exported
    (tmp_path / "export.opml").write_text(exported, encoding="utf-8")
    code, again, err = await newswatch("feeds", "import", str(tmp_path / "export.opml"), environ=env(folder, "x"))
    assert code == 0 and "no new feeds" in err and again.count("already in feeds.yaml") == 15  # every feed came back as itself
