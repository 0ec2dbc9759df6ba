"""Upgrading to stories (0006): an archive of several outlets is grouped, and nothing delivered is owed again.

The database is the 0001 release's (tests/release_0001.py) brought to 0003, the
schema before stories, where other outlets then stored copies of NDO articles
the release had delivered (with their topic matches), as a 0003 crawl of
several sites would have.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import JSON, BigInteger, Integer, String, Text, column, func, insert, select, table, text

from crawler.store import Database, _alembic_config, _create_engine, schema_head
from crawler.store.models import ArticleFingerprint, ArticleRow, Story, UTCDateTime
from reports.digest import build_digest
from tests import release_0001
from tests.test_upgrade import NOW, digest_config, stored

ARTICLES_0003 = table(
    "articles",
    column("id", BigInteger),
    column("site", String),
    column("external_id", String),
    column("url", String),
    column("title", Text),
    column("sapo", Text),
    column("body", Text),
    column("author", String),
    column("category", JSON),
    column("tags", JSON),
    column("images", JSON),
    column("published_at", UTCDateTime()),
    column("modified_at", UTCDateTime()),
    column("first_seen_at", UTCDateTime()),
    column("fetched_at", UTCDateTime()),
    column("changed_at", UTCDateTime()),
    column("version", Integer),
    column("content_hash", String),
    column("extractor", String),
)
MATCHES_0003 = table(
    "matches",
    column("id", Integer),
    column("article_id", BigInteger),
    column("topic", String),
    column("topic_version", String),
    column("article_version", Integer),
    column("hits", JSON),
    column("matched_at", UTCDateTime()),
)


def upgrade_to(url: str, revision: str) -> None:
    """Migrate to one revision, as crawler.store.upgrade() migrates to the head."""
    from alembic import command

    engine = _create_engine(url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            with connection.begin():
                command.upgrade(_alembic_config(connection), revision)
    finally:
        engine.dispose()


def copy_of(row: dict, site: str, external_id: str, *, hours: int, edit: str) -> dict:
    """Another outlet's copy of a stored article: its own identity and URL, a dateline, a line added."""
    published = row["published_at"] + timedelta(hours=hours)
    return dict(
        site=site,
        external_id=external_id,
        url=f"https://{site}.example/{external_id}.html",
        title=row["title"],
        sapo=f"{edit} - {row['sapo']}",
        body=row["body"] + "\n\nTheo TTXVN",
        author="",
        category=row["category"],
        tags=[],
        images=[],
        published_at=published,
        modified_at=None,
        first_seen_at=published,
        fetched_at=published,
        changed_at=published,
        version=1,
        content_hash="c" * 64,
        extractor="site",
    )


@pytest.fixture
def outlets_0003(database_url):
    """The release's database at 0003, with copies of two delivered NDO articles on two other outlets."""
    release = release_0001.build(database_url)
    upgrade_to(database_url, "0003")
    delivered = sorted(
        {row["article_id"] for row in release.rows["deliveries"] if row["recipient"] == release_0001.SENT_TO}
        - {release.edited_after_delivery}
    )
    first, second = delivered[0], delivered[-1]
    articles = {row["article_id"]: row for row in release.rows["articles"]}
    copies = {
        "vnp-a": (first, copy_of(articles[first], "vietnamplus", "1128001", hours=1, edit="(Vietnam+)")),
        "tpo-a": (first, copy_of(articles[first], "tienphong", "985001", hours=2, edit="TP")),
        "vnp-b": (second, copy_of(articles[second], "vietnamplus", "1128002", hours=3, edit="(Vietnam+)")),
    }
    engine = _create_engine(database_url)
    keys = {}
    try:
        with engine.begin() as connection:
            next_match = connection.execute(select(func.max(MATCHES_0003.c.id))).scalar_one() + 1
            for name, (original, values) in copies.items():
                key = connection.execute(
                    insert(ARTICLES_0003).values(**values).returning(ARTICLES_0003.c.id)
                ).scalar_one()
                keys[name] = key
                for match in (row for row in release.rows["matches"] if row["article_id"] == original):
                    connection.execute(
                        insert(MATCHES_0003).values(
                            id=next_match,
                            article_id=key,
                            topic=match["topic"],
                            topic_version=match["topic_version"],
                            article_version=1,
                            hits=match["hits"],
                            matched_at=values["fetched_at"],
                        )
                    )
                    next_match += 1
    finally:
        engine.dispose()
    return release, first, second, keys


def test_an_archive_of_several_outlets_is_grouped_on_upgrade(database_url, outlets_0003):
    release, first, second, copies = outlets_0003
    database = Database(database_url)
    try:
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == schema_head()
        with database.session() as session:
            story = dict(session.execute(select(ArticleRow.id, ArticleRow.story_id)).all())
            assert session.scalar(select(func.count()).select_from(ArticleFingerprint)) == len(story)
            assert session.scalar(select(func.count()).select_from(Story)) == len(set(story.values()))
        assert story[first] == story[copies["vnp-a"]] == story[copies["tpo-a"]]
        assert story[second] == story[copies["vnp-b"]] != story[first]
        # The release's own articles (one outlet) are each their own story.
        assert len({story[key] for key in release.article_ids}) == len(release.article_ids)
        # And every release row is still there as it was (test_upgrade checks each value).
        assert len(stored(database, "deliveries")) == len(release.rows["deliveries"])
        assert [row["items"] for row in stored(database, "outbox")] == [row["items"] for row in release.rows["outbox"]]
    finally:
        database.dispose()


def test_nothing_delivered_comes_back_after_the_upgrade_and_copies_fold_into_their_story(database_url, outlets_0003):
    release, first, second, copies = outlets_0003
    database = Database(database_url)
    config = digest_config(database_url)
    try:
        with database.session() as session:
            owed = {
                recipient.email: build_digest(session, config, recipient, now=NOW) for recipient in config.recipients
            }
    finally:
        database.dispose()
    edited = release.edited_after_delivery
    # The reader who got everything: only the edit, once, as before; not the other outlets' copies.
    assert owed[release_0001.SENT_TO].delivered_versions == [(edited, 2)]
    # The refused digest delivered nothing: every story is owed once, the copies folded into their story.
    failed = owed[release_0001.FAILED_TO]
    matched = sorted({row["article_id"] for row in release.rows["matches"]})
    assert failed.total == len(matched)
    items = {item.article_id: item for group in failed.groups for item in group.items + failed.overflow}
    items.update({item.article_id: item for item in failed.overflow})
    assert [link.outlet for link in items[first].also_on] == ["VietnamPlus", "Tiền Phong"]
    assert sorted(key for key, _ in items[first].delivers) == sorted([first, copies["vnp-a"], copies["tpo-a"]])
    assert sorted(failed.delivered_versions) == sorted(
        [(key, 2 if key == edited else 1) for key in matched] + [(key, 1) for key in copies.values()]
    )
