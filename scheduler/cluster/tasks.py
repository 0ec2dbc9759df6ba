"""bantin's procrastinate tasks: one outlet's crawl, the digest's plan, build and send, and the sweep.

Every task runs in a `bantin worker` (``scheduler.cluster.worker``), which hands each one
its :class:`Runtime` (config, database, the worker's name and stop flag)
through procrastinate's job context. Tasks are synchronous: each runs in a
thread of the worker, a crawl as the same `bantin crawl --site ID` child
process as on one machine.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from procrastinate import JobContext, RetryStrategy, exceptions, utils
from sqlalchemy import func, select

from crawler.clock import utcnow
from crawler.config import Config
from crawler.crawl.run import crawl_child_command
from crawler.errors import BantinError
from crawler.locks import DEFAULT_TTL, HeldLease, crawl_lease, lease_holder, leases_named
from crawler.store import Database
from crawler.store import runs as dead_runs
from crawler.store.models import CrawlRun
from scheduler import jobs
from scheduler.cluster import queue
from scheduler.jobs import log_event
from scheduler.service import previous_fire_time, schedule_triggers

log = logging.getLogger("bantin.cluster")

# (function, name, queue, options) of every task; `register` makes them one App's tasks. Not a procrastinate
# Blueprint: a Blueprint's tasks become the first App's, and a process may open several Apps (tests, tools).
TASKS: list[tuple[Callable[..., Any], str, str, dict[str, Any]]] = []


def task(name: str, queue_name: str, **options: Any):
    def record(function):
        TASKS.append((function, name, queue_name, options))
        return function

    return record


def register(app) -> None:
    for function, name, queue_name, options in TASKS:
        app.task(name=name, queue=queue_name, pass_context=True, **options)(function)


# A retried crawl waits this long for its site's lease: long enough for the lease of a crawl that died on
# another machine to expire (a crawl that died here frees it at once: its pid is gone).
SITE_LEASE_WAIT = DEFAULT_TTL + timedelta(seconds=30)
WORKER_LEASE_PREFIX = "worker:"


class CrawlStoppedError(BantinError):
    """The worker is stopping: the crawl was interrupted and is to run again elsewhere."""


class CrawlFailedError(BantinError):
    """The crawl failed (its ledger row says why); the job is marked failed."""


@dataclass
class Runtime:
    """What a worker gives its tasks."""

    config: Config
    database: Database
    name: str
    app: Any
    stopping: threading.Event = field(default_factory=threading.Event)
    lease: HeldLease | None = None
    # site, job id -> the crawl child's command line (tests put a slower or fake crawl here).
    crawl_command: Callable[[str, int], Sequence[str]] | None = None
    clock: Callable[[], datetime] = utcnow
    running: dict[int, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextlib.contextmanager
    def tracking(self, job_id: int, what: str) -> Iterator[None]:
        self.track(job_id, what)
        try:
            yield
        finally:
            self.track(job_id, None)

    def running_jobs(self) -> set[int]:
        with self._lock:
            return set(self.running)

    def track(self, job_id: int, what: str | None) -> None:
        """Keep the worker's lease info current: `bantin status` shows what each worker runs."""
        with self._lock:
            if what is None:
                self.running.pop(job_id, None)
            else:
                self.running[job_id] = what
            running = [f"#{job} {label}" for job, label in sorted(self.running.items())]
        if self.lease is not None:
            try:
                self.lease.update_info(running=running)
            except Exception:  # noqa: BLE001 - status information only
                log.warning("could not publish the worker's jobs", exc_info=True)


def runtime_of(context: JobContext) -> Runtime:
    return context.additional_context["bantin"]


def _job_id(context: JobContext) -> int:
    assert context.job.id is not None
    return context.job.id


# -- crawling -------------------------------------------------------------------


def default_crawl_command(runtime: Runtime, site: str, job_id: int) -> list[str]:
    return crawl_child_command(
        runtime.config.path,
        "--site",
        site,
        "--trigger",
        "cluster",
        "--wait",
        f"{SITE_LEASE_WAIT.total_seconds():g}",
        "--job",
        str(job_id),
        "--worker",
        runtime.name,
        "--lifeline",
        "--no-progress",
    )


