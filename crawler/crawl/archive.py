"""The crawl's archive: one database handle per crawl process, and the "already archived?" filter.

:class:`ArchiveStore` is a Scrapy extension that holds the crawl process's one
:class:`~crawler.store.Database`: the pipeline, the ledger and the filter find it
with ``crawler.get_extension(ArchiveStore)``. The crawlers of one process (one per
site) share that handle: one engine, one schema check, and one story-fingerprint
cache that sees every site's placements (a handle per crawler would make each
crawler's commit invalidate the others' caches). It opens on first use and is
disposed when the last crawler's engine stops, after every ``spider_closed``
handler has written.

:class:`ArchiveFilter` is a spider middleware, the scrapy-deltafetch pattern: the
spider requests every in-window article its sources announce (meta ``bantin_site``,
``bantin_external_id``, ``bantin_source``, ``bantin_lastmod``), and the filter drops
the ones requested already this run or stored and unchanged. It keeps the run's
announced-sources map, asks the archive once per source page (never per article),
records that the source still lists the unchanged ones, attaches the announced
sources to each :class:`~crawler.items.CrawledArticle`, and sends
``source_discovered`` with the page's counts (and the entries the spider left out,
meta ``bantin_skipped``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime

from scrapy import Request, signals
from scrapy.exceptions import NotConfigured

from crawler.clock import utcnow
from crawler.crawl import events
from crawler.errors import StorageError
from crawler.items import CrawledArticle
from crawler.store import Database
from crawler.store.articles import KnownArticle, known_articles, needs_fetch, record_sources_of

# (site id, external id): an article's identity before it has a surrogate key.
ArticleKey = tuple[str, str]


class _ProcessDatabases:
    """The databases open in this process, by URL, with how many stores hold each, and whether the process
    opened it here (and so disposes of it after its last holder) or was lent it by its owner."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, tuple[Database, int, bool]] = {}

    def acquire(self, url: str) -> Database:
        with self._lock:
            database, holders, owned = self._open.get(url) or (None, 0, True)
            if database is None:
                database = Database(url)
            self._open[url] = (database, holders + 1, owned)
            return database

    def release(self, database: Database) -> None:
        with self._lock:
            _, holders, owned = self._open.pop(database.url)
            if holders > 1:
                self._open[database.url] = (database, holders - 1, owned)
                return
        if owned:
            database.dispose()

    @contextlib.contextmanager
    def lent(self, database: Database) -> Iterator[None]:
        with self._lock:
            if database.url in self._open:
                raise StorageError(f"a database for {database.describe()} is open in this process already")
            self._open[database.url] = (database, 1, False)
        try:
            yield
        finally:
            self.release(database)


_PROCESS_DATABASES = _ProcessDatabases()


def lend_database(database: Database) -> contextlib.AbstractContextManager[None]:
    """Within this, the crawlers of this process use ``database`` (the caller's, who disposes of it) as their
    handle: a command that already opened the archive (for its leases) does not open it twice."""
    return _PROCESS_DATABASES.lent(database)


class ArchiveStore:
    """A crawler's way to the process's one Database, and the two questions the archive filter asks of it."""

    def __init__(self, database_url: str | None):
        self.database_url = database_url
        self._database: Database | None = None

    @classmethod
    def from_crawler(cls, crawler):
        store = cls(crawler.settings.get("BANTIN_DATABASE_URL"))
        crawler.signals.connect(store.close, signal=signals.engine_stopped)
        return store

    @property
    def database(self) -> Database:
        if self._database is None:
            if self.database_url is None:
                raise StorageError("BANTIN_DATABASE_URL is not set: the crawl has no database to store into")
            self._database = _PROCESS_DATABASES.acquire(self.database_url)
        return self._database

    def close(self) -> None:
        if self._database is not None:
            _PROCESS_DATABASES.release(self._database)
            self._database = None

    def known(self, site: str, external_ids: Iterable[str]) -> dict[str, KnownArticle]:
        """What the archive knows of these ids of one site (one query)."""
        ids = list(external_ids)
        if not ids:
            return {}
        with self.database.session(write=False) as session:
            return known_articles(session, site, ids)

    def saw(self, sources_by_key: Mapping[int, Mapping[str, datetime | None]]) -> None:
        """Stored articles (by surrogate key) that sources listed again."""
        if not sources_by_key:
            return
        with self.database.session() as session:
            record_sources_of(session, sources_by_key, now=utcnow())


