"""The cluster's recovery logic in-process, on an injected clock: the sweep, the digest's wait, claim renewal.

The sweep retries jobs whose worker stalled, or that nothing runs any more;
closes crawl ledger rows with no crawl behind them and queues their outlet once.
The digest plan waits for the crawl (re-queueing itself, queueing a missing
crawl once) until its deadline. A sender's claims are renewed while it sends,
so no other sender takes a row mid-send, and recovered once they expire.
Tasks run as a worker runs them: in a thread outside the loop that opened the app.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from typing import overload

import pytest
from procrastinate import JobContext, utils
from procrastinate.jobs import Job, Status
from sqlalchemy import select, text, update

from crawler.clock import VIETNAM, utcnow
from crawler.config import parse_config
from crawler.locks import crawl_lease, this_host
from crawler.store import Database
from crawler.store import runs as dead_runs
from crawler.store.models import CrawlRun, OutboxMessage
from reports import delivery, fanout
from reports.delivery import OUTBOX_LEASE
from scheduler.cluster import queue, tasks
from tests import cluster_support
from tests.cluster_support import (  # noqa: F401 - pg_url: a fixture
    ELSEWHERE,
    add_run,
    cluster_toml,
    crawl_job,
    hold,
    jobs_of,
    pg_url,
    register_worker,
    smtp_sink,
    stall,
    take,
)
from tests.digest_support import NOW, Sink, make_config, standard_archive
from tests.service_support import wait_for

# Fixtures, found by pytest as module attributes: a database and the App opened as a worker opens it.
cluster_db, app = cluster_support.cluster_db, cluster_support.app

SITES = {site: f"http://127.0.0.1:9/{site}/" for site in ("a", "b", "c", "d", "e", "f")}


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


# -- a worker's surroundings ----------------------------------------------------


def context(app, runtime: tasks.Runtime, job: Job) -> JobContext:
    return JobContext(
        app=app,
        worker_name=runtime.name,
        job=job,
        start_timestamp=time.time(),
        additional_context={"bantin": runtime},
        abort_reason=lambda: None,
    )


def run_sweep(app, runtime: tasks.Runtime, worker_id: int) -> dict:
    queue.defer(app, queue.SWEEP_TASK, timestamp=int(time.time()))
    job = take(app, worker_id, queue.MAINTENANCE_QUEUE)
    assert job is not None
    result = tasks.sweep(context(app, runtime, job), **job.task_kwargs)
    succeeded(app, job)
    return result


def succeeded(app, job: Job) -> None:
    assert job.id is not None
    utils.async_to_sync(
        app.job_manager.finish_job_by_id_async, job_id=job.id, status=Status.SUCCEEDED, delete_job=False
    )


def runtime_for(database: Database, app, *, clock=utcnow, extra: str = "") -> tasks.Runtime:
    config = parse_config(cluster_toml(database.url, sites=SITES, extra=extra))
    return tasks.Runtime(config=config, database=database, name="sweeper", app=app, clock=clock)


def status_of(database: Database, job_id: int) -> tuple[str, int]:
    with database.session() as session:
        return tuple(
            session.execute(
                text("SELECT status::text, attempts FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
            ).one()
        )


# -- the sweep: stalled and stuck jobs -------------------------------------------------


@pytest.mark.postgres
def test_the_sweep_retries_the_jobs_of_a_worker_whose_heartbeat_stalled_and_no_others(cluster_db, app):
    runtime = runtime_for(cluster_db, app)
    dead, alive = register_worker(app), register_worker(app)
    hold(
        cluster_db,
        f"{tasks.WORKER_LEASE_PREFIX}alive",
        now=utcnow(),
        ttl=timedelta(hours=1),
        info={"worker_ids": [alive]},
    )
    orphaned = crawl_job(app, dead, "a")
    running = crawl_job(app, alive, "b")
    stall(cluster_db, dead)
    result = run_sweep(app, runtime, alive)
    assert result["retried"] == [orphaned]
    # Back in the queue for any worker, its attempt counted; the live worker's crawl goes on.
    assert status_of(cluster_db, orphaned) == ("todo", 1)
    assert status_of(cluster_db, running) == ("doing", 0)
    # Retried once: the next sweep finds nothing to do.
    assert run_sweep(app, runtime, alive)["retried"] == []


@pytest.mark.postgres
def test_a_stalled_job_whose_work_is_queued_again_already_is_ended_not_retried(cluster_db, app):
    runtime = runtime_for(cluster_db, app)
    dead, alive = register_worker(app), register_worker(app)
    orphaned = crawl_job(app, dead, "a")
    # The next scheduled crawl of the outlet was queued meanwhile (the queueing lock binds waiting jobs only).
    waiting = crawl_job(app, None, "a")
    stall(cluster_db, dead)
    result = run_sweep(app, runtime, alive)
    # Running both would crawl the outlet twice; the waiting one does the work and the sweep goes on to the rest.
    assert result["retried"] == []
    assert status_of(cluster_db, orphaned)[0] == "failed"
    assert status_of(cluster_db, waiting) == ("todo", 0)


@pytest.mark.postgres
def test_the_sweep_retries_a_crawl_nothing_runs_once_it_is_older_than_the_stall_timeout(cluster_db, app):
    start = utcnow()
    clock = Clock(start)
    runtime = runtime_for(cluster_db, app, clock=clock)
    stalled_after = timedelta(seconds=runtime.config.cluster.stalled_after_seconds)
    # procrastinate thinks both workers alive (their rows beat); only `listed` has a bantin worker lease naming it,
    # as a worker whose row was pruned and reused, or never published, has not.
    listed, unlisted = register_worker(app), register_worker(app)
    hold(
        cluster_db,
        f"{tasks.WORKER_LEASE_PREFIX}listed",
        now=start,
        ttl=timedelta(days=1),
        info={"worker_ids": [listed]},
    )
    nobody = crawl_job(app, unlisted, "a")
    with_worker = crawl_job(app, listed, "b")
    crawling = crawl_job(app, unlisted, "c")
    hold(cluster_db, crawl_lease("c"), now=start, ttl=timedelta(days=1))
    lease_expired = crawl_job(app, unlisted, "d")
    hold(cluster_db, crawl_lease("d"), now=start, ttl=timedelta(seconds=1))
    crawl_job(app, None, "e")  # waiting, not started: not stuck whatever its age

    # Younger than the stall timeout: it may still be starting its crawl.
    assert tasks._stuck_crawls(runtime, stalled_after.total_seconds()) == []
    assert run_sweep(app, runtime, listed)["retried"] == []

    clock.now = start + stalled_after + timedelta(seconds=30)
    stuck = tasks._stuck_crawls(runtime, stalled_after.total_seconds())
    assert [job.id for job in stuck] == [nobody, lease_expired]
    assert run_sweep(app, runtime, listed)["retried"] == [nobody, lease_expired]
    assert [status_of(cluster_db, job) for job in (nobody, lease_expired)] == [("todo", 1), ("todo", 1)]
    assert [status_of(cluster_db, job)[0] for job in (with_worker, crawling)] == ["doing", "doing"]


@pytest.mark.postgres
def test_the_sweep_takes_over_neither_itself_nor_the_jobs_its_own_worker_runs_when_its_heartbeat_lags(cluster_db, app):
    runtime = runtime_for(cluster_db, app)
    lagging, dead = register_worker(app), register_worker(app)
    mine = crawl_job(app, lagging, "a")
    runtime.track(mine, "crawl a")
    orphaned = crawl_job(app, dead, "b")
    # The sweeping worker's loop lagged (a loaded machine): its own heartbeat is as old as the dead worker's.
    stall(cluster_db, lagging)
    stall(cluster_db, dead)
    queue.defer(app, queue.SWEEP_TASK, timestamp=int(time.time()))
    sweep_job = take(app, lagging, queue.MAINTENANCE_QUEUE)
    assert sweep_job is not None and sweep_job.id is not None
    assert {job.id for job in queue.stalled_jobs(cluster_db, stalled_after=30)} == {mine, orphaned, sweep_job.id}
    result = tasks.sweep(context(app, runtime, sweep_job), **sweep_job.task_kwargs)
    assert result["retried"] == [orphaned]
    # Neither the running sweep nor the crawl beside it went back to the queue (they would run twice).
    assert status_of(cluster_db, sweep_job.id) == ("doing", 0)
    assert status_of(cluster_db, mine) == ("doing", 0)
    assert status_of(cluster_db, orphaned) == ("todo", 1)
    succeeded(app, sweep_job)


@pytest.mark.postgres
def test_the_sweep_queues_one_sender_when_rows_are_due_and_no_sender_runs(cluster_db, app):
    rows = built_rows(cluster_db)
    clock = Clock(LATER)
    runtime = runtime_for(cluster_db, app, clock=clock)
    worker = register_worker(app)
    # Rows under a live claim are a sender's, alive or not yet expired: nothing to queue.
    owner = fanout.new_owner("w1")
    assert fanout.claim_batch(cluster_db, owner, now=clock.now, ttl=timedelta(minutes=2), limit=10) == rows
    assert run_sweep(app, runtime, worker)["sender_queued"] is False
    assert active(cluster_db, queue.SEND_TASK) == []
    # The claim ran out (its sender died before sending): the rows are due, and no sender job is queued or running.
    clock.advance(timedelta(minutes=3))
    assert run_sweep(app, runtime, worker)["sender_queued"] is True
    [sender] = active(cluster_db, queue.SEND_TASK)
    # The next sweep finds the sender waiting for a slot: not a second one.
    assert run_sweep(app, runtime, worker)["sender_queued"] is False
    assert [job.id for job in active(cluster_db, queue.SEND_TASK)] == [sender.id]


@pytest.mark.postgres
def test_a_sender_waits_only_for_running_builds_and_a_build_queues_the_sender_it_finds_missing(cluster_db, app):
    config = make_config(cluster_db.url)
    standard_archive(cluster_db)
    fanout.prepare_fanout(config, cluster_db, now=LATER)
    runtime = tasks.Runtime(config=config, database=cluster_db, name="w1", app=app, clock=Clock(LATER))
    worker = register_worker(app)
    # A worker with one digest slot runs a sender; the digest's build job is queued behind it, waiting for that slot.
    queue.defer(app, queue.SEND_TASK, queueing_lock="send:1:0", timestamp=1)
    sender = take(app, worker, queue.DIGEST_QUEUE)
    assert sender is not None and sender.task_name == queue.SEND_TASK
    queue.defer(app, queue.BUILD_DIGEST_TASK, timestamp=1, shard=0, shards=1, now=LATER.isoformat())
    outcome: list[dict] = []
    sending = threading.Thread(
        target=lambda: outcome.append(tasks.send_outbox(context(app, runtime, sender), timestamp=1))
    )
    sending.start()
    sending.join(20)
    try:
        # Waiting for the build would hold the slot the build waits for, for ever.
        assert not sending.is_alive(), "the sender waits for a build job that cannot start"
    finally:
        runtime.stopping.set()
        sending.join(20)
    assert outcome == [{"sent": 0, "failed": 0, "pending": 0}]
    succeeded(app, sender)
    # The build runs in the freed slot; its rows would wait for the next sweep: it queues their sender itself.
    build = take(app, worker, queue.DIGEST_QUEUE)
    assert build is not None and build.task_name == queue.BUILD_DIGEST_TASK
    runtime.stopping.clear()
    assert tasks.build_digest(context(app, runtime, build), **build.task_kwargs)["queued"] == 2
    succeeded(app, build)
    [queued_sender] = active(cluster_db, queue.SEND_TASK)
    assert queued_sender.status == "todo"


# -- the sweep: the crawl ledger ----------------------------------------------------


def gone_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def run_states(database: Database) -> dict[int, tuple[str, str, datetime | None]]:
    with database.session() as session:
        return {run.id: (run.status, run.message, run.finished_at) for run in session.scalars(select(CrawlRun))}


@pytest.mark.postgres
def test_ledger_rows_with_no_crawl_behind_them_are_closed_and_their_outlet_crawled_once(cluster_db, app):
    now = utcnow()
    runtime = runtime_for(
        cluster_db,
        app,
        clock=Clock(now),
        extra='[[sites]]\nid = "off"\nbase_url = "http://127.0.0.1:9/off/"\nenabled = false\n',
    )
    beat = now - timedelta(seconds=30)
    silent = now - dead_runs.STALE_AFTER - timedelta(minutes=1)
    # a: its process on this machine is gone. b: on another machine, silent for longer than the stale limit.
    killed = add_run(cluster_db, "a", hostname=this_host(), pid=gone_pid(), started_at=beat, heartbeat_at=beat)
    lost = add_run(cluster_db, "b", hostname=ELSEWHERE, pid=4242, started_at=silent, heartbeat_at=silent)

    def died(site: str, message: str = "") -> None:
        with cluster_db.session() as session:
            run = CrawlRun(site=site, status="running", hostname=ELSEWHERE, started_at=silent, heartbeat_at=silent)
            session.add(run)
            session.flush()
            dead_runs.close_dead_run(run, "test")
            run.message = message or run.message

    # c died yesterday and runs again, on another machine, beating; d runs on this one, its process alive.
    died("c")
    beating = add_run(cluster_db, "c", hostname=ELSEWHERE, pid=4242, started_at=silent, heartbeat_at=beat)
    here = add_run(cluster_db, "d", hostname=this_host(), pid=os.getppid(), started_at=beat, heartbeat_at=beat)
    # e died and its crawl has just started again on a worker (before its child took the site's lease).
    died("e")
    restarted_e = crawl_job(app, register_worker(app), "e")
    # f was stopped cleanly (its job went back to the queue by itself); "off" died but is crawled no more.
    died("f", "stopped by w1 (SIGTERM)")
    died("off")

    closed, requeued = tasks._reconcile_ledger(runtime)
    assert sorted(closed) == [killed, lost]
    states = run_states(cluster_db)
    assert states[killed][0] == "interrupted" and states[killed][1].startswith(dead_runs.DEAD_MESSAGE)
    assert "is gone" in states[killed][1]
    assert states[lost][0] == "interrupted" and "no heartbeat" in states[lost][1]
    # Closed as of their last sign of life, not of the sweep.
    assert states[killed][2] == beat and states[lost][2] == silent
    assert states[beating][0] == states[here][0] == "running"
    assert requeued == ["a", "b"]
    jobs = {args["site"]: (job_id, args) for job_id, _status, args in jobs_of(cluster_db, queue.CRAWL_TASK)}
    assert set(jobs) == {"a", "b", "e"} and jobs["e"][0] == restarted_e
    assert jobs["a"][1]["reason"] == "reconcile"

    # Once per dead run: the requeued crawl of `a` fails too, without a new run row; no second one is queued.
    with cluster_db.session() as session:
        session.execute(
            text("SELECT procrastinate_finish_job_v1(id, 'failed', false) FROM procrastinate_jobs WHERE id = :id"),
            {"id": jobs["a"][0]},
        )
    assert tasks._reconcile_ledger(runtime) == ([], [])
    assert len(jobs_of(cluster_db, queue.CRAWL_TASK)) == 3


@pytest.mark.postgres
def test_a_dead_outlet_is_not_queued_while_its_crawl_lease_is_held(cluster_db, app):
    now = utcnow()
    runtime = runtime_for(cluster_db, app, clock=Clock(now))
    silent = now - dead_runs.STALE_AFTER - timedelta(minutes=1)
    add_run(cluster_db, "a", hostname=ELSEWHERE, pid=4242, started_at=silent, heartbeat_at=silent)
    # A crawl of `a` has just taken the lease (its ledger row is not written yet).
    hold(cluster_db, crawl_lease("a"), now=now, ttl=timedelta(minutes=2))
    closed, requeued = tasks._reconcile_ledger(runtime)
    assert len(closed) == 1 and requeued == []
    assert jobs_of(cluster_db, queue.CRAWL_TASK) == []
    # The lease expired with nothing done: queued now.
    runtime.clock = Clock(now + timedelta(minutes=3))
    assert tasks._reconcile_ledger(runtime) == ([], ["a"])


# -- the digest waits for the crawl -----------------------------------------------------

# The crawl is due at 04:00 in Hà Nội, the digest at 05:00 and waits at most 30 minutes for it.
DIGEST_SCHEDULE = """
[schedule]
crawl = "0 4 * * *"
digest = "0 5 * * *"
digest_wait_minutes = 30
[digest]
unsubscribe_mailto = "unsubscribe@example.org"
"""
CRAWL_DUE = datetime(2026, 3, 3, 4, 0, tzinfo=VIETNAM)
DIGEST_DUE = CRAWL_DUE + timedelta(hours=1)
STAMP = int(DIGEST_DUE.timestamp())


def digest_runtime(database: Database, app, clock: Clock) -> tasks.Runtime:
    sites = {site: SITES[site] for site in ("a", "b")}
    config = parse_config(
        cluster_toml(database.url, sites=sites, extra=DIGEST_SCHEDULE, cluster="digest_shards = 2\nsenders = 1")
    )
    return tasks.Runtime(config=config, database=database, name="planner", app=app, clock=clock)


def crawled(database: Database, site: str, status: str, finished: datetime) -> None:
    add_run(database, site, status=status, started_at=finished - timedelta(minutes=5), finished_at=finished)


def run_plan(app, runtime: tasks.Runtime, worker_id: int) -> dict:
    """Run the next plan job once it is due (a re-queued one is due a fraction of a second later)."""
    job = wait_for(lambda: take(app, worker_id, queue.DIGEST_QUEUE), timeout=30, what="the plan job")
    assert job.task_name == queue.PLAN_DIGEST_TASK
    result = tasks.plan_digest(context(app, runtime, job), **job.task_kwargs)
    succeeded(app, job)
    return result


def active(database: Database, task: str) -> list[queue.QueuedJob]:
    return queue.active_jobs(database, task)


@pytest.mark.postgres
def test_the_digest_queues_the_missing_crawl_once_waits_for_it_and_goes_ahead_when_it_failed(cluster_db, app):
    clock = Clock(DIGEST_DUE + timedelta(minutes=1))
    runtime = digest_runtime(cluster_db, app, clock)
    worker = register_worker(app)
    crawled(cluster_db, "a", "ok", CRAWL_DUE + timedelta(minutes=20))
    # b's last success is yesterday's: not this digest's crawl.
    crawled(cluster_db, "b", "ok", CRAWL_DUE - timedelta(hours=20))
    queue.defer(app, queue.PLAN_DIGEST_TASK, timestamp=STAMP)

    assert run_plan(app, runtime, worker) == {"waiting_for": ["b"]}
    [crawl] = active(cluster_db, queue.CRAWL_TASK)
    assert crawl.args == {"site": "b", "reason": "digest"}
    [plan] = active(cluster_db, queue.PLAN_DIGEST_TASK)
    deadline = (clock.now + timedelta(minutes=30)).isoformat()
    assert plan.args == {"timestamp": STAMP, "deadline": deadline, "requested": True}
    assert plan.scheduled_at is not None and active(cluster_db, queue.BUILD_DIGEST_TASK) == []

    # Still queued nine minutes later: waits again, for the same deadline, and queues no second crawl.
    clock.advance(timedelta(minutes=9))
    assert run_plan(app, runtime, worker) == {"waiting_for": ["b"]}
    assert [job.id for job in active(cluster_db, queue.CRAWL_TASK)] == [crawl.id]
    [plan] = active(cluster_db, queue.PLAN_DIGEST_TASK)
    assert plan.args == {"timestamp": STAMP, "deadline": deadline, "requested": True}

    # The crawl ran and failed: nothing more to wait for, the digest goes out with what there is.
    with cluster_db.session() as session:
        session.execute(
            text("SELECT procrastinate_finish_job_v1(:id, 'failed', false)"),
            {"id": crawl.id},
        )
    crawled(cluster_db, "b", "failed", clock.now)
    clock.advance(timedelta(minutes=1))
    assert run_plan(app, runtime, worker) == {"shards": 2, "senders": 1, "crawl": "crawl failed"}
    assert active(cluster_db, queue.PLAN_DIGEST_TASK) == [] and active(cluster_db, queue.CRAWL_TASK) == []
    builds = active(cluster_db, queue.BUILD_DIGEST_TASK)
    assert sorted(job.args["shard"] for job in builds) == [0, 1]
    assert {job.args["now"] for job in builds} == {clock.now.isoformat()}
    assert len(active(cluster_db, queue.SEND_TASK)) == 1


@pytest.mark.postgres
def test_the_digest_waits_for_a_running_crawl_until_its_deadline(cluster_db, app):
    clock = Clock(DIGEST_DUE + timedelta(minutes=1))
    runtime = digest_runtime(cluster_db, app, clock)
    worker = register_worker(app)
    crawled(cluster_db, "a", "ok", CRAWL_DUE + timedelta(minutes=20))
    # b is being crawled right now (by a `bantin crawl` outside the queue: only its lease says so).
    hold(cluster_db, crawl_lease("b"), now=clock.now, ttl=timedelta(hours=2))
    queue.defer(app, queue.PLAN_DIGEST_TASK, timestamp=STAMP)

    assert run_plan(app, runtime, worker) == {"waiting_for": ["b"]}
    # Not requested: the crawl was already going; none is queued beside it.
    assert active(cluster_db, queue.CRAWL_TASK) == []
    [plan] = active(cluster_db, queue.PLAN_DIGEST_TASK)
    assert plan.args["requested"] is False

    clock.advance(timedelta(minutes=29, seconds=59))
    assert run_plan(app, runtime, worker) == {"waiting_for": ["b"]}
    # The deadline: the digest goes with what there is, the crawl still running.
    clock.advance(timedelta(seconds=1))
    assert run_plan(app, runtime, worker)["crawl"] == "timed out"
    assert active(cluster_db, queue.PLAN_DIGEST_TASK) == [] and active(cluster_db, queue.CRAWL_TASK) == []
    assert len(active(cluster_db, queue.BUILD_DIGEST_TASK)) == 2


@pytest.mark.postgres
def test_the_digest_goes_at_once_when_every_outlet_was_crawled_since_the_crawl_was_due(cluster_db, app):
    clock = Clock(DIGEST_DUE + timedelta(minutes=1))
    runtime = digest_runtime(cluster_db, app, clock)
    worker = register_worker(app)
    crawled(cluster_db, "a", "ok", CRAWL_DUE + timedelta(minutes=20))
    crawled(cluster_db, "b", "degraded", CRAWL_DUE + timedelta(minutes=1))
    queue.defer(app, queue.PLAN_DIGEST_TASK, timestamp=STAMP)
    assert run_plan(app, runtime, worker)["crawl"] == "done"
    assert active(cluster_db, queue.CRAWL_TASK) == [] and active(cluster_db, queue.PLAN_DIGEST_TASK) == []


# -- a sender's claims --------------------------------------------------------------

LATER = NOW + timedelta(hours=1)
TTL = timedelta(seconds=0.3)


def built_rows(database, readers: str = "") -> list[int]:
    config = make_config(database.url, extra=readers)
    standard_archive(database)
    fanout.prepare_fanout(config, database, now=LATER)
    fanout.build_shard(config, database, now=LATER, shard=0, shards=1)
    with database.session() as session:
        return sorted(session.scalars(select(OutboxMessage.id)))


def claims(database) -> dict[int, tuple[str, str | None, datetime | None]]:
    with database.session() as session:
        return {
            row.id: (row.status, row.claimed_by, row.claim_expires_at)
            for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        }


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
def aware(moment: datetime | None) -> datetime | None:
    # SQLite gives naive UTC back.
    return moment.replace(tzinfo=NOW.tzinfo) if moment is not None and moment.tzinfo is None else moment


def test_claims_are_renewed_while_sending_and_recovered_once_the_keeper_stopped(database):
    dead, sending, pending = built_rows(database, '[[recipients]]\nemail = "chi@example.org"\n')
    clock = Clock(LATER)
    owner, other = fanout.new_owner("w1"), fanout.new_owner("w2")
    # A sender that died before it sent anything: its claim runs out, its row is another sender's to claim.
    assert fanout.claim_batch(database, fanout.new_owner("w0"), now=clock.now, ttl=TTL, limit=1) == [dead]
    assert fanout.claim_batch(database, owner, now=clock.now, ttl=TTL, limit=10) == [sending, pending]
    assert fanout._claimed_by(owner)(database, sending, clock.now)
    with fanout.ClaimKeeper(database, owner, TTL, clock):
        # Long past the first expiry: only the keeper's renewals keep the rows this sender's.
        clock.advance(timedelta(minutes=5))
        renewed = clock.now + TTL
        wait_for(
            lambda: [aware(claims(database)[row][2]) for row in (sending, pending)] == [renewed, renewed],
            timeout=10,
            what="the claims renewed",
        )
        # Another sender gets the row whose claim expired, none of this one's.
        assert aware(claims(database)[dead][2]) == LATER + TTL
        assert fanout.claim_batch(database, other, now=clock.now, ttl=TTL, limit=10) == [dead]
        assert fanout.recover_expired_claims(database, now=clock.now) == 0
        assert claims(database)[sending][:2] == ("sending", owner)
    # Stopped (the sender died, or finished): no renewal after, the claims run out...
    clock.advance(timedelta(minutes=5))
    time.sleep(4 * TTL.total_seconds() / 3)
    assert [aware(claims(database)[row][2]) for row in (sending, pending)] == [renewed, renewed]
    # ... and the row it was sending goes back to pending, for another sender to claim with the rest.
    assert fanout.recover_expired_claims(database, now=clock.now) == 1
    assert claims(database)[sending] == ("pending", None, None)
    assert fanout.claim_batch(database, other, now=clock.now, ttl=TTL, limit=10) == [dead, sending, pending]


class HeldSink(Sink):
    """Holds each message until the test lets it go: a sender in the middle of a slow SMTP transaction."""

    def __init__(self):
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.arrived.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


def test_no_other_sender_takes_a_row_from_a_sender_in_the_middle_of_sending_it(database):
    with smtp_sink(HeldSink()) as sink:
        config = make_config(database.url, sink.port)
        standard_archive(database)
        fanout.prepare_fanout(config, database, now=LATER)
        fanout.build_shard(config, database, now=LATER, shard=0, shards=1)
        clock = Clock(LATER)
        outcome: list[fanout.SendResult] = []
        sender = threading.Thread(
            target=lambda: outcome.append(
                fanout.send_claimed(config, database, worker="w1", clock=clock, ttl=TTL, batch_size=10)
            )
        )
        sender.start()
        try:
            assert sink.arrived.wait(10)
            # The message takes longer than the claim lasts.
            clock.advance(timedelta(minutes=5))
            wait_for(
                lambda: all(
                    expiry is not None and aware(expiry) > clock.now
                    for _status, _by, expiry in claims(database).values()
                ),
                timeout=10,
                what="the sender's claims renewed",
            )
            rows = claims(database)
            assert sorted(status for status, _by, _expiry in rows.values()) == ["pending", "sending"]
            # Neither the row being sent nor the one waiting its turn in the batch can be taken.
            assert fanout.claim_batch(database, fanout.new_owner("w2"), now=clock.now, ttl=TTL, limit=10) == []
            assert fanout.recover_expired_claims(database, now=clock.now) == 0
        finally:
            sink.release.set()
            sender.join(30)
    [result] = outcome
    assert [item.status for item in result.results] == ["sent", "sent"]
    assert sorted(rcpt for rcpts, _msg_id in sink.received for rcpt in rcpts) == ["an@example.org", "binh@example.org"]
    assert {status for status, _by, _expiry in claims(database).values()} == {"sent"}


# -- one machine and the cluster on one outbox ------------------------------------------


def set_status(database, row_id: int, status: str) -> None:
    with database.session() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(status=status))


def test_a_cluster_sender_leaves_alone_a_row_a_live_one_machine_run_is_sending(database):
    mid_send, _other = built_rows(database)
    # `bantin digest --send` on another machine holds the outbox lease and is sending this row (it claims none).
    set_status(database, mid_send, "sending")
    hold(database, OUTBOX_LEASE, now=LATER, ttl=timedelta(minutes=2))
    assert fanout.recover_expired_claims(database, now=LATER) == 0
    assert claims(database)[mid_send] == ("sending", None, None)
    # That run died (its lease ran out): the row goes back to pending, to be resent with the same bytes.
    assert fanout.recover_expired_claims(database, now=LATER + timedelta(minutes=3)) == 1
    assert claims(database)[mid_send] == ("pending", None, None)


def test_a_one_machine_digest_run_never_takes_a_row_from_a_live_cluster_sender(database):
    sending, waiting = built_rows(database)
    owner = fanout.new_owner("w1")
    # A cluster sender claimed both rows and is in the middle of sending the first.
    assert fanout.claim_batch(database, owner, now=LATER, ttl=timedelta(minutes=2), limit=10) == [sending, waiting]
    set_status(database, sending, "sending")
    with smtp_sink(Sink()) as sink:
        config = make_config(database.url, sink.port)
        run = delivery.run_digest(config, database, now=LATER + timedelta(minutes=1), sleep=lambda _s: None)
        assert run.recovered == 0 and run.sent == 0
        assert sink.received == []
        assert claims(database)[sending][:2] == ("sending", owner)
        assert claims(database)[waiting][:2] == ("pending", owner)
        # The sender died: once its claim is over, the next run resends the row it was sending and sends the other.
        run = delivery.run_digest(config, database, now=LATER + timedelta(minutes=3), sleep=lambda _s: None)
        assert run.recovered == 1 and run.sent == 2
        assert sorted(rcpt for rcpts, _id in sink.received for rcpt in rcpts) == ["an@example.org", "binh@example.org"]


def test_a_sender_sends_the_last_rows_of_a_build_that_ended_while_it_looked(database):
    with smtp_sink(Sink()) as sink:
        config = make_config(database.url, sink.port)
        standard_archive(database)
        fanout.prepare_fanout(config, database, now=LATER)
        asked: list[bool] = []

        def more_coming() -> bool:
            # The digest's one build job commits its rows and ends just as the sender first looks for more.
            if not asked:
                fanout.build_shard(config, database, now=LATER, shard=0, shards=1)
            asked.append(False)
            return False

        result = fanout.send_claimed(
            config, database, worker="w1", more_coming=more_coming, clock=Clock(LATER), ttl=TTL, batch_size=10
        )
    # Not left to the next sweep: no build is running any more, so nothing else would send them sooner.
    assert [item.status for item in result.results] == ["sent", "sent"]
    assert sorted(rcpt for rcpts, _id in sink.received for rcpt in rcpts) == ["an@example.org", "binh@example.org"]


@pytest.mark.postgres
def test_the_planner_queues_one_sender_for_rows_due_between_digests(cluster_db):
    from scheduler.cluster.planner import ClusterService

    rows = built_rows(cluster_db)
    config = parse_config(cluster_toml(cluster_db.url, sites=SITES))
    planner = ClusterService(config, cluster_db, install_signals=False)
    planner.app.open()
    try:
        # A reader's server said "try later" (greylisting): the row waits for its retry, no digest is due.
        planner.plan(LATER)
        [sender] = active(cluster_db, queue.SEND_TASK)
        planner.plan(LATER)
        assert [job.id for job in active(cluster_db, queue.SEND_TASK)] == [sender.id]
        # Rows under a live claim are a sender's: nothing is queued for them.
        succeeded_job(cluster_db, sender.id)
        assert (
            fanout.claim_batch(cluster_db, fanout.new_owner("w1"), now=LATER, ttl=timedelta(hours=1), limit=10) == rows
        )
        planner.plan(LATER)
        assert active(cluster_db, queue.SEND_TASK) == []
    finally:
        planner.app.close()


def succeeded_job(database: Database, job_id: int) -> None:
    with database.session() as session:
        session.execute(text("SELECT procrastinate_finish_job_v1(:id, 'succeeded', false)"), {"id": job_id})
