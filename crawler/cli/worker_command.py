"""`bantin worker`: run cluster jobs (crawls, digests) on this machine."""

from __future__ import annotations

import sys

import click

from crawler.cli import pass_app
from crawler.errors import UsageError


@click.command()
@click.option(
    "--concurrency", type=click.IntRange(1, 32), metavar="N", help="Jobs run at once (default: cluster.concurrency)."
)
@click.option(
    "--queues",
    default="crawl,digest",
    show_default=True,
    metavar="LIST",
    help="Which queues this worker takes jobs from: crawl, digest or both.",
)
@click.option("--name", default=None, metavar="NAME", help="How status and logs name it (default: HOST:PID).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_app
def worker(app, concurrency: int | None, queues: str, name: str | None, log_format: str) -> None:
    """Run queued crawls and digests (cluster mode) until SIGTERM or Ctrl-C.

    Start one on every machine of the cluster. Each crawl job runs `bantin
    crawl --site ID` as a child process holding the site's lease; a job of a
    worker that dies is run again by another one once its heartbeat has
    stalled (cluster.stalled_after_seconds).
    """
    from scheduler.cluster.worker import parse_queues, run_worker
    from scheduler.service import configure_logging

    try:
        chosen = parse_queues(queues)
    except ValueError as exc:
        raise UsageError(f"--queues: {exc}") from None
    configure_logging(log_format, debug=app.debug)
    code = run_worker(app.config, app.database, queues=chosen, concurrency=concurrency, name=name)
    if code:
        sys.exit(code)