class ArchiveFilter:
    """Spider middleware: request only what the archive lacks or has stale, once per run."""

    def __init__(self, crawler, archive):
        self.crawler = crawler
        # An ArchiveStore, or anything with its known() and saw() (tests pass a fake).
        self.archive = archive
        # article -> {source: the newest modification time it announced} for this run
        self.announced: dict[ArticleKey, dict[str, datetime | None]] = {}
        self.requested: set[ArticleKey] = set()

    @classmethod
    def from_crawler(cls, crawler):
        store = crawler.get_extension(ArchiveStore)
        if store is None:
            raise NotConfigured("the archive filter needs the ArchiveStore extension")
        return cls(crawler, store)

    async def process_spider_output(self, response, result):
        meta = response.meta
        kind = meta.get("bantin_kind")
        if kind == "article":
            async for output in result:
                if isinstance(output, CrawledArticle):
                    self.attach_sources(output, meta)
                yield output
            return
        if kind != "source":
            async for output in result:
                yield output
            return
        announced: list[Request] = []
        async for output in result:
            if isinstance(output, Request) and output.meta.get("bantin_kind") == "article":
                announced.append(output)
            else:
                yield output
        # A page that was read announces, even nothing; one that failed to parse does not.
        if announced or meta.get("bantin_announced"):
            for request in self.sift(meta["bantin_source"], announced, meta.get("bantin_skipped", [])):
                yield request

    def sift(self, source: str, requests: list[Request], skipped: Sequence[tuple[str, str]] = ()) -> list[Request]:
        """The requests of one source page worth sending; remembers what the page announced."""
        keys = [(request.meta["bantin_site"], request.meta["bantin_external_id"]) for request in requests]
        first_time = {key for key in keys if source not in self.announced.get(key, {})}
        known: dict[ArticleKey, KnownArticle] = {}
        for site in dict.fromkeys(site for site, _ in keys):
            asked = [
                external_id
                for key_site, external_id in keys
                if key_site == site and (key_site, external_id) not in self.requested
            ]
            known.update(
                ((site, external_id), stored) for external_id, stored in self.archive.known(site, asked).items()
            )
        wanted: list[Request] = []
        unchanged: dict[int, dict[str, datetime | None]] = {}
        for key, request in zip(keys, requests, strict=True):
            announced = request.meta.get("bantin_lastmod")
            sources = self.announced.setdefault(key, {})
            previous = sources.get(source)
            sources[source] = max((t for t in (previous, announced) if t is not None), default=None)
            if key in self.requested:
                continue
            stored = known.get(key)
            if needs_fetch(stored, announced):
                self.requested.add(key)
                wanted.append(request)
            elif stored is not None:
                unchanged[stored.article_id] = {source: sources[source]}
        # Known, unchanged articles: only remember that this source still lists them.
        self.archive.saw(unchanged)
        self.crawler.signals.send_catch_log(
            signal=events.source_discovered,
            source=source,
            count=len(first_time),
            requested=len(wanted),
            skipped=list(skipped),
        )
        return wanted

    def attach_sources(self, item: CrawledArticle, meta: Mapping) -> None:
        """Every source that announced the article this run, with the time each announced."""
        requested = (meta.get("bantin_site", ""), meta.get("bantin_external_id", ""))
        announced = self.announced.get(requested, {})
        extracted = (item.article.site, item.article.external_id)
        if extracted != requested:
            # The page names another id than its announcement: it was announced under both.
            announced = {**announced, **self.announced.get(extracted, {})}
        item.sources = {**announced, **item.sources}
