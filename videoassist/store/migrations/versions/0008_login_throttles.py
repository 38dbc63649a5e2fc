"""The login throttle's state (issue 10): failures and waits per address, per account and per
account and address, so that a restart does not hand an attacker fresh keys.

Revision ID: 0008
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
# Main already carries 0013 (leader fence) on top of 0007; chained after it so there is one head.
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure", sa.Float, nullable=False, index=True),
        sa.Column("blocked_until", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("login_throttles")
