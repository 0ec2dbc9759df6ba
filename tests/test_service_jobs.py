"""The service's jobs in-process: crawl children (ok, crash, SIGKILL, hang, busy) and the digest's crawl wait."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers beside this file

from service_support import (
    FakeClock,
    FakeDigest,
    count,
    fake_crawl_command,
    utc,
    wait_for,
    write_scripts,
)

from crawler.config import parse_config
from crawler.locks import hold_lease, lease_holder
from crawler.store.models import CrawlRun, JobRun, Lease, OutboxMessage
from scheduler import jobs
from scheduler.service import Service


@pytest.fixture
def fake(tmp_path, database):
    script, _driver = write_scripts(tmp_path)
    mode = tmp_path / "mode"

    def command(mode_name: str) -> list[str]:
        mode.write_text(mode_name)
        return fake_crawl_command(script, database.url, mode)

    return command


def crawl_rows(database) -> list[CrawlRun]:
    with database.session() as session:
        return session.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()


def job_rows(database, job: str) -> list[JobRun]:
    with database.session() as session:
        return session.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.id)).all()


def test_crawl_child_ok(database, fake):
    outcome = jobs.run_crawl_child(fake("ok"), database=database, time_limit=60)
    assert outcome.status == "ok" and outcome.returncode == 0
    assert outcome.totals["new"] == 2
    [run] = crawl_rows(database)
    assert run.id == outcome.run_id and run.status == "ok"
    assert lease_holder(database, "crawl:nhandan") is None


def test_crawl_child_crash_fails_the_job_and_its_row_is_interrupted(database, fake):
    outcome = jobs.run_crawl_child(fake("crash"), database=database, time_limit=60)
    assert outcome.status == "failed" and outcome.returncode == 3
    [run] = crawl_rows(database)
    # Found dead: the ledger's one verdict, whoever finds it.
    assert run.status == "interrupted" and run.finished_at is not None
    assert "exit status 3" in run.message
    # The dead child's lease is freed at once.
    assert lease_holder(database, "crawl:nhandan") is None


def test_crawl_child_killed_with_sigkill_fails_the_job_and_its_row_is_interrupted(database, fake):
    def kill_when_running():
        run = wait_for(
            lambda: next((r for r in crawl_rows(database) if r.status == "running"), None), what="the running crawl row"
        )
        os.kill(run.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_when_running)
    killer.start()
    outcome = jobs.run_crawl_child(fake("hang"), database=database, time_limit=60)
    killer.join()
    assert outcome.status == "failed"
    [run] = crawl_rows(database)
    assert run.status == "interrupted" and "SIGKILL" in run.message


def test_hung_crawl_is_stopped_at_the_time_limit(database, fake):
    # The child's time passes only once it is up and crawling (however slow its start).
    def monotonic() -> float:
        return 3600.0 if any(r.status == "running" for r in crawl_rows(database)) else 0.0

    outcome = jobs.run_crawl_child(
        fake("stubborn"), database=database, time_limit=60, kill_grace=0.3, monotonic=monotonic
    )
    assert outcome.status == "failed"
    assert "time limit" in outcome.message
    [run] = crawl_rows(database)
    assert run.status == "interrupted" and "time limit" in run.message and "SIGKILL" in run.message


def test_stop_cancels_the_crawl_cleanly(database, fake):
    stop = threading.Event()

    def stop_when_running():
        wait_for(lambda: any(r.status == "running" for r in crawl_rows(database)), what="the running crawl row")
        stop.set()

    stopper = threading.Thread(target=stop_when_running)
    stopper.start()
    outcome = jobs.run_crawl_child(fake("hang"), database=database, time_limit=60, stop=stop)
    stopper.join()
    assert outcome.status == "interrupted" and outcome.job_status == "interrupted"
    [run] = crawl_rows(database)
    assert run.status == "interrupted"  # the child closed its own row
    assert lease_holder(database, "crawl:nhandan") is None


def make_service(database, command, *, clock=None, digest=None, poll=0.01, wait_minutes=5):
    config = parse_config(f'''
[storage]
database_url = "{database.url}"
[schedule]
crawl = "0 6 * * *"
digest = "30 6 * * *"
digest_wait_minutes = {wait_minutes}
''')
    clock = clock or FakeClock(utc(2025, 3, 26, 23, 30))  # 06:30 in Vietnam
    return Service(
        config,
        database,
        clock=clock,
        crawl_command=command,
        digest_runner=digest or FakeDigest(),
        waiter=clock.waiter,
        poll_seconds=poll,
        install_signals=False,
        kill_grace=1.0,
    )


def test_service_crawl_refused_while_a_manual_crawl_runs(database, fake):
    """The manual crawl holds the crawl lease: the service's child exits 75 and the job is skipped."""
    service = make_service(database, fake("ok"))
    with hold_lease(database, "crawl:nhandan", info={"purpose": "`bantin crawl`"}):
        outcome = service.run_crawl(trigger="schedule")
    assert outcome.status == "busy"
    [job] = job_rows(database, "crawl")
    assert job.status == "skipped" and "crawl lock" in job.detail["message"]
    assert crawl_rows(database) == []


