"""Running one crawl of one or more sites in this process (the CLI's `bantin crawl`).

Twisted's reactor cannot be restarted, so a process runs at most one crawl:
every chosen site becomes one Scrapy crawler of a single CrawlerProcess (each
with its own settings, ledger row and spider), and long-lived callers (the
service, the demo) start `python -P -m crawler crawl` as a child process instead
of calling this. Spider classes come from Scrapy's spider loader by name, so
this module imports no spider.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, cast

from crawler.config import Config
from crawler.crawl.addon import CrawlSite, scrapy_settings
from crawler.errors import CrawlError
from crawler.store.records import RunSummary

if TYPE_CHECKING:
    from crawler.locks import HeldLease
    from crawler.store import Database

# After SIGTERM, requests in flight get this long to finish before the crawl
# is forced to stop; whoever stops a crawl waits somewhat longer than this.
STOP_GRACE_SECONDS = 10.0


@dataclass
class CrawlOptions:
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
class SiteOutcome:
    """What one site's crawler came to: its closed ledger run, or why it never started one."""

    site: str
    run: RunSummary | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.run is not None and self.run.ok

    @property
    def status(self) -> str:
        return self.run.status if self.run is not None else "failed"


def crawl_settings(config: Config, site: CrawlSite, options: CrawlOptions, *, priority: str = "cmdline"):
    """The full Scrapy settings of one site's crawler."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.crawl.settings", priority="project")
    overrides = scrapy_settings(
        config,
        site=site,
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
    settings.setdict(overrides, priority=priority)
    return settings


def run_crawl(
    config: Config,
    sites: Sequence[CrawlSite],
    options: CrawlOptions,
    *,
    database: Database | None = None,
    leases: Mapping[str, HeldLease] | None = None,
) -> list[SiteOutcome]:
    """Crawl these sites once, together, in this process; one outcome per site, in order.

    A site whose crawler cannot start or whose crawl fails does not stop the others.
    ``database``: the caller's open handle on the configured archive, for the crawlers to share
    (otherwise they open one of their own). ``leases``: each site's crawl lease the caller holds;
    a site whose lease is found lost (this process was frozen or cut off for longer than the lease
    lasts, and another crawl took the site over) stops at once, so two crawls of it never go on together.
    """
    if database is None:
        return _run_crawl(config, sites, options, leases or {})
    from crawler.crawl.archive import lend_database

    with lend_database(database):
        return _run_crawl(config, sites, options, leases or {})


def _run_crawl(
    config: Config, sites: Sequence[CrawlSite], options: CrawlOptions, leases: Mapping[str, HeldLease]
) -> list[SiteOutcome]:
    from scrapy.crawler import Crawler, CrawlerProcess

    from crawler.crawl.ledger import CrawlLedger

    if not sites:
        raise CrawlError("no site to crawl")
    # The process's settings are merged into every crawler's, overriding equal priorities:
    # below the crawlers' own, so each keeps its site's values.
    process = CrawlerProcess(crawl_settings(config, sites[0], options, priority="project"))
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        # Scrapy has just reset its loggers to DEBUG; its per-page debug records
        # ("Crawled", "Scraped from") would be built only to be dropped.
        logging.getLogger("scrapy").setLevel(logging.INFO)
    crawlers: list[tuple[CrawlSite, Crawler | None, str]] = []
    for site in sites:
        try:
            spidercls = process.spider_loader.load(site.spider)
        except KeyError:
            crawlers.append((site, None, f"no spider named {site.spider!r}"))
            continue
        # The first crawler installs the reactor (as CrawlerProcess.create_crawler would); the rest share it.
        first = not any(crawler is not None for _, crawler, _ in crawlers)
        site_crawler = Crawler(spidercls, crawl_settings(config, site, options), init_reactor=first)
        process.crawl(site_crawler)
        crawlers.append((site, site_crawler, ""))
    if any(crawler is not None for _, crawler, _ in crawlers):
        running = [crawler for _, crawler, _ in crawlers if crawler is not None]
        previous = _install_stop_handlers(process, running)
        lost: set[int] = set()
        for site, built, _ in crawlers:
            if built is not None and site.id in leases:
                _stop_when_lost(leases[site.id], built, running, lost)
        try:
            # Scrapy's own handlers would wait for requests in flight on the first
            # signal; ours close the ledger rows first and bound the wait.
            process.start(install_signal_handlers=False)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    outcomes = []
    for site, crawler, error in crawlers:
        summary = None
        if crawler is not None:
            try:
                ledger = crawler.get_extension(CrawlLedger)
            except RuntimeError:  # the crawler failed before its extensions were built
                ledger = None
            summary = ledger.summary() if ledger is not None else None
            if summary is None:
                error = "the crawl did not start (see the log above for the reason)"
        outcomes.append(SiteOutcome(site.id, summary, error))
    return outcomes


def _install_stop_handlers(process, crawlers) -> dict:
    """SIGTERM/SIGINT: close every site's ledger row interrupted at once, stop
    gracefully, and force the stop after STOP_GRACE_SECONDS or at a second signal.

    Scrapy's graceful stop waits for the requests in flight, which a hung site
    holds until the download timeout (up to ten minutes); whoever sent the
    signal would have to kill the crawl first. Returns the previous handlers.
    """
    from twisted.internet import reactor as installed_reactor
    from twisted.internet.base import ReactorBase

    from crawler.crawl.ledger import CrawlLedger

    # Every Twisted reactor is a ReactorBase; the module it is imported from is typed as none.
    reactor = cast(ReactorBase, installed_reactor)
    log = logging.getLogger("bantin.crawl")
    received: list[int] = []

    def force(why: str) -> None:
        if reactor.running:
            log.warning("forcing the crawl to stop (%s): requests still in flight are abandoned", why)
            with contextlib.suppress(RuntimeError):  # already stopping
                reactor.stop()

    def first(name: str) -> None:
        log.warning("received %s: stopping the crawl (in-flight requests get %g s)", name, STOP_GRACE_SECONDS)
        for crawler in crawlers:
            try:
                ledger = crawler.get_extension(CrawlLedger)
            except RuntimeError:  # this crawler never built its extensions
                continue
            try:
                ledger.interrupt(f"stopped by {name}")
            except Exception as exc:  # noqa: BLE001 - the row is closed later by whoever finds it dead
                log.error("could not close crawl run %s: %s", ledger.run_id, exc)
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


def _stop_when_lost(lease: HeldLease, crawler, crawlers: list, lost: set[int]) -> None:
    """When ``lease`` is found lost, close the site's ledger row interrupted and stop its crawler; force
    the whole process to stop after the grace if every crawler still running has lost its lease too
    (``lost``: the ids of those crawlers, shared by the process's sites)."""
    from twisted.internet import reactor as installed_reactor
    from twisted.internet.base import ReactorBase

    from crawler.crawl.ledger import CrawlLedger

    reactor = cast(ReactorBase, installed_reactor)
    log = logging.getLogger("bantin.crawl")

    def force() -> None:
        if reactor.running and all(id(other) in lost for other in crawlers if other.crawling):
            log.warning("forcing the crawl to stop: requests still in flight are abandoned")
            with contextlib.suppress(RuntimeError):  # already stopping
                reactor.stop()

    def stop() -> None:
        lost.add(id(crawler))
        why = f"lost the {lease.name} lease: another crawl took the site over"
        log.error("%s; stopping this site's crawl", why)
        with contextlib.suppress(RuntimeError):  # the crawler never built its extensions
            crawler.get_extension(CrawlLedger).interrupt(why)
        if crawler.crawling:
            crawler.stop()
        reactor.callLater(STOP_GRACE_SECONDS, force)

    lease.on_lost = lambda: reactor.callFromThread(stop)
    if lease.lost.is_set():  # lost while the crawlers were being built
        lease.on_lost()


def watch_lifeline(fd: int = 0, *, grace: float = STOP_GRACE_SECONDS + 20) -> threading.Thread:
    """Stop this crawl when the process that started it dies (its end of our stdin closes).

    A cluster worker may be SIGKILLed: nothing it could do on its way out would
    run. The kernel closes its end of the pipe whatever kills it, so end-of-file
    here means "the parent is gone": SIGTERM ourselves (the ledger row is closed
    interrupted and the lease released, as for any stop), and exit outright if
    the stop has not ended the process `grace` seconds later. The raw descriptor
    is read, not sys.stdin: a daemon thread blocked in a buffered reader aborts
    the interpreter's shutdown.
    """

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 4096):
                pass
        logging.getLogger("bantin.crawl").warning("the worker that started this crawl is gone: stopping")
        os.kill(os.getpid(), signal.SIGTERM)
        threading.Event().wait(grace)
        os._exit(1)

    thread = threading.Thread(target=watch, name="crawl-lifeline", daemon=True)
    thread.start()
    return thread


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
