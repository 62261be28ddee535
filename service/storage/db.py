"""Database schema, engine set-up and migrations, for SQLite (embedded) and PostgreSQL.

The tables here are the source of truth for Alembic's autogenerate; migrations under
`service/migrations/versions` must produce exactly this schema (a test checks it).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine  # without the ORM: service.storage.asyncsa

from service.errors import UserError
from service.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0017"  # the newest migration's revision (a test checks it against Alembic's head)
DEFAULT_POOL_SIZE: int = Settings.model_fields["db_pool_size"].default  # PostgreSQL connections a process keeps
POOL_TIMEOUT = 600  # seconds a transaction waits for a free connection: a busy pool slows work down, it does not fail it
WRITE_FAILURE_SECONDS = 300  # /readyz says "not writable" this long after a write refused for want of space or rights
_MIGRATION_LOCK = 0x6E657773  # "news": the PostgreSQL advisory lock taken while migrating


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timestamps stored in UTC and always returned timezone-aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def insert(conn: AsyncConnection | Connection, table: sa.Table) -> Any:
    """A dialect-specific INSERT that supports ON CONFLICT (each dialect's module loaded only where it is used)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def lease_update(conn: AsyncConnection, table: sa.Table, due: sa.Select[Any]) -> Any:
    """An UPDATE of the rows whose ids `due` selects (with its LIMIT and SKIP LOCKED), for leasing work.

    The ids come from a materialised CTE joined in (UPDATE ... FROM): with `id IN (subquery)`
    PostgreSQL may run the subquery again for each row and lease far more than its LIMIT.
    """
    chosen = due.cte("due")
    if conn.dialect.name == "postgresql":
        chosen = chosen.prefix_with("MATERIALIZED")
    return table.update().where(table.c.id == chosen.c.id)


Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
metadata = sa.MetaData()

feeds = sa.Table(
    "feeds",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("fetch_url", sa.Text),
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("caught_up", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("next_poll_at", UTCDateTime, nullable=False),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("lease_owner", sa.String(128)),
    sa.Column("status", sa.String(16), nullable=False, server_default="new"),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("last_error_at", UTCDateTime),
    sa.Column("last_warning", sa.Text),
    sa.Column("last_success_at", UTCDateTime),
    sa.Column("failing_since", UTCDateTime),  # the first failure of the current run of failures
    sa.Column("failing_reported_at", UTCDateTime),  # when this run of failures was reported to the operations destination
    sa.Column("last_polled_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("article_failures", sa.Integer, nullable=False, server_default="0"),  # polls in a row whose article pages all failed
    sa.Column("article_error", sa.Text),  # the last article page failure
    sa.Column("article_retry_at", UTCDateTime),  # article pages paused until then
    sa.Index("ix_feeds_due", "active", "next_poll_at"),
)

items = sa.Table(
    "items",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("feed_id", sa.String(64), sa.ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    sa.Column("key", sa.String(600), nullable=False),
    sa.Column("guid", sa.Text, nullable=False, server_default=""),
    sa.Column("link", sa.Text, nullable=False, server_default=""),
    sa.Column("title", sa.Text, nullable=False, server_default=""),
    sa.Column("summary", sa.Text, nullable=False, server_default=""),
    sa.Column("content", sa.Text, nullable=False, server_default=""),
    sa.Column("author", sa.Text, nullable=False, server_default=""),
    sa.Column("language", sa.String(16), nullable=False, server_default=""),
    sa.Column("published_at", UTCDateTime),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("signature", sa.LargeBinary),  # service.ingest.story fingerprint, for items that may alert
    sa.Column("article", sa.Text, nullable=False, server_default=""),  # the article page's main text, if fetched
    sa.Column("article_status", sa.String(16)),  # service.ingest.article.Status: fetched, or why not
    sa.Column("article_detail", sa.Text),  # how the article text was obtained, or why there is none
    sa.Column("date_note", sa.Text),  # why published_at is missing (first_seen_at stands for it) or was guessed
    sa.Column("outlet", sa.Text, nullable=False, server_default=""),  # an aggregator item's outlet (its RSS <source>)
    sa.Column("outlet_url", sa.Text, nullable=False, server_default=""),
    sa.Column("via", sa.Text, nullable=False, server_default=""),  # the aggregator link `link` was resolved from
    sa.Column("unmatched", sa.Boolean, nullable=False, server_default=sa.false()),  # stored without matching: a new feed's backlog
    sa.UniqueConstraint("feed_id", "key", name="uq_items_feed_key"),
    sa.Index("ix_items_seen_feed", "first_seen_at", "feed_id"),  # periods of items, and their counts by feed from the index alone
    sa.Index("ix_items_feed_link", "feed_id", "link"),
    # the few items with a story fingerprint (those that alerted), by time: story threads and the Stories page
    sa.Index("ix_items_signed", "first_seen_at"),  # partial: WHERE signature IS NOT NULL (`partial_indexes`)
)


def partial_indexes(dialect: str) -> None:
    """Give the partial index its WHERE in `dialect` (the one in use, loaded by then).

    Not as `Index(sqlite_where=..., postgresql_where=...)`: those keywords load each named
    dialect's module when this module is imported, PostgreSQL's drivers on SQLite too.
    """
    index = next(i for i in items.indexes if i.name == "ix_items_signed")
    index.dialect_options[dialect]["where"] = sa.text("signature IS NOT NULL")


matches = sa.Table(
    "matches",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("item_id", Id, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("rule_id", sa.String(64), nullable=False),
    sa.Column("rule_name", sa.Text, nullable=False, server_default=""),
    sa.Column("terms", sa.JSON, nullable=False),
    sa.Column("suppressed", sa.String(32)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("evidence", sa.JSON),  # what its alert quotes (service.ingest.route); None on rows made before 0008
    sa.UniqueConstraint("item_id", "rule_id", name="uq_matches_item_rule"),
    sa.Index("ix_matches_rule_created", "rule_id", "created_at"),
    sa.Index("ix_matches_created", "created_at"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("item_id", Id, sa.ForeignKey("items.id", ondelete="CASCADE")),  # None for an operations notice
    sa.Column("destination", sa.String(64), nullable=False),
    sa.Column("rule_ids", sa.JSON, nullable=False),
    sa.Column("notice", sa.Text),  # an operations notice's text ("feed failing since ..."), instead of an item
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("lease_owner", sa.String(128)),
    sa.Column("last_error", sa.Text),
    sa.Column("remote_id", sa.Text),
    sa.Column("remote_channel", sa.Text),  # where the sink put it, as the remote names it (Slack's channel id): permalinks need it
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("mode", sa.String(16)),  # None until planned; alert, reply (in a story's thread), digest or throttled (in a digest)
    sa.Column("parent_id", Id),  # for a reply: the delivery whose thread it joins
    sa.Column("thread_ts", sa.Text),  # for a reply: the thread's root message id
    sa.Column("evidence", sa.JSON),  # per rule of rule_ids, what this copy quotes; None on rows queued before 0008
    sa.Column("sections", sa.JSON),  # a briefing page: [{"rule", "name", "stories": [[delivery ids]]}], fixed when it was made
    sa.UniqueConstraint("item_id", "destination", name="uq_deliveries_item_destination"),
    sa.Index("ix_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_deliveries_destination_sent", "destination", "status", "sent_at"),
)


pacing = sa.Table(
    "pacing",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),  # a sink's rate key: one Slack channel, one webhook
    sa.Column("next_at", UTCDateTime, nullable=False),  # the next free slot to book: replicas take turns in booking order
    sa.Column("busy_until", UTCDateTime),  # a send is in flight (until it reports back, or this, if its process died)
    sa.Column("ready_at", UTCDateTime),  # the last send ended (or a Retry-After ends): no send leaves before then
)


briefings = sa.Table(
    "briefings",
    metadata,
    sa.Column("destination", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),  # daily or weekly
    sa.Column("due_at", UTCDateTime, primary_key=True),  # the period's end: one row per destination, kind and period, made once
    sa.Column("created_at", UTCDateTime, nullable=False),
)


feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", Id, sa.ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    sa.Column("item_id", Id),
    sa.Column("destination", sa.String(64), nullable=False),
    sa.Column("rule_ids", sa.JSON, nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),  # the Slack user who clicked
    sa.Column("choice", sa.String(16), nullable=False),  # relevant or not_relevant; a later click by the same user replaces it
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("delivery_id", "user_id", name="uq_feedback_delivery_user"),
    sa.Index("ix_feedback_updated", "updated_at"),
)


# Stories the desk says a rule should have alerted on (the web "Missed story" page, `newswatch missed`).
missed = sa.Table(
    "missed",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("rule_id", sa.String(64), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("item_id", Id),  # the stored item with that link, when there was one
    sa.Column("title", sa.Text, nullable=False, server_default=""),  # as the reporter gave it (or the stored item's)
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("reported_by", sa.String(64), nullable=False, server_default=""),  # "" from the CLI
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("rule_id", "url", name="uq_missed_rule_url"),
    sa.Index("ix_missed_created", "created_at"),
)


mutes = sa.Table(
    "mutes",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "rule", "destination" or "feed"
    sa.Column("target", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("until", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False, server_default=""),  # "" from the CLI; "slack:U…" from Slack's buttons
    sa.Column("ended_by", sa.String(64)),  # who ended it before its time ("" from the CLI); None while it runs or expired by itself
    sa.Index("ix_mutes_until", "until"),
)


def normalise_url(url: str) -> str:
    """Pick the async driver for a database URL given without one."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}
    if parsed.drivername in driver:
        parsed = parsed.set(drivername=driver[parsed.drivername])
    return parsed.render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    """A database URL fit for logs: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable database URL)"


class DatabaseError(UserError):
    """The database cannot be used as configured; the message names it (never with its password) and says what to do."""


SUPPORTED = ("sqlite", "postgresql")
_FORMS = "sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DATABASE"


class Database:
    """A database as the service uses it: `begin()` for writes, `connect()` for reads.

    On PostgreSQL both go through one pooled engine. SQLite has one writer at a time, so its
    writes go through a single pooled connection whose transactions take the write lock at
    once (BEGIN IMMEDIATE): concurrent writers queue in the process instead of failing with
    "database is locked", and no transaction fails half-way on a lock upgrade. Its reads
    use other connections, which WAL lets run beside the writer.
    """

    def __init__(self, url: str, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        parsed = _parsed(url)
        self.url = url  # as configured; `safe_url` shows it
        self.dialect = parsed.get_backend_name()
        self.write_failure: tuple[float, str] | None = None  # (monotonic time, why) of the last write refused for want of space or rights
        self.schema: str | None = None  # PostgreSQL: the schema tables are made in (the first of `search_path`)
        partial_indexes(self.dialect)
        if self.dialect != "sqlite":
            schema = parsed.query.get("search_path")
            self.schema = str(schema).split(",")[0].strip().strip('"') if schema else None
            settings = {"search_path": str(schema)} if schema else {}
            parsed = parsed.difference_update_query(["search_path"])
            engine = create_async_engine(
                parsed,
                pool_pre_ping=True,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_timeout=POOL_TIMEOUT,
                connect_args={"server_settings": settings},
            )
            self.writer = self.reader = engine
            sa.event.listen(engine.sync_engine, "handle_error", self._note_failure)
            return
        if parsed.database and parsed.database != ":memory:":
            _folder_for(Path(parsed.database))
        self.writer = create_async_engine(parsed, pool_size=1, max_overflow=0, pool_timeout=POOL_TIMEOUT, connect_args={"timeout": 30})
        sa.event.listen(self.writer.sync_engine, "connect", _sqlite_connect)
        sa.event.listen(self.writer.sync_engine, "begin", _sqlite_begin)
        self.reader = create_async_engine(parsed, pool_size=5, max_overflow=5, pool_timeout=POOL_TIMEOUT, connect_args={"timeout": 30})
        sa.event.listen(self.reader.sync_engine, "connect", _sqlite_connect)
        sa.event.listen(self.writer.sync_engine, "handle_error", self._note_failure)

    def _note_failure(self, context: Any) -> None:
        """Remember a write the database refused for want of space or rights (disk full, read-only, I/O error)."""
        why = storage_failure(context.original_exception)
        if why is not None:
            self.write_failure = (time.monotonic(), why)

    def unwritable(self, within: float = WRITE_FAILURE_SECONDS) -> str | None:
        """Why the database could not be written within the last `within` seconds, if it could not."""
        failure = self.write_failure
        return failure[1] if failure is not None and time.monotonic() - failure[0] < within else None

    def begin(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A write transaction, committed on success."""
        return self.writer.begin()

    def connect(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection for reading."""
        return self.reader.connect()

    async def dispose(self) -> None:
        """Close every connection."""
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def _parsed(url: str) -> Any:
    """The SQLAlchemy URL of a supported database, with its async driver; DatabaseError for any other."""
    try:
        parsed = make_url(normalise_url(url))
    except Exception:
        raise DatabaseError(f"NEWSWATCH_DATABASE_URL is not a database URL: use {_FORMS}") from None
    if parsed.get_backend_name() not in SUPPORTED:
        raise DatabaseError(
            f"NEWSWATCH_DATABASE_URL names a {parsed.get_backend_name()} database ({safe_url(url)}), which newswatch does not support:"
            f" use {_FORMS}"
        )
    return parsed


def _folder_for(path: Path) -> None:
    """Make the folder of a SQLite file; DatabaseError if it cannot be made."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        where = path.resolve()
        raise DatabaseError(f"cannot make the folder of the SQLite database {where} ({exc.strerror}): set NEWSWATCH_DATABASE_URL") from None


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (relative paths are relative to the current folder), else None."""
    parsed = _parsed(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


@asynccontextmanager
async def opened(url: str, create: bool = False) -> AsyncIterator[Database]:
    """A database for a one-off command: checked and migrated first, closed afterwards.

    Without `create`, a database that does not exist yet is an error that says which one was
    looked for (a command run from another folder must not make an empty one there).
    """
    from service.storage.ready import ready  # the checks, and errors that say what to do

    path = sqlite_file(url)
    if path is not None and not create and not path.exists():
        raise DatabaseError(
            f"no database at {path.resolve()} (NEWSWATCH_DATABASE_URL={safe_url(url)}): run this where the service runs, or set"
            " NEWSWATCH_DATABASE_URL to its database (`newswatch db upgrade` makes a new, empty one)"
        )
    engine = create_engine(url)
    try:
        await ready(engine, create)
        yield engine
    finally:
        await engine.dispose()


def create_engine(url: str, pool_size: int = DEFAULT_POOL_SIZE) -> Database:
    """The Database for a URL; a PostgreSQL URL may carry `?search_path=SCHEMA`."""
    return Database(url, pool_size)


STORAGE_SQLSTATES = {"53100": "disk full", "25006": "read-only", "58030": "I/O error", "53000": "insufficient resources"}
STORAGE_SQLITE = {"SQLITE_FULL": "disk full", "SQLITE_READONLY": "read-only", "SQLITE_IOERR": "I/O error", "SQLITE_CANTOPEN": "cannot open"}


def storage_failure(error: BaseException | None) -> str | None:
    """ "disk full", "read-only" or "I/O error" when `error` says the database cannot store what it is given, else None."""
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if state in STORAGE_SQLSTATES:
        return STORAGE_SQLSTATES[str(state)]
    name = str(getattr(error, "sqlite_errorname", ""))
    return next((why for prefix, why in STORAGE_SQLITE.items() if name.startswith(prefix)), None)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """WAL for concurrent readers; SQLAlchemy, not the driver, starts transactions."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    for attempt in range(100):  # switching to WAL takes an exclusive lock that the busy handler does not wait for
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except Exception as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.05)
    for pragma in ("synchronous=NORMAL", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Take the write lock at the start of every transaction, so that none fails half-way."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


async def upgrade(engine: Database) -> None:
    """Apply pending migrations; safe when several replicas start at once.

    A database already at HEAD is left alone without loading Alembic and its migration
    scripts (a third of a second at every start of the command line). An empty one gets the
    declared schema at once, stamped HEAD, instead of every migration in turn (a test checks
    that both make the same schema).
    """
    if await current_revision(engine) == HEAD:
        return
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        await conn.run_sync(_create_or_upgrade)


_VERSION = sa.Table(  # Alembic's own table, as Alembic makes it
    "alembic_version",
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def _create_or_upgrade(connection: Connection) -> None:
    """Under the migration lock: nothing if another process got there first; the schema if empty; else Alembic."""
    tables = set(sa.inspect(connection).get_table_names())
    if _VERSION.name in tables and connection.execute(sa.select(_VERSION.c.version_num)).scalar() == HEAD:
        return
    if tables & set(metadata.tables) or _VERSION.name in tables:
        _upgrade(connection)
        return
    metadata.create_all(connection, checkfirst=False)
    _VERSION.create(connection, checkfirst=False)
    connection.execute(_VERSION.insert().values(version_num=HEAD))


def _upgrade(connection: Connection) -> None:
    """Run Alembic on an open connection."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def current_revision(engine: Database) -> str | None:
    """The schema revision the database is at, or None before the first migration."""
    async with engine.connect() as conn:
        exists = await conn.run_sync(lambda c: sa.inspect(c).has_table("alembic_version"))
        if not exists:
            return None
        return (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar()
