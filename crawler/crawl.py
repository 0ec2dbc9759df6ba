"""Running one crawl in this process (the CLI's `bantin crawl`).

Twisted's reactor cannot be restarted, so a process runs at most one crawl:
long-lived callers (the service, the demo) start `python -P -m crawler crawl`
as a child process instead of calling this.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from crawler.addon import scrapy_settings
from crawler.config import Config
from crawler.db import Database
from crawler.db.models import CrawlRun
from crawler.errors import CrawlError


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
    process.start()

    run_id = crawler.stats.get_value("bantin/run_id")
    if run_id is None:
        raise CrawlError("the crawl did not start (see the log above for the reason)")
    ledger = getattr(crawler, "bantin_ledger", None)
    database = Database(config.storage.url)
    try:
        with database.session() as session:
            run = session.get(CrawlRun, run_id)
            return CrawlResult(
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
