"""The one rule for a crawl found dead: when a 'running' ledger row has no crawl behind it, and how it is closed.

The next crawl, the service (at start and when a child it ran has ended) and
`bantin status` all judge a row by it; nothing here imports Scrapy.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import select

from crawler.locks import pid_alive
from crawler.store.models import CrawlRun

# A running crawl writes its heartbeat every few seconds (crawler.crawl.ledger.FLUSH_SECONDS); this much silence
# means it is gone. The one threshold: the next crawl, the service and
# `bantin status` all judge a 'running' row by it.
STALE_AFTER = timedelta(minutes=2)
# Started-at times are written by the crawl's clock; allow it to lag the judge's a little.
CLOCK_SLACK = timedelta(seconds=5)
DEAD_MESSAGE = "the crawl process ended without closing its run"


def orphan_reason(run: CrawlRun, now: datetime, *, stale_after: timedelta = STALE_AFTER) -> str | None:
    """Why a 'running' ledger row has no live crawl behind it, or None when it may still be running."""
    if run.hostname == socket.gethostname() and run.pid is not None:
        if run.pid == os.getpid():
            return None
        if not pid_alive(run.pid):
            return f"its process (pid {run.pid}) is gone"
    beat = run.heartbeat_at or run.started_at
    if now - beat > stale_after:
        return f"it has sent no heartbeat for {int((now - beat).total_seconds() // 60)} min"
    return None


def close_dead_run(run: CrawlRun, reason: str) -> None:
    """The one verdict on a crawl found dead: interrupted, as of its last sign of life.

    Whatever it stored is kept (each article is written with its sources and
    matches), and the next run fetches what it missed.
    """
    run.status = "interrupted"
    run.finished_at = run.heartbeat_at or run.started_at
    why = f"{DEAD_MESSAGE} ({reason})"
    run.message = f"{run.message}; {why}" if run.message else why


def close_orphaned_runs(session, *, now: datetime) -> list[int]:
    """Close every 'running' row whose crawl is gone (killed, crashed, host lost); returns their ids."""
    closed = []
    for run in session.scalars(select(CrawlRun).where(CrawlRun.status == "running")):
        reason = orphan_reason(run, now)
        if reason is not None:
            close_dead_run(run, reason)
            closed.append(run.id)
    return closed


def close_runs_of(session, *, pid: int, hostname: str, spawned_at: datetime, reason: str) -> list[int]:
    """Close the rows a crawl process known to have ended left 'running' (pids are reused:
    only rows started after it was spawned are its own)."""
    rows = session.scalars(
        select(CrawlRun).where(
            CrawlRun.status == "running",
            CrawlRun.pid == pid,
            CrawlRun.hostname == hostname,
            CrawlRun.started_at >= spawned_at - CLOCK_SLACK,
        )
    ).all()
    for run in rows:
        close_dead_run(run, reason)
    return [run.id for run in rows]
