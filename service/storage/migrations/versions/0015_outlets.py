"""outlets: an aggregator item's outlet (its RSS <source>), and the aggregator link its link was resolved from

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outlet", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("outlet_url", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("via", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("via")
        batch_op.drop_column("outlet_url")
        batch_op.drop_column("outlet")
