"""The job queue: procrastinate on bantin's own PostgreSQL database, and what bantin asks of it.

Deferring "exactly once per fire time" goes through procrastinate's periodic
deferral function, whose ``UNIQUE (task_name, periodic_id, defer_timestamp)``
makes a second deferral of the same crawl or digest a no-op, whichever
process (an old leader, a new one, a sweep) tries it. The queries below read
procrastinate's tables for `bantin status` and the sweep; they are pinned to
the schema of the procrastinate release in pyproject (migration 0005 created it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from crawler.config import Config
from crawler.errors import BantinError, ConfigError
from crawler.store import Database

log = logging.getLogger("bantin.cluster")

CRAWL_QUEUE = "crawl"
DIGEST_QUEUE = "digest"
# The sweep runs on every worker's own queue list, whatever --queues says.
MAINTENANCE_QUEUE = "maintenance"
QUEUES = (CRAWL_QUEUE, DIGEST_QUEUE)

CRAWL_TASK = "bantin:crawl_site"
PLAN_DIGEST_TASK = "bantin:plan_digest"
BUILD_DIGEST_TASK = "bantin:build_digest"
SEND_TASK = "bantin:send_outbox"
SWEEP_TASK = "bantin:sweep"


class ClusterError(BantinError):
    """Cluster mode cannot work as configured (no job queue schema, not PostgreSQL...)."""


def require_cluster(config: Config) -> None:
    if not config.cluster.enabled:
        raise ConfigError(
            "cluster mode is off: set enabled = true in [cluster] (PostgreSQL only)",
            path=config.path or "<config>",
            key="cluster.enabled",
        )


def conninfo(database_url: str) -> str:
    """libpq's form of bantin's SQLAlchemy URL (procrastinate's psycopg connector speaks libpq)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ClusterError("cluster mode needs PostgreSQL (storage.database_url = postgresql+psycopg://...)")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(database_url: str, *, pool_size: int = 4):
    """A procrastinate App on this database with bantin's tasks (not opened)."""
    import procrastinate

    from scheduler.cluster.tasks import register

    connector = procrastinate.PsycopgConnector(conninfo=conninfo(database_url), min_size=1, max_size=pool_size)
    app = procrastinate.App(connector=connector)
    register(app)
    return app


# -- deferring ------------------------------------------------------------------


def defer_once(
    database: Database,
    task: str,
    *,
    queue: str,
    periodic_id: str,
    timestamp: int,
    args: dict[str, Any],
    queueing_lock: str | None = None,
) -> str:
    """Queue `task(args)` once for (task, periodic_id, timestamp); returns "queued", "done before" or "coalesced".

    procrastinate keeps only the latest deferral per (task, periodic_id), so an
    older timestamp than the latest counts as done before too: a leader whose
    clock lags (or that froze between reading the clock and deferring) never
    queues a fire time again. The check and the deferral run under one advisory
    lock per (task, periodic_id). "coalesced": a job with the same queueing lock
    is still waiting to start; the deferral is recorded as done so that it is
    not tried again, since the waiting job will do the same work.
    """
    payload = json.dumps({**args, "timestamp": timestamp})
    key = {"task": task, "pid": periodic_id, "ts": timestamp}
    with database.session() as session:
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:task || chr(31) || :pid, 0))"), key)
        latest = session.execute(
            text(
                "SELECT MAX(defer_timestamp) FROM procrastinate_periodic_defers WHERE task_name = :task "
                "AND periodic_id = :pid"
            ),
            key,
        ).scalar()
        if latest is not None and latest >= timestamp:
            return "done before"
        savepoint = session.begin_nested()
        try:
            session.execute(
                text(
                    "SELECT procrastinate_defer_periodic_job_v2(:queue, NULL, :qlock, :task, 0, :pid, :ts, "
                    "CAST(:args AS jsonb))"
                ),
                {**key, "queue": queue, "qlock": queueing_lock, "args": payload},
            )
            savepoint.commit()
        except Exception as exc:  # noqa: BLE001 - only the queueing lock's unique violation is expected here
            savepoint.rollback()
            if "queueing_lock" not in str(exc):
                raise
            session.execute(
                text(
                    "INSERT INTO procrastinate_periodic_defers (task_name, periodic_id, defer_timestamp) "
                    "VALUES (:task, :pid, :ts) ON CONFLICT DO NOTHING"
                ),
                key,
            )
            return "coalesced"
    return "queued"


