"""Routing engine: queues, topics, agent profiles, agent state history, ticket routing fields.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("queue_id", sa.String(64), nullable=False, server_default="general")
        )
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("callback", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.create_index("ix_tickets_status", ["status"])
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("call_id", sa.String(64), nullable=False, server_default=""))
    op.create_table(
        "queues",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.Column("config", sa.JSON, nullable=False),
    )
    op.create_table(
        "topics",
        sa.Column("topic", sa.String(64), primary_key=True),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("queue_id", sa.String(64), sa.ForeignKey("queues.id"), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "agent_profiles",
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("skills", sa.JSON, nullable=False),
        sa.Column("queues", sa.JSON, nullable=False),
    )
    op.create_table(
        "agent_status",
        sa.Column("agent_id", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32)),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_table(
        "agent_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.String(64), nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32)),
        sa.Column("at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agent_events")
    op.drop_table("agent_status")
    op.drop_table("agent_profiles")
    op.drop_table("topics")
    op.drop_table("queues")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("call_id")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_status")
        batch.drop_column("callback")
        batch.drop_column("priority")
        batch.drop_column("queue_id")
