"""The nhandan.vn spider: navigation only.

Sources (feeds, sitemaps, listings, search) are read every run; each article
they announce is fetched only when the archive does not have it or a source
says it changed since. Extraction lives in `spiders.pages`; storage, matching
and the ledger in bantin's pipelines and extensions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import scrapy

from crawler.crawl import events
from crawler.store.articles import ArchiveIndex
from crawler.errors import ExtractionError
from crawler.items import CrawledArticle
from spiders.pages.listings import (
    Discovered,
    parse_listing_html,
    parse_morenews_json,
    parse_rss,
    parse_sitemap_index,
    parse_urlset,
)
from spiders.pages.nhandan import SITE_ID, ArticlePage
from spiders.pages.urls import ARTICLE_PATH
from spiders.registry import Site

SITE = Site(
    id=SITE_ID,
    name="Báo Nhân Dân",
    short_name="NDO",
    base_url="https://nhandan.vn",
    hosts=("nhandan.vn", "www.nhandan.vn"),
    timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
    spider="nhandan",
    article_path=ARTICLE_PATH,
    normalise_id=lambda value: str(int(value)),
)
SITE_TZ = SITE.timezone
# Past this many "load more" pages something is wrong (the window never closes).
MAX_MORE_PAGES = 200
MONTHLY_SITEMAP = re.compile(r"news-(\d{4})-(\d{1,2})\.xml")

# Source names, as stored with each article and counted in the ledger.
GOOGLE_NEWS = "google_news"
RSS = "rss"
LATEST = "latest"
SITEMAP = "sitemap"
SEARCH = "search"


class NhandanSpider(scrapy.Spider):
    name = "nhandan"

    def configure(self, settings, archive: ArchiveIndex | None = None) -> None:
        """Read this run's settings (called at start: add-ons fill settings after the spider is built)."""
        self.base_url = settings.get("BANTIN_SITE_URL", "https://nhandan.vn").rstrip("/")
        self.allowed_domains = [urlsplit(self.base_url).hostname]
        now_text = settings.get("BANTIN_NOW")
        self.now = datetime.fromisoformat(now_text) if now_text else datetime.now(timezone.utc)
        since = settings.get("BANTIN_SINCE")
        if since:
            self.window_start = datetime.combine(date.fromisoformat(since), time(), SITE_TZ)
            self.backfill = True
        else:
            self.window_start = self.now - timedelta(days=settings.getint("BANTIN_LOOKBACK_DAYS", 2))
            self.backfill = False
        self.category_feeds = settings.getlist("BANTIN_CATEGORY_FEEDS")
        self.search_terms = search_terms(settings.getlist("BANTIN_TOPICS")) if settings.getbool("BANTIN_SEARCH") else []
        self.search_pages = settings.getint("BANTIN_SEARCH_PAGES", 3)
        self.archive = archive or ArchiveIndex(settings.get("BANTIN_DATABASE_URL"), SITE_ID)
        # external id -> {source: announced modification time} for this run
        self.announced: dict[str, dict[str, datetime | None]] = {}
        self.requested: set[str] = set()

    def closed(self, reason: str) -> None:
        archive = getattr(self, "archive", None)
        if archive is not None:
            archive.close()

    def url(self, path: str) -> str:
        return self.base_url + path

    async def start(self):
        self.configure(self.crawler.settings)
        for request in self.source_requests():
            yield request

    def source_requests(self) -> Iterator[scrapy.Request]:
        yield self.source_request("/sitemaps/google-news.xml", GOOGLE_NEWS, self.parse_urlset)
        yield self.source_request("/rss/home.rss", RSS, self.parse_feed)
        for feed in self.category_feeds:
            yield self.source_request(f"/rss/{feed}.rss", RSS, self.parse_feed)
        yield self.source_request("/tin-moi.html", LATEST, self.parse_listing)
        yield self.more_latest_request(0)
        if self.backfill:
            yield self.source_request("/sitemap.xml", SITEMAP, self.parse_sitemap_index)
        for term in self.search_terms:
            yield self.source_request(f"/tim-kiem/?q={quote(term)}", SEARCH, self.parse_listing)
            for page in range(1, self.search_pages):
                yield self.source_request(
                    f"/api/morenews-search-0-{page}.html?phrase={quote(term)}", SEARCH, self.parse_more_search
                )

    def source_request(self, path_or_url: str, source: str, callback, **meta) -> scrapy.Request:
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.source_errback,
            meta={"bantin_kind": "source", "bantin_source": source, **meta},
            priority=10,
        )

    def more_latest_request(self, page: int) -> scrapy.Request:
        return self.source_request(
            f"/api/morenews-latest-0-{page}.html?phrase=", LATEST, self.parse_more_latest, bantin_page=page
        )

    # -- sources ---------------------------------------------------------------------------

    def parse_urlset(self, response):
        yield from self.guarded(response, lambda: self.announce(response, parse_urlset(response.body, self.base_url)))

    def parse_feed(self, response):
        yield from self.guarded(response, lambda: self.announce(response, parse_rss(response.body, self.base_url)))

    def parse_listing(self, response):
        yield from self.guarded(
            response, lambda: self.announce(response, parse_listing_html(response.body, self.base_url))
        )

    def parse_more_search(self, response):
        yield from self.guarded(
            response, lambda: self.announce(response, parse_morenews_json(response.body, self.base_url)[0])
        )

    def parse_more_latest(self, response):
        def follow() -> Iterator[scrapy.Request]:
            entries, has_more = parse_morenews_json(response.body, self.base_url)
            yield from self.announce(response, entries)
            page = response.meta["bantin_page"]
            dates = [entry.published_at or entry.lastmod for entry in entries]
            dates = [when for when in dates if when is not None]
            # Pages run newest first: once the oldest item is before the window, stop.
            still_in_window = not dates or min(dates) >= self.window_start
            if has_more and still_in_window and page + 1 < MAX_MORE_PAGES:
                yield self.more_latest_request(page + 1)

        yield from self.guarded(response, follow)

    def parse_sitemap_index(self, response):
        def follow() -> Iterator[scrapy.Request]:
            for ref in parse_sitemap_index(response.body, self.base_url):
                if self.monthly_sitemap_wanted(ref.url, ref.lastmod):
                    yield self.source_request(ref.url, SITEMAP, self.parse_urlset)

        yield from self.guarded(response, follow)

    def monthly_sitemap_wanted(self, url: str, lastmod: datetime | None) -> bool:
        """Monthly news sitemaps that can hold articles from the window (names read, never built)."""
        match = MONTHLY_SITEMAP.search(urlsplit(url).path)
        if not match:
            return False
        year, month = int(match.group(1)), int(match.group(2))
        window_month = (self.window_start.year, self.window_start.month)
        now_month = (self.now.astimezone(SITE_TZ).year, self.now.astimezone(SITE_TZ).month)
        return window_month <= (year, month) <= now_month

    def guarded(self, response, produce) -> Iterator[scrapy.Request]:
        """Run a source parser; an unreadable source is recorded, not fatal."""
        try:
            yield from produce()
        except ExtractionError as exc:
            self.signal(
                events.source_failed,
                source=response.meta["bantin_source"],
                url=response.url,
                reason=exc.reason,
            )

    def source_errback(self, failure):
        self.report_failure(events.source_failed, failure)

    # -- articles --------------------------------------------------------------------------

    def announce(self, response, entries: Iterable[Discovered]) -> Iterator[scrapy.Request]:
        """Record what a source announced and request what the archive lacks or has stale."""
        source = response.meta["bantin_source"]
        in_window = [entry for entry in entries if self.in_window(entry, source)]
        first_time = {entry.external_id for entry in in_window
                      if source not in self.announced.get(entry.external_id, {})}
        requested = 0
        known = self.archive.known(entry.external_id for entry in in_window if entry.external_id not in self.requested)
        unchanged: dict[int, dict[str, datetime | None]] = {}
        for entry in in_window:
            announced = entry.lastmod or entry.published_at
            sources = self.announced.setdefault(entry.external_id, {})
            previous = sources.get(source)
            sources[source] = max((t for t in (previous, announced) if t is not None), default=None)
            if entry.external_id in self.requested:
                continue
            stored = known.get(entry.external_id)
            if self.archive.needs_fetch(stored, announced):
                self.requested.add(entry.external_id)
                requested += 1
                yield scrapy.Request(
                    entry.url,
                    callback=self.parse_article,
                    errback=self.article_errback,
                    meta={"bantin_kind": "article", "bantin_source": source, "bantin_external_id": entry.external_id},
                    # `self.requested` already makes each article one request (by id, which
                    # URL fingerprints cannot: slugs change); skip the duplicate filter's work.
                    dont_filter=True,
                )
            elif stored is not None:
                unchanged[stored.article_id] = {source: sources[source]}
        # Known, unchanged articles: only remember that this source still lists them.
        self.archive.saw(unchanged)
        self.signal(events.source_discovered, source=source, count=len(first_time), requested=requested)

    def in_window(self, entry: Discovered, source: str) -> bool:
        if source == SEARCH:
            return True  # search exists to reach further back than the window
        when = entry.lastmod or entry.published_at
        return when is None or when >= self.window_start

    def parse_article(self, response) -> list[CrawledArticle]:
        # A plain function, not a generator: Scrapy re-reads and parses the source of a
        # generator callback to warn about return values, and its cache of that misses
        # for bound methods, so a generator here cost an ast.parse per article.
        source = response.meta["bantin_source"]
        try:
            article = ArticlePage(response.body, response.url).to_item()
        except ExtractionError as exc:
            self.signal(events.article_failed, source=source, url=response.url, reason=exc.reason, extraction=True)
            return []
        announced = self.announced.get(response.meta["bantin_external_id"], {})
        if article.external_id != response.meta["bantin_external_id"]:
            announced = {**announced, **self.announced.get(article.external_id, {})}
        return [CrawledArticle(article=article, source=source, sources=dict(announced))]

    def article_errback(self, failure):
        self.report_failure(events.article_failed, failure)

    def report_failure(self, signal, failure) -> None:
        """A request that never produced a usable response: tell the ledger which and why."""
        request = failure.request
        self.signal(signal, source=request.meta["bantin_source"], url=request.url, reason=describe_failure(failure))

    def signal(self, signal, **kwargs) -> None:
        self.crawler.signals.send_catch_log(signal=signal, **kwargs)


def describe_failure(failure) -> str:
    """One line for the ledger: the HTTP status or the network error."""
    value = failure.value
    response = getattr(value, "response", None)
    if response is not None:
        return f"HTTP {response.status}"
    text = str(value).strip() or type(value).__name__
    return f"{type(value).__name__}: {text}"[:300] if type(value).__name__ not in text else text[:300]


def search_terms(topics: Iterable[dict]) -> list[str]:
    """One site search per distinct positive term of the configured topics."""
    from crawler.query import parse_query, positive_terms

    seen: dict[str, str] = {}
    for topic in topics:
        for term in positive_terms(parse_query(topic["query"], topic=topic["name"])):
            seen.setdefault(term.text.casefold(), term.text)
    return list(seen.values())
