"""Tickets keep their device binding and when they entered their current queue, so a restart
keeps one open ticket per device and counts the wait limit from the right moment.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("device_id", sa.String(64)))
        batch.add_column(sa.Column("line_since", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("line_since")
        batch.drop_column("device_id")
