"""stories: one story id per article (the same text on several outlets), and each article's fingerprint

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Every stored article is fingerprinted and placed in a story, oldest first, by
the same code that places a newly crawled one (crawler/store/stories.py), so
an archive that already holds copies of a wire story on two outlets has them
as one story from the first digest after the upgrade. Nothing else changes:
deliveries, outbox rows and their frozen items keep their article keys, so
nothing already delivered is owed again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crawler.store.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    from crawler.store.stories import group_archive

    op.create_table(
        "stories",
        sa.Column("id", _KEY, primary_key=True, autoincrement=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stories"),
    )
    op.create_table(
        "article_fingerprints",
        sa.Column("article_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("shingles", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], ondelete="CASCADE", name="fk_article_fingerprints_article_id_articles"
        ),
        sa.PrimaryKeyConstraint("article_id", name="pk_article_fingerprints"),
    )
    # Nullable while the archive is grouped; every article has a story afterwards.
    op.add_column("articles", sa.Column("story_id", sa.BigInteger(), nullable=True))
    group_archive(op.get_bind())
    with op.batch_alter_table("articles") as batch:
        batch.alter_column("story_id", existing_type=sa.BigInteger(), nullable=False)
        batch.create_foreign_key("fk_articles_story_id_stories", "stories", ["story_id"], ["id"])
        batch.create_index("ix_articles_story_id", ["story_id"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("bantin does not downgrade: restore the backup taken before upgrading")
