"""`bantin status`: the service, the next runs, the last crawls and digests, health warnings.

Exit status 0 when healthy and 1 when any warning holds, so that the command
doubles as a health check (systemd, monitoring, cron).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import click
from sqlalchemy import func, select

from crawler.cli import pass_app

NO_CRAWL_AFTER = timedelta(days=1)
OUTBOX_FAILURE_WINDOW = timedelta(days=7)
SOURCE_HISTORY = timedelta(days=60)


@click.command()
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--runs", "limit", type=click.IntRange(1, 1000), default=5, show_default=True,
              help="How many recent crawls and digests to show.")
@click.option("--quiet-days", type=click.IntRange(1, 365), default=3, show_default=True,
              help="Warn about a discovery source that found nothing for this many days.")
@pass_app
def status(app, output_format: str, limit: int, quiet_days: int) -> None:
    """Show the service, the next runs, the last crawls and digests, and health warnings.

    Exits with status 1 when there is any warning (usable as a health check).
    """
    report = collect_status(app.config, app.database, now=datetime.now(timezone.utc), limit=limit,
                            quiet_days=quiet_days)
    if output_format == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(report))
    if not report["healthy"]:
        # SystemExit, not click's Exit: the root command runs click in non-standalone mode.
        sys.exit(1)


# -- collecting -----------------------------------------------------------------


def collect_status(config, database, *, now: datetime, limit: int = 5, quiet_days: int = 3) -> dict[str, Any]:
    from crawler.db.models import CrawlRun, JobRun, OutboxMessage
    from crawler.locks import lease_holder

    zone = config.schedule.tz

    def stamp(moment: datetime | None) -> str | None:
        return moment.astimezone(zone).isoformat(timespec="seconds") if moment else None

    with database.session() as session:
        crawls = session.scalars(select(CrawlRun).order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc()).limit(limit)).all()
        last_good = session.scalars(
            select(CrawlRun).where(CrawlRun.status.in_(("ok", "degraded")))
            .order_by(CrawlRun.finished_at.desc()).limit(1)
        ).first()
        last_finished = session.scalars(
            select(CrawlRun).where(CrawlRun.status != "running").order_by(CrawlRun.started_at.desc()).limit(1)
        ).first()
        running = session.scalars(select(CrawlRun).where(CrawlRun.status == "running")).all()
        history = session.scalars(
            select(CrawlRun).where(CrawlRun.status.in_(("ok", "degraded")), CrawlRun.started_at >= now - SOURCE_HISTORY)
            .order_by(CrawlRun.started_at).limit(2000)
        ).all()
        digest_jobs = session.scalars(
            select(JobRun).where(JobRun.job == "digest").order_by(JobRun.started_at.desc()).limit(limit)
        ).all()
        outbox_counts = dict(session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all())
        by_date = session.execute(
            select(OutboxMessage.digest_date, OutboxMessage.status, func.count())
            .group_by(OutboxMessage.digest_date, OutboxMessage.status)
        ).all()
        last_sent = session.scalar(select(func.max(OutboxMessage.sent_at)))
        failing = session.scalars(
            select(OutboxMessage).where(
                (OutboxMessage.status == "failed") & (OutboxMessage.updated_at >= now - OUTBOX_FAILURE_WINDOW)
                | ((OutboxMessage.status == "pending") & (OutboxMessage.attempts > 0))
            ).order_by(OutboxMessage.updated_at.desc()).limit(50)
        ).all()
        failing = [(row.recipient, row.status, row.attempts, row.last_error, row.digest_date) for row in failing]

    service_lease = lease_holder(database, "service")
    service = _service_state(service_lease, now, stamp)
    schedule = _schedule(config, now, stamp)

    warnings: list[dict[str, str]] = []

    def warn(code: str, message: str) -> None:
        warnings.append({"code": code, "message": message})

    if service_lease is not None and not service["running"]:
        warn("service_stale", f"the service on {service_lease.host} (pid {service_lease.pid}) stopped sending "
             f"heartbeats at {_human(stamp(service_lease.heartbeat_at))} without shutting down (crashed or killed?)")
    if last_good is None:
        warn("no_crawl", "no crawl has succeeded yet")
    elif last_good.finished_at is not None and now - last_good.finished_at > NO_CRAWL_AFTER:
        warn("no_recent_crawl", f"no successful crawl since {_human(stamp(last_good.finished_at))}")
    if last_finished is not None and last_finished.status == "degraded":
        warn("crawl_degraded", f"the last crawl (#{last_finished.id}) was degraded: {last_finished.message or 'see its errors'}")
    elif last_finished is not None and last_finished.status == "failed":
        warn("crawl_failed", f"the last crawl (#{last_finished.id}) failed: {last_finished.message or 'see its errors'}")
    for run in running:
        why = _stale_reason(run, now)
        if why:
            warn("crawl_stale", f"crawl #{run.id} is still marked running but {why}")
    for source, since in _silent_sources(history, now, quiet_days):
        warn("source_silent", f"source {source!r} has found nothing "
             + (f"since {_human(stamp(since))}" if since else f"in {quiet_days}+ days")
             + " (the feed or page may have moved)")
    failed_rows = [row for row in failing if row[1] == "failed"]
    retrying = [row for row in failing if row[1] == "pending"]
    if failed_rows:
        recipient, _, _, error, _ = failed_rows[0]
        warn("outbox_failed", f"{len(failed_rows)} digest message(s) failed in the last 7 days "
             f"(latest: {recipient}: {error or 'no reason recorded'})")
    if retrying:
        recipient, _, attempts, error, _ = retrying[0]
        warn("outbox_retrying", f"{len(retrying)} digest message(s) waiting for a retry "
             f"({recipient}, {attempts} attempt(s): {error or 'no reason recorded'})")

    digests_by_date: dict[str, dict[str, int]] = {}
    for digest_date, row_status, count in by_date:
        digests_by_date.setdefault(digest_date.isoformat(), {})[row_status] = count
    recent_dates = sorted(digests_by_date, reverse=True)[:limit]

    return {
        "now": stamp(now),
        "timezone": config.schedule.timezone,
        "database": database.describe(),
        "service": service,
        "schedule": schedule,
        "crawls": [_crawl(run, stamp) for run in crawls],
        "digest_jobs": [_digest_job(run, stamp) for run in digest_jobs],
        "digests": [{"date": day, **digests_by_date[day]} for day in recent_dates],
        "outbox": {
            **{key: outbox_counts.get(key, 0) for key in ("pending", "sending", "sent", "failed")},
            "last_sent_at": stamp(last_sent),
        },
        "warnings": warnings,
        "healthy": not warnings,
    }


def _service_state(lease, now: datetime, stamp) -> dict[str, Any]:
    if lease is None:
        return {"running": False}
    live = lease.live(now)
    info = lease.info or {}
    return {
        "running": live,
        "host": lease.host,
        "pid": lease.pid,
        "since": stamp(lease.acquired_at),
        "heartbeat_at": stamp(lease.heartbeat_at),
        "heartbeat_age_seconds": max(0, int((now - lease.heartbeat_at).total_seconds())),
        "running_jobs": info.get("running", []) if live else [],
        "next_runs": info.get("next_runs", {}) if live else {},
        "version": info.get("version"),
        "config": info.get("config"),
    }


def _schedule(config, now: datetime, stamp) -> dict[str, Any]:
    from scheduler.service import next_fire_time, schedule_triggers

    triggers = schedule_triggers(config.schedule)
    return {
        job: {"cron": getattr(config.schedule, job), "next": stamp(next_fire_time(trigger, now))}
        for job, trigger in triggers.items()
    }


def _crawl(run, stamp) -> dict[str, Any]:
    totals: dict[str, int] = {}
    for counts in (run.counts or {}).values():
        for key, value in (counts or {}).items():
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
    end = run.finished_at or run.heartbeat_at
    return {
        "id": run.id,
        "status": run.status,
        "trigger": run.trigger,
        "started_at": stamp(run.started_at),
        "finished_at": stamp(run.finished_at),
        "duration_seconds": round((end - run.started_at).total_seconds(), 1) if end else None,
        "totals": totals,
        "sources": run.counts or {},
        "errors": len(run.errors or []),
        "first_errors": (run.errors or [])[:3],
        "message": run.message,
        "host": run.hostname,
        "pid": run.pid,
    }


def _digest_job(run, stamp) -> dict[str, Any]:
    detail = run.detail or {}
    return {
        "id": run.id,
        "status": run.status,
        "trigger": run.trigger,
        "scheduled_for": stamp(run.scheduled_for),
        "started_at": stamp(run.started_at),
        "finished_at": stamp(run.finished_at),
        **{key: detail[key] for key in ("sent", "failed", "pending", "crawl", "reason", "error") if key in detail},
    }


def _stale_reason(run, now: datetime) -> str | None:
    from crawler.ledger import orphan_reason

    return orphan_reason(run, now)


def _silent_sources(history, now: datetime, quiet_days: int) -> list[tuple[str, datetime | None]]:
    """Sources still being read that found nothing for `quiet_days` (with enough history to tell)."""
    window_start = now - timedelta(days=quiet_days)
    first_seen: dict[str, datetime] = {}
    last_yield: dict[str, datetime] = {}
    recently_read: set[str] = set()
    for run in history:
        for source, counts in (run.counts or {}).items():
            first_seen.setdefault(source, run.started_at)
            if run.started_at >= window_start:
                recently_read.add(source)
            if isinstance(counts, dict) and (counts.get("discovered", 0) or counts.get("new", 0)):
                last_yield[source] = run.started_at
    silent = []
    for source in sorted(recently_read):
        if first_seen[source] > window_start:
            continue
        since = last_yield.get(source)
        if since is None or since < window_start:
            silent.append((source, since))
    return silent


# -- rendering ------------------------------------------------------------------


def _human(iso: str | None) -> str:
    if not iso:
        return "-"
    moment = datetime.fromisoformat(iso)
    return moment.strftime("%Y-%m-%d %H:%M") + f" ({moment.strftime('%z')[:3]})"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


COUNTER_ORDER = ("discovered", "fetched", "new", "updated", "unchanged", "failed")


def _counts_text(counts: dict[str, Any]) -> str:
    keys = [key for key in COUNTER_ORDER if key in counts] + sorted(set(counts) - set(COUNTER_ORDER))
    return " ".join(f"{key} {counts[key]}" for key in keys) or "no counts"


def render_text(report: dict[str, Any]) -> str:
    lines: list[str] = []
    service = report["service"]
    if service["running"]:
        jobs = ", ".join(service["running_jobs"]) or "idle"
        lines.append(f"Service: running on {service['host']} (pid {service['pid']}) since {_human(service['since'])}, "
                     f"heartbeat {service['heartbeat_age_seconds']} s ago; now: {jobs}")
    elif "host" in service:
        lines.append(f"Service: not running (last heartbeat {_human(service['heartbeat_at'])} on {service['host']})")
    else:
        lines.append("Service: not running")
    lines.append(f"Schedule ({report['timezone']}):")
    for job, entry in report["schedule"].items():
        lines.append(f"  {job:<7} {entry['cron']:<16} next {_human(entry['next'])}")

    lines.append("Last crawls:" if report["crawls"] else "Last crawls: none yet")
    for run in report["crawls"]:
        lines.append(f"  #{run['id']:<5} {run['status']:<11} {_human(run['started_at'])}  "
                     f"{_duration(run['duration_seconds']):>7}  {run['trigger']:<8} {_counts_text(run['totals'])}")
        for source, counts in sorted(run["sources"].items()):
            lines.append(f"           {source}: {_counts_text(counts)}")
        if run["errors"]:
            first = run["first_errors"][0] if run["first_errors"] else {}
            lines.append(f"           {run['errors']} error(s), first: {first.get('url', '')} {first.get('reason', '')}".rstrip())
        if run["message"]:
            lines.append(f"           {run['message']}")

    if report["digest_jobs"]:
        lines.append("Last digest jobs (service):")
        for run in report["digest_jobs"]:
            counts = " ".join(f"{key} {run[key]}" for key in ("sent", "failed", "pending") if key in run)
            extra = run.get("reason") or run.get("error") or ""
            lines.append(f"  {_human(run['started_at'])}  {run['status']:<11} {run['trigger']:<8} {counts} {extra}".rstrip())
    lines.append("Digests sent:" if report["digests"] else "Digests sent: none yet")
    for day in report["digests"]:
        counts = ", ".join(f"{day[key]} {key}" for key in ("sent", "pending", "sending", "failed") if key in day)
        lines.append(f"  {day['date']}: {counts}")
    outbox = report["outbox"]
    lines.append(f"Outbox: {outbox['sent']} sent, {outbox['pending']} pending, {outbox['sending']} sending, "
                 f"{outbox['failed']} failed; last sent {_human(outbox['last_sent_at'])}")

    if report["warnings"]:
        lines.append(f"Health: {len(report['warnings'])} warning(s)")
        lines.extend(f"  ! {warning['message']}" for warning in report["warnings"])
    else:
        lines.append("Health: OK")
    return "\n".join(lines)
