"""Upgrading a database made by the 0001 release: nothing lost, nothing owed again, nothing refetched."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from crawler.config import parse_config
from crawler.errors import StorageError
from crawler.locks import crawl_lease, lease_holder
from crawler.samplesite import DEMO_TOPICS, topics_toml
from crawler.store import Database, schema_head
from crawler.store.models import ArticleRow, CrawlRun, Match
from reports.digest import build_digest
from scheduler.cluster import queue
from tests import release_0001
from tests.cluster_support import pg_url, register_worker, take, worker_app  # noqa: F401 - pg_url: a fixture
from tests.crawl_helpers import make_env
from tests.service_support import holder_of

NOW = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)


@pytest.fixture
def release(database_url):
    return release_0001.build(database_url)


@pytest.fixture
def upgraded(database_url, release):
    database = Database(database_url)
    yield database
    database.dispose()


def revision(database: Database) -> str:
    with database.engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()


def stored(database: Database, table_name: str) -> list[dict]:
    from crawler.store.models import Base
    from crawler.store.records import DeliveredVersionsJSON, HitsJSON, RunCountsJSON

    table = Base.metadata.tables[table_name]
    typed = {
        column.name: column.type
        for column in table.columns
        if isinstance(column.type, (RunCountsJSON, HitsJSON, DeliveredVersionsJSON))
    }
    with database.engine.connect() as connection:
        dialect = connection.dialect
        # Typed JSON columns read back as objects: compare what they store, as the release wrote it.
        return [
            {
                name: typed[name].process_bind_param(value, dialect) if name in typed else value
                for name, value in row._mapping.items()
            }
            for row in connection.execute(select(table))
        ]


# Every 0001 column survives under the same name, except articles.article_id, which became the key.
RENAMED = {"articles": {"article_id": "id"}, "leases": {}}
KEYS = {
    "articles": ("id",),
    "article_sources": ("article_id", "source"),
    "topics": ("name",),
    "matches": ("id",),
    "outbox": ("id",),
    "deliveries": ("recipient", "article_id"),
    "crawl_runs": ("id",),
    "job_runs": ("id",),
    "leases": ("name",),
}


@pytest.mark.parametrize("table_name", list(KEYS))
def test_every_row_and_value_survives(upgraded, release, table_name):
    renamed = RENAMED.get(table_name, {})
    expected = []
    for row in release.rows[table_name]:
        row = {renamed.get(column, column): value for column, value in row.items()}
        if table_name == "leases" and row["name"] == "crawl":
            row["name"] = crawl_lease("nhandan")
        expected.append(row)
    after = stored(upgraded, table_name)
    key = KEYS[table_name]

    def by_key(rows):
        return {tuple(row[column] for column in key): row for row in rows}

    want, got = by_key(expected), by_key(after)
    assert set(got) == set(want) and len(after) == len(expected)
    for row_key, row in want.items():
        assert {column: got[row_key][column] for column in row} == row, (table_name, row_key)


def test_articles_get_their_site_identity_and_runs_their_site(upgraded, release):
    for row in stored(upgraded, "articles"):
        assert (row["site"], row["external_id"]) == ("nhandan", str(row["id"]))
    assert {row["site"] for row in stored(upgraded, "crawl_runs")} == {"nhandan"}
    # Raw bytes and frozen items come back as the release wrote them (checked row by row above);
    # the items still name stored articles.
    article_ids = set(release.article_ids)
    for row in stored(upgraded, "outbox"):
        assert {key for key, _version in row["items"]} <= article_ids


def test_site_and_external_id_stay_unique(upgraded, release):
    first = stored(upgraded, "articles")[0]
    with pytest.raises(IntegrityError):
        with upgraded.session() as session:
            session.add(
                ArticleRow(
                    site="nhandan",
                    external_id=first["external_id"],
                    url="https://nhandan.vn/x",
                    title="t",
                    body="b",
                    first_seen_at=NOW,
                    fetched_at=NOW,
                    changed_at=NOW,
                    content_hash="h",
                )
            )


def test_new_articles_get_keys_above_the_old_ones(upgraded, release):
    with upgraded.session() as session:
        row = ArticleRow(
            site="baochinhphu",
            external_id="1",
            url="https://baochinhphu.vn/a-1.htm",
            title="t",
            body="b",
            first_seen_at=NOW,
            fetched_at=NOW,
            changed_at=NOW,
            content_hash="h",
        )
        session.add(row)
        session.flush()
        assert row.id > max(release.article_ids)
    # And through Core, as a bulk insert would: the key comes from the database, not the ORM.
    with upgraded.engine.begin() as connection:
        key = connection.execute(
            insert(ArticleRow).values(
                site="baochinhphu",
                external_id="2",
                url="https://baochinhphu.vn/a-2.htm",
                title="t",
                sapo="",
                body="b",
                author="",
                category=[],
                tags=[],
                images=[],
                first_seen_at=NOW,
                fetched_at=NOW,
                changed_at=NOW,
                version=1,
                content_hash="h",
                extractor="site",
                story_id=row.story_id,
            )
        ).inserted_primary_key[0]
    assert key > row.id


def digest_config(database_url: str):
    qn = DEMO_TOPICS[1][0]
    recipients = "".join(
        f'\n[[recipients]]\nemail = "{email}"\n' for email in (release_0001.SENT_TO, release_0001.FAILED_TO)
    )
    recipients += f'\n[[recipients]]\nemail = "{release_0001.PENDING_TO}"\ntopics = ["{qn}"]\n'
    return parse_config(f'[storage]\ndatabase_url = "{database_url}"\n{topics_toml()}{recipients}')


def test_nothing_already_delivered_is_owed_again(upgraded, release, database_url):
    config = digest_config(database_url)
    owed = {}
    with upgraded.session() as session:
        for recipient in config.recipients:
            owed[recipient.email] = build_digest(session, config, recipient, now=NOW).delivered_versions
    matched = sorted({row["article_id"] for row in release.rows["matches"]})
    edited = release.edited_after_delivery
    # The reader who got everything is owed only the article edited since, once, at its new version.
    assert owed[release_0001.SENT_TO] == [(edited, 2)]
    # A digest waiting for a retry still covers its articles (all but the edit, which came after it).
    qn = {row["article_id"] for row in release.rows["matches"] if row["topic"] == DEMO_TOPICS[1][0]}
    assert owed[release_0001.PENDING_TO] == ([(edited, 2)] if edited in qn else [])
    # A refused digest delivered nothing: its articles are owed again.
    assert owed[release_0001.FAILED_TO] == [(key, 2 if key == edited else 1) for key in matched]


def queue_and_fetch(database_url: str) -> tuple[int, int]:
    """Queue a crawl through bantin's queue, as `bantin serve` does, and take it as a worker does; (job, worker)."""
    with worker_app(database_url) as app:
        job_id = queue.defer(app, queue.CRAWL_TASK, queueing_lock=crawl_lease("nhandan"), site="nhandan")
        assert job_id is not None
        worker_id = register_worker(app)
        job = take(app, worker_id, queue.CRAWL_QUEUE)
        assert job is not None
        assert (job.id, job.task_name, job.task_kwargs) == (job_id, queue.CRAWL_TASK, {"site": "nhandan"})
        assert take(app, worker_id, queue.CRAWL_QUEUE) is None
    return job_id, worker_id


