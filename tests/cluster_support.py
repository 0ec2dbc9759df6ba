"""Helpers for the cluster tests: a fresh PostgreSQL database, configs, `bantin worker` processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select, text

from crawler.crawl.run import python_module_command
from crawler.store import Database
from crawler.store.models import CrawlRun
from tests.conftest import POSTGRES_ENV, _fresh_postgres_database
from tests.service_support import wait_for

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def smtp_sink(handler):
    """An aiosmtpd server on loopback for `handler` (a tests.digest_support.Sink); sets handler.port."""
    from aiosmtpd.controller import Controller

    from tests.digest_support import free_port

    handler.port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database (cluster mode is PostgreSQL only)."""
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    url, drop = _fresh_postgres_database(server)
    try:
        yield url
    finally:
        drop()


def cluster_toml(
    database_url: str,
    *,
    sites: dict[str, str] | None = None,
    cluster: str = "",
    extra: str = "",
    delay: float = 0.0,
    enabled: bool = True,
) -> str:
    entries = "".join(
        f'[[sites]]\nid = "{site}"\nbase_url = "{url}"\ndownload_delay = {delay}\n'
        for site, url in (sites or {}).items()
    )
    return f"""{entries}
[storage]
database_url = "{database_url}"
[crawl]
autothrottle = false
concurrency = 1
timeout_seconds = 5
retries = 1
lookback_days = 7
[cluster]
enabled = {str(enabled).lower()}
heartbeat_seconds = 0.5
stalled_after_seconds = 2
sweep_seconds = 1
plan_seconds = 0.2
claim_seconds = 3
{cluster}
{extra}
"""


