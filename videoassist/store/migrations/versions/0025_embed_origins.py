"""The sites admins allow to embed the help button (videoassist/embedding.py), beside
``ALLOWED_ORIGINS``.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "embed_origins",
        sa.Column("origin", sa.String(200), primary_key=True),
        sa.Column("added_at", sa.Float, nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("embed_origins")
