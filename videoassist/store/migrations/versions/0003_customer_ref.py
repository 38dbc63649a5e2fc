"""Tickets remember the verified customer identity from the embedding app.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("customer_ref", sa.String(128)))
        batch.create_index("ix_tickets_customer_ref", ["customer_ref"])


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_customer_ref")
        batch.drop_column("customer_ref")
