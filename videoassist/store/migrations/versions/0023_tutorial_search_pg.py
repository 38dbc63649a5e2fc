"""PostgreSQL's full-text index for tutorials (videoassist/store/tutorials.py ``PgSearch``):
one row per (tutorial, state) with a weighted ``tsvector``, and one per moment to jump to, each
with a GIN index. On SQLite nothing: FTS5 has its own tables (0009).

Revision ID: 0023
Revises: 0022
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

TABLES = (
    "CREATE TABLE tutorial_search_pg ("
    " tutorial_id VARCHAR(32) NOT NULL, state VARCHAR(16) NOT NULL, topic VARCHAR(64) NOT NULL,"
    " title TEXT NOT NULL, text TEXT NOT NULL, document TSVECTOR NOT NULL,"
    " PRIMARY KEY (tutorial_id, state))",
    "CREATE INDEX tutorial_search_pg_document ON tutorial_search_pg USING GIN (document)",
    "CREATE TABLE tutorial_moments_pg ("
    " id SERIAL PRIMARY KEY, tutorial_id VARCHAR(32) NOT NULL, state VARCHAR(16) NOT NULL,"
    " at DOUBLE PRECISION NOT NULL, chapter INTEGER, kind VARCHAR(16) NOT NULL,"
    " text TEXT NOT NULL, document TSVECTOR NOT NULL)",
    "CREATE INDEX tutorial_moments_pg_document ON tutorial_moments_pg USING GIN (document)",
    "CREATE INDEX tutorial_moments_pg_owner ON tutorial_moments_pg (tutorial_id, state)",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in TABLES:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TABLE tutorial_moments_pg")
    op.execute("DROP TABLE tutorial_search_pg")
