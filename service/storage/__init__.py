"""Storage: the schema and its migrations (db), feeds and items (store), the outbox's queue primitives
(outbox), the shared send pace (pacing), silences (the one Muter), and operations notices."""