@task(
    queue.CRAWL_TASK,
    queue.CRAWL_QUEUE,
    retry=RetryStrategy(max_attempts=5, wait=2, retry_exceptions={CrawlStoppedError}),
)
def crawl_site(context: JobContext, *, site: str, timestamp: int | None = None, reason: str = "schedule") -> dict:
    """One outlet's crawl: `bantin crawl --site SITE` as a child, holding the site's lease."""
    runtime = runtime_of(context)
    job_id = _job_id(context)
    make = runtime.crawl_command or (lambda site_id, job: default_crawl_command(runtime, site_id, job))
    log_event("crawl", "started", site=site, job_id=job_id, worker=runtime.name, reason=reason)
    with runtime.tracking(job_id, f"crawl {site}"):
        outcome = jobs.run_crawl_child(
            make(site, job_id),
            database=runtime.database,
            time_limit=runtime.config.crawl.time_limit_minutes * 60,
            stop=runtime.stopping,
            clock=runtime.clock,
            lifeline=True,
        )
    log_event(
        "crawl",
        "finished",
        outcome.status,
        site=site,
        job_id=job_id,
        crawl_run=outcome.run_id,
        message=outcome.message or None,
        **outcome.totals,
    )
    if outcome.status == "interrupted" and runtime.stopping.is_set():
        raise CrawlStoppedError(f"{site}: {outcome.message}")
    if outcome.status == "failed":
        raise CrawlFailedError(f"{site}: {outcome.message}")
    return {"site": site, "status": outcome.status, "crawl_run": outcome.run_id, **outcome.totals}


# -- the digest -----------------------------------------------------------------


def _missing_sites(runtime: Runtime, crawl_due: datetime) -> list[str]:
    """Enabled sites without a successful crawl finished since `crawl_due`."""
    sites = [entry.id for entry in runtime.config.enabled_sites()]
    with runtime.database.session(write=False) as session:
        done = set(
            session.scalars(
                select(CrawlRun.site).where(
                    CrawlRun.status.in_(jobs.SUCCESS_STATUSES), CrawlRun.finished_at >= crawl_due
                )
            )
        )
    return [site for site in sites if site not in done]


def _crawling(runtime: Runtime, sites: list[str]) -> bool:
    """Any of these sites queued, being crawled, or holding a live crawl lease."""
    now = runtime.clock()
    if any(job.args.get("site") in sites for job in queue.active_jobs(runtime.database, queue.CRAWL_TASK)):
        return True
    return any(
        holder.live(now) and holder.name.removeprefix("crawl:") in sites
        for holder in leases_named(runtime.database, "crawl:")
    )


@task(queue.PLAN_DIGEST_TASK, queue.DIGEST_QUEUE)
def plan_digest(context: JobContext, *, timestamp: int, deadline: str | None = None, requested: bool = False) -> dict:
    """Wait for the day's crawl as one machine does, then fan out: build jobs per shard, sender jobs.

    Waiting is a job deferred again a little later, not a worker slot held for up to
    `digest_wait_minutes`. When no crawl of a site is queued or running and none
    succeeded since the crawl was due, its crawl is queued once and waited for.
    """
    runtime = runtime_of(context)
    config = runtime.config
    now = runtime.clock()
    wait = timedelta(minutes=config.schedule.digest_wait_minutes)
    until = datetime.fromisoformat(deadline) if deadline else now + wait
    crawl_due = previous_fire_time(schedule_triggers(config.schedule)["crawl"], now)
    missing = _missing_sites(runtime, crawl_due) if crawl_due is not None else []
    how = "done"
    if missing:
        if _crawling(runtime, missing) and now < until:
            return _wait_for_crawl(runtime, timestamp, until, requested, missing)
        if not requested and now < until:
            for site in missing:
                queue.defer(runtime.app, queue.CRAWL_TASK, queueing_lock=crawl_lease(site), site=site, reason="digest")
            log_event("digest", "running the crawl first", sites=",".join(missing))
            return _wait_for_crawl(runtime, timestamp, until, True, missing)
        how = "timed out" if now >= until else "crawl failed"
        log_event("digest", "crawl wait", outcome=how, level=logging.WARNING, sites=",".join(missing))
    return fan_out(runtime, timestamp=timestamp, now=now, crawl=how)