def active_crawls(database: Database) -> list[tuple[int, str, dict, int | None]]:
    return [(job.id, job.status, job.args, job.worker_id) for job in queue.active_jobs(database, queue.CRAWL_TASK)]


@pytest.mark.postgres
def test_the_job_queue_works_after_upgrading_from_the_first_release(pg_url):  # noqa: F811
    release_0001.build(pg_url)
    database = Database(pg_url)
    try:
        assert revision(database) == schema_head()
        job_id, worker_id = queue_and_fetch(pg_url)
        assert active_crawls(database) == [(job_id, "doing", {"site": "nhandan"}, worker_id)]

        # The planner's own deferral (procrastinate's periodic-defer function), once per fire time.
        def digest_once() -> str:
            return queue.defer_once(
                database,
                queue.PLAN_DIGEST_TASK,
                queue=queue.DIGEST_QUEUE,
                periodic_id="digest",
                timestamp=1_800_000_000,
                args={},
            )

        assert [digest_once(), digest_once()] == ["queued", "done before"]
    finally:
        database.dispose()


@pytest.mark.postgres
def test_an_upgrade_keeps_a_job_queue_applied_by_hand_before_it(pg_url):  # noqa: F811
    """Migration 0005 on a database whose owner ran `procrastinate schema --apply` (and queued a job) beforehand."""
    release_0001.build(pg_url)
    by_hand = queue.make_app(pg_url)
    by_hand.open()
    try:
        by_hand.schema_manager.apply_schema()
        waiting = queue.defer(by_hand, queue.CRAWL_TASK, site="tienphong")
    finally:
        by_hand.close()
    database = Database(pg_url)
    try:
        assert revision(database) == schema_head()
        # Left as it was, the job queued before the upgrade with it...
        assert active_crawls(database) == [(waiting, "todo", {"site": "tienphong"}, None)]
        with database.engine.connect() as connection:
            columns = set(connection.execute(text("SELECT * FROM outbox LIMIT 0")).keys())
        # ... and the rest of the migration went through.
        assert {"claimed_by", "claim_expires_at"} <= columns
        # The queue works: the waiting job is taken first, then a new one.
        with worker_app(pg_url) as app:
            worker_id = register_worker(app)
            first = take(app, worker_id, queue.CRAWL_QUEUE)
            assert first is not None and first.id == waiting
        job_id, _worker = queue_and_fetch(pg_url)
        assert [job for job, status, _args, _by in active_crawls(database) if status == "doing"] == [waiting, job_id]
    finally:
        database.dispose()


