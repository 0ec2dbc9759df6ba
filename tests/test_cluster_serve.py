"""Three `bantin serve` processes in cluster mode on one database, over 100 simulated ticks.

One holds the service lease and queues; the others wait. The leader is
SIGKILLed once (a standby takes over at once: same host, its pid is gone) and
frozen once (SIGSTOP: a standby takes over when the lease expires on the
injected clock, and the old leader, resumed, finds the lease lost and exits).
Every due crawl (per site, of the cluster's twelve outlets) and digest is queued exactly once, none missed.
Those processes run a driver script on a file clock; the real `bantin serve`
command is run too, twice: one leads and queues, the other waits, both stop at SIGTERM.
"""

from __future__ import annotations

import signal
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from crawler.clock import VIETNAM
from crawler.cron import make_trigger
from crawler.locks import lease_holder
from crawler.samplesite.sisters import CLUSTER_OUTLETS, child_environment
from crawler.store import Database
from scheduler.cluster import queue
from scheduler.service import SERVICE_LEASE, previous_fire_time
from tests.cluster_support import (  # noqa: F401 - pg_url: a fixture
    FileClock,
    Serve,
    ServeProcess,
    cluster_toml,
    pg_url,
    write_serve_driver,
)
from tests.service_support import wait_for
from tests.site_support import sister_sites  # noqa: F401 - a fixture

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SITES = CLUSTER_OUTLETS
CRAWL, DIGEST = "*/5 * * * *", "2,32 * * * *"
# Shorter than the service lease (two minutes on the same clock): a tick never expires a live leader's lease.
TICK = timedelta(minutes=1)


def fire_times(cron: str, start: datetime, end: datetime) -> list[datetime]:
    trigger = make_trigger(cron, "Asia/Ho_Chi_Minh")
    moment = previous_fire_time(trigger, start)
    times = []
    while moment is not None and moment <= end:
        times.append(moment)
        moment = trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))
    return times


def due(start: datetime, now: datetime) -> set[tuple[str, str, int]]:
    wanted = {
        (queue.CRAWL_TASK, site, int(moment.timestamp())) for moment in fire_times(CRAWL, start, now) for site in SITES
    }
    wanted |= {(queue.PLAN_DIGEST_TASK, "digest", int(moment.timestamp())) for moment in fire_times(DIGEST, start, now)}
    return wanted


def queued(database: Database) -> list[tuple[str, str, int]]:
    """(task, site or "digest", fire time) of every job queued by a `bantin serve`."""
    with database.session() as session:
        return [
            tuple(row)
            for row in session.execute(
                text(
                    "SELECT task_name, COALESCE(args->>'site', 'digest'), (args->>'timestamp')::bigint "
                    "FROM procrastinate_jobs "
                    "WHERE task_name IN (:crawl, :digest)"
                ),
                {"crawl": queue.CRAWL_TASK, "digest": queue.PLAN_DIGEST_TASK},
            )
        ]


def finish_waiting_jobs(database: Database) -> None:
    """Stand in for the workers: what was queued is done, so the next run of a site is not coalesced into it."""
    with database.session() as session:
        session.execute(
            text(
                "SELECT procrastinate_finish_job_v1(id, 'succeeded', false) FROM procrastinate_jobs "
                "WHERE status = 'todo'"
            )
        )


def renewed_at(database: Database) -> datetime:
    holder = lease_holder(database, SERVICE_LEASE)
    return holder.heartbeat_at if holder is not None else datetime.min.replace(tzinfo=VIETNAM)


def leader_pid(database: Database, clock: FileClock) -> int | None:
    holder = lease_holder(database, SERVICE_LEASE)
    return holder.pid if holder is not None and not holder.expired(clock.now) else None


