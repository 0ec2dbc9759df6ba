"""`bantin serve` in cluster mode: the one scheduler, queueing work instead of doing it.

Run it on two machines or more: one holds the service lease and plans; the
others wait (standby) and take over when the lease expires. Planning is one
step, every `cluster.plan_seconds`, computed from the clock alone: the latest
due fire time of the crawl (one job per enabled site) and of the digest, if
within the misfire grace, is queued through procrastinate's periodic deferral,
which queues it once whoever tries — the leader, a leader that took over
after the last one died half-way, or both at once. So a takeover neither
repeats nor misses a run; a leader down for longer than a period queues only
the latest missed one (one machine's coalesced catch-up).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

from crawler.clock import utcnow
from crawler.errors import LockBusyError
from crawler.locks import crawl_lease, lease_holder
from scheduler.cluster import queue
from scheduler.jobs import log_event
from scheduler.service import SERVICE_LEASE, Service, previous_fire_time

log = logging.getLogger("bantin.cluster")

PLAN_JOB = "plan"


class ClusterService(Service):
    """The service whose jobs queue crawls and digests; a standby while another process holds the lease."""

    def __init__(self, config, database, **kwargs: Any):
        super().__init__(config, database, **kwargs)
        queue.require_cluster(config)
        self.app = queue.make_app(database.url, pool_size=2)
        self._app_open = False
        self._signals_installed = False

    # -- the lease: wait for it -------------------------------------------------------

    def _take_lease(self, info: dict[str, Any]):
        if self.install_signals and not self._signals_installed:
            # Installed before waiting: a standby stops at SIGTERM like a leader.
            super()._install_signal_handlers()
            self._signals_installed = True
        waiting = False
        poll = min(self.lease_ttl.total_seconds() / 4, self.poll_seconds)
        while not self.stopping.is_set():
            try:
                lease_cm = super()._take_lease(info)
            except LockBusyError:
                if not waiting:
                    holder = lease_holder(self.database, SERVICE_LEASE)
                    log_event("service", "standby", holder=holder.describe(self.clock()) if holder else None)
                    waiting = True
                self.waiter(self.stopping, poll)
                continue
            if waiting:
                log_event("service", "took over", reason="the serving process is gone or its lease expired")
            self.app.open()
            self._app_open = True
            return lease_cm
        return None

    def _install_signal_handlers(self) -> None:
        if not self._signals_installed:
            super()._install_signal_handlers()
            self._signals_installed = True

    # -- the jobs -----------------------------------------------------------------

    def _add_jobs(self, next_run: dict[str, datetime] | None = None) -> None:
        assert self.scheduler is not None
        every = self.config.cluster.plan_seconds
        self.scheduler.add_job(
            self.plan_job,
            trigger=IntervalTrigger(seconds=every, timezone=self.config.schedule.tz),
            id=PLAN_JOB,
            name=PLAN_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(int(every), 1),
            next_run_time=utcnow(),
        )

    def _schedule_catch_up(self) -> None:
        """Nothing to do: every planning step queues the latest due run if it was never queued."""

    def plan_job(self) -> None:
        if self.stopping.is_set():
            return
        try:
            self.plan(self.clock())
        except Exception:  # noqa: BLE001 - a failed step must not stop the service; the next one tries again
            log.exception("could not queue the due jobs")

    def plan(self, now: datetime) -> dict[str, str]:
        """Queue what is due at `now`; {what: outcome} for each deferral tried."""
        grace = timedelta(hours=self.config.schedule.misfire_grace_hours)
        outcomes: dict[str, str] = {}
        crawl_due = previous_fire_time(self.triggers["crawl"], now)
        if crawl_due is not None and now - crawl_due <= grace:
            stamp = int(crawl_due.timestamp())
            for entry in self.config.enabled_sites():
                outcomes[f"crawl:{entry.id}"] = self._queue(
                    "crawl",
                    crawl_due,
                    queue.CRAWL_TASK,
                    queue.CRAWL_QUEUE,
                    entry.id,
                    stamp,
                    {"site": entry.id, "reason": "schedule"},
                    crawl_lease(entry.id),
                )
        digest_due = previous_fire_time(self.triggers["digest"], now)
        if digest_due is not None and now - digest_due <= grace:
            stamp = int(digest_due.timestamp())
            outcomes["digest"] = self._queue(
                "digest", digest_due, queue.PLAN_DIGEST_TASK, queue.DIGEST_QUEUE, "digest", stamp, {}, f"digest:{stamp}"
            )
        self._queue_retries(now)
        return outcomes

    def _queue(
        self,
        job: str,
        due: datetime,
        task: str,
        queue_name: str,
        periodic_id: str,
        stamp: int,
        args: dict[str, Any],
        lock: str,
    ) -> str:
        outcome = queue.defer_once(
            self.database,
            task,
            queue=queue_name,
            periodic_id=periodic_id,
            timestamp=stamp,
            args=args,
            queueing_lock=lock,
        )
        if outcome != "done before":
            log_event(job, outcome, due=due.astimezone(self.config.schedule.tz).isoformat(), site=args.get("site"))
        return outcome

    def _queue_retries(self, now: datetime) -> None:
        """Rows waiting for a retry (greylisting) are sent when due, between digests, by a sender job."""
        if queue.defer_sender_if_idle(self.app, self.database, now=now, lock="send:retry"):
            log_event("digest", "queued", reason="outbox rows due for a retry")

    def run(self) -> int:
        try:
            return super().run()
        finally:
            if self._app_open:
                self.app.close()
