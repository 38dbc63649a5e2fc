"""A live call's wait for a party that is under way is kept with its session, so that a
restart in the middle of it carries the same wait on (one interruption, timed from its start)
instead of counting a second one and losing the first one's time (issue 15).

Revision ID: 0029
Revises: 0028
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("away_since", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("away_since")
