"""Scrapy item pipeline: a thin adapter over storage and matching.

Articles are written in small batches, one short transaction per batch: each
article, the sources that saw it and its topic matches are committed
together, so a crawl killed at any moment leaves whole articles or nothing
(and the next run fetches what is missing). A batch is written when it is
full, after a short delay, and when the spider closes.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from crawler.clock import utcnow
from crawler.crawl import events
from crawler.crawl.archive import ArchiveStore
from crawler.errors import CrawlError
from crawler.items import CrawledArticle
from crawler.store.articles import StoreOutcome, load_articles, record_sources, store_article
from crawler.store.models import ArticleRow
from crawler.topics import TopicSet, match_article, prepare_topics

if TYPE_CHECKING:
    from twisted.internet.task import LoopingCall

log = logging.getLogger("bantin.crawl")

BATCH_SIZE = 50
# A half-full batch waits at most this long, so a slow crawl still stores steadily.
BATCH_SECONDS = 2.0
# Allocations between young-generation collections while crawling (Python's default is 700; 50,000 measured
# about 3 % faster than 5,000 on the four-outlet crawl benchmark, 200,000 no faster).
GC_YOUNG_THRESHOLD = 50_000


class _CrawlCollector:
    """The garbage collector's tuning for a crawl, shared by the crawlers of one process (one per site):
    the first to open tunes it, the last to close puts it back."""

    def __init__(self) -> None:
        self.holders = 0
        self.saved: tuple[int, ...] | None = None

    def acquire(self) -> None:
        if self.holders == 0:
            # Everything loaded so far (modules, settings, the matcher) lives as long as the
            # crawl: keep it out of the collector's generations, whose full passes over it
            # otherwise cost about a tenth of the crawl's time. A larger youngest generation
            # lets the many short-lived objects of each page die before a collection sees them.
            gc.collect()
            gc.freeze()
            self.saved = gc.get_threshold()
            gc.set_threshold(GC_YOUNG_THRESHOLD, *self.saved[1:])
        self.holders += 1

    def release(self) -> None:
        self.holders -= 1
        if self.holders == 0 and self.saved is not None:
            gc.set_threshold(*self.saved)
            self.saved = None
            gc.unfreeze()


_COLLECTOR = _CrawlCollector()


class ArchivePipeline:
    def __init__(self, crawler, store: ArchiveStore, topics: list[dict], batch_size: int = BATCH_SIZE):
        self.crawler = crawler
        # The crawl's one database handle; the store disposes it when the engine stops.
        self.store = store
        self.topic_config = topics
        self.batch_size = batch_size
        self.topics: TopicSet | None = None
        self.pending: list[CrawledArticle] = []
        self._flusher: LoopingCall | None = None
        self._collector_held = False

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        store = crawler.get_extension(ArchiveStore)
        if store is None:
            raise CrawlError("the archive pipeline needs the ArchiveStore extension (see crawler/crawl/settings.py)")
        return cls(
            crawler,
            store,
            settings.getlist("BANTIN_TOPICS"),
            settings.getint("BANTIN_STORE_BATCH", BATCH_SIZE),
        )

    def open_spider(self, spider=None) -> None:
        self.topics = prepare_topics(self.store.database, self.topic_config, now=utcnow())
        if not self._collector_held:
            _COLLECTOR.acquire()
            self._collector_held = True
        from twisted.internet import task

        self._flusher = task.LoopingCall(self.flush)
        self._flusher.start(BATCH_SECONDS, now=False)

    def close_spider(self, spider=None) -> None:
        if self._flusher is not None and self._flusher.running:
            self._flusher.stop()
        self.flush()
        if self._collector_held:
            self._collector_held = False
            _COLLECTOR.release()

    def process_item(self, item, spider=None):
        if not isinstance(item, CrawledArticle):
            return item
        self.pending.append(item)
        if len(self.pending) >= self.batch_size:
            self.flush()
        return item

    def flush(self) -> None:
        """Store the pending articles in one transaction; on failure, one by one to isolate the bad one."""
        batch, self.pending = self.pending, []
        if not batch:
            return
        started = time.perf_counter()
        try:
            outcomes = self._store(batch)
        except SQLAlchemyError as exc:
            log.warning("storing a batch of %d failed (%s); storing one by one", len(batch), exc)
            outcomes = []
            for item in batch:
                try:
                    outcomes += self._store([item])
                except SQLAlchemyError as item_exc:
                    log.error("could not store %s: %s", item.article.url, item_exc)
                    self._signal(
                        events.article_failed, source=item.source, url=item.article.url, reason=f"storage: {item_exc}"
                    )
        if outcomes:
            self._signal(
                events.articles_stored,
                outcomes=[(item.source, outcome, item.article.extractor) for item, outcome in outcomes],
            )
        log.debug("stored %d article(s) in %.3fs", len(batch), time.perf_counter() - started)

    def _store(self, batch: list[CrawledArticle]) -> list[tuple[CrawledArticle, StoreOutcome]]:
        if self.topics is None:
            raise CrawlError("the archive pipeline stores nothing before open_spider")
        now = utcnow()
        outcomes: list[tuple[CrawledArticle, StoreOutcome]] = []
        with self.store.database.session() as session:
            stored: dict[tuple[str, str], ArticleRow] = {}
            for site in {item.article.site for item in batch}:
                ids = (item.article.external_id for item in batch if item.article.site == site)
                stored.update(
                    ((site, external_id), row) for external_id, row in load_articles(session, site, ids).items()
                )
            for item in batch:
                article = item.article
                identity = (article.site, article.external_id)
                outcome, row = store_article(session, article, now=now, existing=stored.get(identity))
                stored[identity] = row
                new = outcome == "new"
                # The unit of work inserts articles before the rows that refer to them.
                record_sources(session, row, item.sources or {item.source: None}, now=now, new=new)
                if outcome != "unchanged":
                    match_article(session, row, self.topics, now=now, new=new)
                outcomes.append((item, outcome))
        return outcomes

    def _signal(self, signal, **kwargs) -> None:
        self.crawler.signals.send_catch_log(signal=signal, **kwargs)