def test_manual_crawl_refused_while_the_service_crawls(database, fake, tmp_path):
    """While the service's crawl child holds the lease, a second crawl exits 75 naming the holder."""
    import subprocess

    service = make_service(database, fake("hang"))
    worker = threading.Thread(target=service.run_crawl, kwargs={"trigger": "schedule"})
    worker.start()
    wait_for(lambda: lease_holder(database, "crawl:nhandan"), what="the service's crawl lease")
    second = subprocess.run(fake("ok"), capture_output=True, text=True, timeout=60)
    assert second.returncode == 75
    assert "crawl:nhandan lock is held by fake crawl" in second.stdout
    service.stopping.set()
    worker.join()
    assert [run.status for run in crawl_rows(database)] == ["interrupted"]


def test_digest_runs_the_crawl_first_when_none_ran(database, fake):
    service = make_service(database, fake("ok"))
    assert service.run_digest(trigger="schedule") == "ok"
    assert [run.status for run in crawl_rows(database)] == ["ok"]
    [crawl_job] = job_rows(database, "crawl")
    assert crawl_job.trigger == "digest" and crawl_job.status == "ok"
    [digest_job] = job_rows(database, "digest")
    assert digest_job.detail["crawl"] == "ran" and digest_job.detail["sent"] == 2
    assert count(database, OutboxMessage, OutboxMessage.status == "sent") == 2


def test_digest_does_not_recrawl_when_todays_crawl_completed(database, fake):
    clock = FakeClock(utc(2025, 3, 26, 23, 30))
    with database.session() as session:
        session.add(
            CrawlRun(
                site="nhandan",
                started_at=utc(2025, 3, 26, 23, 0),
                finished_at=utc(2025, 3, 26, 23, 4),
                status="ok",
                trigger="service",
                counts={},
                errors=[],
            )
        )
    service = make_service(database, fake("ok"), clock=clock)
    assert service.run_digest(trigger="schedule") == "ok"
    assert len(crawl_rows(database)) == 1
    assert job_rows(database, "digest")[0].detail["crawl"] == "done"


def test_digest_waits_for_a_running_crawl(database, fake):
    clock = FakeClock(utc(2025, 3, 26, 23, 30))
    # A crawl elsewhere holds the lease and finishes after a few polls.
    with database.session() as session:
        session.add(
            Lease(
                name="crawl:nhandan",
                owner="otherhost:99:x",
                acquired_at=clock.now,
                heartbeat_at=clock.now,
                expires_at=clock.now + timedelta(hours=1),
                info={},
            )
        )
    polls = []

    def waiter(event, seconds):
        polls.append(seconds)
        clock.advance(seconds)
        if len(polls) == 3:
            with database.session() as session:
                session.add(
                    CrawlRun(
                        site="nhandan",
                        started_at=utc(2025, 3, 26, 23, 0),
                        finished_at=clock.now,
                        status="ok",
                        trigger="manual",
                        counts={},
                        errors=[],
                    )
                )
        return False

    service = make_service(database, fake("ok"), clock=clock, poll=5.0)
    service.waiter = waiter
    assert service.run_digest(trigger="schedule") == "ok"
    assert len(polls) == 3
    assert job_rows(database, "digest")[0].detail["crawl"] == "waited"
    assert job_rows(database, "crawl") == []  # it did not start a crawl of its own


def test_digest_stops_waiting_after_digest_wait_minutes(database, fake):
    clock = FakeClock(utc(2025, 3, 26, 23, 30))
    with database.session() as session:
        session.add(
            Lease(
                name="crawl:nhandan",
                owner="otherhost:99:x",
                acquired_at=clock.now,
                heartbeat_at=clock.now,
                expires_at=clock.now + timedelta(hours=5),
                info={},
            )
        )
    service = make_service(database, fake("ok"), clock=clock, poll=30.0, wait_minutes=5)
    assert service.run_digest(trigger="schedule") == "ok"
    assert clock.now == utc(2025, 3, 26, 23, 35)
    [digest_job] = job_rows(database, "digest")
    assert digest_job.detail["crawl"] == "timed out" and digest_job.detail["sent"] == 2


