"""Helpers for the service tests: a fake crawl child, a fake digest, a service driver process.

The fake crawl child behaves like `bantin crawl` towards the service: it holds
the "crawl:nhandan" lease, writes its own CrawlRun row with its pid and host, exits 75
when the lease is taken, and on SIGTERM records "interrupted" and exits 1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from crawler.locks import LeaseInfo, lease_holder

REPO = Path(__file__).resolve().parents[1]
VN = ZoneInfo("Asia/Ho_Chi_Minh")

FAKE_CRAWL = r"""
import os, signal, socket, sys, time
from datetime import datetime, timezone
sys.path.insert(0, {repo!r})
from crawler.store import Database
from crawler.store.models import CrawlRun
from crawler.errors import LockBusyError
from crawler.locks import hold_lease

url, mode_file = sys.argv[1], sys.argv[2]
mode = open(mode_file).read().strip() if os.path.exists(mode_file) else "ok"
db = Database(url)
now = lambda: datetime.now(timezone.utc)

def close(status, message=""):
    with db.session() as s:
        run = s.get(CrawlRun, run_id)
        run.status, run.finished_at, run.message = status, now(), message

run_id = None
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    def stop(signum, frame):
        if run_id is not None:
            close("interrupted", "stopped by a signal")
        sys.exit(1)
    signal.signal(signal.SIGTERM, stop)

try:
    with hold_lease(db, "crawl:nhandan", info={{"purpose": "fake crawl"}}, heartbeat_seconds=0.5):
        # A SIGTERM during the insert is held until the row and its id are known.
        signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGTERM}})
        with db.session() as s:
            run = CrawlRun(site="nhandan", started_at=now(), status="running", trigger="service", pid=os.getpid(),
                           hostname=socket.gethostname(), heartbeat_at=now(),
                           counts={{"rss": {{"discovered": 3, "fetched": 2, "new": 2, "updated": 0, "failed": 0}}}},
                           errors=[])
            s.add(run); s.flush(); new_id = run.id
        run_id = new_id
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {{signal.SIGTERM}})
        print(f"fake crawl {{mode}} run {{run_id}} pid {{os.getpid()}}", flush=True)
        if mode == "ok":
            close("ok"); sys.exit(0)
        if mode == "degraded":
            close("degraded", "layout changed"); sys.exit(0)
        if mode == "crash":
            os._exit(3)
        while True:
            time.sleep(0.05)
except LockBusyError as exc:
    print(f"busy: {{exc}}", flush=True)
    sys.exit(75)
"""

DRIVER = r"""
import json, sys
sys.path.insert(0, {repo!r})
sys.path.insert(0, {tests!r})
from crawler.config import load_config
from crawler.store import Database
from crawler.errors import LockBusyError
from scheduler.service import Service, configure_logging
from service_support import FakeDigest

config_path, crawl_command, gate = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
import faulthandler, signal
faulthandler.register(signal.SIGUSR1)
configure_logging("text")
config = load_config(config_path)
database = Database(config.storage.url)
service = Service(config, database, crawl_command=crawl_command, digest_runner=FakeDigest(gate),
                  kill_grace=2.0, poll_seconds=0.1, heartbeat_seconds=0.5)
try:
    sys.exit(service.run())
except LockBusyError as exc:
    print(f"bantin: error: {{exc}}", file=sys.stderr, flush=True)
    sys.exit(75)
