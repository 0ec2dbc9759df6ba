"""The service's jobs: a crawl in a child process, the digest in-process, and their ledger.

The crawl runs as ``python -P -m crawler crawl`` in its own process (Scrapy's
reactor cannot be restarted in a long-lived process); this module watches it,
copies its output to the service log, enforces the time limit and repairs the
crawl ledger when the child dies without closing its row. Every job run, as the
service saw it, is a JobRun row: the last successful one is what catch-up after
downtime is measured against.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update

from crawler.clock import utcnow
from crawler.crawl.run import STOP_GRACE_SECONDS, crawl_child_command
from crawler.store import Database
from crawler.store import runs as dead_runs
from crawler.store.models import CrawlRun, JobRun, Lease
from crawler.store.records import RunCounts

log = logging.getLogger("bantin.service")
child_log = logging.getLogger("bantin.service.crawl")

Clock = Callable[[], datetime]

# Exit status of a crawl child that found the crawl lock taken (LockBusyError).
EXIT_BUSY = 75
SUCCESS_STATUSES = ("ok", "degraded")
# Between SIGTERM and SIGKILL: the child's own grace for requests in flight
# (after which it forces its stop, its row already closed), plus time to exit.
KILL_GRACE_SECONDS = STOP_GRACE_SECONDS + 20


# -- event log ------------------------------------------------------------------


def log_event(job: str, event: str, outcome: str | None = None, *, level: int = logging.INFO, **fields: Any) -> None:
    """One log line per event: job, event, outcome, counts (structured for --log-format json)."""
    data: dict[str, Any] = {"job": job, "event": event}
    if outcome is not None:
        data["outcome"] = outcome
    data.update({key: value for key, value in fields.items() if value is not None})
    text = " ".join(f"{key}={_text_value(value)}" for key, value in data.items())
    log.log(level, text, extra={"bantin_fields": data})


def _text_value(value: Any) -> str:
    if isinstance(value, float):
        value = f"{value:.1f}"
    value = str(value)
    return f'"{value}"' if (" " in value or not value) else value


# -- job ledger -----------------------------------------------------------------


def start_job_run(database: Database, job: str, *, trigger: str, scheduled_for: datetime | None, now: datetime) -> int:
    with database.session() as session:
        run = JobRun(job=job, trigger=trigger, scheduled_for=scheduled_for, started_at=now, status="running", detail={})
        session.add(run)
        session.flush()
        return run.id


def finish_job_run(database: Database, run_id: int, *, status: str, detail: dict[str, Any], now: datetime) -> None:
    with database.session() as session:
        session.execute(update(JobRun).where(JobRun.id == run_id).values(status=status, detail=detail, finished_at=now))


def interrupt_leftover_job_runs(database: Database, *, now: datetime) -> int:
    """JobRuns left 'running' by a service that died: only one service runs, so none is live."""
    with database.session() as session:
        result = session.execute(
            update(JobRun)
            .where(JobRun.status == "running")
            .values(status="interrupted", finished_at=now, detail={"reason": "the service stopped during this job"})
        )
        return cast(CursorResult[Any], result).rowcount


def last_success(database: Database, job: str) -> datetime | None:
    """When the last successful run of `job` was due (or started, when it was not scheduled)."""
    with database.session() as session:
        runs = session.execute(
            select(JobRun.scheduled_for, JobRun.started_at)
            .where(JobRun.job == job, JobRun.status == "ok")
            .order_by(JobRun.started_at.desc())
            .limit(20)
        ).all()
    moments = [max(filter(None, (scheduled, started))) for scheduled, started in runs]
    return max(moments, default=None)


def job_succeeded_since(database: Database, job: str, moment: datetime) -> bool:
    """Whether a run of `job` completed successfully for a fire time at or after `moment`."""
    done = last_success(database, job)
    if done is not None and done >= moment:
        return True
    return job == "crawl" and crawl_succeeded_since(database, moment)


def crawl_succeeded_since(database: Database, moment: datetime) -> bool:
    """Whether any crawl (scheduled or manual) finished ok or degraded at or after `moment`."""
    with database.session() as session:
        found = session.scalar(
            select(func.count())
            .select_from(CrawlRun)
            .where(CrawlRun.status.in_(SUCCESS_STATUSES), CrawlRun.finished_at >= moment)
        )
    return bool(found)


@contextlib.contextmanager
def recorded_job(
    database: Database,
    job: str,
    *,
    trigger: str = "manual",
    scheduled_for: datetime | None = None,
    clock: Clock | None = None,
) -> Iterator[dict[str, Any]]:
    """Record a JobRun around a block (for manual runs): ok unless the block raises."""
    clock = clock or utcnow
    run_id = start_job_run(database, job, trigger=trigger, scheduled_for=scheduled_for, now=clock())
    detail: dict[str, Any] = {}
    try:
        yield detail
    except BaseException as exc:
        detail.setdefault("error", f"{type(exc).__name__}: {exc}")
        finish_job_run(database, run_id, status="failed", detail=detail, now=clock())
        raise
    finish_job_run(database, run_id, status=detail.pop("status", "ok"), detail=detail, now=clock())


# -- crawl ledger repair --------------------------------------------------------


def drop_leases_of(database: Database, *, pid: int, hostname: str) -> None:
    """A killed child cannot release its leases; free them so the next crawl need not wait."""
    prefix = f"{hostname}:{pid}:"
    with database.session() as session:
        session.execute(delete(Lease).where(Lease.owner.startswith(prefix, autoescape=True)))


# Which of a child's runs speaks for the whole crawl: the worst one.
_STATUS_RANK = {"ok": 0, "degraded": 1, "running": 2, "interrupted": 3, "failed": 4}


def crawl_runs_of(database: Database, *, pid: int, hostname: str, spawned_at: datetime) -> list[CrawlRun]:
    """The ledger runs one crawl child wrote: one per site it crawled."""
    with database.session() as session:
        return list(
            session.scalars(
                select(CrawlRun)
                .where(
                    CrawlRun.pid == pid,
                    CrawlRun.hostname == hostname,
                    CrawlRun.started_at >= spawned_at - dead_runs.CLOCK_SLACK,
                )
                .order_by(CrawlRun.id)
            )
        )


# -- the crawl child ------------------------------------------------------------


def default_crawl_command(config_path: Path | str | None) -> list[str]:
    return crawl_child_command(config_path, "--trigger", "service")


@dataclass
class CrawlOutcome:
    """What became of one crawl child."""

    status: str  # ok | degraded | failed | interrupted | busy
    returncode: int | None
    message: str = ""
    run_id: int | None = None
    pid: int | None = None
    totals: dict[str, int] = field(default_factory=dict)
    duration: float = 0.0

    @property
    def job_status(self) -> str:
        outcomes = {"ok": "ok", "degraded": "ok", "busy": "skipped", "interrupted": "interrupted"}
        return outcomes.get(self.status, "failed")

    def detail(self) -> dict[str, Any]:
        return {
            "crawl_status": self.status,
            "returncode": self.returncode,
            "message": self.message,
            "crawl_run": self.run_id,
            "pid": self.pid,
            "totals": self.totals,
            "duration_seconds": round(self.duration, 1),
        }


def run_crawl_child(
    command: Sequence[str],
    *,
    database: Database,
    time_limit: float,
    kill_grace: float = KILL_GRACE_SECONDS,
    stop: threading.Event | None = None,
    clock: Clock | None = None,
    poll_seconds: float = 0.2,
    on_spawn: Callable[[int], None] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    lifeline: bool = False,
) -> CrawlOutcome:
    """Run one crawl child to its end and say what became of it.

    The child gets SIGTERM when `stop` is set or `time_limit` seconds pass, and
    SIGKILL if it is still alive `kill_grace` seconds later. A ledger row the
    child left 'running' is then marked failed with the reason.

    With `lifeline`, the child's stdin is a pipe this process never writes to:
    the child (started with ``--lifeline``) sees end-of-file when this process
    dies, however it dies, and stops itself (cluster workers, which may be SIGKILLed).
    """
    clock = clock or utcnow
    stop = stop or threading.Event()
    hostname = socket.gethostname()
    spawned_at = clock()
    started = monotonic()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.PIPE if lifeline else subprocess.DEVNULL,
        # Its own session: a terminal's Ctrl-C reaches only the service, which
        # then stops the child itself, in order.
        start_new_session=True,
        env=env,
    )
    if on_spawn is not None:
        on_spawn(process.pid)
    reader = threading.Thread(target=_copy_output, args=(process,), name="crawl-output", daemon=True)
    reader.start()
    stopped_for: str | None = None
    deadline = started + time_limit
    while True:
        try:
            process.wait(timeout=poll_seconds)
            break
        except subprocess.TimeoutExpired:
            pass
        if stop.is_set():
            stopped_for = "stopped with the service"
        elif monotonic() >= deadline:
            stopped_for = f"time limit of {time_limit / 60:g} min reached"
        else:
            continue
        log_event("crawl", "stopping", pid=process.pid, reason=stopped_for)
        _terminate(process, kill_grace)
        break
    reader.join(timeout=5)
    if process.stdin is not None:
        process.stdin.close()
    duration = monotonic() - started
    returncode = process.returncode
    return _outcome(database, process.pid, hostname, spawned_at, returncode, stopped_for, stop.is_set(), duration)


def _terminate(process: subprocess.Popen, grace: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log_event(
            "crawl",
            "killing",
            pid=process.pid,
            reason=f"still running {grace:g} s after SIGTERM",
            level=logging.WARNING,
        )
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()


def _copy_output(process: subprocess.Popen) -> None:
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.decode("utf-8", errors="replace").rstrip()
        if line:
            child_log.info("crawl[%d] %s", process.pid, line)


def _outcome(
    database: Database,
    pid: int,
    hostname: str,
    spawned_at: datetime,
    returncode: int,
    stopped_for: str | None,
    service_stopping: bool,
    duration: float,
) -> CrawlOutcome:
    if returncode < 0:
        how = f"killed by {signal.Signals(-returncode).name}"
    else:
        how = f"exit status {returncode}"
    reason = f"crawl process {pid} {how}" + (f" ({stopped_for})" if stopped_for else "")
    with database.session() as session:
        fixed = dead_runs.close_runs_of(session, pid=pid, hostname=hostname, spawned_at=spawned_at, reason=reason)
    if fixed:
        drop_leases_of(database, pid=pid, hostname=hostname)
    runs = crawl_runs_of(database, pid=pid, hostname=hostname, spawned_at=spawned_at)
    run = max(runs, key=lambda run: (_STATUS_RANK.get(run.status, 4), run.id), default=None)
    totals = RunCounts.combined(r.counts for r in runs).totals() if runs else {}
    run_id = run.id if run is not None else None
    if run is not None and run.status in SUCCESS_STATUSES:
        # The crawl completed (even if the process was stopped on its way out).
        status, message = run.status, run.message
    elif returncode == 0 and stopped_for is None:
        status = run.status if run is not None and run.status in SUCCESS_STATUSES else "ok"
        message = run.message if run is not None else ""
    elif returncode == EXIT_BUSY and stopped_for is None and run is None:
        status, message = "busy", "another crawl holds the crawl lock (a manual `bantin crawl`?)"
    elif service_stopping:
        # Stopped with the service: closed by the child itself, or (killed
        # after the grace) by the one rule for a crawl found dead.
        status, message = "interrupted", reason
    else:
        status = "failed"
        message = (
            reason if run is None or fixed else f"{reason}: {run.status}" + (f" — {run.message}" if run.message else "")
        )
    return CrawlOutcome(status, returncode, message, run_id, pid, totals, duration)


# -- the digest -----------------------------------------------------------------


def default_digest_runner() -> Callable[..., Any]:
    """`run_digest(config, database, *, now=None)` from the reports package."""
    import importlib

    for module_name in ("reports.mailer", "reports.delivery"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        runner = getattr(module, "run_digest", None)
        if runner is not None:
            return runner
    raise RuntimeError("no run_digest in reports.mailer or reports.delivery: the digest cannot be sent")


def digest_counts(result: Any) -> dict[str, int]:
    return {key: int(getattr(result, key, 0) or 0) for key in ("sent", "failed", "pending")}


def digest_status(counts: dict[str, int]) -> str:
    """A digest job is "ok" only when nothing failed and nothing still waits for a retry."""
    if counts.get("failed"):
        return "failed"
    return "pending" if counts.get("pending") else "ok"
