"""revoked admin sessions: logging out ends a session in every web process

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

One new table; nothing existing changes. The admin session cookie is signed
and carries no state, so a copy of it stayed valid after logout until it
expired: each web process now refuses a session id listed here. A row lives
until the cookie it names would have expired anyway.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crawler.store.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_sessions",
        sa.Column("sid", sa.String(64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_revoked_sessions")),
    )
    op.create_index(op.f("ix_revoked_sessions_expires_at"), "revoked_sessions", ["expires_at"])


def downgrade() -> None:
    raise NotImplementedError("bantin does not downgrade: restore the backup taken before upgrading")
