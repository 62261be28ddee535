"""`rules suggest`, missed stories and recall: on feedback rows where the right suggestion is known."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from service.config import fingerprint, load_config
from service.ingest.parse import canonical_link
from service.ops.suggest import replay_matches, suggestions
from service.rules.suggest import add_exclusion, add_to_group, suggest
from service.storage import db
from service.storage.feedback import FeedbackStore
from service.storage.missed import MissedStore
from service.storage.schema import deliveries, feedback, feeds, items, matches
from tests.conftest import AppFactory
from tests.integration.test_cli import env, newswatch
from tests.support.webpages import csrf_of, pages

RULES = """\
destinations:
  desk: {type: console}

groups:
  # Cambodia by name.
  kh:
    - Cambodia
    - Cambodian
  border:
    - border
    - frontier

rules:
  - id: border
    destinations: [desk]
    match:
      all: ["@kh", "@border"]
    examples:
      match:
        - title: Cambodia border gate reopens
"""
RELEVANT = [
    "Cambodia border gate reopens after talks",
    "Troops patrol the Cambodia border",
    "Cambodia and Vietnam finish border demarcation",
]
FALSE_ALARMS = [
    "Casino fire in Cambodia border town",
    "Cambodia border casino raided by police",
    "New casino opens on the Cambodian border",
]
MISSED = ["Cambodia and Vietnam plant boundary markers", "Boundary talks with Cambodia resume"]
OTHER = ["Cambodia boundary of the national park extended", "Rice prices rise in Cambodia"]


def config(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "feeds.yaml").write_text('feeds:\n  - {id: f, url: "https://example.org/feed.xml"}\n', encoding="utf-8")
    (directory / "rules.yaml").write_text(RULES, encoding="utf-8")
    return directory


async def stored_feedback(engine: db.Database, now: datetime, feed: bool = True) -> None:
    """The alerts the desk rated (three relevant, three false alarms about casinos), the missed stories' items, two others.

    `feed`: the feed's row too (a running service has written it from feeds.yaml).
    """
    async with engine.begin() as conn:
        if feed:
            await conn.execute(feeds.insert().values(id="f", url="https://example.org/feed.xml", next_poll_at=now, created_at=now))
        for n, title in enumerate(RELEVANT + FALSE_ALARMS + MISSED + OTHER):
            link = f"https://example.org/{n}"
            done = await conn.execute(items.insert().values(feed_id="f", key=f"k{n}", link=link, title=title, first_seen_at=now))
            item_id = done.inserted_primary_key[0]
            if title in RELEVANT + FALSE_ALARMS:
                await conn.execute(matches.insert().values(item_id=item_id, rule_id="border", terms=[], created_at=now))
                sent = await conn.execute(
                    deliveries.insert().values(
                        item_id=item_id,
                        destination="desk",
                        rule_ids=["border"],
                        status="sent",
                        next_attempt_at=now,
                        created_at=now,
                        sent_at=now,
                    )
                )
                choice = "relevant" if title in RELEVANT else "not_relevant"
                await conn.execute(
                    feedback.insert().values(
                        delivery_id=sent.inserted_primary_key[0],
                        item_id=item_id,
                        destination="desk",
                        rule_ids=["border"],
                        user_id="U1",
                        choice=choice,
                        created_at=now,
                        updated_at=now,
                    )
                )


async def test_suggest_finds_the_exclusion_and_the_addition_the_feedback_calls_for(tmp_path: Path, database_url: str) -> None:
    directory = config(tmp_path)
    now = datetime.now(UTC)
    async with db.opened(database_url, create=True) as engine:
        await stored_feedback(engine, now)
        for n in (6, 7):  # the missed stories' items
            await MissedStore(engine).record("border", canonical_link(f"https://example.org/{n}#top"), now)
        report = await suggestions(engine, directory, "border", now - timedelta(days=1), labelled_dir=None)
        stats = (await FeedbackStore(engine).rule_stats(now - timedelta(days=1)))["border"]

    assert report.evidence == {"relevant": 3, "false_alarm": 3, "missed": 2}
    by_term = {s.change.term: s for s in report.suggestions}
    exclude, add = by_term["casino"], by_term["boundary"]
    assert report.suggestions[0] in (exclude, add)  # the two changes that put the most evidence right come first
    assert exclude.change.kind == "exclude" and exclude.change.why == "in 3 of 3 false alarms, 0 relevant items"
    assert (exclude.outcome.false_alarms_removed, exclude.outcome.relevant_lost) == (3, 0)
    assert (exclude.outcome.replayed, exclude.outcome.caught, exclude.outcome.lost) == (10, 0, 3)  # the stored false alarms
    assert '+      none: ["casino"]' in exclude.change.diff
    assert (add.change.kind, add.change.group, add.outcome.misses_caught, add.outcome.false_alarms_added) == ("add", "border", 2, 0)
    assert (add.outcome.caught, add.outcome.lost) == (3, 0)  # both missed stories, and the park's boundary: the replay shows it
    assert '+    - "boundary"' in add.change.diff
    assert (directory / "rules.yaml").read_text(encoding="utf-8") == RULES  # nothing edited
    assert (stats.relevant, stats.missed, stats.recall) == (3, 2, 0.6)


async def test_the_cli_records_a_missed_story_and_prints_suggestions_and_recall(tmp_path: Path, database_url: str) -> None:
    directory = config(tmp_path)
    now = datetime.now(UTC)
    async with db.opened(database_url, create=True) as engine:
        await stored_feedback(engine, now)
    environ = env(directory, database_url)
    code, out, err = await newswatch("missed", "https://example.org/6", "--rule", "border", "--note", "boundary markers", environ=environ)
    assert code == 0, err
    assert out.startswith("missed story 1 recorded for border: https://example.org/6 (stored item 7)")
    code, _, err = await newswatch("missed", "https://example.org/none", "--rule", "nosuch", environ=environ)
    assert code == 2 and "no enabled rule with id 'nosuch'" in err

    code, out, err = await newswatch("rules", "suggest", "border", "--labelled", "none", "--format", "json", environ=environ)
    assert code == 0, err
    found = {s["term"]: s for s in map(json.loads, out.splitlines())}
    assert found["casino"]["evidence"]["false_alarms_removed"] == 3 and found["casino"]["stored"]["lost"] == 3
    assert found["casino"]["labelled"]["part"] == "tuning"
    code, out, err = await newswatch("rules", "suggest", "border", "--labelled", "none", environ=environ)
    assert code == 0, err
    assert "exclude items with 'casino': in 3 of 3 false alarms, 0 relevant items" in out and "Nothing was changed" in out

    code, out, err = await newswatch("rules", "stats", "--format", "json", environ=environ)
    assert code == 0, err
    [stats] = [json.loads(line) for line in out.splitlines()]
    assert (stats["relevant"], stats["missed"], stats["recall"], stats["precision"]) == (3, 1, 0.75, 0.5)


def test_the_config_the_caller_loaded_is_measured_unless_the_files_changed_since(tmp_path: Path) -> None:
    """`suggest` takes the caller's loaded config while rules.yaml is as it was loaded, and reads the files again once they changed."""
    directory = config(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(directory, elsewhere)
    (elsewhere / "rules.yaml").write_text(RULES.replace("id: border", "id: renamed"), encoding="utf-8")
    loaded = load_config(elsewhere)  # no rule 'border' in it
    with pytest.raises(ValueError, match="no enabled rule with id 'border'"):  # taken as it is: no second load
        suggest("border", directory, [], [], [], replay_matches, config=dataclasses.replace(loaded, version=fingerprint(directory)))
    report = suggest("border", directory, [], [], [], replay_matches, config=loaded)  # stale: loaded again from the files
    assert report.version == fingerprint(directory)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("rules:\n  - id: r\n    match:\n      any: [a]\n", 'rules:\n  - id: r\n    match:\n      none: ["x"]\n      any: [a]\n'),
        ("rules:\n  - id: r\n    match:\n      any: [a]\n      none: [b]  # old\n", None),
        (
            "rules:\n  - id: r\n    match:\n      any: [a]\n      none:\n        - b\n",
            'rules:\n  - id: r\n    match:\n      any: [a]\n      none:\n        - b\n        - "x"\n',
        ),
        (  # the last item is a mapping of several lines (the shipped kh-th-border's headline exclusion): after all of it
            "rules:\n  - id: r\n    match:\n      any: [a]\n      none:\n        - in: headline\n          all: [b]\n\n  - id: s\n",
            'rules:\n  - id: r\n    match:\n      any: [a]\n      none:\n        - in: headline\n          all: [b]\n        - "x"\n\n  - id: s\n',
        ),
    ],
)
def test_an_exclusion_is_written_into_the_rule_as_it_is_laid_out(source: str, expected: str | None) -> None:
    edited = add_exclusion(source, "r", "x")
    if expected is None:
        assert edited == 'rules:\n  - id: r\n    match:\n      any: [a]\n      none: [b, "x"]  # old\n'
    else:
        assert edited == expected