def _wait_for_crawl(runtime: Runtime, timestamp: int, until: datetime, requested: bool, missing: list[str]) -> dict:
    poll = min(runtime.config.cluster.plan_seconds, 60.0)
    queue.defer(
        runtime.app,
        queue.PLAN_DIGEST_TASK,
        queueing_lock=f"digest:{timestamp}",
        schedule_in=poll,
        timestamp=timestamp,
        deadline=until.isoformat(),
        requested=requested,
    )
    return {"waiting_for": missing}


def fan_out(runtime: Runtime, *, timestamp: int, now: datetime, crawl: str = "done") -> dict:
    """Queue the digest's build jobs (one per shard) and its sender jobs, all with the same `now`."""
    from reports.fanout import prepare_fanout

    cluster = runtime.config.cluster
    prepare_fanout(runtime.config, runtime.database, now=now)
    for shard in range(cluster.digest_shards):
        queue.defer(
            runtime.app,
            queue.BUILD_DIGEST_TASK,
            queueing_lock=f"build:{timestamp}:{shard}",
            timestamp=timestamp,
            shard=shard,
            shards=cluster.digest_shards,
            now=now.isoformat(),
        )
    for sender in range(cluster.senders):
        queue.defer(runtime.app, queue.SEND_TASK, queueing_lock=f"send:{timestamp}:{sender}", timestamp=timestamp)
    log_event(
        "digest",
        "fanned out",
        shards=cluster.digest_shards,
        senders=cluster.senders,
        crawl=crawl,
        recipients=len(runtime.config.recipients),
    )
    return {"shards": cluster.digest_shards, "senders": cluster.senders, "crawl": crawl}


@task(queue.BUILD_DIGEST_TASK, queue.DIGEST_QUEUE)
def build_digest(context: JobContext, *, timestamp: int, shard: int, shards: int, now: str) -> dict:
    from reports.fanout import build_shard

    runtime = runtime_of(context)
    with runtime.tracking(_job_id(context), f"build digest shard {shard}/{shards}"):
        result = build_shard(
            runtime.config, runtime.database, now=datetime.fromisoformat(now), shard=shard, shards=shards
        )
        # The digest's senders may all have finished while this job waited for a slot.
        _queue_sender_if_idle(runtime)
    log_event(
        "digest",
        "built",
        shard=shard,
        queued=result.queued,
        empty=result.empty,
        already=result.already,
        failed=len(result.failed) or None,
    )
    return {"queued": result.queued, "empty": result.empty, "already": result.already, "failed": len(result.failed)}


@task(queue.SEND_TASK, queue.DIGEST_QUEUE)
def send_outbox(context: JobContext, *, timestamp: int | None = None) -> dict:
    """Claim and send outbox rows until none is due and no build job is still writing any."""
    from reports.fanout import send_claimed

    runtime = runtime_of(context)
    cluster = runtime.config.cluster
    with runtime.tracking(_job_id(context), "send digests"):
        result = send_claimed(
            runtime.config,
            runtime.database,
            worker=runtime.name,
            stop=runtime.stopping,
            clock=runtime.clock,
            more_coming=lambda: _builds_running(runtime.database),
            ttl=timedelta(seconds=cluster.claim_seconds),
            batch_size=cluster.batch_size,
        )
    counts: dict[str, Any] = {status: result.count(status) for status in ("sent", "failed", "pending")}
    log_event("digest", "sent", batches=result.batches, recovered=result.recovered or None, **counts)
    return counts


