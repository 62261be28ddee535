"""Storage: the schema and its migrations (db), feeds (feeds), items with their matches and deliveries
(items), the outbox's queue primitives (outbox), the shared send pace (pacing), silences (the one
Muter), and operations notices."""
