"""Conversation analytics per recording: talk, overlap and the longest silence from the two
parties' recorded voices (videoassist/media/conversation.py), as JSON.

Revision ID: 0022
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("conversation", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("conversation")
