"""Engine set-up, connections and migrations, for SQLite (embedded) and PostgreSQL; the tables are in `service.storage.schema`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine  # without the ORM: service.storage.asyncsa

from service.errors import UserError
from service.settings import Settings
from service.storage.schema import metadata, partial_indexes

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0017"  # the newest migration's revision (a test checks it against Alembic's head)
DEFAULT_POOL_SIZE: int = Settings.model_fields["db_pool_size"].default  # PostgreSQL connections a process keeps
POOL_TIMEOUT = 600  # seconds a transaction waits for a free connection: a busy pool slows work down, it does not fail it
WRITE_FAILURE_SECONDS = 300  # /readyz says "not writable" this long after a write refused for want of space or rights
_MIGRATION_LOCK = 0x6E657773  # "news": the PostgreSQL advisory lock taken while migrating


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
