"""Cluster mode's configuration and schema: PostgreSQL only, procrastinate's tables from bantin's migrations."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, select, text

from crawler.config import parse_config
from crawler.errors import ConfigError
from crawler.samplesite import topics_toml
from crawler.store import Database, schema_head
from crawler.store.models import OutboxMessage
from tests import release_0001
from tests.cluster_support import REPO, cluster_toml, pg_url, smtp_sink  # noqa: F401 - pytest fixture
from tests.digest_support import Sink


def test_cluster_mode_is_refused_on_sqlite_with_one_line(tmp_path):
    config = tmp_path / "bantin.toml"
    config.write_text(
        f'[storage]\ndatabase_url = "sqlite:///{tmp_path}/db.sqlite3"\n[cluster]\nenabled = true\n', encoding="utf-8"
    )
    for command in (["worker"], ["serve"], ["status"]):
        result = subprocess.run(
            [sys.executable, "-m", "crawler", "--config", str(config), *command],
            capture_output=True,
            text=True,
            cwd=str(REPO),
            timeout=60,
        )
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.strip().count("\n") == 0, result.stderr
        assert "cluster.enabled: cluster mode needs PostgreSQL" in result.stderr
    # The built-in default database is SQLite too.
    with pytest.raises(ConfigError, match="cluster.enabled"):
        parse_config("[cluster]\nenabled = true\n")


@pytest.mark.parametrize(
    "text_, key, problem",
    [
        ("heartbeat_seconds = 10\nstalled_after_seconds = 20", "cluster.stalled_after_seconds", "three heartbeats"),
        ("sweep_seconds = 90", "cluster.sweep_seconds", "whole number of minutes"),
        ("concurrency = 0", "cluster.concurrency", "greater than or equal"),
        ("speed = 1", "cluster.speed", "unknown key"),
    ],
)
def test_bad_cluster_settings_name_the_key(text_, key, problem):
    with pytest.raises(ConfigError) as caught:
        parse_config(f'[storage]\ndatabase_url = "postgresql+psycopg://u@h/d"\n[cluster]\nenabled = true\n{text_}\n')
    assert f"{key}: " in str(caught.value) and problem in str(caught.value)


def test_cluster_mode_off_is_the_default_and_needs_nothing():
    config = parse_config("")
    assert config.cluster.enabled is False
    assert parse_config("[cluster]\nsweep_seconds = 120\n").cluster.sweep_cron == "*/2 * * * *"
    assert parse_config("[cluster]\nsweep_seconds = 5\n").cluster.sweep_cron == "* * * * * */5"


def test_migrations_add_claims_everywhere_and_the_job_queue_on_postgresql_only(database):
    tables = set(inspect(database.engine).get_table_names())
    outbox = {column["name"] for column in inspect(database.engine).get_columns("outbox")}
    runs = {column["name"] for column in inspect(database.engine).get_columns("crawl_runs")}
    assert {"claimed_by", "claim_expires_at"} <= outbox and {"job_id", "worker"} <= runs
    queue_tables = {name for name in tables if name.startswith("procrastinate_")}
    if database.dialect == "sqlite":
        assert queue_tables == set()
    else:
        assert {"procrastinate_jobs", "procrastinate_workers", "procrastinate_periodic_defers"} <= queue_tables


def test_the_job_queue_schema_is_the_one_procrastinate_expects(pg_url):  # noqa: F811
    from scheduler.cluster import queue

    database = Database(pg_url)
    app = queue.make_app(pg_url)
    app.open()
    try:
        assert app.check_connection()
        job_id = queue.defer(app, queue.CRAWL_TASK, queueing_lock="crawl:nhandan", site="nhandan")
        # A second one while the first waits: refused by the queueing lock, not queued twice.
        assert queue.defer(app, queue.CRAWL_TASK, queueing_lock="crawl:nhandan", site="nhandan") is None
        [job] = queue.active_jobs(database, queue.CRAWL_TASK)
        assert (job.id, job.status, job.args) == (job_id, "todo", {"site": "nhandan"})
        stamp = 1_800_000_000

        def digest_once(timestamp: int) -> str:
            return queue.defer_once(
                database,
                queue.PLAN_DIGEST_TASK,
                queue=queue.DIGEST_QUEUE,
                periodic_id="digest",
                timestamp=timestamp,
                args={},
            )

        def crawl_once(**lock) -> str:
            return queue.defer_once(
                database,
                queue.CRAWL_TASK,
                queue=queue.CRAWL_QUEUE,
                periodic_id="nhandan",
                timestamp=stamp,
                args={"site": "nhandan"},
                **lock,
            )

        assert [digest_once(stamp) for _ in range(3)] == ["queued", "done before", "done before"]
        # procrastinate keeps only the latest deferral: an older fire time is done before all the same.
        assert [digest_once(stamp + 60), digest_once(stamp)] == ["queued", "done before"]
        assert len(queue.active_jobs(database, queue.PLAN_DIGEST_TASK)) == 2
        # Its queueing lock taken: recorded as done, so it is not tried again, and not queued twice.
        assert crawl_once(queueing_lock="crawl:nhandan") == "coalesced"
        assert crawl_once() == "done before"
        assert len(queue.active_jobs(database, queue.CRAWL_TASK)) == 1
    finally:
        app.close()
        database.dispose()


@pytest.fixture
def sink():
    with smtp_sink(Sink()) as running:
        yield running


def test_upgrade_from_the_first_release_keeps_every_outbox_row_and_resends_nothing_delivered(database_url, sink):
    from reports.fanout import send_claimed

    release = release_0001.build(database_url)
    database = Database(database_url)
    try:
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == schema_head()
        with database.session() as session:
            rows = {row.id: row for row in session.scalars(select(OutboxMessage))}
        assert {row_id: row.status for row_id, row in rows.items()} == {
            row["id"]: row["status"] for row in release.rows["outbox"]
        }
        assert all(row.claimed_by is None and row.claim_expires_at is None for row in rows.values())
        recipients = "".join(f'\n[[recipients]]\nemail = "{email}"\n' for email in release_0001.RECIPIENTS)
        smtp = f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\nretry_backoff_seconds = 0.0\n'
        config = parse_config(
            cluster_toml(
                database_url, extra=smtp + topics_toml() + recipients, enabled=database.dialect == "postgresql"
            )
        )
        later = datetime.now(UTC) + timedelta(days=1)
        result = send_claimed(
            config, database, worker="w", clock=lambda: later, ttl=timedelta(minutes=2), batch_size=10
        )
        # Only the digest that waited for a retry goes, with the Message-ID it was built with.
        pending = next(row for row in rows.values() if row.status == "pending")
        assert [(result.email, result.status) for result in result.results] == [(pending.recipient, "sent")]
        assert [msg_id for _rcpts, msg_id in sink.received] == [pending.message_id]
        again = send_claimed(config, database, worker="w", clock=lambda: later, ttl=timedelta(minutes=2), batch_size=10)
        assert again.results == [] and len(sink.received) == 1
    finally:
        database.dispose()


def test_service_unit_for_a_worker(tmp_path):
    config = tmp_path / "bantin.toml"
    config.write_text(cluster_toml("postgresql+psycopg://bantin@db.example.org/bantin"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(config), "service", "unit", "--worker"],
        capture_output=True,
        text=True,
        cwd=str(REPO),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    unit = result.stdout
    assert f"--config {config} worker" in unit and "Description=bantin worker" in unit
    assert "bantin-worker.service" in unit and "ExecReload" not in unit and "KillMode=mixed" in unit
    # Without cluster mode there is no worker to run.
    config.write_text(
        cluster_toml("postgresql+psycopg://bantin@db.example.org/bantin", enabled=False), encoding="utf-8"
    )
    refused = subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(config), "service", "unit", "--worker"],
        capture_output=True,
        text=True,
        cwd=str(REPO),
        timeout=60,
    )
    assert refused.returncode == 2 and "cluster mode is off" in refused.stderr


def test_worker_refuses_an_unknown_queue(tmp_path):
    config = tmp_path / "bantin.toml"
    config.write_text(cluster_toml("postgresql+psycopg://bantin@db.example.org/bantin"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(config), "worker", "--queues", "crawl,mail"],
        capture_output=True,
        text=True,
        cwd=str(REPO),
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "bantin: error: --queues: unknown queue mail (queues: crawl, digest)"
