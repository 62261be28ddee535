"""story fingerprints on items; how each delivery went out (alert, reply, digest) and its thread

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
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mode", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("parent_id", Id, nullable=True))
        batch_op.add_column(sa.Column("thread_ts", sa.Text(), nullable=True))
        batch_op.create_index("ix_deliveries_destination_sent", ["destination", "status", "sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_destination_sent")
        batch_op.drop_column("thread_ts")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("mode")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("signature")
