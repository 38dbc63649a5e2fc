"""The operator's branding (name, accent colour, logo) shown on the customer page, and the
order an admin gives the topics on that page.

Revision ID: 0016
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("topics") as batch:
        batch.add_column(sa.Column("position", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "branding",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, server_default=""),
        sa.Column("accent", sa.String(7)),
        sa.Column("logo", sa.LargeBinary),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("branding")
    with op.batch_alter_table("topics") as batch:
        batch.drop_column("position")
