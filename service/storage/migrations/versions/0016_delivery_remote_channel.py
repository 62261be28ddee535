"""the channel a sent delivery went to, as the remote names it (Slack's channel id), for links to the message;
indexes for the web pages: items by time with their feed (counts per feed from the index alone), and the
few items with a story fingerprint by time (story threads), a partial index

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0013"
branch_labels = None
depends_on = None


SIGNED = sa.text("signature IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remote_channel", sa.Text(), nullable=True))
    op.create_index("ix_items_seen_feed", "items", ["first_seen_at", "feed_id"], unique=False)
    op.drop_index("ix_items_first_seen", table_name="items")  # the new index starts with its column
    op.create_index("ix_items_signed", "items", ["first_seen_at"], unique=False, sqlite_where=SIGNED, postgresql_where=SIGNED)


def downgrade() -> None:
    op.drop_index("ix_items_signed", table_name="items")
    op.create_index("ix_items_first_seen", "items", ["first_seen_at"], unique=False)
    op.drop_index("ix_items_seen_feed", table_name="items")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("remote_channel")
