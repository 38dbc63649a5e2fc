"""Webhook signing secrets are stored sealed under SECRET_KEY (videoassist/sealing.py): the
sealed form is longer than the secret. The sealing itself happens at start-up
(``Webhooks.start``), where the key is.

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.alter_column("secret", type_=sa.String(255), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.alter_column("secret", type_=sa.String(128), existing_nullable=False)