def _builds_running(database: Database) -> bool:
    """A build job a worker runs now: its rows are coming, and the sender waits for them. Not one still waiting
    for a slot: the slot this sender holds may be the one it waits for; it queues a sender itself when done."""
    return any(job.status == "doing" for job in queue.active_jobs(database, queue.BUILD_DIGEST_TASK))


def _queue_sender_if_idle(runtime: Runtime) -> bool:
    return queue.defer_sender_if_idle(runtime.app, runtime.database, now=runtime.clock(), lock="send:sweep")


# -- the sweep ------------------------------------------------------------------


@task(queue.SWEEP_TASK, queue.MAINTENANCE_QUEUE)
def sweep(context: JobContext, timestamp: int) -> dict:
    """Periodic, in every worker (deferred once per period): put the cluster right after deaths.

    1. Jobs of workers whose heartbeat stalled run again (procrastinate leaves them 'doing'); not the sweep's
       own worker's, which is alive since it sweeps.
    2. bantin's own check, not trusting the queue alone: a crawl job 'doing' for
       longer than the stall timeout whose site lease is free and whose worker's
       lease is gone is stuck too (a pruned or reused worker row).
    3. Crawl ledger rows with no live crawl behind them are closed `interrupted`;
       a site whose crawl died that way and has no job queued gets one, once.
    4. Outbox rows a dead sender left under an expired claim are recovered, and a
       sender is queued when rows are due and none is running.
    """
    runtime = runtime_of(context)
    stalled_after = runtime.config.cluster.stalled_after_seconds
    # This process is alive, whatever its heartbeat says (a lagging loop, a paused machine): the sweep itself and
    # the jobs it runs beside it are not another worker's to take over. A job is looked at once per sweep.
    seen = {_job_id(context), *runtime.running_jobs()}
    retried: list[int] = []

    def retry(jobs: list[queue.QueuedJob], why: str) -> None:
        for job in jobs:
            if job.id in seen:
                continue
            seen.add(job.id)
            if _retry(runtime, job, why):
                retried.append(job.id)

    retry(queue.stalled_jobs(runtime.database, stalled_after=stalled_after), "its worker stopped sending heartbeats")
    retry(_stuck_crawls(runtime, stalled_after), "no worker and no crawl lease behind it")
    closed, requeued = _reconcile_ledger(runtime)
    recovered, sender = _reconcile_outbox(runtime)
    _forget_old(runtime)
    if retried or closed or requeued or recovered or sender:
        log_event(
            "sweep",
            "repaired",
            retried=",".join(map(str, retried)) or None,
            interrupted_crawls=",".join(map(str, closed)) or None,
            requeued=",".join(requeued) or None,
            outbox_recovered=recovered or None,
            sender=sender or None,
        )
    return {
        "retried": retried,
        "interrupted_crawls": closed,
        "requeued": requeued,
        "outbox_recovered": recovered,
        "sender_queued": sender,
    }


def _retry(runtime: Runtime, job: queue.QueuedJob, why: str) -> bool:
    """Run a stalled job again; when an identical job is already waiting, end this one as failed instead."""
    manager = runtime.app.job_manager
    try:
        # procrastinate compares `retry_at` with PostgreSQL's clock, not with the runtime's (an injected one in
        # tests, the same wall clock in a worker): the wall clock says "now" in its terms.
        manager.retry_job_by_id(job_id=job.id, retry_at=utcnow())
    except exceptions.UniqueViolation as exc:
        # procrastinate's message names no constraint: only this attribute says it was the queueing lock.
        if exc.queueing_lock is None:
            raise
        utils.async_to_sync(manager.finish_job_by_id_async, job_id=job.id, status=_failed(), delete_job=False)
        log_event(
            "sweep",
            "stalled job dropped",
            job_id=job.id,
            task=job.task,
            level=logging.WARNING,
            reason=f"{why}; the same work is queued already",
        )
        return False
    log_event(
        "sweep",
        "stalled job retried",
        job_id=job.id,
        task=job.task,
        level=logging.WARNING,
        reason=why,
        site=job.args.get("site"),
    )
    return True


