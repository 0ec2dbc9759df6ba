"""story epoch: one row that every writer of fingerprints or story ids changes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

A crawl places hundreds of batches of articles whose publication windows
overlap, and reading the fingerprints near each batch again was a fifth of the
cost of storing an article. A process now keeps the fingerprints it has read
between transactions, and trusts them only while this row still holds the token
it wrote itself (crawler/store/stories.py): any other writer sets a fresh one.
No existing row changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    epoch = op.create_table(
        "story_epoch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_story_epoch"),
    )
    op.bulk_insert(epoch, [{"id": 1, "token": 0}])


def downgrade() -> None:
    op.drop_table("story_epoch")
