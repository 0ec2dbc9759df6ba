"""the archive's full-text index (crawler/store/index.py), back-filled from the stored articles

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09

SQLite: a contentless FTS5 table; PostgreSQL: a tsvector table with a GIN index.
Existing articles are indexed in batches (progress on stderr when it is a
terminal). From here on the index is written in the transaction that writes an
article.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from crawler.store.index import build_index, create_index

    connection = op.get_bind()
    create_index(connection)
    build_index(connection)


def downgrade() -> None:
    raise NotImplementedError("bantin does not downgrade: restore the backup taken before upgrading")