def _failed():
    from procrastinate.jobs import Status

    return Status.FAILED


def live_worker_ids(database: Database, now: datetime) -> set[int]:
    """procrastinate worker ids of the bantin workers whose lease is live."""
    return {
        int(worker_id)
        for holder in leases_named(database, WORKER_LEASE_PREFIX)
        if holder.live(now)
        for worker_id in holder.info.get("worker_ids") or ()
    }


def _stuck_crawls(runtime: Runtime, stalled_after: float) -> list[queue.QueuedJob]:
    now = runtime.clock()
    alive = live_worker_ids(runtime.database, now)
    stuck = []
    for job in queue.active_jobs(runtime.database, queue.CRAWL_TASK):
        if job.status != "doing" or job.started_at is None:
            continue
        if (now - job.started_at).total_seconds() < stalled_after or job.worker_id in alive:
            continue
        holder = lease_holder(runtime.database, crawl_lease(job.args.get("site", "")))
        if holder is None or not holder.live(now):
            stuck.append(job)
    return stuck


def _reconcile_ledger(runtime: Runtime) -> tuple[list[int], list[str]]:
    now = runtime.clock()
    with runtime.database.session() as session:
        closed = dead_runs.close_orphaned_runs(session, now=now)
    requeued = []
    enabled = {entry.id for entry in runtime.config.enabled_sites()}
    for site, run_id in _sites_last_died(runtime.database, enabled):
        if queue.site_jobs(runtime.database, site):
            continue
        holder = lease_holder(runtime.database, crawl_lease(site))
        if holder is not None and holder.live(now):
            continue
        # Once per dead run, whichever worker's sweep sees it first.
        outcome = queue.defer_once(
            runtime.database,
            queue.CRAWL_TASK,
            queue=queue.CRAWL_QUEUE,
            periodic_id=f"reconcile:{site}",
            timestamp=run_id,
            args={"site": site, "reason": "reconcile"},
            queueing_lock=crawl_lease(site),
        )
        if outcome == "queued":
            requeued.append(site)
    return closed, requeued


def _sites_last_died(database: Database, sites: set[str]) -> list[tuple[str, int]]:
    """(site, run id) for each site whose latest crawl run was found dead (killed, crashed, host lost)."""
    if not sites:
        return []
    with database.session(write=False) as session:
        latest = (
            select(CrawlRun.site, func.max(CrawlRun.id).label("id"))
            .where(CrawlRun.site.in_(sites))
            .group_by(CrawlRun.site)
            .subquery()
        )
        rows = session.execute(
            select(CrawlRun.site, CrawlRun.id, CrawlRun.status, CrawlRun.message).join(
                latest, CrawlRun.id == latest.c.id
            )
        ).all()
    return [
        (site, run_id)
        for site, run_id, status, message in rows
        if status == "interrupted" and dead_runs.DEAD_MESSAGE in (message or "")
    ]


# Finished jobs are kept this long (`bantin status` counts them), a dead worker's lease this long after it expired.
JOB_RETENTION_HOURS = 7 * 24
DEAD_WORKER_SHOWN = timedelta(hours=1)


def _forget_old(runtime: Runtime) -> None:
    from sqlalchemy import delete

    from crawler.store.models import Lease

    utils.async_to_sync(
        runtime.app.job_manager.delete_old_jobs,
        nb_hours=JOB_RETENTION_HOURS,
        include_failed=True,
        include_cancelled=True,
        include_aborted=True,
    )
    with runtime.database.session() as session:
        session.execute(
            delete(Lease).where(
                Lease.name.startswith(WORKER_LEASE_PREFIX, autoescape=True),
                Lease.expires_at < runtime.clock() - DEAD_WORKER_SHOWN,
            )
        )


def _reconcile_outbox(runtime: Runtime) -> tuple[int, bool]:
    from reports.fanout import recover_expired_claims

    recovered = recover_expired_claims(runtime.database, now=runtime.clock())
    return recovered, _queue_sender_if_idle(runtime)
