"""Storage: the schema and its migrations (db), feeds (feeds), items with their matches and deliveries
(items), many polls written at once (polls, writer), the outbox's queue primitives (outbox), the
shared send pace (pacing), silences (the one Muter), and operations notices."""

from service.storage import asyncsa

asyncsa.install()  # before any module here imports SQLAlchemy's asyncio engine: it comes without the ORM
