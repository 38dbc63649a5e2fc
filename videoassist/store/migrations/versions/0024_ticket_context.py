"""The context an embedding app gives a help request (the SDK's ``setContext``: order id,
device model, a few small key/values), kept with its ticket and shown to the agent.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_context",
        sa.Column("ticket_id", sa.String(64), primary_key=True),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ticket_context")