def test_an_addition_goes_into_the_group_as_it_is_laid_out() -> None:
    source = 'groups:\n  a: ["@b", c]\n  # the b words\n  b:\n    - d\n    - {term: e, exact: true}\n\n  c: [f]\nrules: []\n'
    assert add_to_group(source, "a", "x") == source.replace('["@b", c]', '["@b", c, "x"]')
    assert add_to_group(source, "b", "x") == source.replace("exact: true}\n", 'exact: true}\n    - "x"\n')
    assert add_to_group(source, "nosuch", "x") is None


def test_metrics_carry_missed_stories_and_recall_where_the_desk_reported_a_miss() -> None:
    from prometheus_client import generate_latest

    from service.ops.metrics import Metrics
    from service.storage.feedback import RuleStats

    metrics = Metrics()
    metrics.rule_feedback({"border": RuleStats(sent=4, rated=4, relevant=3, missed=1), "quiet": RuleStats(sent=2, rated=2, relevant=2)})
    text = generate_latest(metrics.registry).decode()
    assert 'newswatch_rule_recall{rule="border"} 0.75' in text and 'newswatch_rule_missed{rule="border"} 1.0' in text
    assert 'newswatch_rule_recall{rule="quiet"}' not in text  # no miss reported: recall unknown, not 1.0


