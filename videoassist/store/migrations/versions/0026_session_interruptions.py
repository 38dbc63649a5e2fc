"""How often a call waited for a party (or the server) to come back, and for how long: the
session record shows its interruptions (issue 15, calls that survive a restart).

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("interruptions", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("interrupted_seconds", sa.Float, nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("interrupted_seconds")
        batch.drop_column("interruptions")
