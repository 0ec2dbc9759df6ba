"""readers' own choices (topics, pause, unsubscribe) and their audit trail

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Two new tables; nothing existing changes. A database without rows in them
behaves exactly as before: every reader gets what the file says.

On PostgreSQL also the index of the archive's newest-first order (published
desc, undated last, then id desc): the plain published_at index cannot serve
NULLS LAST descending, so every archive page sorted the whole table. SQLite
serves that order from its published_at index already.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crawler.store.index import NEWEST_FIRST_INDEX
from crawler.store.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reader_preferences",
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("unsubscribed_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("recipient", name=op.f("pk_reader_preferences")),
    )
    op.create_table(
        "reader_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reader_events")),
    )
    op.create_index(op.f("ix_reader_events_recipient"), "reader_events", ["recipient"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {NEWEST_FIRST_INDEX} ON articles (published_at DESC NULLS LAST, id DESC)")


def downgrade() -> None:
    raise NotImplementedError("bantin does not downgrade: restore the backup taken before upgrading")
