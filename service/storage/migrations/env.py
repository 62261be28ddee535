"""Alembic environment: migrations run on the connection that `service.storage.db.upgrade` passes in."""

from __future__ import annotations

from alembic import context

from service.storage.schema import metadata, partial_indexes

connection = context.config.attributes["connection"]
partial_indexes(connection.dialect.name)
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
