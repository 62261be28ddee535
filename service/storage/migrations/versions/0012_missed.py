"""missed: stories the desk says a rule should have alerted on, for recall and `rules suggest`

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

from service.storage.schema import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "missed",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("title", sa.Text(), server_default="", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("reported_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule_id", "url", name="uq_missed_rule_url"),
    )
    with op.batch_alter_table("missed", schema=None) as batch_op:
        batch_op.create_index("ix_missed_created", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("missed", schema=None) as batch_op:
        batch_op.drop_index("ix_missed_created")
    op.drop_table("missed")
