"""A call that outlives its process (CALL_RESUME_WINDOW) is recorded in parts: the part cut
off by the crash or the drain, then one per process that carries the call on (issue 15).

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("part", sa.Integer, nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("part")
