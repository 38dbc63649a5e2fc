"""Staff accounts an admin can disable; the agent's notes taken during a call (saved as they
type, apart from the wrap-up note) and the guide steps they ticked; the per-topic guides
(checklists) an admin writes.

Revision ID: 0011
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_table(
        "session_notes",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("note", sa.String(2000), nullable=False, server_default=""),
        sa.Column("ticks", sa.JSON, nullable=False, server_default="[]"),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "topic_guides",
        sa.Column("topic", sa.String(64), primary_key=True),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("topic_guides")
    op.drop_table("session_notes")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled")
