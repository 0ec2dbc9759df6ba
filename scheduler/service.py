"""`bantin serve`: the daily crawl and digest on a schedule, one runner per database.

An APScheduler 3 BlockingScheduler in the foreground (the process manager
daemonises). Jobs are re-created from the config at every start with fixed
ids; what has run lives in bantin's own tables (JobRun, CrawlRun), so catch-up
after downtime is computed here: the most recent due fire time of each job,
if it is within the misfire grace and later than the job's last success, runs
once now. The "service" lease makes a second service on the same database
refuse to start, and carries the heartbeat and next run times for `bantin status`.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    EVENT_SCHEDULER_STARTED,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler import __version__
from crawler.clock import utcnow
from crawler.config import Config, ScheduleConfig, load_config
from crawler.cron import cron_day_of_week, make_trigger  # noqa: F401 - re-exported for the scheduler's callers
from crawler.errors import BantinError, LockBusyError
from crawler.locks import CRAWL_LEASE_PREFIX, HeldLease, hold_lease, lease_holder, leases_named, this_host
from crawler.store import Database
from crawler.store import runs as dead_runs
from scheduler import jobs
from scheduler.jobs import log_event

log = logging.getLogger("bantin.service")

Clock = Callable[[], datetime]
Waiter = Callable[[threading.Event, float], bool]

JOB_IDS = ("crawl", "digest")
# Between digests, outbox rows waiting for a retry (4xx, greylisting, an unknown outcome) are sent
# when due by this job, so a greylisted digest arrives the same day, not a day late.
RETRY_JOB = "outbox-retry"
RETRY_EVERY = timedelta(minutes=5)
SERVICE_LEASE = "service"
SERVICE_LEASE_TTL = timedelta(minutes=2)


# -- triggers -------------------------------------------------------------------


def schedule_triggers(schedule: ScheduleConfig) -> dict[str, CronTrigger]:
    return {
        "crawl": make_trigger(schedule.crawl, schedule.timezone),
        "digest": make_trigger(schedule.digest, schedule.timezone),
    }


def next_fire_time(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The first fire time strictly after `now`."""
    return trigger.get_next_fire_time(None, now + timedelta(microseconds=1))


def previous_fire_time(
    trigger: CronTrigger, now: datetime, *, horizon: timedelta = timedelta(days=32)
) -> datetime | None:
    """The most recent fire time at or before `now`, looking back at most `horizon`."""
    window = timedelta(hours=1)
    while True:
        window = min(window, horizon)
        last = None
        moment = trigger.get_next_fire_time(None, now - window)
        while moment is not None and moment <= now:
            last = moment
            moment = trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))
        if last is not None or window >= horizon:
            return last
        window *= 24


def catch_up_due(
    trigger: CronTrigger, *, now: datetime, last_done: Callable[[datetime], bool], grace: timedelta
) -> datetime | None:
    """The missed fire time to run once now, or None.

    Only the most recent due fire time counts (never one run per missed day),
    and only when it is within the grace and not already done.
    """
    due = previous_fire_time(trigger, now, horizon=max(grace, timedelta(hours=1)))
    if due is None or now - due > grace:
        return None
    return None if last_done(due) else due


