"""`bantin status`: the service, the next runs, the last crawls and digests, health warnings.

Exit status 0 when healthy and 1 when any warning holds, so that the command
doubles as a health check (systemd, monitoring, cron).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from crawler.cli import pass_app
from crawler.clock import utcnow
from crawler.health import collect_status, human_time


@click.command()
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--runs",
    "limit",
    type=click.IntRange(1, 1000),
    default=5,
    show_default=True,
    help="How many recent crawls and digests to show.",
)
@click.option(
    "--quiet-days",
    type=click.IntRange(1, 365),
    default=3,
    show_default=True,
    help="Warn about a discovery source that found nothing for this many days.",
)
@pass_app
def status(app, output_format: str, limit: int, quiet_days: int) -> None:
    """Show the service, the next runs, the last crawls and digests, and health warnings.

    Exits with status 1 when there is any warning (usable as a health check).
    """
    from spiders.registry import everyday_sources

    now = utcnow()
    report = collect_status(
        app.config, app.database, now=now, everyday_sources=everyday_sources, limit=limit, quiet_days=quiet_days
    )
    if app.config.cluster.enabled:
        from scheduler.cluster.status import cluster_status

        report["cluster"] = cluster_status(app.config, app.database, now=now)
        report["warnings"].extend(report["cluster"]["warnings"])
        report["healthy"] = not report["warnings"]
    if output_format == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(report))
    if not report["healthy"]:
        # SystemExit, not click's Exit: the root command runs click in non-standalone mode.
        sys.exit(1)


# -- rendering ------------------------------------------------------------------


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
        lines.append(
            f"Service: running on {service['host']} (pid {service['pid']}) "
            f"since {human_time(service['since'])}, "
            f"heartbeat {service['heartbeat_age_seconds']} s ago; now: {jobs}"
        )
    elif "host" in service:
        lines.append(
            f"Service: not running (last heartbeat {human_time(service['heartbeat_at'])} on {service['host']})"
        )
    else:
        lines.append("Service: not running")
    lines.append(f"Schedule ({report['timezone']}):")
    for job, entry in report["schedule"].items():
        lines.append(f"  {job:<7} {entry['cron']:<16} next {human_time(entry['next'])}")

    lines.append("Sites:" if report["sites"] else "Sites: none followed")
    for site in report["sites"]:
        last = site["last_crawl"]
        state = (
            f"last crawl #{last['id']} {last['status']} {human_time(last['started_at'])}, "
            f"{_counts_text(last['totals'])}"
            if last
            else "never crawled"
        )
        followed = "" if site["followed"] else " (not followed)"
        warned = f"; {len(site['warnings'])} warning(s)" if site["warnings"] else ""
        lines.append(f"  {site['site']}{followed}: {site['articles']} articles; {state}{warned}")
    lines.append("Last crawls:" if report["crawls"] else "Last crawls: none yet")
    for run in report["crawls"]:
        lines.append(
            f"  #{run['id']:<5} {run['site']:<10} {run['status']:<11} {human_time(run['started_at'])}  "
            f"{_duration(run['duration_seconds']):>7}  {run['trigger']:<8} {_counts_text(run['totals'])}"
        )
        for source, counts in sorted(run["sources"].items()):
            lines.append(f"           {source}: {_counts_text(counts)}")
        if run["errors"]:
            first = run["first_errors"][0] if run["first_errors"] else {}
            lines.append(
                f"           {run['errors']} error(s), first: {first.get('url', '')} {first.get('reason', '')}".rstrip()
            )
        if run["message"]:
            lines.append(f"           {run['message']}")

    if report["digest_jobs"]:
        lines.append("Last digest jobs (service):")
        for run in report["digest_jobs"]:
            counts = " ".join(f"{key} {run[key]}" for key in ("sent", "failed", "pending") if key in run)
            extra = run.get("reason") or run.get("error") or ""
            lines.append(
                f"  {human_time(run['started_at'])}  {run['status']:<11} {run['trigger']:<8} {counts} {extra}".rstrip()
            )
    lines.append("Digests sent:" if report["digests"] else "Digests sent: none yet")
    for day in report["digests"]:
        counts = ", ".join(
            f"{day[key]} {key}" for key in ("sent", "pending", "sending", "failed", "cancelled") if key in day
        )
        lines.append(f"  {day['date']}: {counts}")
    outbox = report["outbox"]
    lines.append(
        f"Outbox: {outbox['sent']} sent, {outbox['pending']} pending, {outbox['sending']} sending, "
        f"{outbox['failed']} failed, {outbox['cancelled']} cancelled; last sent {human_time(outbox['last_sent_at'])}"
    )

    lines.append(f"Archive index: {report['index']['state']}")
    if "cluster" in report:
        from scheduler.cluster.status import render_cluster

        lines.extend(render_cluster(report["cluster"], human_time))
    if report["warnings"]:
        lines.append(f"Health: {len(report['warnings'])} warning(s)")
        for warning in report["warnings"]:
            since = f" (since {human_time(warning['since'])})" if warning.get("since") else ""
            lines.append(f"  ! {warning['message']}{since}")
    else:
        lines.append("Health: OK")
    return "\n".join(lines)
