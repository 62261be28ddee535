"""The tables: the source of truth for Alembic's autogenerate and for a new database's `create_all`.

Migrations under `service/storage/migrations/versions` must produce exactly this schema (a test checks it).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa


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