@dataclass
class Worker:
    """A `bantin worker` process, its output in a file."""

    name: str
    config: Path
    log: Path
    args: tuple[str, ...] = ()
    # Its environment (this process's when None): the sister sites' path on PYTHONPATH, for one.
    env: dict[str, str] | None = None
    process: subprocess.Popen = field(init=False)

    def __post_init__(self) -> None:
        self._handle = open(self.log, "wb")
        self.process = subprocess.Popen(
            [
                *python_module_command(),
                "crawler",
                "--config",
                str(self.config),
                "worker",
                "--name",
                self.name,
                *self.args,
            ],
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            cwd=str(REPO),
            env=self.env,
        )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_output(self, needle: str, timeout: float = 60.0) -> None:
        wait_for(
            lambda: needle in self.output(), timeout=timeout, what=f"{self.name}: {needle!r}", process=self.process
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 90.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._handle.close()

    def close(self) -> None:
        self.kill()
        self._handle.close()


def crawl_runs(database: Database, site: str | None = None) -> list[CrawlRun]:
    with database.session() as session:
        query = select(CrawlRun).order_by(CrawlRun.id)
        if site is not None:
            query = query.where(CrawlRun.site == site)
        return list(session.scalars(query))


def jobs_of(database: Database, task: str) -> list[tuple[int, str, dict]]:
    with database.session() as session:
        return [
            tuple(row)
            for row in session.execute(
                text("SELECT id, status::text, args FROM procrastinate_jobs WHERE task_name = :task ORDER BY id"),
                {"task": task},
            )
        ]


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ", 1)[1][:1] == "Z"
    except OSError:
        return True


SERVE_DRIVER = r"""
import sys
from datetime import datetime, timedelta
sys.path.insert(0, {repo!r})
from crawler.config import load_config
from crawler.store import Database
from scheduler.cluster.planner import ClusterService
from scheduler.service import configure_logging

config_path, clock_file = sys.argv[1], sys.argv[2]


def clock():
    with open(clock_file, encoding="ascii") as handle:
        return datetime.fromisoformat(handle.read().strip())


configure_logging("text")
config = load_config(config_path)
database = Database(config.storage.url)
service = ClusterService(config, database, clock=clock, poll_seconds=0.05, heartbeat_seconds=0.1,
                         lease_ttl=timedelta(minutes=2))
sys.exit(service.run())
"""


class FileClock:
    """A clock several processes read from one file; the test moves it."""

    def __init__(self, path: Path, start):
        self.path = path
        self.set(start)

    def set(self, moment) -> None:
        self.now = moment
        partial = self.path.with_suffix(".tmp")
        partial.write_text(moment.isoformat(), encoding="ascii")
        partial.replace(self.path)

    def advance(self, delta) -> None:
        self.set(self.now + delta)


class ServeProcess:
    """A `bantin serve` (cluster mode) whose clock is a FileClock."""

    def __init__(self, driver: Path, config: Path, clock: FileClock, log: Path, env: dict[str, str] | None = None):
        self.log = log
        self._handle = open(log, "wb")
        self.process = subprocess.Popen(
            [sys.executable, str(driver), str(config), str(clock.path)],
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            cwd=str(REPO),
            env=env,
        )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()
        self._handle.close()


def write_serve_driver(directory: Path) -> Path:
    driver = directory / "serve_driver.py"
    driver.write_text(SERVE_DRIVER.format(repo=str(REPO)), encoding="utf-8")
    return driver


# -- in-process: procrastinate opened as a worker opens it, and the rows other machines leave ---------------

ELSEWHERE = "elsewhere.example.org"


@pytest.fixture
def cluster_db(pg_url):  # noqa: F811 - the fixture above, requested by name
    database = Database(pg_url)
    try:
        yield database
    finally:
        database.dispose()


@contextlib.contextmanager
def worker_app(database_url: str):
    """The App opened as `bantin worker` opens it (async, its loop in another thread than the tasks')."""
    import asyncio
    import threading

    from scheduler.cluster import queue

    app = queue.make_app(database_url)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="worker-loop", daemon=True)
    thread.start()

    async def open_app() -> None:
        await app.open_async()

    asyncio.run_coroutine_threadsafe(open_app(), loop).result(30)
    try:
        yield app
    finally:
        asyncio.run_coroutine_threadsafe(app.close_async(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def app(cluster_db):
    with worker_app(cluster_db.url) as opened:
        yield opened


def register_worker(app) -> int:
    from procrastinate import utils

    return utils.async_to_sync(app.job_manager.register_worker)


def take(app, worker_id: int, queue_name: str):
    """What a worker does first with a job: mark it 'doing' under its id (and the 'started' event); a Job or None."""
    from procrastinate import utils

    return utils.async_to_sync(app.job_manager.fetch_job, queues=[queue_name], worker_id=worker_id)


def stall(database: Database, worker_id: int) -> None:
    """The worker stopped sending heartbeats a minute ago (killed, its machine lost)."""
    with database.session() as session:
        session.execute(
            text("UPDATE procrastinate_workers SET last_heartbeat = NOW() - INTERVAL '1 minute' WHERE id = :id"),
            {"id": worker_id},
        )


def hold(database: Database, name: str, *, now, ttl, info: dict | None = None) -> None:
    """A lease held by a process on another machine (its pid cannot be checked from here: only its expiry)."""
    from crawler.locks import try_acquire

    assert try_acquire(database, name, f"{ELSEWHERE}:4242:x", ttl=ttl, info=info, clock=lambda: now) is None


def crawl_job(app, worker_id: int | None, site: str) -> int:
    """A crawl job for `site`, queued, and taken by `worker_id` unless None."""
    from crawler.locks import crawl_lease
    from scheduler.cluster import queue

    job_id = queue.defer(app, queue.CRAWL_TASK, queueing_lock=crawl_lease(site), site=site)
    assert job_id is not None
    if worker_id is not None:
        job = take(app, worker_id, queue.CRAWL_QUEUE)
        assert job is not None and job.id == job_id
    return job_id


def add_run(database: Database, site: str, *, status: str = "running", **values) -> int:
    """A crawl ledger row as written by whichever machine ran it; its id."""
    with database.session() as session:
        run = CrawlRun(site=site, status=status, **values)
        session.add(run)
        session.flush()
        return run.id


@dataclass
class Serve(Worker):
    """A real `bantin serve` process (`name` only labels it), its output in a file: SIGTERM with `stop`."""

    def __post_init__(self) -> None:
        self._handle = open(self.log, "wb")
        self.process = subprocess.Popen(
            [*python_module_command(), "crawler", "--config", str(self.config), "serve", *self.args],
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            cwd=str(REPO),
            env=self.env,
        )
