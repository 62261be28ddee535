"""pacing: the send in flight and when the next may leave; feeds: when a failing feed was reported

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05

A feed already reported failing (a "failing since" notice queued during its current run of
failures) is marked, so that a feed is reported once per run of failures whatever the
threshold was then: the notice text names the feed id, and its row was made after the run
began.
"""

import sqlalchemy as sa
from alembic import op

from service.storage.schema import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pacing") as table:
        table.add_column(sa.Column("busy_until", UTCDateTime(), nullable=True))
        table.add_column(sa.Column("ready_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("feeds") as table:
        table.add_column(sa.Column("failing_reported_at", UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE feeds SET failing_reported_at = failing_since WHERE failing_since IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM deliveries d WHERE d.item_id IS NULL AND d.created_at >= feeds.failing_since"
        " AND d.notice LIKE '%(' || feeds.id || ') failing since%')"
    )


def downgrade() -> None:
    with op.batch_alter_table("feeds") as table:
        table.drop_column("failing_reported_at")
    with op.batch_alter_table("pacing") as table:
        table.drop_column("ready_at")
        table.drop_column("busy_until")
