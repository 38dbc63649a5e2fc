"""The leader fence: the newest leader's epoch, checked by every write a leader makes, and
the last inbox entry whose effects were written (in the same transaction).

Revision ID: 0013
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leader_fence",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("applied", sa.String(32)),  # the last inbox entry whose effects are written
    )


def downgrade() -> None:
    op.drop_table("leader_fence")