def test_digest_skipped_while_a_manual_digest_sends(database, fake):
    with database.session() as session:
        session.add(
            CrawlRun(
                site="nhandan",
                started_at=utc(2025, 3, 26, 23, 0),
                finished_at=utc(2025, 3, 26, 23, 4),
                status="ok",
                trigger="service",
                counts={},
                errors=[],
            )
        )
    service = make_service(database, fake("ok"), poll=0.01)
    with hold_lease(database, "digest", info={"purpose": "`bantin digest --send`"}):
        assert service.run_digest(trigger="schedule") == "skipped"
    [digest_job] = job_rows(database, "digest")
    assert "digest lock is held by `bantin digest --send`" in digest_job.detail["reason"]
    assert count(database, OutboxMessage) == 0


def test_dead_crawl_rows_are_interrupted_at_service_start(database):
    import subprocess

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with database.session() as session:
        session.add(
            CrawlRun(
                site="nhandan",
                started_at=utc(2025, 3, 26, 23, 0),
                status="running",
                trigger="service",
                pid=gone.pid,
                hostname=socket.gethostname(),
                counts={},
                errors=[],
            )
        )
        session.add(
            CrawlRun(
                site="nhandan",
                started_at=utc(2025, 3, 26, 23, 0),
                status="running",
                trigger="service",
                pid=os.getpid(),
                hostname=socket.gethostname(),
                counts={},
                errors=[],
            )
        )
    service = make_service(database, ["true"])
    service._recover()
    assert sorted(run.status for run in crawl_rows(database)) == ["interrupted", "running"]


def test_reload_recreates_jobs_and_keeps_a_bad_config_out(database, fake):
    from apscheduler.schedulers.background import BackgroundScheduler

    from crawler.errors import ConfigError

    service = make_service(database, fake("ok"))
    # A started (paused) scheduler, as in the service, but one that does not block.
    service.scheduler = BackgroundScheduler(timezone=service.config.schedule.tz)
    service.scheduler.start(paused=True)
    service._add_jobs()
    new = parse_config(f'''
[storage]
database_url = "{database.url}"
[schedule]
crawl = "15 5 * * *"
digest = "45 5 * * *"
''')
    service.config_loader = lambda: new
    service.reload()
    assert str(service.scheduler.get_job("crawl").trigger.fields[5]) == "5"  # hour
    assert service.config is new

    def broken():
        raise ConfigError("bad cron string", key="schedule.crawl")

    service.config_loader = broken
    service.reload()
    assert service.config is new
    assert sorted(job.id for job in service.scheduler.get_jobs()) == ["crawl", "digest", "outbox-retry"]
    service.scheduler.shutdown(wait=False)


def test_one_child_for_several_sites_is_judged_by_its_worst_run(database):
    """A crawl child writes one run per site: totals add up, and one failed site fails the job."""
    now = utc(2025, 3, 26, 23, 0)
    host, pid = socket.gethostname(), 4242
    counts = {"rss": {"discovered": 3, "fetched": 2, "new": 2, "updated": 0, "unchanged": 0, "failed": 0}}
    with database.session() as session:
        session.add(
            CrawlRun(
                site="nhandan",
                started_at=now,
                finished_at=now,
                status="ok",
                trigger="service",
                pid=pid,
                hostname=host,
                counts=counts,
                errors=[],
            )
        )
        session.add(
            CrawlRun(
                site="othersite",
                started_at=now,
                finished_at=now,
                status="failed",
                trigger="service",
                pid=pid,
                hostname=host,
                counts=counts,
                errors=[],
                message="no discovery source",
            )
        )
    outcome = jobs._outcome(database, pid, host, now, 1, None, False, 1.0)
    assert outcome.status == "failed" and "no discovery source" in outcome.message
    assert outcome.totals["new"] == 4 and outcome.totals["discovered"] == 6


def test_a_crawl_of_any_site_counts_as_a_crawl_in_progress(database, fake):
    clock = FakeClock(utc(2025, 3, 26, 23, 30))
    service = make_service(database, fake("ok"), clock=clock)
    assert not service.crawl_in_progress()
    with hold_lease(database, "crawl:othersite", clock=clock):
        assert service.crawl_in_progress()
    assert not service.crawl_in_progress()


def test_a_stop_asked_before_the_scheduler_exists_ends_the_service_instead_of_being_lost(database, fake):
    # SIGTERM to a cluster standby in the moment it takes the lease over: the stop comes before run() has built
    # its scheduler, so there is nothing yet for it to shut down.
    service = make_service(database, fake("ok"))
    service.request_stop("SIGTERM")
    outcome: list[int] = []
    running = threading.Thread(target=lambda: outcome.append(service.run()), daemon=True)
    running.start()
    running.join(30)
    ran_on = running.is_alive()
    if ran_on and service.scheduler is not None:
        service.scheduler.shutdown(wait=False)  # the test's clean-up: the stop was lost
        running.join(30)
    assert not ran_on, "the service ran on after its stop"
    assert outcome == [0]
