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
from collections.abc import Sequence
from datetime import date, datetime

from scrapy import signals
from sqlalchemy import update

from crawler.clock import utcnow
from crawler.config import DEFAULT_SITE
from crawler.crawl import events
from crawler.crawl.archive import ArchiveStore
from crawler.logs import one_line
from crawler.store.models import CrawlRun
from crawler.store.records import COUNTERS, MAX_ERRORS, RunCounts, RunSummary  # noqa: F401 - the ledger's vocabulary

# The one rule for a crawl found dead lives with the storage (the service and `bantin status` apply it without Scrapy).
from crawler.store.runs import STALE_AFTER, close_orphaned_runs, orphan_reason  # noqa: F401

log = logging.getLogger("bantin.crawl")

# The reason the pipeline gives an article it fetched but could not write to the database.
STORAGE_FAILURE = "storage:"
FLUSH_SECONDS = 5.0
# Below this many article pages, a few odd ones say nothing about the layout.
DEGRADED_MIN_PAGES = 5


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
        # Cluster mode: the queued job and the worker this crawl runs for.
        self.job_id = settings.getint("BANTIN_JOB_ID") or None
        self.worker = settings.get("BANTIN_WORKER", "")
        self.counts = RunCounts()
        self.store: ArchiveStore | None = None
        self.run_id: int | None = None
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.status = "running"
        self.message = ""
        # Why the crawl was told to stop (a signal, a lost lease): the row's final verdict says it too.
        self.stopped_because = ""
        self._flusher = None

    @classmethod
    def from_crawler(cls, crawler):
        ledger = cls(crawler)
        connect = crawler.signals.connect
        connect(ledger.spider_opened, signal=signals.spider_opened)
        connect(ledger.spider_closed, signal=signals.spider_closed)
        connect(ledger.sources_planned, signal=events.sources_planned)
        connect(ledger.source_discovered, signal=events.source_discovered)
        connect(ledger.source_failed, signal=events.source_failed)
        connect(ledger.articles_stored, signal=events.articles_stored)
        connect(ledger.article_failed, signal=events.article_failed)
        connect(ledger.page_warning, signal=events.page_warning)
        connect(ledger.robots_refused, signal=events.robots_refused)
        return ledger

    # -- signals -----------------------------------------------------------------

    def spider_opened(self, spider) -> None:
        # Extensions are all built by now (the store may come after the ledger in EXTENSIONS).
        self.store = self.crawler.get_extension(ArchiveStore)
        # The site the spider crawls wins (a crawler built by hand may set no BANTIN_SITE).
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
                job_id=self.job_id,
                worker=self.worker,
            )
            session.add(run)
            session.flush()
            self.run_id = run.id
        self.crawler.stats.set_value("bantin/run_id", self.run_id)
        from twisted.internet import task

        self._flusher = task.LoopingCall(self.flush)
        self._flusher.start(FLUSH_SECONDS, now=False)
        log.info("crawl run %s started (%s, site %s at %s)", self.run_id, self.trigger, self.site, self.site_url)

    def sources_planned(self, sources: list[str]) -> None:
        self.counts.expect(sources)

    def source_discovered(
        self, source: str, count: int, requested: int = 0, skipped: Sequence[tuple[str, str]] = ()
    ) -> None:
        # Only a source page that was read and parsed announces anything.
        self.counts.source_pages_ok += 1
        self.counts.add(source, "pages_read")
        self.counts.add(source, "discovered", count)
        self.counts.add(source, "fetched", requested)
        if skipped:
            self.counts.add(source, "skipped", len(skipped))
            for url, reason in skipped:
                self.counts.error(source, url, f"entry skipped: {reason}")
            log.warning(
                "source %s: %d entr%s skipped (first: %s: %s)",
                source,
                len(skipped),
                "y" if len(skipped) == 1 else "ies",
                *skipped[0],
            )

    def source_failed(self, source: str, url: str, reason: str) -> None:
        self.counts.source_pages_failed += 1
        self.counts.add(source, "pages_failed")
        self.counts.add(source, "failed")
        self.counts.source_reasons.setdefault(source, reason)
        self.counts.error(source, url, reason)
        log.warning("source %s failed: %s: %s", source, url, reason)

    def robots_refused(self, url: str, reason: str) -> None:
        self.counts.robots_refused += 1
        self.counts.robots_reason = self.counts.robots_reason or reason

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

    def page_warning(self, source: str, url: str, reason: str) -> None:
        self.counts.error(source, url, reason)
        log.warning("%s: %s", url, reason)

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

    def interrupt(self, why: str) -> None:
        """Close the row as interrupted now, while the crawl is still stopping.

        A graceful stop waits for requests in flight, which a hung site holds
        for up to the download timeout; if the stop is then forced or the
        process killed, the row already says what happened. A crawl that
        still closes normally overwrites this with its final verdict.
        """
        self.stopped_because = why
        if self.store is None or self.run_id is None:
            return
        message = f"{why}; the next run picks up what this one missed"
        finished = utcnow()
        self._close_row("interrupted", message, finished, only_running=True)
        # A forced stop may never reach spider_closed: the summary says what the row says.
        if self.status == "running":
            self.status, self.message, self.finished_at = "interrupted", message, finished

    def spider_closed(self, spider, reason: str) -> None:
        if self._flusher is not None and self._flusher.running:
            self._flusher.stop()
        if self.store is None or self.run_id is None:
            return
        if reason == "finished":
            self.counts.close_sources()
        status, message = self.verdict(reason)
        finished = utcnow()
        try:
            self._close_row(status, message, finished)
        except Exception:  # noqa: BLE001 - once more: a dropped connection is replaced on the next checkout
            try:
                self._close_row(status, message, finished)
            except Exception as exc:  # noqa: BLE001 - a full disk, a database gone: say so, do not crash
                status = "failed"
                message = f"could not record the end of the run in the database: {one_line(str(exc))}"
                log.error("crawl run %s: %s", self.run_id, message)
        # What the summary reports, even when the row could not be written (a full disk).
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
            run_id=self.run_id,
            site=self.site,
            status=self.status,
            message=self.message,
            counts=self.counts,
            errors=list(self.counts.errors),
            error_total=self.counts.error_total,
            started_at=self.started_at,
            finished_at=self.finished_at,
        )

    def _close_row(self, status: str, message: str, finished: datetime, *, only_running: bool = False) -> None:
        if self.store is None:
            return
        condition = [CrawlRun.id == self.run_id] + ([CrawlRun.status == "running"] if only_running else [])
        with self.store.database.session() as session:
            session.execute(
                update(CrawlRun)
                .where(*condition)
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

    def verdict(self, reason: str) -> tuple[str, str]:
        counts = self.counts
        if reason in ("shutdown", "closespider_timeout"):
            why = (
                "time limit reached"
                if reason == "closespider_timeout"
                else self.stopped_because or "stopped by a signal"
            )
            return "interrupted", f"{why}; the next run picks up what this one missed"
        if reason != "finished":
            return "failed", f"crawl ended: {reason}"
        if counts.source_pages_ok == 0 and counts.robots_refused:
            return "failed", f"no discovery source could be read: {counts.robots_reason}"
        if counts.storage_failures:
            # The archive itself could not be written (a full disk, a lost database): not a bad page.
            return "failed", (
                f"{counts.storage_failures} article(s) could not be stored ({counts.storage_error}); "
                "they are fetched again on the next run"
            )
        if counts.source_pages_ok == 0 and counts.source_pages_failed > 0:
            return "failed", f"no discovery source could be read ({counts.source_pages_failed} failed)"
        notes = []
        unread = counts.unread_sources()
        if unread:
            notes.append(
                "source(s) not read: "
                + ", ".join(
                    f"{source} ({counts.source_reasons.get(source, 'no reason recorded')})" for source in unread
                )
            )
        status = "ok"
        if counts.article_pages >= DEGRADED_MIN_PAGES:
            share = counts.fallback_pages / counts.article_pages
            if share > self.degraded_share:
                status = "degraded"
                notes.insert(
                    0,
                    (
                        f"{counts.fallback_pages} of {counts.article_pages} article pages could not be read "
                        f"with the site's selectors ({share:.0%} > {self.degraded_share:.0%}): "
                        "the site's layout may have changed"
                    ),
                )
        failed = counts.totals()["failed"]
        if failed and status == "ok":
            notes.append(f"{failed} page(s) failed; they are retried on the next run")
        skipped = counts.totals()["skipped"]
        if skipped:
            notes.append(f"{skipped} announced entr{'y' if skipped == 1 else 'ies'} skipped (see the errors)")
        return status, "; ".join(notes)