async def test_the_rules_page_works_out_the_suggestions_in_the_background_and_shows_them(tmp_path: Path, make_app: AppFactory) -> None:
    """The Rules page's button: the same report as the CLI, from the shipped labelled set too (which has no labels for this rule)."""
    directory = config(tmp_path)
    app = await make_app(config_dir=directory)
    now = datetime.now(UTC)
    await stored_feedback(app.engine, now, feed=False)
    for n in (6, 7):
        await MissedStore(app.engine).record("border", canonical_link(f"https://example.org/{n}"), now)
    async with pages(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        client.headers["X-CSRF-Token"] = await csrf_of(client, base)
        listing = (await client.get("/rules")).text
        assert 'hx-post="/rules/border/suggestions"' in listing
        started = await client.post("/rules/border/suggestions", data={"days": "7"})
        assert started.status_code == 200 and "measuring changes to border" in started.text
        job = started.text.split('hx-get="/rules/suggestions/')[1].split('"')[0]
        shown = await until_finished(client, job)
        again = await client.post("/rules/border/suggestions", data={"days": "7"})  # a second look: the same report, not a new run
        missing = await client.post("/rules/nosuch/suggestions", data={"days": "7"})
        api = await client.post("/api/v1/rules/border/suggestions", json={"days": 7})
        progress = (await client.get(f"/api/v1/rules/suggestions/{job}")).json()
        api_missing = await client.post("/api/v1/rules/nosuch/suggestions")
    assert "Evidence: 3 relevant, 3 false alarms, 2 missed" in shown  # the labelled set labels other rules: none of it counts here
    assert "exclude items with “casino”</strong>: in 3 of 3 false alarms, 0 relevant items" in shown
    assert "add “boundary” to @border" in shown
    assert "+      none: [&#34;casino&#34;]" in shown or '+      none: ["casino"]' in shown
    assert "−3 lost" in shown and "+3 caught" in shown
    assert job in again.text and "Evidence: 3 relevant" in again.text
    assert missing.status_code == 404 and "No enabled rule with id 'nosuch'" in missing.text
    assert (
        api.status_code == 200
        and api.json()["id"] == job
        and api.json() | {"seconds": 0} == progress | {"seconds": 0, "progress": api.json()["progress"]}
    )
    casino = next(s for s in progress["suggestions"] if s["term"] == "casino")  # as `rules suggest --format json` prints it
    assert casino["evidence"]["false_alarms_removed"] == 3 and casino["stored"]["lost"] == 3 and casino["labelled"]["items"] == 0
    assert progress["evidence"] == {"relevant": 3, "false_alarm": 3, "missed": 2} and progress["finished"] is True
    assert api_missing.status_code == 404
    assert (directory / "rules.yaml").read_text(encoding="utf-8") == RULES  # nothing edited


async def until_finished(client: httpx.AsyncClient, job: str) -> str:
    """The job's fragment once it no longer polls (it measures in a process of its own)."""
    for _ in range(600):
        text = (await client.get(f"/rules/suggestions/{job}")).text
        if "hx-get" not in text:
            return text
        await asyncio.sleep(0.2)
    raise AssertionError(f"suggestions {job} did not finish: {text[:300]}")


def test_a_failed_suggestion_job_shows_its_error_without_a_secret() -> None:
    from service.ops.web.advice import shown

    failed = OSError("could not connect to postgresql://newswatch:s3cret-pass@db/newswatch (token xoxb-1234-abcd)")
    text = shown(failed, ["xoxb-1234-abcd", "s3cret-pass"])
    assert text.startswith("OSError: could not connect") and "s3cret" not in text and "xoxb" not in text


async def test_suggestions_say_when_rules_yaml_on_disk_is_not_yet_the_rules_in_force(tmp_path: Path, make_app: AppFactory) -> None:
    """The diffs apply to rules.yaml as it is on disk: a job measures that file and says so when the service still runs another."""
    directory = config(tmp_path)
    app = await make_app(config_dir=directory)
    in_force = app.config().version
    await stored_feedback(app.engine, datetime.now(UTC), feed=False)
    (directory / "rules.yaml").write_text(RULES + "# an edit the service has not reloaded yet\n", encoding="utf-8")
    async with pages(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        client.headers["X-CSRF-Token"] = await csrf_of(client, base)
        started = (await client.post("/api/v1/rules/border/suggestions", json={"days": 7})).json()
        shown = await until_finished(client, started["id"])
        progress = (await client.get(f"/api/v1/rules/suggestions/{started['id']}")).json()
    on_disk = progress["config_version"]
    assert progress["config_version_in_force"] == in_force == app.config().version and on_disk not in ("", in_force)
    assert f"Measured on rules.yaml as it is on disk now (version {on_disk}), which is not the version in force ({in_force})" in shown
    assert "exclude items with “casino”" in shown  # measured all the same
