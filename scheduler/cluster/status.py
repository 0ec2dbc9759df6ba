"""The cluster's part of `bantin status`: workers, queues, stalled jobs, each outlet's crawl across machines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from crawler.config import Config
from crawler.locks import crawl_lease, lease_holder, leases_named
from crawler.store import Database
from crawler.store.models import CrawlRun
from scheduler.cluster import queue
from scheduler.cluster.tasks import WORKER_LEASE_PREFIX


def cluster_status(config: Config, database: Database, *, now: datetime) -> dict[str, Any]:
    """Plain data for the text and JSON renderings, with the warnings that make the cluster unhealthy."""
    zone = config.schedule.tz

    def stamp(moment: datetime | None) -> str | None:
        return moment.astimezone(zone).isoformat(timespec="seconds") if moment else None

    warnings: list[dict[str, Any]] = []
    if not queue.has_job_queue(database):
        return {
            "workers": [],
            "queues": {},
            "stalled": [],
            "sites": [],
            "warnings": [
                {
                    "kind": "cluster",
                    "code": "no_job_queue",
                    "message": "the database has no job queue (schema 0005 missing)",
                }
            ],
        }
    workers = []
    for worker_lease in leases_named(database, WORKER_LEASE_PREFIX):
        info = worker_lease.info
        workers.append(
            {
                "name": info.get("name", worker_lease.name),
                "host": worker_lease.host,
                "pid": worker_lease.pid,
                "alive": worker_lease.live(now),
                "queues": info.get("queues", []),
                "concurrency": info.get("concurrency"),
                "since": stamp(worker_lease.acquired_at),
                "heartbeat_age_seconds": max(0, int((now - worker_lease.heartbeat_at).total_seconds())),
                "running": info.get("running", []),
                "worker_ids": info.get("worker_ids") or [],
            }
        )
    # procrastinate knows a job's worker by its row id only; each bantin worker lists the ids of its own.
    by_worker_id = {worker_id: worker for worker in workers for worker_id in worker["worker_ids"]}
    if not any(worker["alive"] for worker in workers):
        warnings.append(
            {
                "kind": "cluster",
                "code": "no_worker",
                "message": "no `bantin worker` is running: queued crawls and digests wait (start one on each machine)",
            }
        )
    for worker in workers:
        if not worker["alive"]:
            warnings.append(
                {
                    "kind": "cluster",
                    "code": "worker_gone",
                    "message": f"worker {worker['name']} on {worker['host']} stopped "
                    "without unregistering (killed or host lost); its jobs "
                    "run elsewhere once stalled",
                }
            )
    stalled: list[dict[str, Any]] = [
        {
            "id": job.id,
            "task": job.task,
            "args": job.args,
            "worker_id": job.worker_id,
            "worker": _named(by_worker_id.get(job.worker_id)),
            "started_at": stamp(job.started_at),
        }
        for job in queue.stalled_jobs(database, stalled_after=config.cluster.stalled_after_seconds)
    ]
    for job in stalled:
        warnings.append(
            {
                "kind": "cluster",
                "code": "job_stalled",
                "message": f"job #{job['id']} ({job['task']}) is stalled: its worker "
                + (f"{job['worker']['name']} on {job['worker']['host']} " if job["worker"] else "")
                + "sends no heartbeat; the next sweep runs it again",
            }
        )
    active = queue.active_jobs(database, queue.CRAWL_TASK)
    sites = []
    for entry in config.enabled_sites():
        holder = lease_holder(database, crawl_lease(entry.id))
        with database.session(write=False) as session:
            last = session.scalars(
                select(CrawlRun).where(CrawlRun.site == entry.id).order_by(CrawlRun.id.desc()).limit(1)
            ).first()
            runs = session.scalar(select(func.count()).select_from(CrawlRun).where(CrawlRun.site == entry.id))
        jobs = [job for job in active if job.args.get("site") == entry.id]
        crawling = holder is not None and holder.live(now)
        sites.append(
            {
                "site": entry.id,
                "crawling": {"host": holder.host, "pid": holder.pid, "since": stamp(holder.acquired_at)}
                if crawling and holder is not None
                else None,
                "queued": [job.id for job in jobs if job.status == "todo"],
                "running": [job.id for job in jobs if job.status == "doing"],
                "last_run": {
                    "id": last.id,
                    "status": last.status,
                    "worker": last.worker,
                    "job_id": last.job_id,
                    "started_at": stamp(last.started_at),
                    "finished_at": stamp(last.finished_at),
                }
                if last is not None
                else None,
                "runs": runs,
            }
        )
    return {
        "workers": workers,
        "queues": queue.queue_counts(database),
        "stalled": stalled,
        "sites": sites,
        "warnings": warnings,
    }


def _named(worker: dict[str, Any] | None) -> dict[str, Any] | None:
    """The bantin worker behind a procrastinate worker id, as `bantin status` names it."""
    return {"name": worker["name"], "host": worker["host"], "pid": worker["pid"]} if worker else None


def render_cluster(report: dict[str, Any], human_time) -> list[str]:
    lines = [f"Cluster: {sum(worker['alive'] for worker in report['workers'])} worker(s) running"]
    for worker in report["workers"]:
        state = "running" if worker["alive"] else "GONE"
        jobs = ", ".join(worker["running"]) or "idle"
        lines.append(
            f"  {worker['name']} on {worker['host']} (pid {worker['pid']}) {state}, queues "
            f"{','.join(worker['queues'])} x{worker['concurrency']}, heartbeat "
            f"{worker['heartbeat_age_seconds']} s ago: {jobs}"
        )
    lines.append("Queues:" if report["queues"] else "Queues: empty")
    for name, counts in sorted(report["queues"].items()):
        lines.append(f"  {name:<12} " + ", ".join(f"{count} {status}" for status, count in sorted(counts.items())))
    lines.append("Stalled jobs: none" if not report["stalled"] else "Stalled jobs:")
    for job in report["stalled"]:
        lines.append(
            f"  #{job['id']} {job['task']} {job['args']} ("
            + (f"worker {job['worker']['name']} on {job['worker']['host']}, " if job["worker"] else "")
            + f"procrastinate worker {job['worker_id']}, started {human_time(job['started_at'])})"
        )
    lines.append("Outlets (cluster):")
    for site in report["sites"]:
        crawling = site["crawling"]
        now = (
            f"crawling on {crawling['host']} (pid {crawling['pid']}) since {human_time(crawling['since'])}"
            if crawling
            else "idle"
        )
        last = site["last_run"]
        previous = (
            f"last run #{last['id']} {last['status']}"
            + (f" by {last['worker']}" if last["worker"] else "")
            + (f" (job {last['job_id']})" if last["job_id"] else "")
            if last
            else "never crawled"
        )
        waiting = f"{len(site['queued'])} queued, {len(site['running'])} running"
        lines.append(f"  {site['site']}: {now}; {waiting}; {previous}")
    return lines