# -- logging --------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the event fields of `log_event` at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).astimezone().isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "bantin_fields", None)
        if fields:
            data.update(fields)
        else:
            data["message"] = record.getMessage()
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(log_format: str, *, debug: bool = False) -> None:
    """Point every log line of the service at stderr in the chosen format."""
    root = logging.getLogger()
    if log_format == "json":
        formatter: logging.Formatter = JsonFormatter()
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(formatter)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    if not debug:
        # APScheduler's "Running job ..." lines (and procrastinate's per-job ones) duplicate our own event lines.
        for noisy in ("apscheduler", "alembic", "procrastinate"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


# -- the service ----------------------------------------------------------------


class Service:
    """The scheduler, its jobs and the service lease; `run()` blocks until stopped."""

    def __init__(
        self,
        config: Config,
        database: Database,
        *,
        clock: Clock | None = None,
        crawl_command: Sequence[str] | None = None,
        digest_runner: Callable[..., Any] | None = None,
        config_loader: Callable[[], Config] | None = None,
        waiter: Waiter | None = None,
        kill_grace: float = jobs.KILL_GRACE_SECONDS,
        poll_seconds: float = 5.0,
        lease_ttl: timedelta = SERVICE_LEASE_TTL,
        heartbeat_seconds: float | None = None,
        install_signals: bool = True,
        workers: int = 4,
    ):
        self.config = config
        self.database = database
        self.clock = clock or utcnow
        self.crawl_command = list(crawl_command) if crawl_command else None
        self._digest_runner = digest_runner
        self.config_loader = config_loader or (lambda: load_config(self.config.path))
        self.waiter: Waiter = waiter or (lambda event, seconds: event.wait(seconds))
        self.kill_grace = kill_grace
        self.poll_seconds = poll_seconds
        self.lease_ttl = lease_ttl
        self.heartbeat_seconds = heartbeat_seconds
        self.install_signals = install_signals
        self.workers = workers
        self.stopping = threading.Event()
        self.started = threading.Event()
        self.lease: HeldLease | None = None
        self.scheduler: BlockingScheduler | None = None
        self.triggers = schedule_triggers(config.schedule)
        self._crawl_lock = threading.Lock()
        # The digest job and the retry job send from the same outbox: one at a time in this process.
        self._outbox_lock = threading.Lock()
        self._running: set[str] = set()
        self._running_lock = threading.Lock()
        self._stopper: threading.Thread | None = None
        self._control_lock = threading.Lock()
        self.crawl_pid: int | None = None

    # -- lifecycle ----------------------------------------------------------------

    def run(self) -> int:
        """Hold the service lease and run the scheduler until SIGTERM/SIGINT; returns the exit status.

        With `install_signals`, SIGTERM, SIGINT and SIGHUP stay ignored after
        it returns: the process is on its way out.
        """
        info = {"purpose": "`bantin serve`", "version": __version__, "config": str(self.config.path or "")}
        lease_cm = self._take_lease(info)
        if lease_cm is None:
            self.started.set()
            return 0
        lease = self.lease
        assert lease is not None  # _take_lease entered it
        try:
            self._recover()
            self.scheduler = self._build_scheduler()
            self._add_jobs()
            self._schedule_catch_up()
            if self.install_signals:
                self._install_signal_handlers()
            log_event(
                "service",
                "started",
                host=this_host(),
                version=__version__,
                timezone=self.config.schedule.timezone,
                **self._next_runs(),
            )
            self.scheduler.add_listener(
                self._on_job_event, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
            )
            self.scheduler.add_listener(lambda _event: self.started.set(), EVENT_SCHEDULER_STARTED)
            lease.on_lost = lambda: self.request_stop("lost the service lease")
            self._publish()
            if self.stopping.is_set():
                # Told to stop before its scheduler existed (SIGTERM to a standby just as it took over): the
                # stopper found nothing to shut down, and a scheduler started now would run until killed.
                log_event("service", "stopped", outcome="ok")
                return 0
            self.scheduler.start()
            if self._stopper is not None:
                self._stopper.join()
            if lease.lost.is_set():
                log_event(
                    "service",
                    "stopped",
                    outcome="failed",
                    level=logging.ERROR,
                    reason="another process took over the service lease",
                )
                return 1
            log_event("service", "stopped", outcome="ok")
            return 0
        finally:
            self.started.set()
            self._close_signal_pipe()
            lease_cm.__exit__(None, None, None)
            self.lease = None

    def _take_lease(self, info: dict[str, Any]):
        """Enter the service lease (its context manager, entered), or raise LockBusyError naming the holder.

        None means "stopped before getting it" (a standby in cluster mode told to stop).
        """
        try:
            lease_cm = hold_lease(
                self.database,
                SERVICE_LEASE,
                ttl=self.lease_ttl,
                info=info,
                clock=self.clock,
                heartbeat_seconds=self.heartbeat_seconds,
            )
            self.lease = lease_cm.__enter__()
        except LockBusyError:
            holder = lease_holder(self.database, SERVICE_LEASE)
            where = holder.describe(self.clock()) if holder else "elsewhere"
            raise LockBusyError(
                f"bantin serve is already running on this database ({self.database.describe()}): {where}"
            ) from None
        return lease_cm

    def request_stop(self, reason: str = "requested") -> None:
        """Stop taking jobs, cancel a running crawl, let a running digest finish; returns at once."""
        with self._control_lock:
            if self._stopper is not None:
                log_event("service", "stop", outcome="already stopping", reason=reason)
                return
            self.stopping.set()
            log_event("service", "stopping", reason=reason, running=",".join(sorted(self._running)) or "none")
            self._stopper = threading.Thread(target=self._shutdown, name="service-stop")
            self._stopper.start()

    def _shutdown(self) -> None:
        scheduler = self.scheduler
        if scheduler is None:
            return
        self.started.wait()
        if scheduler.running:
            # Waits for running jobs: the crawl child sees `stopping` and is cancelled.
            scheduler.shutdown(wait=True)

    def reload(self) -> None:
        """Re-read the configuration and re-create the jobs; a bad file keeps the old one."""
        try:
            new = self.config_loader()
        except BantinError as exc:
            log_event("service", "reload", outcome="refused", level=logging.ERROR, error=str(exc))
            return
        if new.storage.url != self.config.storage.url:
            log_event(
                "service",
                "reload",
                outcome="warning",
                level=logging.WARNING,
                error="storage.database_url changed: restart the service to use the new database",
            )
        self.config = new
        self.triggers = schedule_triggers(new.schedule)
        if self.scheduler is not None:
            self._add_jobs()
        self._publish()
        log_event("service", "reload", outcome="ok", **self._next_runs())

    def _install_signal_handlers(self) -> None:
        # The handlers only write the signal number to a pipe: a handler runs
        # in the main thread between any two bytecodes, possibly while that
        # thread holds a lock the real work needs (the scheduler's, logging's,
        # ours). A watcher thread reads the pipe and does the work.
        read_fd, write_fd = os.pipe()
        self._signal_pipe: tuple[int, int] | None = (read_fd, write_fd)

        def forward(signum, _frame):
            os.write(write_fd, bytes([signum]))

        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, forward)
        threading.Thread(target=self._watch_signals, args=(read_fd,), name="service-signals", daemon=True).start()

    def _watch_signals(self, read_fd: int) -> None:
        while True:
            try:
                data = os.read(read_fd, 1)
            except OSError:
                return
            if not data or data == b"\0":
                os.close(read_fd)
                return
            signum = data[0]
            if signum == signal.SIGHUP:
                if self.stopping.is_set():
                    log_event("service", "reload", outcome="ignored: stopping")
                else:
                    self.reload()
            else:
                self.request_stop(signal.Signals(signum).name)

    def _close_signal_pipe(self) -> None:
        pipe = getattr(self, "_signal_pipe", None)
        if pipe is None:
            return
        # Ignored, not their default actions: the lease is still to be
        # released, and the process exits as soon as run() returns; a SIGHUP
        # or a second SIGTERM now would kill it and leave the lease behind.
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        os.write(pipe[1], b"\0")
        os.close(pipe[1])
        self._signal_pipe = None

    def _recover(self) -> None:
        now = self.clock()
        leftover = jobs.interrupt_leftover_job_runs(self.database, now=now)
        with self.database.session() as session:
            dead = dead_runs.close_orphaned_runs(session, now=now)
        if leftover or dead:
            log_event("service", "recovered", interrupted_jobs=leftover, interrupted_crawls=len(dead) or None)

    # -- scheduling ---------------------------------------------------------------

    def _build_scheduler(self) -> BlockingScheduler:
        schedule = self.config.schedule
        return BlockingScheduler(
            timezone=schedule.tz,
            executors={"default": ThreadPoolExecutor(self.workers)},
            # Every job runs alone and once per missed stretch: a crawl or digest
            # that overlapped itself would duplicate work.
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(schedule.misfire_grace_hours * 3600),
            },
        )

    def _add_jobs(self, next_run: dict[str, datetime] | None = None) -> None:
        grace = int(self.config.schedule.misfire_grace_hours * 3600)
        for job_id, function in (("crawl", self.crawl_job), ("digest", self.digest_job)):
            extra = {"next_run_time": next_run[job_id]} if next_run and job_id in next_run else {}
            self._add_job(job_id, function, self.triggers[job_id], grace, **extra)
        every = int(RETRY_EVERY.total_seconds())
        retry_trigger = IntervalTrigger(seconds=every, timezone=self.config.schedule.tz)
        self._add_job(RETRY_JOB, self.retry_job, retry_trigger, every)

    def _add_job(self, job_id: str, function: Any, trigger: Any, grace_seconds: int, **extra: Any) -> None:
        # coalesce and max_instances come from the scheduler's job_defaults.
        assert self.scheduler is not None
        self.scheduler.add_job(
            function,
            trigger=trigger,
            id=job_id,
            name=job_id,
            replace_existing=True,
            misfire_grace_time=grace_seconds,
            **extra,
        )

    def plan_catch_up(self, now: datetime | None = None) -> dict[str, datetime]:
        """Jobs whose most recent due run was missed (within the grace): {job: missed fire time}."""
        now = now or self.clock()
        grace = timedelta(hours=self.config.schedule.misfire_grace_hours)
        due: dict[str, datetime] = {}
        for job_id in JOB_IDS:
            missed = catch_up_due(
                self.triggers[job_id],
                now=now,
                grace=grace,
                last_done=functools.partial(jobs.job_succeeded_since, self.database, job_id),
            )
            if missed is not None:
                due[job_id] = missed
        return due

    def _schedule_catch_up(self) -> None:
        missed = self.plan_catch_up()
        if not missed:
            return
        for job_id, moment in missed.items():
            log_event(job_id, "catch-up", missed=moment.astimezone(self.config.schedule.tz).isoformat())
        # The job's own next run moves to now: same id, so max_instances and
        # coalescing still hold, and the trigger takes over after this run.
        now = utcnow()
        self._add_jobs({job_id: now for job_id in missed})

    def _next_runs(self) -> dict[str, Any]:  # log_event fields
        # From the triggers, not scheduler.get_jobs(): this runs in job-event
        # listeners, and the scheduler holds its job store lock while shutdown
        # waits for those very jobs.
        now = self.clock()
        runs: dict[str, Any] = {}
        for job_id, trigger in self.triggers.items():
            moment = next_fire_time(trigger, now)
            if moment is not None:
                runs[f"next_{job_id}"] = moment.isoformat()
        return runs

    def _publish(self) -> None:
        """Next run times and running jobs into the lease row, for `bantin status`."""
        if self.lease is None:
            return
        with self._running_lock:
            running = sorted(self._running)
        runs = {key.removeprefix("next_"): value for key, value in self._next_runs().items()}
        try:
            self.lease.update_info(
                next_runs=runs, running=running, timezone=self.config.schedule.timezone, crawl_pid=self.crawl_pid
            )
        except Exception:  # noqa: BLE001 - status information only
            log.warning("could not publish the service state", exc_info=True)

    def _on_job_event(self, event) -> None:
        if event.code == EVENT_JOB_MISSED:
            log_event(
                event.job_id,
                "missed",
                outcome="skipped",
                level=logging.WARNING,
                scheduled=str(event.scheduled_run_time),
            )
        elif event.code == EVENT_JOB_ERROR:
            log_event(event.job_id, "error", outcome="failed", level=logging.ERROR, error=repr(event.exception))
        self._publish()

    def _mark(self, job: str, running: bool) -> None:
        with self._running_lock:
            (self._running.add if running else self._running.discard)(job)
        self._publish()

    # -- the crawl ----------------------------------------------------------------

    def crawl_job(self) -> None:
        if self.stopping.is_set():
            return
        trigger = "schedule"
        now = self.clock()
        scheduled_for = previous_fire_time(self.triggers["crawl"], now)
        if scheduled_for is not None and now - scheduled_for > timedelta(minutes=5):
            trigger = "catch-up"
        self.run_crawl(trigger=trigger, scheduled_for=scheduled_for)

    def run_crawl(self, *, trigger: str, scheduled_for: datetime | None = None) -> jobs.CrawlOutcome | None:
        """One crawl child, start to end, recorded as a JobRun. None if one is already running here."""
        if not self._crawl_lock.acquire(blocking=False):
            log_event("crawl", "skipped", outcome="already running", trigger=trigger)
            return None
        try:
            self._mark("crawl", True)
            run_id = jobs.start_job_run(
                self.database, "crawl", trigger=trigger, scheduled_for=scheduled_for, now=self.clock()
            )
            log_event("crawl", "started", trigger=trigger, job_run=run_id)
            command = self.crawl_command or jobs.default_crawl_command(self.config.path)
            try:
                outcome = jobs.run_crawl_child(
                    command,
                    database=self.database,
                    time_limit=self.config.crawl.time_limit_minutes * 60,
                    kill_grace=self.kill_grace,
                    stop=self.stopping,
                    clock=self.clock,
                    on_spawn=self._crawl_spawned,
                )
            except Exception as exc:  # noqa: BLE001 - a crawl that cannot start must not stop the service
                log.exception("could not run the crawl")
                outcome = jobs.CrawlOutcome("failed", None, f"could not start the crawl: {exc}")
            jobs.finish_job_run(
                self.database, run_id, status=outcome.job_status, detail=outcome.detail(), now=self.clock()
            )
            level = logging.INFO if outcome.job_status in ("ok", "skipped") else logging.WARNING
            log_event(
                "crawl",
                "finished",
                outcome.status,
                level=level,
                trigger=trigger,
                crawl_run=outcome.run_id,
                duration=outcome.duration,
                message=outcome.message or None,
                **outcome.totals,
            )
            return outcome
        finally:
            self.crawl_pid = None
            self._crawl_lock.release()
            self._mark("crawl", False)

    def _crawl_spawned(self, pid: int) -> None:
        self.crawl_pid = pid
        log_event("crawl", "spawned", pid=pid)
        self._publish()

    def crawl_in_progress(self) -> bool:
        """A crawl runs here or anywhere else (someone holds a live crawl lease of any site)."""
        if self._crawl_lock.locked():
            return True
        now = self.clock()
        return any(holder.live(now) for holder in leases_named(self.database, CRAWL_LEASE_PREFIX))

    # -- the digest ---------------------------------------------------------------

    def digest_job(self) -> None:
        if self.stopping.is_set():
            return
        now = self.clock()
        scheduled_for = previous_fire_time(self.triggers["digest"], now)
        trigger = "catch-up" if scheduled_for is not None and now - scheduled_for > timedelta(minutes=5) else "schedule"
        self.run_digest(trigger=trigger, scheduled_for=scheduled_for)

    def run_digest(self, *, trigger: str, scheduled_for: datetime | None = None) -> str:
        """Wait for (or run) the day's crawl, then send the digest; returns the JobRun status."""
        self._mark("digest", True)
        run_id = jobs.start_job_run(
            self.database, "digest", trigger=trigger, scheduled_for=scheduled_for, now=self.clock()
        )
        log_event("digest", "started", trigger=trigger, job_run=run_id)
        detail: dict[str, Any] = {}
        try:
            detail["crawl"] = self.ensure_crawl()
            if self.stopping.is_set():
                status = "interrupted"
                detail["reason"] = "the service stopped before sending; the next start sends"
            else:
                with (
                    hold_lease(
                        self.database,
                        "digest",
                        wait=self.poll_seconds * 12,
                        clock=self.clock,
                        info={"purpose": "the service's digest"},
                    ),
                    self._outbox_lock,
                ):
                    result = self.digest_runner(self.config, self.database, now=self.clock())
                detail.update(jobs.digest_counts(result))
                status = jobs.digest_status(detail)
        except LockBusyError as exc:
            status, detail["reason"] = "skipped", str(exc)
        except Exception as exc:  # noqa: BLE001 - a failed digest must not stop the service
            log.exception("the digest failed")
            status, detail["error"] = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            self._mark("digest", False)
        jobs.finish_job_run(self.database, run_id, status=status, detail=detail, now=self.clock())
        level = logging.INFO if status == "ok" else logging.WARNING
        counts = {key: detail[key] for key in ("sent", "failed", "pending") if key in detail}
        log_event(
            "digest",
            "finished",
            status,
            level=level,
            trigger=trigger,
            crawl=detail.get("crawl"),
            reason=detail.get("reason") or detail.get("error"),
            **counts,
        )
        return status

    def retry_job(self) -> str | None:
        """Send the outbox rows whose retry is due; the JobRun status, or None when nothing was due."""
        from reports.delivery import retry_due, retry_pending

        if self.stopping.is_set() or not retry_due(self.database, self.clock()):
            return None
        if not self._outbox_lock.acquire(blocking=False):
            return None  # the digest job is sending, due retries included
        try:
            self._mark(RETRY_JOB, True)
            run_id = jobs.start_job_run(self.database, "digest", trigger="retry", scheduled_for=None, now=self.clock())
            detail: dict[str, Any] = {}
            try:
                detail.update(jobs.digest_counts(retry_pending(self.config, self.database, now=self.clock())))
                status = jobs.digest_status(detail)
            except LockBusyError as exc:
                status, detail["reason"] = "skipped", str(exc)
            except Exception as exc:  # noqa: BLE001 - a failed retry must not stop the service
                log.exception("the outbox retry failed")
                status, detail["error"] = "failed", f"{type(exc).__name__}: {exc}"
            jobs.finish_job_run(self.database, run_id, status=status, detail=detail, now=self.clock())
        finally:
            self._outbox_lock.release()
            self._mark(RETRY_JOB, False)
        level = logging.INFO if status == "ok" else logging.WARNING
        counts = {key: detail[key] for key in ("sent", "failed", "pending") if key in detail}
        log_event(
            "digest", "retried", status, level=level, reason=detail.get("reason") or detail.get("error"), **counts
        )
        return status

    @property
    def digest_runner(self) -> Callable[..., Any]:
        if self._digest_runner is None:
            self._digest_runner = jobs.default_digest_runner()
        return self._digest_runner

    def ensure_crawl(self) -> str:
        """Make sure the crawl due before this digest has completed: wait for it, or run one.

        Returns how: "done", "waited", "ran", "timed out" (sent without it) or "stopped".
        """
        crawl_due = previous_fire_time(self.triggers["crawl"], self.clock())
        if crawl_due is None:
            return "done"
        deadline = self.clock() + timedelta(minutes=self.config.schedule.digest_wait_minutes)
        waited = ran = False
        while True:
            if jobs.crawl_succeeded_since(self.database, crawl_due):
                return "ran" if ran else "waited" if waited else "done"
            if self.stopping.is_set():
                return "stopped"
            if self.crawl_in_progress():
                if self.clock() >= deadline:
                    log_event("digest", "crawl wait", outcome="timed out", level=logging.WARNING)
                    return "timed out"
                if not waited:
                    log_event("digest", "waiting for the crawl")
                waited = True
                self.waiter(self.stopping, self.poll_seconds)
                continue
            if ran:
                # The crawl we ran did not succeed: send what there is (the coverage line says so).
                return "crawl failed"
            ran = True
            log_event("digest", "running the crawl first")
            if self.run_crawl(trigger="digest") is None:
                ran = False
