"""Upgrading to stories (0006): an archive of several outlets is grouped, and nothing delivered is owed again.

The database is the 0001 release's (tests/release_0001.py) brought to 0003, the
schema before stories, where other outlets then stored copies of NDO articles
the release had delivered (with their topic matches), as a 0003 crawl of
several sites would have.

And the migration after it, 0007 (revoked admin sessions), on a database that
0006 made from that release.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from importlib import resources

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Integer,
    MetaData,
    String,
    Text,
    column,
    func,
    insert,
    inspect,
    select,
    table,
    text,
)

import crawler.store
from crawler.errors import DatabaseTooNewError
from crawler.store import Database, _alembic_config, _create_engine, schema_head
from crawler.store.models import ArticleFingerprint, ArticleRow, RevokedSession, Story, UTCDateTime
from crawler.store.revocations import PRUNE_AFTER, revoke_session, session_revoked
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
                driver = connection.connection.driver_connection
                assert driver is not None
                driver.execute("PRAGMA foreign_keys=OFF")
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


# -- 0006 -> 0007: revoked admin sessions -------------------------------------------------------


def every_row(url: str) -> dict[str, list[dict]]:
    """Each table's rows as the database holds them (reflected, so whatever schema it is at)."""
    engine = _create_engine(url)
    try:
        with engine.connect() as connection:
            metadata = MetaData()
            metadata.reflect(connection)
            return {
                name: sorted((dict(row._mapping) for row in connection.execute(select(table_))), key=repr)
                for name, table_ in metadata.tables.items()
                if name != "alembic_version"
            }
    finally:
        engine.dispose()


@pytest.fixture
def release_0006(database_url):
    release = release_0001.build(database_url)
    upgrade_to(database_url, "0006")
    return release


def test_0007_and_0008_add_their_tables_to_a_0006_database_and_change_nothing_else(database_url, release_0006):
    before = every_row(database_url)
    assert "revoked_sessions" not in before and "story_epoch" not in before and before["articles"]
    database = Database(database_url)
    try:
        assert schema_head() == "0008"
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0008"
        schema = inspect(database.engine)
        assert {c["name"] for c in schema.get_columns("revoked_sessions")} == {"sid", "expires_at", "revoked_at"}
        assert schema.get_pk_constraint("revoked_sessions")["constrained_columns"] == ["sid"]
        assert {i["name"] for i in schema.get_indexes("revoked_sessions")} == {"ix_revoked_sessions_expires_at"}
        after = every_row(database_url)
        assert after.pop("revoked_sessions") == []
        # One row, whose token no process has cached yet.
        assert after.pop("story_epoch") == [{"id": 1, "token": 0}]
        assert after == before
        # The new table works at once: a revocation is found, twice is once, an expired one is pruned.
        with database.session() as session:
            revoke_session(session, "old", expires_at=NOW, now=NOW - timedelta(hours=1))
            revoke_session(session, "new", expires_at=NOW + timedelta(hours=12), now=NOW)
            revoke_session(session, "new", expires_at=NOW + timedelta(hours=12), now=NOW)
        with database.session() as session:
            assert session_revoked(session, "old") and session_revoked(session, "new")
            revoke_session(session, "later", expires_at=NOW + timedelta(hours=24), now=NOW + PRUNE_AFTER * 1.5)
        with database.session() as session:
            assert set(session.scalars(select(RevokedSession.sid))) == {"new", "later"}
            assert not session_revoked(session, "old")
    finally:
        database.dispose()


def test_a_database_at_head_is_refused_by_the_bantin_of_0006(database_url, release_0006, tmp_path, monkeypatch):
    Database(database_url).dispose()
    # The release of 0006: these migrations without the later ones.
    previous = tmp_path / "migrations"
    shutil.copytree(str(resources.files("crawler.store") / "migrations"), previous)
    for later in (previous / "versions").glob("000[7-9]_*.py"):
        later.unlink()
    shipped = crawler.store._alembic_config

    def previous_release(connection):
        config = shipped(connection)
        config.set_main_option("script_location", str(previous))
        return config

    monkeypatch.setattr(crawler.store, "_alembic_config", previous_release)
    assert schema_head() == "0006"
    with pytest.raises(DatabaseTooNewError, match="at schema 0008, newer than this bantin knows"):
        Database(database_url)
