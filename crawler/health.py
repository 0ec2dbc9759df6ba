"""Health rules: what `bantin status` (and later the web app and metrics) report and warn about.

The rules read the ledger, the leases and the outbox and return plain data;
front ends only format it. Warnings are per site where a site is concerned
(its crawls, its discovery sources) and global otherwise (the service, mail).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from crawler.store.records import RunCounts

NO_CRAWL_AFTER = timedelta(days=1)
OUTBOX_FAILURE_WINDOW = timedelta(days=7)
SOURCE_HISTORY = timedelta(days=60)


def collect_status(
    config,
    database,
    *,
    now: datetime,
    everyday_sources: Callable[[str], Sequence[str]],
    limit: int = 5,
    quiet_days: int = 3,
) -> dict[str, Any]:
    """Everything `bantin status` shows, with the warnings that make it unhealthy.

    ``everyday_sources(site id)``: the sources every crawl of that site reads (the sites
    know them; the front end that wires the parts passes them in).
    """
    from crawler.locks import lease_holder
    from crawler.store.archive import articles_per_site
    from crawler.store.models import CrawlRun, JobRun, OutboxMessage

    zone = config.schedule.tz

    def stamp(moment: datetime | None) -> str | None:
        return moment.astimezone(zone).isoformat(timespec="seconds") if moment else None

    followed = [entry.id for entry in config.enabled_sites()]
    with database.session() as session:
        crawls = session.scalars(
            select(CrawlRun).order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc()).limit(limit)
        ).all()
        crawled = set(session.scalars(select(CrawlRun.site).distinct()))
        site_ids = followed + sorted(crawled - set(followed))
        per_site = {site: _site_runs(session, site, now) for site in site_ids}
        recent_runs = {site: _recent_finished(session, site) for site in site_ids}
        stored = articles_per_site(session)
        running = session.scalars(select(CrawlRun).where(CrawlRun.status == "running")).all()
        digest_jobs = session.scalars(
            select(JobRun).where(JobRun.job == "digest").order_by(JobRun.started_at.desc()).limit(limit)
        ).all()
        outbox_counts = dict(
            session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
        )
        by_date = session.execute(
            select(OutboxMessage.digest_date, OutboxMessage.status, func.count()).group_by(
                OutboxMessage.digest_date, OutboxMessage.status
            )
        ).all()
        last_sent = session.scalar(select(func.max(OutboxMessage.sent_at)))
        failing = session.scalars(
            select(OutboxMessage)
            .where(
                (OutboxMessage.status == "failed") & (OutboxMessage.updated_at >= now - OUTBOX_FAILURE_WINDOW)
                | ((OutboxMessage.status == "pending") & (OutboxMessage.attempts > 0))
            )
            .order_by(OutboxMessage.updated_at.desc())
            .limit(50)
        ).all()
        failing = [
            (row.recipient, row.status, row.attempts, row.last_error, row.next_attempt_at, row.updated_at)
            for row in failing
        ]
        from crawler.store.index import INDEX_VERSION, index_status

        archive_index = index_status(session)

    service_lease = lease_holder(database, "service")
    service = _service_state(service_lease, now, stamp)
    schedule = _schedule(config, now, stamp)

    warnings: list[dict[str, str | None]] = []

    def warn(code: str, message: str, site: str | None = None, *, since: datetime | None = None) -> None:
        # `since`: when the condition began, as far as the ledger tells (None: unknown or never).
        warnings.append({"code": code, "message": message, **({"site": site} if site else {}), "since": stamp(since)})

    if service_lease is not None and not service["running"]:
        warn(
            "service_stale",
            f"the service on {service_lease.host} (pid {service_lease.pid}) stopped sending "
            f"heartbeats at {human_time(stamp(service_lease.heartbeat_at))} "
            "without shutting down (crashed or killed?)",
            since=service_lease.heartbeat_at,
        )
    sites: list[dict[str, Any]] = []
    for site in site_ids:
        last_good, last_finished, history = per_site[site]
        site_warnings_from = len(warnings)
        # A site no longer followed is listed with its history but warns about nothing.
        if site in followed:
            if last_good is None:
                warn("no_crawl", f"{site}: no crawl has succeeded yet", site)
            elif last_good.finished_at is not None and now - last_good.finished_at > NO_CRAWL_AFTER:
                warn(
                    "no_recent_crawl",
                    f"{site}: no successful crawl since {human_time(stamp(last_good.finished_at))}",
                    site,
                    since=last_good.finished_at,
                )
            if last_finished is not None and last_finished.status == "degraded":
                warn(
                    "crawl_degraded",
                    f"{site}: the last crawl (#{last_finished.id}) was degraded: "
                    f"{last_finished.message or 'see its errors'}",
                    site,
                    since=_streak_start(recent_runs[site], lambda run: run.status == "degraded"),
                )
            elif last_finished is not None and last_finished.status == "failed":
                warn(
                    "crawl_failed",
                    f"{site}: the last crawl (#{last_finished.id}) failed: {last_finished.message or 'see its errors'}",
                    site,
                    since=_streak_start(recent_runs[site], lambda run: run.status == "failed"),
                )
            if last_finished is not None:
                everyday = everyday_sources(site)
                for code, source, message in _source_warnings(last_finished, everyday):
                    warn(
                        code,
                        f"{site}: {message}",
                        site,
                        since=_streak_start(
                            recent_runs[site],
                            lambda run, key=(code, source), everyday=everyday: any(
                                found[:2] == key for found in _source_warnings(run, everyday)
                            ),
                        ),
                    )
            for source, since in _silent_sources(history, now, quiet_days):
                warn(
                    "source_silent",
                    f"{site}: source {source!r} has found nothing "
                    + (f"since {human_time(stamp(since))}" if since else f"in {quiet_days}+ days")
                    + " (the feed or page may have moved)",
                    site,
                    since=since,
                )
        sites.append(
            {
                "site": site,
                "followed": site in followed,
                "articles": stored.get(site, 0),
                "last_success_at": stamp(last_good.finished_at) if last_good is not None else None,
                "last_crawl": _crawl(last_finished, stamp) if last_finished is not None else None,
                "warnings": [w["code"] for w in warnings[site_warnings_from:]],
            }
        )
    for run in running:
        why = _stale_reason(run, now)
        if why:
            warn(
                "crawl_stale",
                f"{run.site}: crawl #{run.id} is still marked running but {why}",
                run.site,
                since=run.heartbeat_at or run.started_at,
            )
    failed_rows = [row for row in failing if row[1] == "failed"]
    retrying = [row for row in failing if row[1] == "pending"]
    if failed_rows:
        recipient, _, _, error, _, _ = failed_rows[0]
        warn(
            "outbox_failed",
            f"{len(failed_rows)} digest message(s) failed in the last 7 days "
            f"(latest: {recipient}: {error or 'no reason recorded'})",
            since=failed_rows[-1][5],
        )
    if retrying:
        recipient, _, attempts, error, next_at, _ = retrying[0]
        when = f", next try {human_time(stamp(next_at))}" if next_at else ""
        warn(
            "outbox_retrying",
            f"{len(retrying)} digest message(s) waiting for a retry "
            f"({recipient}, {attempts} attempt(s){when}: {error or 'no reason recorded'})",
            since=retrying[-1][5],
        )

    if not archive_index.complete:
        warn("index_incomplete", f"the archive index is {archive_index.describe()} (searches read every article)")

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
        "sites": sites,
        "crawls": [_crawl(run, stamp) for run in crawls],
        "digest_jobs": [_digest_job(run, stamp) for run in digest_jobs],
        "digests": [{"date": day, **digests_by_date[day]} for day in recent_dates],
        "outbox": {
            **{key: outbox_counts.get(key, 0) for key in ("pending", "sending", "sent", "failed", "cancelled")},
            "last_sent_at": stamp(last_sent),
        },
        "index": {
            "articles": archive_index.articles,
            "indexed": archive_index.indexed,
            "version": archive_index.version,
            "code_version": INDEX_VERSION,
            "complete": archive_index.complete,
            "state": archive_index.describe(),
        },
        "warnings": warnings,
        "healthy": not warnings,
    }


def _site_runs(session, site: str, now: datetime):
    """(last successful run, last finished run, successful runs of the source history) of one site."""
    from crawler.store.models import CrawlRun

    of_site = CrawlRun.site == site
    last_good = session.scalars(
        select(CrawlRun)
        .where(of_site, CrawlRun.status.in_(("ok", "degraded")))
        .order_by(CrawlRun.finished_at.desc())
        .limit(1)
    ).first()
    last_finished = session.scalars(
        select(CrawlRun)
        .where(of_site, CrawlRun.status != "running")
        .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
        .limit(1)
    ).first()
    history = session.scalars(
        select(CrawlRun)
        .where(of_site, CrawlRun.status.in_(("ok", "degraded")), CrawlRun.started_at >= now - SOURCE_HISTORY)
        .order_by(CrawlRun.started_at)
        .limit(2000)
    ).all()
    return last_good, last_finished, history


def _recent_finished(session, site: str, limit: int = 50):
    """A site's finished runs, newest first: how far back a warning's streak is looked for."""
    from crawler.store.models import CrawlRun

    return session.scalars(
        select(CrawlRun)
        .where(CrawlRun.site == site, CrawlRun.status != "running")
        .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
        .limit(limit)
    ).all()


def _streak_start(runs, holds) -> datetime | None:
    """When the newest unbroken run of `holds` began (the oldest such run's start), newest-first `runs`."""
    since = None
    for run in runs:
        if not holds(run):
            break
        since = run.started_at
    return since


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
    from crawler.cron import next_fire

    schedule = config.schedule
    return {
        job: {"cron": getattr(schedule, job), "next": stamp(next_fire(getattr(schedule, job), schedule.timezone, now))}
        for job in ("crawl", "digest")
    }


def _crawl(run, stamp) -> dict[str, Any]:
    end = run.finished_at or run.heartbeat_at
    return {
        "id": run.id,
        "site": run.site,
        "status": run.status,
        "trigger": run.trigger,
        "started_at": stamp(run.started_at),
        "finished_at": stamp(run.finished_at),
        "duration_seconds": round((end - run.started_at).total_seconds(), 1) if end else None,
        "totals": run.counts.totals(),
        "sources": run.counts.as_json(),
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
    from crawler.store.runs import orphan_reason

    return orphan_reason(run, now)


def _source_warnings(run, everyday: Sequence[str]) -> list[tuple[str, str, str]]:
    """A source the last crawl never mentions, or of which it could read no page.

    A silent source (found nothing for days) is caught later by `_silent_sources`; these
    two are visible at once, in the run that lost the source.
    """
    counts: RunCounts = run.counts
    found = []
    for source in everyday:
        if source not in counts.by_source:
            found.append(
                (
                    "source_missing",
                    source,
                    f"the last crawl (#{run.id}) did not read source {source!r} at all "
                    "(it is missing from the run's counts)",
                )
            )
    for source in counts.sources:
        # Rows written before sources counted their pages have no "pages_read": no verdict on them.
        if counts.by_source[source].get("pages_read") == 0:
            reason = next(
                (
                    error.get("reason")
                    for error in run.errors or []
                    if isinstance(error, dict) and error.get("source") == source
                ),
                None,
            )
            found.append(
                (
                    "source_failed",
                    source,
                    f"the last crawl (#{run.id}) could not read source {source!r}: {reason or 'no reason recorded'}",
                )
            )
    return found


def _silent_sources(history, now: datetime, quiet_days: int) -> list[tuple[str, datetime | None]]:
    """Sources still being read that found nothing for `quiet_days` (with enough history to tell)."""
    window_start = now - timedelta(days=quiet_days)
    first_seen: dict[str, datetime] = {}
    last_yield: dict[str, datetime] = {}
    recently_read: set[str] = set()
    for run in history:
        counts: RunCounts = run.counts
        for source in counts.sources:
            first_seen.setdefault(source, run.started_at)
            if run.started_at >= window_start:
                recently_read.add(source)
            if counts.yielded(source):
                last_yield[source] = run.started_at
    silent = []
    for source in sorted(recently_read):
        if first_seen[source] > window_start:
            continue
        since = last_yield.get(source)
        if since is None or since < window_start:
            silent.append((source, since))
    return silent


def human_time(iso: str | None) -> str:
    """A stamp from the report as a person reads it: date, minutes and the zone's hours."""
    if not iso:
        return "-"
    moment = datetime.fromisoformat(iso)
    return moment.strftime("%Y-%m-%d %H:%M") + f" ({moment.strftime('%z')[:3]})"
