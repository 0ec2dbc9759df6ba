"""The crawl ledger: one CrawlRun row per run, kept current while the crawl runs.

A Scrapy extension: it opens the row when the spider opens, counts what the
spider and pipelines signal, writes the counts (and a heartbeat) every few
seconds so a killed crawl leaves a truthful row, and closes the row with a
status when the spider closes.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

from scrapy import signals
from sqlalchemy import select, update

from crawler import signals as bantin_signals
from crawler.db import Database
from crawler.db.models import CrawlRun
from crawler.locks import pid_alive
from crawler.logs import one_line

log = logging.getLogger("bantin.crawl")

# The reason the pipeline gives an article it fetched but could not write to the database.
STORAGE_FAILURE = "storage:"
COUNTERS = ("discovered", "fetched", "new", "updated", "unchanged", "failed")
MAX_ERRORS = 200
FLUSH_SECONDS = 5.0
# Below this many article pages, a few odd ones say nothing about the layout.
DEGRADED_MIN_PAGES = 5


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class RunCounts:
    """Per-source counters and the errors of one run."""

    def __init__(self) -> None:
        self.by_source: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
        self.errors: list[dict] = []
        self.error_total = 0
        self.article_pages = 0
        self.fallback_pages = 0
        self.source_pages_ok = 0
        self.source_pages_failed = 0
        self.storage_failures = 0
        self.storage_error = ""

    def add(self, source: str, counter: str, amount: int = 1) -> None:
        self.by_source[source][counter] += amount

    def error(self, source: str, url: str, reason: str) -> None:
        self.error_total += 1
        if len(self.errors) < MAX_ERRORS:
            # One line: reasons are printed one per line (database errors carry a second).
            self.errors.append({"source": source, "url": url, "reason": one_line(reason)})

    def totals(self) -> dict[str, int]:
        return {counter: sum(counts[counter] for counts in self.by_source.values()) for counter in COUNTERS}

    def as_json(self) -> dict:
        return {source: dict(counts) for source, counts in sorted(self.by_source.items())}


class CrawlLedger:
    def __init__(self, crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.database_url = settings.get("BANTIN_DATABASE_URL")
        self.degraded_share = settings.getfloat("BANTIN_DEGRADED_SHARE", 0.2)
        self.trigger = settings.get("BANTIN_TRIGGER", "manual")
        self.site_url = settings.get("BANTIN_SITE_URL", "")
        since = settings.get("BANTIN_SINCE")
        self.since = date.fromisoformat(since) if since else None
        self.counts = RunCounts()
        self.database: Database | None = None
        self.run_id: int | None = None
        # (status, message) as closed, even when the row could not be written.
        self.closed_as: tuple[str, str] | None = None
        self._flusher = None

    @classmethod
    def from_crawler(cls, crawler):
        ledger = cls(crawler)
        connect = crawler.signals.connect
        connect(ledger.spider_opened, signal=signals.spider_opened)
        connect(ledger.spider_closed, signal=signals.spider_closed)
        connect(ledger.source_discovered, signal=bantin_signals.source_discovered)
        connect(ledger.source_failed, signal=bantin_signals.source_failed)
        connect(ledger.articles_stored, signal=bantin_signals.articles_stored)
        connect(ledger.article_failed, signal=bantin_signals.article_failed)
        crawler.bantin_ledger = ledger
        return ledger

    # -- signals -----------------------------------------------------------------

    def spider_opened(self, spider) -> None:
        self.database = Database(self.database_url)
        now = utcnow()
        with self.database.session() as session:
            close_orphaned_runs(session, now=now)
            run = CrawlRun(
                started_at=now,
                status="running",
                trigger=self.trigger,
                site_url=self.site_url,
                since=self.since,
                pid=os.getpid(),
                hostname=socket.gethostname(),
                heartbeat_at=now,
                counts={},
                errors=[],
            )
            session.add(run)
            session.flush()
            self.run_id = run.id
        self.crawler.stats.set_value("bantin/run_id", self.run_id)
        from twisted.internet import task

        self._flusher = task.LoopingCall(self.flush)
        self._flusher.start(FLUSH_SECONDS, now=False)
        log.info("crawl run %s started (%s, site %s)", self.run_id, self.trigger, self.site_url)

    def source_discovered(self, source: str, count: int, requested: int = 0) -> None:
        # Only a source page that was read and parsed announces anything.
        self.counts.source_pages_ok += 1
        self.counts.add(source, "discovered", count)
        self.counts.add(source, "fetched", requested)

    def source_failed(self, source: str, url: str, reason: str) -> None:
        self.counts.source_pages_failed += 1
        self.counts.add(source, "failed")
        self.counts.error(source, url, reason)
        log.warning("source %s failed: %s: %s", source, url, reason)

    def articles_stored(self, outcomes: list[tuple[str, str, str]]) -> None:
        for source, outcome, extractor in outcomes:
            self.counts.add(source, outcome)
            self.counts.article_pages += 1
            if extractor != "site":
                self.counts.fallback_pages += 1

    def article_failed(self, source: str, url: str, reason: str, extraction: bool = False) -> None:
        self.counts.add(source, "failed")
        self.counts.error(source, url, reason)
        if extraction:
            self.counts.article_pages += 1
            self.counts.fallback_pages += 1
        if reason.startswith(STORAGE_FAILURE):
            self.counts.storage_failures += 1
            self.counts.storage_error = self.counts.storage_error or one_line(reason)
        log.warning("article failed: %s: %s", url, reason)

    def flush(self) -> None:
        """Write the counts so far and a heartbeat: a killed crawl leaves a truthful row."""
        if self.database is None or self.run_id is None:
            return
        try:
            with self.database.session() as session:
                session.execute(
                    update(CrawlRun)
                    .where(CrawlRun.id == self.run_id)
                    .values(
                        counts=self.counts.as_json(),
                        errors=list(self.counts.errors),
                        article_pages=self.counts.article_pages,
                        fallback_pages=self.counts.fallback_pages,
                        heartbeat_at=utcnow(),
                    )
                )
        except Exception:  # noqa: BLE001 - a missed heartbeat must not stop the crawl
            log.exception("could not update the crawl ledger")

    def interrupt(self, why: str) -> None:
        """Close the row as interrupted now, while the crawl is still stopping.

        A graceful stop waits for requests in flight, which a hung site holds
        for up to the download timeout; if the stop is then forced or the
        process killed, the row already says what happened. A crawl that
        still closes normally overwrites this with its final verdict.
        """
        if self.database is None or self.run_id is None:
            return
        self._close_row("interrupted", f"{why}; the next run picks up what this one missed", only_running=True)

    def spider_closed(self, spider, reason: str) -> None:
        if self._flusher is not None and self._flusher.running:
            self._flusher.stop()
        if self.database is None or self.run_id is None:
            return
        status, message = self.verdict(reason)
        try:
            self._close_row(status, message)
        except Exception:  # noqa: BLE001 - once more: a dropped connection is replaced on the next checkout
            try:
                self._close_row(status, message)
            except Exception as exc:  # noqa: BLE001 - a full disk, a database gone: say so, do not crash
                status = "failed"
                message = f"could not record the end of the run in the database: {one_line(str(exc))}"
                log.error("crawl run %s: %s", self.run_id, message)
        self.closed_as = (status, message)
        self.crawler.stats.set_value("bantin/status", status)
        log_method = log.info if status == "ok" else log.warning
        totals = self.counts.totals()
        log_method(
            "crawl run %s %s: %s%s",
            self.run_id,
            status,
            ", ".join(f"{key} {value}" for key, value in totals.items()),
            f" — {message}" if message else "",
        )
        self.database.dispose()

    def _close_row(self, status: str, message: str, *, only_running: bool = False) -> None:
        condition = [CrawlRun.id == self.run_id] + ([CrawlRun.status == "running"] if only_running else [])
        with self.database.session() as session:
            session.execute(
                update(CrawlRun)
                .where(*condition)
                .values(
                    status=status,
                    message=message,
                    finished_at=utcnow(),
                    heartbeat_at=utcnow(),
                    counts=self.counts.as_json(),
                    errors=list(self.counts.errors),
                    article_pages=self.counts.article_pages,
                    fallback_pages=self.counts.fallback_pages,
                )
            )

    def verdict(self, reason: str) -> tuple[str, str]:
        counts = self.counts
        if reason in ("shutdown", "closespider_timeout"):
            why = "time limit reached" if reason == "closespider_timeout" else "stopped by a signal"
            return "interrupted", f"{why}; the next run picks up what this one missed"
        if reason != "finished":
            return "failed", f"crawl ended: {reason}"
        if counts.storage_failures:
            # The archive itself could not be written (a full disk, a lost database): not a bad page.
            return "failed", (
                f"{counts.storage_failures} article(s) could not be stored ({counts.storage_error}); "
                "they are fetched again on the next run"
            )
        if counts.source_pages_ok == 0 and counts.source_pages_failed > 0:
            return "failed", f"no discovery source could be read ({counts.source_pages_failed} failed)"
        if counts.article_pages >= DEGRADED_MIN_PAGES:
            share = counts.fallback_pages / counts.article_pages
            if share > self.degraded_share:
                return "degraded", (
                    f"{counts.fallback_pages} of {counts.article_pages} article pages could not be read with the "
                    f"site's selectors ({share:.0%} > {self.degraded_share:.0%}): the site's layout may have changed"
                )
        failed = counts.totals()["failed"]
        if failed:
            return "ok", f"{failed} page(s) failed; they are retried on the next run"
        return "ok", ""


# A running crawl writes its heartbeat every FLUSH_SECONDS; this much silence
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
