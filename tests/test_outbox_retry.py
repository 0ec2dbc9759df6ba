"""Greylisting: the service retries waiting outbox rows the same day, with back-off; a waiting digest is not "ok".

The service's jobs run in-process against a real SMTP server on loopback; time is an injected clock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from crawler.health import collect_status
from crawler.locks import hold_lease
from crawler.store import Database
from crawler.store.models import JobRun, OutboxMessage
from reports.delivery import OUTBOX_LEASE, RETRY_FIRST, RETRY_MAX, retry_delay, run_digest
from scheduler.service import RETRY_JOB, Service
from spiders.registry import everyday_sources
from tests.digest_support import NOW, Sink, free_port, make_config, standard_archive
from tests.service_support import FakeClock

GREYLISTED = "451 4.7.1 greylisted, try again later"


@pytest.fixture
def sink():
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


@pytest.fixture
def service(tmp_path, sink):
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    standard_archive(database)  # with a crawl since 06:00, so the digest does not wait for one
    clock = FakeClock(NOW)
    service = Service(
        make_config(database.url, sink.port),
        database,
        clock=clock,
        digest_runner=run_digest,
        waiter=clock.waiter,
        poll_seconds=0.01,
        install_signals=False,
    )
    yield service
    database.dispose()


def digest_jobs(database):
    with database.session() as session:
        return [
            (job.trigger, job.status, job.detail.get("pending"), job.detail.get("sent"))
            for job in session.scalars(select(JobRun).where(JobRun.job == "digest").order_by(JobRun.id))
        ]


def waits(database, now):
    with database.session() as session:
        return sorted(
            row.next_attempt_at - now
            for row in session.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending"))
        )


def test_greylisted_digest_goes_out_the_same_day_with_back_off(service, sink):
    database, clock = service.database, service.clock
    sink.replies = [GREYLISTED] * 4  # both in-run attempts for both readers
    assert service.run_digest(trigger="schedule") == "pending"
    assert digest_jobs(database) == [("schedule", "pending", 2, 0)]
    report = collect_status(service.config, database, now=clock(), everyday_sources=everyday_sources)
    assert report["digest_jobs"][0]["status"] == "pending"
    assert "outbox_retrying" in {warning["code"] for warning in report["warnings"]}
    assert waits(database, NOW) == [RETRY_FIRST, RETRY_FIRST]

    clock.advance(60)  # not yet due: nothing is tried, no job run is recorded
    assert service.retry_job() is None
    assert len(sink.received) == 4 and len(digest_jobs(database)) == 1

    clock.now = NOW + RETRY_FIRST  # still greylisted: the wait doubles
    sink.replies = [GREYLISTED] * 4
    assert service.retry_job() == "pending"
    assert waits(database, clock.now) == [2 * RETRY_FIRST, 2 * RETRY_FIRST]

    clock.now += 2 * RETRY_FIRST
    assert service.retry_job() == "ok"
    assert len(sink.messages) == 2
    assert digest_jobs(database)[-2:] == [("retry", "pending", 2, 0), ("retry", "ok", 0, 2)]
    assert service.retry_job() is None  # nothing left to do
    report = collect_status(service.config, database, now=clock(), everyday_sources=everyday_sources)
    assert report["digest_jobs"][0]["status"] == "ok"


def test_retry_job_leaves_the_outbox_to_whoever_holds_it(service, sink):
    sink.replies = [GREYLISTED] * 4
    service.run_digest(trigger="schedule")
    service.clock.now = NOW + RETRY_FIRST
    with hold_lease(service.database, OUTBOX_LEASE, info={"job": "digest"}):
        assert service.retry_job() == "skipped"
    assert len(sink.received) == 4  # nothing sent while another process held the outbox
    assert service.retry_job() == "ok"


def test_the_retry_job_is_scheduled_every_few_minutes(service):
    from apscheduler.schedulers.background import BackgroundScheduler

    service.scheduler = BackgroundScheduler(timezone=service.config.schedule.tz)
    service.scheduler.start(paused=True)
    try:
        service._add_jobs()
        job = service.scheduler.get_job(RETRY_JOB)
        assert job.trigger.interval <= timedelta(minutes=10)
    finally:
        service.scheduler.shutdown(wait=False)


def test_back_off_grows_from_minutes_to_hours():
    assert [retry_delay(attempts, 3) for attempts in (1, 3, 4, 6, 9)] == [
        RETRY_FIRST,
        RETRY_FIRST,
        2 * RETRY_FIRST,
        2 * RETRY_FIRST,
        4 * RETRY_FIRST,
    ]
    assert RETRY_FIRST <= timedelta(minutes=15) and timedelta(hours=1) <= RETRY_MAX <= timedelta(hours=6)
    assert retry_delay(300, 3) == RETRY_MAX
