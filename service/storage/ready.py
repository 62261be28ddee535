"""Is the database usable? Checked before use, with errors that name it (without its password) and say what to do.

The one boundary where the drivers' connection errors (OSError, asyncpg's and sqlite3's) become
`DatabaseError`: the command line prints its message as one line, a service exits with it.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from service.storage.db import Database, DatabaseError, current_revision, safe_url, upgrade

# PostgreSQL's SQLSTATE codes for what a person must fix before the service can start
_NO_DATABASE, _NO_SCHEMA = "3D000", "3F000"
_LOGIN_REFUSED = ("28P01", "28000")


async def ready(engine: Database, create: bool = True) -> None:
    """Check that the database can be used and migrate it; raise DatabaseError if it cannot, saying what to do.

    Without `create`, a database without newswatch's tables is an error rather than made here.
    """
    try:
        await _schema_exists(engine)
        if not create and await current_revision(engine) is None:
            raise DatabaseError(
                f"the database {safe_url(engine.url)} has no newswatch tables yet: start the service once (newswatch run)"
                " or run `newswatch db upgrade`, or set NEWSWATCH_DATABASE_URL to the service's database"
            )
        await upgrade(engine)
    except DatabaseError:
        raise
    except (OSError, sa.exc.DBAPIError) as exc:
        raise DatabaseError(explain(exc, engine)) from None


async def _schema_exists(engine: Database) -> None:
    """PostgreSQL with `?search_path=SCHEMA`: the schema must exist (newswatch makes tables, not schemas)."""
    if engine.schema is None:
        return
    async with engine.connect() as conn:
        found = await conn.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": engine.schema})
        if found.first() is None:
            raise DatabaseError(_no_schema(engine))


def _no_schema(engine: Database) -> str:
    """What to do when the schema of `search_path` is missing."""
    return (
        f"the PostgreSQL schema '{engine.schema}' does not exist yet in {safe_url(engine.url)}:"
        f' create it once (CREATE SCHEMA "{engine.schema}"; in psql, as a user allowed to), then start again'
    )


def explain(exc: BaseException, engine: Database) -> str:
    """One line for a failure to reach or open the database: what failed, which database, what to do."""
    shown, state, detail = safe_url(engine.url), _sqlstate(exc), _detail(exc, engine)
    if state == _NO_DATABASE:
        return f"PostgreSQL has no such database ({detail}) at {shown}: create it (createdb) or correct NEWSWATCH_DATABASE_URL"
    if state in _LOGIN_REFUSED:
        return f"PostgreSQL refused the login at {shown} ({detail}): check the user and password in NEWSWATCH_DATABASE_URL"
    if state == _NO_SCHEMA:
        return _no_schema(engine)
    if engine.dialect == "sqlite":
        where = Path(engine.writer.url.database or "").resolve()
        return f"cannot open the SQLite database {where} ({detail}): check that its folder exists and is writable"
    if _caused_by(exc, OSError):
        return (
            f"cannot reach the database at {shown} ({detail}): check that PostgreSQL is running"
            " and that the host and port in NEWSWATCH_DATABASE_URL are right"
        )
    return f"the database at {shown} failed: {detail}"


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes, outermost first."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _sqlstate(exc: BaseException) -> str | None:
    """PostgreSQL's SQLSTATE of the failure, if the driver reported one."""
    states = (getattr(e, "sqlstate", None) for e in _chain(exc))
    return next((str(state) for state in states if state), None)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """True if `exc` or one of its causes is a `kind`."""
    return any(isinstance(e, kind) for e in _chain(exc))


def _detail(exc: BaseException, engine: Database) -> str:
    """The innermost message, on one line, without the password."""
    inner = _chain(exc)[-1]
    text = " ".join(str(inner).split()) or type(inner).__name__
    password = engine.writer.url.password
    return text.replace(str(password), "***") if password else text