def test_a_second_open_changes_nothing(upgraded, database_url, monkeypatch):
    from alembic import command

    head = revision(upgraded)
    before = {name: stored(upgraded, name) for name in KEYS}

    def refuse(*args, **kwargs):
        raise AssertionError("a database already at head was migrated again")

    monkeypatch.setattr(command, "upgrade", refuse)
    again = Database(database_url)
    try:
        assert revision(again) == head
        assert {name: stored(again, name) for name in KEYS} == before
    finally:
        again.dispose()


def test_a_migration_failing_half_way_leaves_the_0001_database_intact(database_url, release, monkeypatch):
    from alembic.ddl.impl import DefaultImpl

    real_execute = DefaultImpl.execute

    def failing(self, sql, *args, **kwargs):
        # The lease rename is the last step: everything before it has run by then.
        if "UPDATE leases" in str(sql):
            raise RuntimeError("power cut")
        return real_execute(self, sql, *args, **kwargs)

    monkeypatch.setattr(DefaultImpl, "execute", failing)
    with pytest.raises((StorageError, RuntimeError)):
        Database(database_url)
    monkeypatch.undo()

    from crawler.store import _create_engine

    engine = _create_engine(database_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0001"
            columns = set(connection.execute(text("SELECT * FROM articles")).keys())
            assert "article_id" in columns and "external_id" not in columns
            for table in release_0001.TABLES:
                got = [dict(row._mapping) for row in connection.execute(select(table))]
                assert len(got) == len(release.rows[table.name]), table.name
                key = [column.name for column in table.primary_key.columns]
                order = lambda row, key=key: tuple(row[column] for column in key)  # noqa: E731
                assert sorted(got, key=order) == sorted(release.rows[table.name], key=order), table.name
    finally:
        engine.dispose()
    # And the upgrade then goes through.
    database = Database(database_url)
    try:
        assert len(stored(database, "articles")) == len(release.rows["articles"])
    finally:
        database.dispose()


@pytest.mark.slow
def test_the_next_crawl_fetches_only_what_is_new_or_edited(tmp_path, database_url):
    env = make_env(tmp_path, database_url)
    try:
        release = release_0001.build(database_url, env.site.model, env.site.base_url)
        database = Database(database_url)
        try:
            # The release's crawl lease is now the NDO crawl's, and its dead holder does not block a crawl.
            assert holder_of(database, crawl_lease("nhandan")).owner == release.crawl_lease_owner
        finally:
            database.dispose()
        new = env.site.publish_next_day(count=4)
        # A recent article: the feeds and listings the crawl reads announce recent edits only.
        edited = next(key for key in sorted(release.article_ids)[-3::-1] if key != release.edited_after_delivery)
        env.site.edit_article(edited)
        env.site.clear_log()
        env.crawl()
        fetched = {int(path.split("-post")[1].split(".")[0]) for path in env.article_requests()}
        assert fetched == {article.article_id for article in new} | {edited}
        stored_now = env.articles()
        assert set(stored_now) == set(release.article_ids) | {article.article_id for article in new}
        assert stored_now[edited].version == 2 and stored_now[edited].id == edited
        # New articles took keys after the release's.
        assert min(stored_now[article.article_id].id for article in new) > max(release.article_ids)
        run = env.runs()[-1]
        assert (run.status, run.site) == ("ok", "nhandan")
        totals = {key: run.counts.totals()[key] for key in ("new", "updated")}
        assert totals == {"new": len(new), "updated": 1}
        database = Database(database_url)
        try:
            assert lease_holder(database, crawl_lease("nhandan")) is None
            with database.session() as session:
                # The edited article was matched again, in place (no second row for the same topic).
                assert session.scalar(select(func.count()).select_from(Match).where(Match.article_id == edited)) == sum(
                    1 for row in release.rows["matches"] if row["article_id"] == edited
                )
                assert session.scalar(select(func.count()).select_from(CrawlRun)) == 3
        finally:
            database.dispose()
    finally:
        env.site.stop()
