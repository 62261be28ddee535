"""whole-article text on items (with how it was obtained); each feed's article-page failures and back-off

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("article", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("article_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("article_detail", sa.Text(), nullable=True))
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("article_failures", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("article_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("article_retry_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("article_retry_at")
        batch_op.drop_column("article_error")
        batch_op.drop_column("article_failures")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("article_detail")
        batch_op.drop_column("article_status")
        batch_op.drop_column("article")
