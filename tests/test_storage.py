"""Storage: migrations, UTC instants, incremental bookkeeping — on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select, text

from crawler.errors import DatabaseTooNewError
from crawler.items import ExtractedArticle as Item
from crawler.items import Image
from crawler.store import Database, table_names
from crawler.store.articles import (
    known_articles,
    needs_fetch,
    record_sources,
    store_article,
)
from crawler.store.models import ArticleRow, ArticleSource, Lease

VN = timezone(timedelta(hours=7))
NOW = datetime(2026, 3, 27, 1, 0, tzinfo=UTC)


def item(article_id=985001, **changes) -> Item:
    article = Item(
        site="nhandan",
        external_id=str(article_id),
        url=f"https://nhandan.vn/bai-viet-post{article_id}.html",
        title="Phát triển công nghiệp hỗ trợ",
        sapo="Sapo.",
        body="Đoạn một.\n\nĐoạn hai.",
        author="VĂN CHÚC",
        published_at=datetime(2026, 3, 27, 8, 15, tzinfo=VN),
        modified_at=None,
        category=["Kinh tế", "Chứng khoán"],
        tags=["Quảng Ninh"],
        images=[Image("https://image.nhandan.vn/a.jpg", "Quang cảnh hội thảo.")],
    )
    return dataclasses.replace(article, **changes)


def test_new_database_gets_every_table(database):
    assert {
        "articles",
        "article_sources",
        "crawl_runs",
        "topics",
        "matches",
        "outbox",
        "deliveries",
        "leases",
        "job_runs",
        "alembic_version",
    } <= set(table_names(database.engine))


def test_reopening_is_idempotent(database_url):
    Database(database_url).dispose()
    Database(database_url).dispose()


def test_database_newer_than_code_is_refused(database):
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(DatabaseTooNewError, match="newer than this bantin knows"):
        Database(database.url)


def test_older_database_is_upgraded(database_url):
    from alembic import command

    from crawler.store import _alembic_config, _create_engine

    engine = _create_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0001")
    assert "external_id" not in {c["name"] for c in inspect(engine).get_columns("articles")}
    engine.dispose()
    database = Database(database_url)
    assert "external_id" in {c["name"] for c in inspect(database.engine).get_columns("articles")}
    database.dispose()


def test_models_and_migrations_agree(database):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from crawler.store.index import include_object
    from crawler.store.models import Base

    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_instants_round_trip_as_aware_utc(database):
    local = datetime(2026, 3, 27, 8, 15, tzinfo=VN)
    with database.session() as session:
        session.add(Lease(name="x", owner="o", acquired_at=local, heartbeat_at=local, expires_at=local))
    with database.session() as session:
        lease = session.get(Lease, "x")
        assert lease.acquired_at == local
        assert lease.acquired_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(database):
    with pytest.raises(Exception, match="naive datetime"):
        with database.session() as session:
            session.add(Lease(name="x", owner="o", acquired_at=datetime(2026, 1, 1), heartbeat_at=NOW, expires_at=NOW))


def test_store_new_unchanged_updated(database):
    with database.session() as session:
        assert store_article(session, item(), now=NOW)[0] == "new"
    with database.session() as session:
        assert store_article(session, item(), now=NOW + timedelta(hours=1))[0] == "unchanged"
    with database.session() as session:
        assert (
            store_article(session, item(body="Đoạn một.\n\nĐoạn hai đã sửa."), now=NOW + timedelta(hours=2))[0]
            == "updated"
        )
    with database.session() as session:
        row = session.scalars(select(ArticleRow)).one()
        assert (row.site, row.external_id) == ("nhandan", "985001")
        assert row.version == 2
        assert row.first_seen_at == NOW
        assert row.changed_at == NOW + timedelta(hours=2)
        assert row.images == [{"url": "https://image.nhandan.vn/a.jpg", "caption": "Quang cảnh hội thảo."}]
        assert row.category == ["Kinh tế", "Chứng khoán"]
        assert row.published_at == datetime(2026, 3, 27, 1, 15, tzinfo=UTC)


def test_sources_and_change_detection(database):
    published = datetime(2026, 3, 27, 8, 15, tzinfo=VN)
    with database.session() as session:
        _, row = store_article(session, item(), now=NOW)
        record_sources(session, row, {"rss": published, "google_news": None}, now=NOW, new=True)
    with database.session() as session:
        row = session.scalars(select(ArticleRow)).one()
        record_sources(session, row, {"rss": published + timedelta(hours=1)}, now=NOW + timedelta(hours=1))
        sources = {s.source: s for s in session.scalars(select(ArticleSource))}
        assert set(sources) == {"rss", "google_news"}
        assert sources["rss"].lastmod == published + timedelta(hours=1)
        assert sources["rss"].first_seen_at == NOW
        known = known_articles(session, "nhandan", ["985001", "985002"])
        assert known_articles(session, "another-site", ["985001"]) == {}
    assert set(known) == {"985001"}
    state = known["985001"]
    assert state.article_id == row.id
    assert needs_fetch(None, None)  # never stored: fetch
    assert not needs_fetch(state, None)
    assert not needs_fetch(state, published + timedelta(hours=1, seconds=30))  # within tolerance
    assert needs_fetch(state, published + timedelta(hours=3))


def test_new_articles_get_the_keys_the_database_would_give_them_and_their_sources_whatever_the_flushes(database):
    with database.session() as session:
        for number in (1, 2, 3):
            # existing=None: no query, so no autoflush, between them
            _, row = store_article(session, item(number), now=NOW, existing=None)
            if number == 2:
                row.id = 7  # a key chosen by the caller: the next article's comes after it
            record_sources(session, row, {"rss": None}, now=NOW, new=True)
            if number == 1:
                session.flush()
        nested = session.begin_nested()
        _, gone = store_article(session, item(4), now=NOW, existing=None)
        record_sources(session, gone, {"rss": None}, now=NOW, new=True)
        session.flush()
        nested.rollback()  # neither the article nor its sources
        _, row = store_article(session, item(5), now=NOW, existing=None)
        record_sources(session, row, {"sitemap": NOW}, now=NOW, new=True)
    with database.session() as session:
        keys = dict(session.execute(select(ArticleRow.id, ArticleRow.external_id)).all())
        sources = {(keys[s.article_id], s.source) for s in session.scalars(select(ArticleSource))}
    assert sources == {("1", "rss"), ("2", "rss"), ("3", "rss"), ("5", "sitemap")}
    if database.dialect == "sqlite":
        # SQLite's own choice (one above the largest, in the order of the inserts), given before they run.
        assert keys == {1: "1", 7: "2", 8: "3", 9: "5"}


def test_a_change_time_stored_at_the_end_of_time_does_not_hide_later_changes(database):
    # Archives from before dates were checked hold 9999-12-31 claims, on the page and on a source.
    end_of_time = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    with database.session() as session:
        _, row = store_article(session, item(published_at=end_of_time, modified_at=end_of_time), now=NOW)
        record_sources(session, row, {"sitemap": end_of_time}, now=NOW, new=True)
    with database.session() as session:
        state = known_articles(session, "nhandan", ["985001"])["985001"]
    assert state.changed_as_of == NOW  # the impossible claims count as "current when recorded"
    assert needs_fetch(state, NOW + timedelta(hours=2))
    assert not needs_fetch(state, NOW - timedelta(days=3))


def test_a_change_time_within_a_day_of_recording_is_believed(database):
    ahead = NOW + timedelta(hours=20)  # a source clock running ahead, not an impossible date
    with database.session() as session:
        _, row = store_article(session, item(published_at=NOW - timedelta(hours=1)), now=NOW)
        record_sources(session, row, {"rss": ahead}, now=NOW, new=True)
    with database.session() as session:
        state = known_articles(session, "nhandan", ["985001"])["985001"]
    assert state.changed_as_of == ahead
    assert not needs_fetch(state, ahead)


def test_sqlite_transaction_that_reads_then_writes_survives_another_writer(sqlite_url):
    # A deferred SQLite transaction that has read cannot write once another
    # connection committed meanwhile: SQLITE_BUSY at once, whatever the busy
    # timeout ("database is locked" in a digest under load). A transaction
    # holds the write lock from its start instead; the other writer waits.
    import sqlite3

    from crawler.store.models import Lease

    database = Database(sqlite_url)
    now = datetime.now(UTC)
    with database.session() as session:
        for name in ("x", "y"):
            session.add(Lease(name=name, owner="o", acquired_at=now, heartbeat_at=now, expires_at=now, info={}))
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
    other_wrote = True
    with database.session() as session:
        row = session.get(Lease, "x")
        assert row is not None
        try:
            other.execute("UPDATE leases SET owner = 'other' WHERE name = 'y'")
        except sqlite3.OperationalError:
            other_wrote = False  # it has to wait for us
        row.owner = "us"
    other.close()
    with database.session() as session:
        row = session.get(Lease, "x")
        assert row is not None and row.owner == "us"
    assert not other_wrote
    # A read-only scan takes no write lock: a writer is not held up by it.
    with database.session(write=False) as session:
        session.get(Lease, "x")
        other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
        other.execute("UPDATE leases SET owner = 'other' WHERE name = 'x'")
        other.close()
    database.dispose()