def defer(
    app, task: str, *, queueing_lock: str | None = None, schedule_in: float | None = None, **args: Any
) -> int | None:
    """Queue a job now; None when a job with this queueing lock is already waiting to start."""
    from procrastinate import exceptions

    options: dict[str, Any] = {}
    if queueing_lock is not None:
        options["queueing_lock"] = queueing_lock
    if schedule_in is not None:
        options["schedule_in"] = {"seconds": schedule_in}
    try:
        return app.configure_task(task, allow_unknown=False, **options).defer(**args)
    except exceptions.AlreadyEnqueued:
        return None


# -- reading the queue -------------------------------------------------------------


@dataclass(frozen=True)
class QueuedJob:
    id: int
    task: str
    queue: str
    status: str
    args: dict[str, Any]
    attempts: int
    worker_id: int | None
    scheduled_at: datetime | None
    started_at: datetime | None


_JOB_COLUMNS = (
    "SELECT j.id, j.task_name, j.queue_name, j.status::text, j.args, j.attempts, j.worker_id, "
    "j.scheduled_at, (SELECT MAX(e.at) FROM procrastinate_events e WHERE e.job_id = j.id "
    "AND e.type = 'started') FROM procrastinate_jobs j "
)


def active_jobs(database: Database, task: str | None = None) -> list[QueuedJob]:
    """Jobs waiting ('todo') or running ('doing'), oldest first."""
    where = "WHERE j.status IN ('todo', 'doing')" + (" AND j.task_name = :task" if task else "")
    with database.session(write=False) as session:
        rows = session.execute(text(_JOB_COLUMNS + where + " ORDER BY j.id"), {"task": task}).all()
    return [QueuedJob(*row) for row in rows]


def defer_sender_if_idle(app, database: Database, *, now: datetime, lock: str) -> bool:
    """Queue a sender when outbox rows are due and no sender is queued or running (True if one was queued)."""
    from reports.fanout import due_rows

    if not due_rows(database, now=now) or active_jobs(database, SEND_TASK):
        return False
    return defer(app, SEND_TASK, queueing_lock=lock) is not None


def site_jobs(database: Database, site: str) -> list[QueuedJob]:
    return [job for job in active_jobs(database, CRAWL_TASK) if job.args.get("site") == site]


def queue_counts(database: Database) -> dict[str, dict[str, int]]:
    """{queue: {status: count}} for every queue that has jobs."""
    with database.session(write=False) as session:
        rows = session.execute(
            text("SELECT queue_name, status::text, COUNT(*) FROM procrastinate_jobs GROUP BY 1, 2 ORDER BY 1, 2")
        ).all()
    counts: dict[str, dict[str, int]] = {}
    for queue, status, number in rows:
        counts.setdefault(queue, {})[status] = number
    return counts


def worker_heartbeats(database: Database) -> dict[int, datetime]:
    """procrastinate's own worker rows: {worker id: last heartbeat}."""
    with database.session(write=False) as session:
        return dict(session.execute(text("SELECT id, last_heartbeat FROM procrastinate_workers")).all())


def stalled_jobs(database: Database, *, stalled_after: float) -> list[QueuedJob]:
    """Running jobs whose worker has sent no heartbeat for `stalled_after` seconds (or is gone)."""
    with database.session(write=False) as session:
        rows = session.execute(
            text(
                _JOB_COLUMNS + "LEFT JOIN procrastinate_workers w ON w.id = j.worker_id WHERE j.status = 'doing' "
                "AND (w.id IS NULL OR w.last_heartbeat < NOW() - make_interval(secs => :after)) ORDER BY j.id"
            ),
            {"after": stalled_after},
        ).all()
    return [QueuedJob(*row) for row in rows]


def has_job_queue(database: Database) -> bool:
    with database.session(write=False) as session:
        return bool(session.execute(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")).scalar())
