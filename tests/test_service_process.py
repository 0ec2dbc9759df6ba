"""The service as a real process: catch-up, one runner per database, SIGTERM, a SIGKILLed crawl child."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers beside this file

from service_support import (
    PATIENCE,
    REPO,
    Driver,
    count,
    cron_at,
    fake_crawl_command,
    holder_of,
    wait_for,
    write_scripts,
    write_service_config,
)

from crawler.locks import lease_holder
from crawler.store.models import CrawlRun, JobRun, OutboxMessage

pytestmark = pytest.mark.slow


class Setup:
    def __init__(self, tmp_path: Path, database):
        self.tmp = tmp_path
        self.database = database
        self.fake, self.driver = write_scripts(tmp_path)
        self.mode = tmp_path / "mode"
        self.gate = tmp_path / "gate"
        self.mode.write_text("ok")
        self.gate.write_text("open")
        # Both jobs were due two minutes ago: a start now catches them up.
        due = datetime.now(UTC) - timedelta(minutes=2)
        self.config = write_service_config(
            tmp_path / "bantin.toml", database.url, crawl=cron_at(due), digest=cron_at(due)
        )
        self.drivers: list[Driver] = []

    def start(self) -> Driver:
        log = self.tmp / f"service{len(self.drivers)}.log"
        driver = Driver(
            self.driver, self.config, fake_crawl_command(self.fake, self.database.url, self.mode), self.gate, log
        )
        self.drivers.append(driver)
        return driver

    def job_runs(self, job: str) -> list[JobRun]:
        with self.database.session() as session:
            return session.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.id)).all()

    def crawls(self) -> list[CrawlRun]:
        with self.database.session() as session:
            return session.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()

    def finished(self, job: str) -> list[JobRun]:
        return [run for run in self.job_runs(job) if run.status != "running"]

    def outbox(self) -> dict[str, int]:
        with self.database.session() as session:
            rows = session.scalars(select(OutboxMessage)).all()
        return {row.recipient: row.status for row in rows}


@pytest.fixture
def setup(tmp_path, database):
    state = Setup(tmp_path, database)
    yield state
    for driver in state.drivers:
        driver.kill()


def test_catch_up_runs_once_and_delivers_then_not_again(setup):
    service = setup.start()
    wait_for(lambda: setup.finished("digest"), what="the digest", process=service.process)
    assert service.stop() == 0
    output = service.output()
    assert "job=crawl event=catch-up" in output and "job=digest event=catch-up" in output
    assert [run.status for run in setup.crawls()] == ["ok"]
    assert [run.status for run in setup.finished("digest")] == ["ok"]
    assert setup.outbox() == {"a@example.org": "sent", "b@example.org": "sent"}
    assert "job=service event=stopped outcome=ok" in output
    assert lease_holder(setup.database, "service") is None

    again = setup.start()
    text = again.wait_output("job=service event=started")
    assert "catch-up" not in text
    assert again.stop() == 0
    assert len(setup.crawls()) == 1 and len(setup.job_runs("digest")) == 1


def test_second_service_on_the_same_database_exits_at_once(setup):
    first = setup.start()
    first.wait_output("job=service event=started")
    second = setup.start()
    assert second.process.wait(timeout=PATIENCE) == 75
    assert "already running on this database" in second.output()
    # The real command line says the same, with exit status 75.
    cli = subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(setup.config), "serve"],
        capture_output=True,
        text=True,
        cwd=str(REPO),
        timeout=PATIENCE,
    )
    assert cli.returncode == 75, cli.stderr
    assert "bantin serve is already running" in cli.stderr and f"pid {first.process.pid}" in cli.stderr
    assert first.process.poll() is None
    assert first.stop() == 0


def test_two_services_started_together_only_one_runs(setup):
    setup.mode.write_text("hang")  # keep the winner busy so it cannot finish first
    one, two = setup.start(), setup.start()
    try:
        loser = wait_for(
            lambda: next((d for d in (one, two) if d.process.poll() is not None), None), what="one service to give up"
        )
    except AssertionError as failure:
        raise AssertionError(f"{failure}\nfirst:\n{one.output()[-3000:]}\nsecond:\n{two.output()[-3000:]}") from None
    winner = two if loser is one else one
    assert loser.process.returncode == 75
    wait_for(lambda: setup.crawls(), what="the winner's crawl", process=winner.process)
    assert winner.stop() == 0
    assert [run.status for run in setup.crawls()] == ["interrupted"]
    assert len(setup.job_runs("crawl")) == 1


def test_sigterm_during_a_crawl_then_the_next_start_finishes(setup):
    setup.mode.write_text("hang")
    service = setup.start()
    wait_for(lambda: any(run.status == "running" for run in setup.crawls()), what="the crawl", process=service.process)
    assert service.stop(signal.SIGTERM) == 0
    assert [run.status for run in setup.crawls()] == ["interrupted"]
    assert {run.status for run in setup.job_runs("crawl")} <= {"interrupted"}
    assert all(run.status != "running" for run in setup.job_runs("digest"))
    assert setup.outbox() == {}  # the digest never sent without its crawl
    assert lease_holder(setup.database, "service") is None
    assert lease_holder(setup.database, "crawl:nhandan") is None

    setup.mode.write_text("ok")
    again = setup.start()
    wait_for(
        lambda: any(run.status == "ok" for run in setup.finished("digest")), what="the digest", process=again.process
    )
    assert again.stop() == 0
    assert [run.status for run in setup.crawls()] == ["interrupted", "ok"]
    assert setup.outbox() == {"a@example.org": "sent", "b@example.org": "sent"}


def test_sigterm_during_a_digest_lets_it_finish(setup):
    setup.gate.unlink()
    service = setup.start()
    wait_for(lambda: "sending" in setup.outbox().values(), what="a message in sending", process=service.process)
    service.process.send_signal(signal.SIGTERM)
    service.wait_output("job=service event=stopping")
    setup.gate.write_text("open")  # the SMTP server answers: the digest completes
    assert service.stop() == 0
    assert setup.outbox() == {"a@example.org": "sent", "b@example.org": "sent"}
    assert [run.status for run in setup.job_runs("digest")] == ["ok"]
    with setup.database.session() as session:
        attempts = session.scalars(select(OutboxMessage.attempts)).all()
    assert attempts == [1, 1]  # nothing sent twice

    again = setup.start()
    assert "catch-up" not in again.wait_output("job=service event=started")
    assert again.stop() == 0
    assert count(setup.database, OutboxMessage) == 2


def test_sigkilled_crawl_child_fails_the_job_and_the_service_goes_on(setup):
    # Only the crawl is due (the digest is hours away).
    later = datetime.now(UTC) + timedelta(hours=6)
    write_service_config(
        setup.config, setup.database.url, crawl=cron_at(datetime.now(UTC) - timedelta(minutes=2)), digest=cron_at(later)
    )
    setup.mode.write_text("hang")
    service = setup.start()
    running = wait_for(
        lambda: next((run for run in setup.crawls() if run.status == "running"), None),
        what="the crawl",
        process=service.process,
    )
    os.kill(running.pid, signal.SIGKILL)
    killed_at = datetime.now(UTC)
    wait_for(lambda: setup.finished("crawl"), what="the crawl job to end", process=service.process)
    [crawl] = setup.crawls()
    assert crawl.status == "interrupted" and "SIGKILL" in crawl.message and crawl.finished_at is not None
    assert [run.status for run in setup.job_runs("crawl")] == ["failed"]
    assert "job=crawl event=finished outcome=failed" in service.output()
    assert lease_holder(setup.database, "crawl:nhandan") is None
    # Still serving: the service keeps its lease fresh after the crash.
    wait_for(
        lambda: holder_of(setup.database, "service").heartbeat_at > killed_at,
        what="a heartbeat",
        process=service.process,
    )
    assert holder_of(setup.database, "service").pid == service.process.pid
    assert service.stop() == 0


@pytest.mark.parametrize("storm", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_signals_during_shutdown_never_kill_the_service(setup, storm):
    setup.mode.write_text("hang")  # a crawl to stop makes the shutdown take a while
    service = setup.start()
    wait_for(lambda: any(run.status == "running" for run in setup.crawls()), what="the crawl", process=service.process)
    service.process.send_signal(signal.SIGTERM)
    sent = 0
    # Keep signalling until the process is gone: whatever arrives while it
    # stops, releases its lease and exits must not kill it.
    while service.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(service.process.pid, storm)
            sent += 1
        time.sleep(0.001)
    assert service.stop() == 0, service.output()[-3000:]
    assert sent > 10
    assert lease_holder(setup.database, "service") is None
    assert "job=service event=stopped outcome=ok" in service.output()
    assert [run.status for run in setup.crawls()] == ["interrupted"]
