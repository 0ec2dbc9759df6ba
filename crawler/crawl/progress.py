"""A one-line progress display for `bantin crawl` on a terminal."""

from __future__ import annotations

import sys

from scrapy import signals
from scrapy.exceptions import NotConfigured

REFRESH_SECONDS = 0.5


class TerminalProgress:
    def __init__(self, crawler, stream):
        self.crawler = crawler
        self.stream = stream
        self._loop = None

    @classmethod
    def from_crawler(cls, crawler):
        stream = sys.stderr
        if not crawler.settings.getbool("BANTIN_PROGRESS", True) or not stream.isatty():
            raise NotConfigured
        extension = cls(crawler, stream)
        crawler.signals.connect(extension.opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.closed, signal=signals.spider_closed)
        return extension

    def opened(self, spider) -> None:
        from twisted.internet import task

        self._loop = task.LoopingCall(self.draw)
        self._loop.start(REFRESH_SECONDS)

    def draw(self) -> None:
        from crawler.crawl.ledger import CrawlLedger

        ledger = self.crawler.get_extension(CrawlLedger)
        if ledger is None:
            return
        totals = ledger.counts.totals()
        stats = self.crawler.stats
        line = (
            f"  discovered {totals['discovered']}  fetched {totals['fetched']}  new {totals['new']}  "
            f"updated {totals['updated']}  failed {totals['failed']}  "
            f"requests {stats.get_value('downloader/request_count', 0)}"
        )
        self.stream.write("\r" + line[:120].ljust(100))
        self.stream.flush()

    def closed(self, spider, reason) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
            self.draw()
            self.stream.write("\n")
            self.stream.flush()
