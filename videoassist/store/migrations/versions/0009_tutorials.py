"""Tutorials: the tutorials with their draft, their published versions, their rendered files,
the customers they served (deflections), and on SQLite the full-text index (FTS5).

The search index is derived data (rebuilt from the tutorials at any time); it is created here
on SQLite only: another database brings its own full-text search (docs/tutorials.md).

Revision ID: 0009
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tutorials",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("recording_id", sa.String(32), nullable=False, index=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("draft", sa.JSON),
        sa.Column("draft_at", sa.Float),
        sa.Column("published_version", sa.Integer),
        sa.Column("topic", sa.String(64), index=True),
        sa.Column("public_token", sa.String(64), unique=True),
    )
    op.create_table(
        "tutorial_versions",
        sa.Column("tutorial_id", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("edit", sa.JSON, nullable=False),
        sa.Column("published_at", sa.Float, nullable=False),
        sa.Column("published_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "tutorial_renders",
        sa.Column("tutorial_id", sa.String(32), primary_key=True),
        sa.Column("version", sa.String(16), primary_key=True),
        sa.Column("format", sa.String(8), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("rendered_at", sa.Float, nullable=False),
    )
    op.create_table(
        "tutorial_deflections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False, index=True),
        sa.Column("ticket_id", sa.String(64), nullable=False, unique=True),
        sa.Column("queue_id", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("tutorials", sa.JSON, nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in FTS5:
            op.execute(statement)


FTS5 = (
    # One row per (tutorial, state): the ranked document.
    "CREATE VIRTUAL TABLE tutorial_search USING fts5("
    "tutorial_id UNINDEXED, state UNINDEXED, topic UNINDEXED, "
    "title, chapters, tags, description, body, tokenize = 'unicode61 remove_diacritics 2')",
    # One row per moment to jump to: a chapter title, a chat line, an annotation label.
    "CREATE VIRTUAL TABLE tutorial_moments USING fts5("
    "tutorial_id UNINDEXED, state UNINDEXED, at UNINDEXED, chapter UNINDEXED, kind UNINDEXED, "
    "text, tokenize = 'unicode61 remove_diacritics 2')",
)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS tutorial_moments")
        op.execute("DROP TABLE IF EXISTS tutorial_search")
    op.drop_table("tutorial_deflections")
    op.drop_table("tutorial_renders")
    op.drop_table("tutorial_versions")
    op.drop_table("tutorials")
