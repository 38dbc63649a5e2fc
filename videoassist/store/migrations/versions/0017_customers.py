"""Customers known by the signed reference of the embedding app's identity: the name and email
its claims give, and when they first and last asked for help.

Revision ID: 0017
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("ref", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(80)),
        sa.Column("email", sa.String(254)),
        sa.Column("first_contact", sa.Float, nullable=False),
        sa.Column("last_contact", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("customers")
