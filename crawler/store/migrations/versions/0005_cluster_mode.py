"""cluster mode: procrastinate's job queue schema (PostgreSQL), outbox claims, crawl runs name their job

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-16

PostgreSQL: procrastinate's own schema (``procrastinate/sql/schema.sql`` of the
pinned release) is created here, in the same transaction as the rest of the
upgrade, so a cluster never runs ``procrastinate schema --apply`` by hand and a
database is never half-way. A database that already has it (applied by hand
before this release) is left as it is. SQLite gets no job queue: cluster mode
refuses SQLite.

Both dialects: ``outbox.claimed_by`` / ``claim_expires_at`` (a sender's claim on a
row, renewed while it sends: recovery trusts only an expired claim) and
``crawl_runs.job_id`` / ``worker`` (which queued job and which worker ran a
crawl). Every new column is nullable or has a default, so existing rows keep
their meaning: a row with no claim is recovered as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crawler.store.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _create_job_queue(bind)
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(255), nullable=True))
        batch.add_column(sa.Column("claim_expires_at", UTCDateTime(), nullable=True))
        batch.create_index("ix_outbox_claim_expires_at", ["claim_expires_at"], unique=False)
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("job_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("worker", sa.String(255), nullable=False, server_default=""))


def _create_job_queue(bind) -> None:
    exists = bind.exec_driver_sql("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").scalar()
    if exists:
        return
    from procrastinate.schema import SchemaManager

    # Many statements (functions, types, triggers) in one string: psycopg runs them with the simple
    # query protocol only when no parameters are given, hence the driver connection, in the open transaction.
    bind.connection.driver_connection.execute(SchemaManager.get_schema())


def downgrade() -> None:
    raise NotImplementedError("bantin does not downgrade: restore the backup taken before upgrading")
