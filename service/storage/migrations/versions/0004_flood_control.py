"""story fingerprints on items; how each delivery went out (alert, reply, digest) and its thread;
one send pace per Slack channel shared by every replica; operations notices (a delivery without an item)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("item_id", existing_type=Id, nullable=True)
        batch_op.add_column(sa.Column("notice", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("mode", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("parent_id", Id, nullable=True))
        batch_op.add_column(sa.Column("thread_ts", sa.Text(), nullable=True))
        batch_op.create_index("ix_deliveries_destination_sent", ["destination", "status", "sent_at"], unique=False)
    op.create_table(
        "pacing",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("pacing")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_destination_sent")
        batch_op.drop_column("thread_ts")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("mode")
        batch_op.drop_column("notice")
        batch_op.alter_column("item_id", existing_type=Id, nullable=False)
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("failing_since")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("signature")
