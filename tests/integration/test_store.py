"""The store on SQLite and PostgreSQL: migrations, leases, idempotent saves."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from service.config.schema import FeedSpec
from service.ingest.model import Evidence, Item, MatchedTerm, RuleMatch
from service.ingest.route import route
from service.storage import db, polls, schema, views
from service.storage.feeds import Feeds, PollOutcome
from service.storage.items import Items, NewItem
from service.storage.polls import PollWrite
from tests.conftest import _drop_schema, _postgres_schema

NOW = datetime(2026, 1, 1, tzinfo=UTC)
HEAD = ScriptDirectory(str(db.MIGRATIONS)).get_current_head()


@pytest.fixture
async def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    yield engine
    await engine.dispose()


async def test_migrations_produce_exactly_the_declared_schema(database_url: str) -> None:
    engine = db.create_engine(database_url)
    try:
        await _upgrade_to(engine, "head")  # every migration in turn, as an existing database gets them
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), schema.metadata)
            )
        assert diff == []
        await db.upgrade(engine)  # a second upgrade is a no-op
        assert await db.current_revision(engine) == HEAD
    finally:
        await engine.dispose()


async def test_a_new_database_gets_the_schema_that_the_migrations_make(database_url: str, tmp_path: Path) -> None:
    """An empty database is made from the declared tables and stamped, not migrated: the same schema, column by column."""
    if db.sqlite_file(database_url) is not None:
        other, pg_schema = f"sqlite:///{tmp_path}/created.db", None
    else:
        other, pg_schema = await _postgres_schema()
    created, migrated = db.create_engine(other), db.create_engine(database_url)
    try:
        await db.upgrade(created)
        await _upgrade_to(migrated, "head")
        assert await db.current_revision(created) == await db.current_revision(migrated) == HEAD
        made, expected = await _schema(created), await _schema(migrated)
        assert set(made) == set(expected) == {*schema.metadata.tables, "alembic_version"}
        for table in expected:
            assert made[table] == expected[table], table
    finally:
        await created.dispose()
        await migrated.dispose()
        if pg_schema is not None:
            await _drop_schema(pg_schema)


async def _schema(engine: db.Database) -> dict[str, dict[str, Any]]:
    """Each table's columns, keys, indexes and constraints as the database reports them (SQLAlchemy's inspector)."""

    def inspect(connection: sa.Connection) -> dict[str, dict[str, Any]]:
        found = sa.inspect(connection)
        out = {}
        for table in found.get_table_names():
            columns = {
                c["name"]: (str(c["type"]), c["nullable"], str(c.get("default")), c.get("autoincrement")) for c in found.get_columns(table)
            }
            out[table] = {
                "columns": columns,
                "primary key": found.get_pk_constraint(table)["constrained_columns"],
                "foreign keys": sorted(
                    (fk["constrained_columns"], fk["referred_table"], fk["referred_columns"], fk.get("options", {}).get("ondelete"))
                    for fk in found.get_foreign_keys(table)
                ),
                "indexes": sorted(
                    (i["name"], i["column_names"], bool(i["unique"]), {k: str(v) for k, v in i.get("dialect_options", {}).items()})
                    for i in found.get_indexes(table)
                ),
                "unique": sorted((u["name"], u["column_names"]) for u in found.get_unique_constraints(table)),
            }
        return out

    async with engine.connect() as conn:
        return await conn.run_sync(inspect)


def test_the_schema_version_the_service_expects_is_alembics_head() -> None:
    assert db.HEAD == HEAD  # a new migration must move db.HEAD, or a started service would skip it


async def test_a_database_behind_head_is_migrated_at_start(database_url: str) -> None:
    engine = db.create_engine(database_url)
    try:
        await _upgrade_to(engine, "0004")
        assert await db.current_revision(engine) == "0004"
        await db.upgrade(engine)
        assert await db.current_revision(engine) == HEAD
    finally:
        await engine.dispose()


async def _upgrade_to(engine: db.Database, revision: str) -> None:
    """Migrate a fresh database only up to `revision`."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    def run(connection: sa.Connection) -> None:
        config = AlembicConfig()
        config.set_main_option("script_location", str(db.MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def test_concurrent_upgrades_are_safe(database_url: str) -> None:
    import asyncio

    engines = [db.create_engine(database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(db.upgrade(e) for e in engines))
        assert await db.current_revision(engines[0]) == HEAD
    finally:
        for e in engines:
            await e.dispose()


def specs(n: int) -> list[FeedSpec]:
    return [FeedSpec(id=f"f{i}", url=f"https://example.org/{i}.rss") for i in range(n)]


async def test_two_replicas_never_claim_the_same_feed_and_leases_expire(engine: sa.ext.asyncio.AsyncEngine) -> None:
    a, b = Feeds(engine, "replica-a"), Feeds(engine, "replica-b")
    await a.sync(specs(5), NOW)
    first = await a.claim(NOW, 3, timedelta(minutes=5))
    second = await b.claim(NOW, 10, timedelta(minutes=5))
    assert len(first) == 3 and len(second) == 2
    assert not {f.id for f in first} & {f.id for f in second}
    assert await b.claim(NOW + timedelta(minutes=1), 10, timedelta(minutes=5)) == []
    taken_over = await b.claim(NOW + timedelta(minutes=6), 10, timedelta(minutes=5))  # a died
    assert {f.id for f in taken_over} == {f.id for f in first} | {f.id for f in second}


async def test_sync_follows_the_config(engine: sa.ext.asyncio.AsyncEngine) -> None:
    store = Feeds(engine, "r")
    await store.sync(specs(3), NOW)
    await store.sync([*specs(2), FeedSpec(id="f0", url="https://example.org/moved.rss")][1:], NOW)
    state = {r.id: (r.url, r.active) for r in await views.feeds_report(store.engine)}
    assert state == {
        "f0": ("https://example.org/moved.rss", True),
        "f1": ("https://example.org/1.rss", True),
        "f2": ("https://example.org/2.rss", False),
    }


def new_item(key: str) -> NewItem:
    match = RuleMatch(
        "r", "R", ("desk", "other"), (MatchedTerm("border", ("title",), (0,)),), Evidence(f"border {key}", ((0, 6),), "title")
    )
    return NewItem(Item(feed_id="f0", key=key, title=f"border {key}"), [match], route("f0", [match], None))


async def test_saving_the_same_items_twice_stores_them_once(engine: sa.ext.asyncio.AsyncEngine) -> None:
    store, stored = Feeds(engine, "r"), Items(engine)
    await store.sync(specs(1), NOW)
    outcome = PollOutcome(None, None, NOW)
    first = await stored.save_poll("f0", [new_item("a"), new_item("b"), new_item("a")], outcome, NOW)
    again = await stored.save_poll("f0", [new_item("a"), new_item("c")], outcome, NOW)
    assert (first.items, first.matches, first.deliveries) == (2, 2, 4)
    assert (again.items, again.matches, again.deliveries) == (1, 1, 2)
    assert (await stored.known("f0", ["a", "b", "c", "d"], ()))[0] == {"a", "b", "c"}


async def test_one_bad_poll_in_a_batch_fails_alone(engine: sa.ext.asyncio.AsyncEngine, caplog: pytest.LogCaptureFixture) -> None:
    """A batch that fails is written again poll by poll, each in a savepoint: only the bad poll is lost."""
    store = Feeds(engine, "r")
    await store.sync(specs(2), NOW)
    outcome = PollOutcome('"e"', None, NOW)
    orphan = NewItem(Item(feed_id="nowhere", key="x", title="no such feed"), [])  # its feed does not exist: a foreign key refuses it
    writes = [
        PollWrite("f0", [new_item("a")], outcome, NOW),
        PollWrite("nowhere", [orphan], outcome, NOW),
        PollWrite("f1", [dataclasses.replace(new_item("b"), item=Item(feed_id="f1", key="b", title="border b"))], outcome, NOW),
    ]
    first, bad, last = await polls.save(engine, writes)
    assert "a batch of 3 polls failed" in caplog.text and isinstance(bad, Exception)
    assert isinstance(first, polls.Saved) and isinstance(last, polls.Saved)
    assert (first.items, first.matches, first.deliveries, last.items) == (1, 1, 2, 1)
    assert (await Items(engine).known("f0", ["a"], ()))[0] == {"a"} and (await Items(engine).known("f1", ["b"], ()))[0] == {"b"}
    assert {r.id: r.etag for r in await views.feeds_report(store.engine)} == {"f0": '"e"', "f1": '"e"'}


async def test_failures_count_up_and_success_resets(engine: sa.ext.asyncio.AsyncEngine) -> None:
    store, stored = Feeds(engine, "r"), Items(engine)
    await store.sync(specs(1), NOW)
    seen = []
    for _ in range(3):
        seen.append(await store.record_failure("f0", "http_500: boom", NOW, lambda n: NOW + timedelta(minutes=n)))
    assert seen == [1, 2, 3]
    [row] = await views.feeds_report(store.engine)
    assert row.next_poll_at == NOW + timedelta(minutes=3) and row.last_error == "http_500: boom"
    await stored.save_poll("f0", [], PollOutcome('"e"', None, NOW), NOW)
    [row] = await views.feeds_report(store.engine)
    assert (row.consecutive_failures, row.etag, row.status, row.caught_up) == (0, '"e"', "ok", True)


async def test_prune_removes_only_old_items_that_matched_nothing(engine: sa.ext.asyncio.AsyncEngine) -> None:
    store, stored = Feeds(engine, "r"), Items(engine)
    await store.sync(specs(1), NOW)
    plain = NewItem(Item(feed_id="f0", key="plain", title="weather"), [])
    await stored.save_poll("f0", [new_item("matched"), plain], PollOutcome(None, None, NOW), NOW)
    await stored.save_poll(
        "f0", [NewItem(Item(feed_id="f0", key="recent", title="x"), [])], PollOutcome(None, None, NOW), NOW + timedelta(days=5)
    )
    assert await stored.prune(NOW + timedelta(days=1)) == 1
    assert (await stored.known("f0", ["matched", "plain", "recent"], ()))[0] == {"matched", "recent"}


async def test_the_migration_to_0011_marks_feeds_whose_failing_notice_was_already_queued(database_url: str) -> None:
    """A feed reported failing before the upgrade is not reported again; one failing but never reported still will be."""
    from service.storage import notices

    engine = db.create_engine(database_url)
    try:
        await _upgrade_to(engine, "0007")
        since = NOW - timedelta(hours=3)
        async with engine.begin() as conn:
            for feed_id in ("reported", "unreported"):
                await conn.execute(
                    sa.text(
                        "INSERT INTO feeds (id, url, name, next_poll_at, created_at, consecutive_failures, failing_since)"
                        " VALUES (:id, 'https://example.org/f', '', :now, :now, 9, :since)"
                    ),
                    {"id": feed_id, "now": NOW.replace(tzinfo=None), "since": since.replace(tzinfo=None)},
                )
            row = notices.notice_row("ops", f"Feed Reported (reported) failing since {since:%Y-%m-%d %H:%M} UTC: 5 failed polls", NOW)
            await conn.execute(schema.deliveries.insert(), [row])
        await db.upgrade(engine)
        async with engine.connect() as conn:
            marked = dict((await conn.execute(sa.select(schema.feeds.c.id, schema.feeds.c.failing_reported_at))).all())
        assert marked == {"reported": since, "unreported": None}
    finally:
        await engine.dispose()