"""


def write_scripts(directory: Path) -> tuple[Path, Path]:
    fake = directory / "fake_crawl.py"
    fake.write_text(FAKE_CRAWL.format(repo=str(REPO)), encoding="utf-8")
    driver = directory / "driver.py"
    driver.write_text(DRIVER.format(repo=str(REPO), tests=str(REPO / "tests")), encoding="utf-8")
    return fake, driver


def fake_crawl_command(fake: Path, database_url: str, mode_file: Path) -> list[str]:
    return [sys.executable, str(fake), database_url, str(mode_file)]


@dataclass
class DigestResult:
    sent: int = 0
    failed: int = 0
    pending: int = 0
    results: list = field(default_factory=list)


class FakeDigest:
    """An outbox-driven digest for two recipients: pending -> sending -> sent, idempotent.

    When `gate` names a file, each send waits until that file exists (so a test
    can signal the service while a message is in "sending").
    """

    recipients = ("a@example.org", "b@example.org")

    def __init__(self, gate: str | None = None):
        self.gate = gate

    def __call__(self, config, database, *, now=None):
        from sqlalchemy.dialects import postgresql, sqlite

        from crawler.store.models import OutboxMessage

        now = now or datetime.now(UTC)
        day = now.astimezone(VN).date()
        module = postgresql if database.dialect == "postgresql" else sqlite
        with database.session() as session:
            for recipient in self.recipients:
                session.execute(
                    module.insert(OutboxMessage)
                    .values(
                        digest_key=day.isoformat(),
                        digest_date=day,
                        recipient=recipient,
                        message_id=f"<{day}.{recipient}@test>",
                        subject="s",
                        raw_message=b"x",
                        items=[],
                        status="pending",
                        created_at=now,
                        updated_at=now,
                    )
                    .on_conflict_do_nothing()
                )
        result = DigestResult()
        with database.session() as session:
            ids = session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.status.in_(("pending", "sending")))
            ).all()
        for row_id in ids:
            with database.session() as session:
                row = session.get(OutboxMessage, row_id)
                row.status, row.attempts = "sending", row.attempts + 1
            if self.gate:
                while not os.path.exists(self.gate):
                    time.sleep(0.02)
            with database.session() as session:
                row = session.get(OutboxMessage, row_id)
                row.status, row.sent_at = "sent", datetime.now(UTC)
            result.sent += 1
        return result


def write_service_config(path: Path, database_url: str, *, crawl: str, digest: str, extra: str = "") -> Path:
    path.write_text(
        f'''
[storage]
database_url = "{database_url}"
[schedule]
timezone = "Asia/Ho_Chi_Minh"
crawl = "{crawl}"
digest = "{digest}"
misfire_grace_hours = 12
digest_wait_minutes = 5
{extra}
''',
        encoding="utf-8",
    )
    return path


def cron_at(moment: datetime) -> str:
    """A daily cron string firing at `moment`'s minute in Vietnam time."""
    local = moment.astimezone(VN)
    return f"{local.minute} {local.hour} * * *"


# Polls return the moment their condition holds, so the deadline only bounds a real hang: on a machine loaded
# several times over its cores, starting a service process (imports, migrations, the lease) alone took over 30 s.
PATIENCE = 180.0


def wait_for(predicate, *, timeout: float = PATIENCE, what: str = "condition", process: subprocess.Popen | None = None):
    """Poll until `predicate()` is truthy; fail after a generous timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited ({process.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def holder_of(database, name: str) -> LeaseInfo:
    """The holder of a lease the test expects to be held."""
    holder = lease_holder(database, name)
    assert holder is not None, f"nobody holds the {name} lease"
    return holder


def count(database, model, *conditions) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*conditions))


class Driver:
    """A service driver process whose stderr is collected line by line."""

    def __init__(self, driver: Path, config: Path, crawl_command: list[str], gate: Path, log: Path):
        self.log = log
        self.handle = open(log, "wb")
        self.process = subprocess.Popen(
            [sys.executable, str(driver), str(config), json.dumps(crawl_command), str(gate)],
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            cwd=str(REPO),
        )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_output(self, text: str, timeout: float = PATIENCE) -> str:
        wait_for(lambda: text in self.output(), timeout=timeout, what=repr(text), process=self.process)
        return self.output()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = PATIENCE) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGUSR1)  # the driver dumps its threads' stacks
            time.sleep(1)
            raise AssertionError(f"the service did not stop:\n{self.output()[-8000:]}") from None
        finally:
            self.handle.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.handle.close()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


class FakeClock:
    """A settable clock; `waiter` advances it instead of sleeping."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def waiter(self, event, seconds: float) -> bool:
        self.advance(seconds)
        return event.is_set()
