"""The crawl ledger: one CrawlRun row per run, kept current while the crawl runs.

A Scrapy extension: it opens the row when the spider opens, counts what the
spider and pipelines signal, writes the counts (and a heartbeat) every few
seconds so a killed crawl leaves a truthful row, and closes the row with a
status when the spider closes. It writes through the crawl's one database
(``ArchiveStore``); what it wrote last is :meth:`CrawlLedger.summary`, so the
caller of a crawl never reopens the database to read it back. Other components
find it with ``crawler.get_extension(CrawlLedger)``.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import date, datetime, timedelta, timezone

from scrapy import signals
from sqlalchemy import select, update

from crawler.config import DEFAULT_SITE
from crawler.crawl import events
from crawler.crawl.archive import ArchiveStore
from crawler.store.models import CrawlRun
from crawler.store.records import COUNTERS, MAX_ERRORS, RunCounts, RunSummary  # noqa: F401 - the ledger's vocabulary
from crawler.locks import pid_alive

log = logging.getLogger("bantin.crawl")

FLUSH_SECONDS = 5.0
# Below this many article pages, a few odd ones say nothing about the layout.
DEGRADED_MIN_PAGES = 5


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class CrawlLedger:
    def __init__(self, crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.degraded_share = settings.getfloat("BANTIN_DEGRADED_SHARE", 0.2)
        self.trigger = settings.get("BANTIN_TRIGGER", "manual")
        self.site = settings.get("BANTIN_SITE") or DEFAULT_SITE
        self.site_url = settings.get("BANTIN_SITE_URL", "")
        since = settings.get("BANTIN_SINCE")
        self.since = date.fromisoformat(since) if since else None
        self.counts = RunCounts()
        self.store: ArchiveStore | None = None
        self.run_id: int | None = None
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.status = "running"
        self.message = ""
        self._flusher = None

    @classmethod
    def from_crawler(cls, crawler):
        ledger = cls(crawler)
        connect = crawler.signals.connect
        connect(ledger.spider_opened, signal=signals.spider_opened)
        connect(ledger.spider_closed, signal=signals.spider_closed)
        connect(ledger.source_discovered, signal=events.source_discovered)
        connect(ledger.source_failed, signal=events.source_failed)
        connect(ledger.articles_stored, signal=events.articles_stored)
        connect(ledger.article_failed, signal=events.article_failed)
        return ledger

    # -- signals -----------------------------------------------------------------

    def spider_opened(self, spider) -> None:
        # Extensions are all built by now (the store may come after the ledger in EXTENSIONS).
        self.store = self.crawler.get_extension(ArchiveStore)
        # The site the spider crawls wins (`scrapy crawl tienphong` sets no BANTIN_SITE).
        spider_site = getattr(spider, "site", None)
        if spider_site is not None:
            self.site = spider_site.id
        now = utcnow()
        self.started_at = now
        with self.store.database.session() as session:
            close_orphaned_runs(session, now=now)
            run = CrawlRun(
                started_at=now,
                status="running",
                trigger=self.trigger,
                site=self.site,
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
        log.info("crawl run %s started (%s, site %s at %s)", self.run_id, self.trigger, self.site, self.site_url)

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
        log.warning("article failed: %s: %s", url, reason)

    def flush(self) -> None:
        """Write the counts so far and a heartbeat: a killed crawl leaves a truthful row."""
        if self.store is None or self.run_id is None:
            return
        try:
            with self.store.database.session() as session:
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

    def spider_closed(self, spider, reason: str) -> None:
        if self._flusher is not None and self._flusher.running:
            self._flusher.stop()
        if self.store is None or self.run_id is None:
            return
        status, message = self.verdict(reason)
        finished = utcnow()
        with self.store.database.session() as session:
            session.execute(
                update(CrawlRun)
                .where(CrawlRun.id == self.run_id)
                .values(
                    status=status,
                    message=message,
                    finished_at=finished,
                    heartbeat_at=finished,
                    counts=self.counts.as_json(),
                    errors=list(self.counts.errors),
                    article_pages=self.counts.article_pages,
                    fallback_pages=self.counts.fallback_pages,
                )
            )
        self.status, self.message, self.finished_at = status, message, finished
        self.crawler.stats.set_value("bantin/status", status)
        log_method = log.info if status == "ok" else log.warning
        totals = self.counts.totals()
        log_method(
            "crawl run %s (%s) %s: %s%s",
            self.run_id,
            self.site,
            status,
            ", ".join(f"{key} {value}" for key, value in totals.items()),
            f" — {message}" if message else "",
        )

    def summary(self) -> RunSummary | None:
        """What this run wrote to its ledger row, without reading it back (None: it never started)."""
        if self.run_id is None or self.started_at is None:
            return None
        return RunSummary(
            run_id=self.run_id, site=self.site, status=self.status, message=self.message, counts=self.counts,
            errors=list(self.counts.errors), error_total=self.counts.error_total, started_at=self.started_at,
            finished_at=self.finished_at,
        )

    def verdict(self, reason: str) -> tuple[str, str]:
        counts = self.counts
        if reason in ("shutdown", "closespider_timeout"):
            why = "time limit reached" if reason == "closespider_timeout" else "stopped by a signal"
            return "interrupted", f"{why}; the next run picks up what this one missed"
        if reason != "finished":
            return "failed", f"crawl ended: {reason}"
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


# A running crawl writes its heartbeat every FLUSH_SECONDS; this much silence means it is gone.
STALE_AFTER = timedelta(minutes=2)


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


def close_orphaned_runs(session, *, now: datetime, stale_after: timedelta = STALE_AFTER) -> int:
    """Mark 'running' rows whose crawl is gone (killed, crashed, host lost) as interrupted."""
    closed = 0
    for run in session.scalars(select(CrawlRun).where(CrawlRun.status == "running")):
        if orphan_reason(run, now, stale_after=stale_after) is None:
            continue
        run.status = "interrupted"
        run.finished_at = run.heartbeat_at or run.started_at
        run.message = (run.message + "; " if run.message else "") + "the crawl process ended without closing its run"
        closed += 1
    return closed
