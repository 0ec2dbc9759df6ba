"""Running one crawl in this process (the CLI's `bantin crawl`).

Twisted's reactor cannot be restarted, so a process runs at most one crawl:
long-lived callers (the service, the demo) start `python -P -m crawler crawl`
as a child process instead of calling this.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from crawler.addon import scrapy_settings
from crawler.config import Config
from crawler.db import Database
from crawler.db.models import CrawlRun
from crawler.errors import CrawlError

# After SIGTERM, requests in flight get this long to finish before the crawl
# is forced to stop; whoever stops a crawl waits somewhat longer than this.
STOP_GRACE_SECONDS = 10.0


@dataclass
class CrawlOptions:
    site_url: str | None = None
    since: date | None = None
    search: bool = False
    trigger: str = "manual"
    # An ISO instant standing in for "now" (tests and the demo's fixed sample site).
    now: str | None = None
    polite: bool = True
    progress: bool = True
    time_limit_minutes: float | None = None
    extra_settings: dict = field(default_factory=dict)


@dataclass
class CrawlResult:
    run_id: int
    status: str
    message: str
    counts: dict
    errors: list
    error_total: int
    started_at: datetime
    finished_at: datetime | None

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "degraded")

    def totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for counts in self.counts.values():
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
        return totals


def run_crawl(config: Config, options: CrawlOptions) -> CrawlResult:
    """Crawl once, in this process, and return the ledger row it wrote."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from spiders.nhandan import NhandanSpider

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    overrides = scrapy_settings(
        config,
        site_url=options.site_url,
        since=options.since,
        search=options.search,
        trigger=options.trigger,
        now=options.now,
        polite=options.polite,
    )
    overrides["BANTIN_PROGRESS"] = options.progress
    # bantin's CLI owns the root log handler; Scrapy logs through it.
    overrides["LOG_INSTALL_ROOT_HANDLER"] = False
    if options.time_limit_minutes:
        overrides["CLOSESPIDER_TIMEOUT"] = int(options.time_limit_minutes * 60)
    overrides.update(options.extra_settings)
    settings.setdict(overrides, priority="cmdline")

    process = CrawlerProcess(settings)
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        # Scrapy has just reset its loggers to DEBUG; its per-page debug records
        # ("Crawled", "Scraped from") would be built only to be dropped.
        logging.getLogger("scrapy").setLevel(logging.INFO)
    crawler = process.create_crawler(NhandanSpider)
    process.crawl(crawler)
    previous = _install_stop_handlers(process, crawler)
    try:
        # Scrapy's own handlers would wait for requests in flight on the first
        # signal; ours close the ledger row first and bound the wait.
        process.start(install_signal_handlers=False)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    run_id = crawler.stats.get_value("bantin/run_id")
    if run_id is None:
        raise CrawlError("the crawl did not start (see the log above for the reason)")
    ledger = getattr(crawler, "bantin_ledger", None)
    database = Database(config.storage.url)
    try:
        with database.session() as session:
            run = session.get(CrawlRun, run_id)
            result = CrawlResult(
                run_id=run.id,
                status=run.status,
                message=run.message,
                counts=dict(run.counts or {}),
                errors=list(run.errors or []),
                error_total=ledger.counts.error_total if ledger else len(run.errors or []),
                started_at=run.started_at,
                finished_at=run.finished_at,
            )
    finally:
        database.dispose()
    if result.status == "running" and ledger is not None and ledger.closed_as is not None:
        # The ledger could not write its verdict (a full disk): report it, not "running".
        result.status, result.message = ledger.closed_as
        result.counts, result.errors = ledger.counts.as_json(), list(ledger.counts.errors)
    return result


def _install_stop_handlers(process, crawler) -> dict:
    """SIGTERM/SIGINT: close the ledger row interrupted at once, stop gracefully,
    and force the stop after STOP_GRACE_SECONDS or at a second signal.

    Scrapy's graceful stop waits for the requests in flight, which a hung site
    holds until the download timeout (up to ten minutes); whoever sent the
    signal would have to kill the crawl first. Returns the previous handlers.
    """
    from twisted.internet import reactor

    log = logging.getLogger("bantin.crawl")
    received: list[int] = []

    def force(why: str) -> None:
        if reactor.running:
            log.warning("forcing the crawl to stop (%s): requests still in flight are abandoned", why)
            with contextlib.suppress(RuntimeError):  # already stopping
                reactor.stop()

    def first(name: str) -> None:
        log.warning("received %s: stopping the crawl (in-flight requests get %g s)", name, STOP_GRACE_SECONDS)
        ledger = getattr(crawler, "bantin_ledger", None)
        if ledger is not None:
            try:
                ledger.interrupt(f"stopped by {name}")
            except Exception as exc:  # noqa: BLE001 - the row is closed later by whoever finds it dead
                log.error("could not close the crawl run: %s", exc)
        process.stop()
        reactor.callLater(STOP_GRACE_SECONDS, force, f"{STOP_GRACE_SECONDS:g} s after {name}")

    def on_signal(signum, _frame) -> None:
        # Only hand over to the reactor here: a handler runs between any two
        # bytecodes, possibly inside the very code it would call.
        received.append(signum)
        name = signal.Signals(signum).name
        if len(received) == 1:
            reactor.callFromThread(first, name)
        else:
            reactor.callFromThread(force, f"{name} again")

    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, on_signal)
    return previous


def crawl_child_command(config_path: str | os.PathLike | None, *args: str, quiet: bool = False) -> list[str]:
    """The command line that runs `bantin crawl` as a child process (the service, the demo, benchmarks, tests)."""
    command = [*python_module_command(), "crawler"]
    if quiet:
        command.append("--quiet")
    if config_path:
        command += ["--config", str(Path(config_path).resolve())]
    return [*command, "crawl", *args]


def python_module_command() -> list[str]:
    """`python -m` without the working directory on sys.path.

    `-m` puts the current folder first on sys.path, so a secrets.py or json.py
    among the user's files would be imported into the child; -P (Python 3.11)
    leaves it off.
    """
    return [sys.executable, "-P", "-m"]