def test_three_serve_processes_queue_every_due_job_exactly_once(tmp_path: Path, pg_url, sister_sites):  # noqa: F811
    sites = {site: "http://127.0.0.1:9" for site in SITES}
    config = tmp_path / "bantin.toml"
    text_ = cluster_toml(
        pg_url, sites=sites, extra=f'[schedule]\ncrawl = "{CRAWL}"\ndigest = "{DIGEST}"\nmisfire_grace_hours = 1\n'
    )
    config.write_text(text_.replace("plan_seconds = 0.2", "plan_seconds = 0.05"), encoding="utf-8")
    database = Database(pg_url)
    start = datetime(2026, 12, 1, 0, 5, tzinfo=VIETNAM)
    clock = FileClock(tmp_path / "clock", start)
    driver = write_serve_driver(tmp_path)
    environment = child_environment(sister_sites)
    serves = [ServeProcess(driver, config, clock, tmp_path / f"serve{index}.log", environment) for index in range(3)]
    by_pid = {serve.process.pid: serve for serve in serves}
    try:
        wait_for(lambda: leader_pid(database, clock) in by_pid, what="a leader")
        wait_for(lambda: sum("event=standby" in serve.output() for serve in serves) == 2, what="two standbys")
        for tick in range(100):
            if tick == 30:
                killed = wait_for(
                    lambda: leader_pid(database, clock) in by_pid and leader_pid(database, clock), what="the leader"
                )
                by_pid[killed].process.send_signal(signal.SIGKILL)
                wait_for(
                    lambda killed=killed: leader_pid(database, clock) not in (None, killed),
                    what="a takeover after SIGKILL",
                )
            if tick == 60:
                frozen = by_pid[
                    wait_for(
                        lambda: leader_pid(database, clock) in by_pid and leader_pid(database, clock), what="the leader"
                    )
                ]
                frozen.process.send_signal(signal.SIGSTOP)
                # Past the lease's two minutes, within the tick: a standby takes over the expired lease.
                clock.advance(timedelta(minutes=3))
                wait_for(
                    lambda frozen=frozen: leader_pid(database, clock) not in (None, frozen.process.pid),
                    what="a takeover after the lease expired",
                )
                frozen.process.send_signal(signal.SIGCONT)
                assert frozen.process.wait(timeout=60) == 1
                assert "another process took over the service lease" in frozen.output()
            if tick:
                clock.advance(TICK)
            wanted = due(start, clock.now)
            try:
                wait_for(
                    lambda wanted=wanted: set(queued(database)) >= wanted,
                    timeout=30,
                    what=f"tick {tick}: everything due queued",
                )
            except AssertionError:
                missing = wanted - set(queued(database))
                raise AssertionError(f"tick {tick} ({clock.now}): not queued: {sorted(missing)}") from None
            finish_waiting_jobs(database)
            # Simulated time moves no faster than the leader renews its lease (as real time does).
            wait_for(lambda: renewed_at(database) >= clock.now, what=f"tick {tick}: the leader's heartbeat")
        jobs = queued(database)
        # Exactly once each, none missed (the stand-in workers finished every job in time: none coalesced).
        assert len(jobs) == len(set(jobs)) and set(jobs) == due(start, clock.now)
        crawls = [job for job in jobs if job[0] == queue.CRAWL_TASK]
        assert len(crawls) == len(SITES) * len(fire_times(CRAWL, start, clock.now))
        assert sum('event="took over"' in serve.output() for serve in serves) == 2
    finally:
        for serve in serves:
            serve.close()
        database.dispose()


def test_the_real_bantin_serve_leads_on_one_machine_and_waits_as_a_standby_on_another(
    tmp_path: Path,
    pg_url,  # noqa: F811
    sister_sites,  # noqa: F811
):
    """`bantin --config X serve` itself, twice on one database: the command's cluster branch is what runs, and
    the standby takes over when the leader dies."""
    config = tmp_path / "bantin.toml"
    # Every minute: the latest fire time is less than a minute old, within the grace, so the first planning step
    # (at once, then every plan_seconds) finds the crawls and the digest due.
    config.write_text(
        cluster_toml(
            pg_url,
            sites={site: "http://127.0.0.1:9" for site in SITES},
            extra='[schedule]\ncrawl = "* * * * *"\ndigest = "* * * * *"\n',
        ),
        encoding="utf-8",
    )
    # Migrated before either starts: each then opens a database at head.
    database = Database(pg_url)
    environment = child_environment(sister_sites)
    leader = Serve("leader", config, tmp_path / "leader.log", env=environment)
    standby: Serve | None = None
    try:
        leader.wait_output("event=started")
        standby = Serve("standby", config, tmp_path / "standby.log", env=environment)
        # The one-machine service would exit 75 here ("already running"): in cluster mode it waits for the lease.
        standby.wait_output("event=standby")
        assert f"(pid {leader.process.pid})" in standby.output()
        holder = lease_holder(database, SERVICE_LEASE)
        assert holder is not None and holder.pid == leader.process.pid

        def crawls_queued() -> list[tuple[str, str, int]]:
            jobs = queued(database)
            return jobs if {site for task, site, _ in jobs if task == queue.CRAWL_TASK} == set(SITES) else []

        jobs = wait_for(crawls_queued, what="a crawl queued for every outlet")
        # Queued once per fire time, not once per planning step or per process.
        assert len(jobs) == len(set(jobs))
        assert all(stamp % 60 == 0 for _task, _site, stamp in jobs)
        with database.session() as session:
            statuses = session.execute(text("SELECT DISTINCT status::text FROM procrastinate_jobs")).scalars().all()
        assert statuses == ["todo"]
        # The leader dies (SIGKILL): the standby on this host sees its pid gone and takes over at once, and queues
        # nothing twice (the 100-tick test above proves that on an injected clock).
        leader.kill()
        standby.wait_output('event="took over"')
        holder = lease_holder(database, SERVICE_LEASE)
        assert holder is not None and holder.pid == standby.process.pid
        after = queued(database)
        assert set(jobs) <= set(after) and len(after) == len(set(after))
        # The new leader stops cleanly at SIGTERM and lets go of its lease.
        assert standby.stop() == 0, standby.output()[-3000:]
        assert "event=stopped outcome=ok" in standby.output()
        assert lease_holder(database, SERVICE_LEASE) is None
    finally:
        for serve in (leader, standby):
            if serve is not None:
                serve.close()
        database.dispose()
