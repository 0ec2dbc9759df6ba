"""The vendor CMS spider: navigation only, the same for every outlet of the family.

Sources (feeds, sitemaps, listings, search) are read every run, at the paths
of the site's profile; the spider requests every article they announce inside
the window. Whether the archive already has it is the archive filter's
business (``crawler.crawl.archive``, a spider middleware): the spider knows no
storage. Extraction lives in the page object (``spiders.vendorcms.article``).

A site of the family is a subclass naming its ``site`` and ``profile``::

    class NhandanSpider(VendorCmsSpider):
        name = "nhandan"
        site = SITE
        profile = PROFILE
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta, timezone
from typing import ClassVar
from urllib.parse import quote, urlsplit

import scrapy

from crawler.crawl import events
from crawler.errors import CrawlError, ExtractionError
from crawler.items import CrawledArticle
from spiders.pages.listings import Discovered, parse_rss, parse_sitemap_index, parse_urlset
from spiders.registry import Site

from .article import ArticlePage
from .listings import parse_listing_html, parse_morenews_contents, parse_morenews_json
from .profile import VendorCmsProfile

# Past this many "load more" pages something is wrong (the window never closes).
MAX_MORE_PAGES = 200

# Source names, as stored with each article and counted in the ledger.
GOOGLE_NEWS = "google_news"
RSS = "rss"
LATEST = "latest"
SITEMAP = "sitemap"
SEARCH = "search"


class VendorCmsSpider(scrapy.Spider):
    # Set by each site's subclass (with ``name``, the id Scrapy knows the spider by).
    site: ClassVar[Site]
    profile: ClassVar[VendorCmsProfile]

    def configure(self, settings) -> None:
        """Read this run's settings (called at start: add-ons fill settings after the spider is built)."""
        site = self.site
        configured = settings.get("BANTIN_SITE")
        if configured and configured != site.id:
            raise CrawlError(f"spider {self.name!r} crawls site {site.id!r}, not {configured!r}")
        self.base_url = (settings.get("BANTIN_SITE_URL") or site.base_url).rstrip("/")
        host = (urlsplit(self.base_url).hostname or "").lower()
        # A mirror or the sample site serves the site elsewhere: follow only its host then.
        mirrored = host not in site.hosts
        self.allowed_domains = [host] if mirrored else list(site.hosts)
        api_origin = self.profile.paths.api_origin
        # The live API has its own host (api.<site>); a mirror serves the API on its own origin.
        self.api_base = self.base_url if mirrored or not api_origin else api_origin.rstrip("/")
        api_host = (urlsplit(self.api_base).hostname or "").lower()
        if api_host not in self.allowed_domains:
            self.allowed_domains.append(api_host)
        now_text = settings.get("BANTIN_NOW")
        self.now = datetime.fromisoformat(now_text) if now_text else datetime.now(timezone.utc)
        since = settings.get("BANTIN_SINCE")
        if since:
            self.window_start = datetime.combine(date.fromisoformat(since), time(), site.timezone)
            self.backfill = True
        else:
            self.window_start = self.now - timedelta(days=settings.getint("BANTIN_LOOKBACK_DAYS", 2))
            self.backfill = False
        self.category_feeds = settings.getlist("BANTIN_CATEGORY_FEEDS")
        self.search_terms = search_terms(settings.getlist("BANTIN_TOPICS")) if settings.getbool("BANTIN_SEARCH") else []
        self.search_pages = settings.getint("BANTIN_SEARCH_PAGES", 3)

    def url(self, path: str) -> str:
        return self.base_url + path

    async def start(self):
        self.configure(self.crawler.settings)
        for request in self.source_requests():
            yield request

    def source_requests(self) -> Iterator[scrapy.Request]:
        paths = self.profile.paths
        yield self.source_request(paths.google_news, GOOGLE_NEWS, self.parse_urlset)
        yield self.source_request(paths.home_feed, RSS, self.parse_feed)
        for feed in self.category_feeds:
            yield self.source_request(paths.category_feed.format(feed=feed), RSS, self.parse_feed)
        if paths.latest is not None:
            yield self.source_request(paths.latest, LATEST, self.parse_listing)
        if paths.more_latest is not None:
            yield self.more_request(paths.more_latest, 0)
        if paths.more_zone is not None:
            for zone in paths.more_zones:
                yield self.more_request(paths.more_zone, 0, zone=zone)
        if self.backfill:
            yield self.source_request(paths.sitemap_index, SITEMAP, self.parse_sitemap_index)
        if paths.search is None:
            return
        for term in self.search_terms:
            yield self.source_request(paths.search.format(term=quote(term)), SEARCH, self.parse_listing)
            if paths.more_search is None:
                continue
            for page in range(1, self.search_pages):
                yield self.source_request(
                    paths.more_search.format(page=page, term=quote(term)), SEARCH, self.parse_more_search
                )

    def source_request(self, path_or_url: str, source: str, callback, headers=None, **meta) -> scrapy.Request:
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.source_errback,
            headers=headers,
            meta={"bantin_kind": "source", "bantin_source": source, **meta},
            priority=10,
        )

    def more_request(self, template: str, page: int, zone: int | None = None) -> scrapy.Request:
        """One "load more" page of the latest news (or of ``zone``), on the API's origin."""
        path = template.format(page=page, zone=zone)
        headers = None
        if self.api_base != self.base_url:
            # The live API answers pages of its own site only (as the site's own script calls it).
            headers = {"Origin": self.base_url, "Referer": self.base_url + "/"}
        return self.source_request(self.api_base + path, LATEST, self.parse_more_latest, headers=headers,
                                   bantin_page=page, bantin_more=template, bantin_zone=zone)

    def more_latest_request(self, page: int) -> scrapy.Request:
        return self.more_request(self.profile.paths.more_latest, page)

    # -- sources ---------------------------------------------------------------------------

    def parse_urlset(self, response):
        yield from self.guarded(
            response, lambda: self.announce(response, parse_urlset(response.body, self.base_url, self.site))
        )

    def parse_feed(self, response):
        yield from self.guarded(
            response, lambda: self.announce(response, parse_rss(response.body, self.base_url, self.site))
        )

    def parse_listing(self, response):
        yield from self.guarded(
            response, lambda: self.announce(response, parse_listing_html(response.body, self.base_url, self.profile))
        )

    def parse_more_search(self, response):
        yield from self.guarded(
            response,
            lambda: self.announce(response, parse_morenews_json(response.body, self.base_url, self.profile)[0]),
        )

    def parse_more_latest(self, response):
        def follow() -> Iterator[scrapy.Request]:
            parse = parse_morenews_contents if self.profile.paths.more_format == "contents" else parse_morenews_json
            entries, has_more = parse(response.body, self.base_url, self.profile)
            yield from self.announce(response, entries)
            page = response.meta["bantin_page"]
            dates = [entry.published_at or entry.lastmod for entry in entries]
            dates = [when for when in dates if when is not None]
            # Pages run newest first: once the oldest item is before the window, stop.
            still_in_window = not dates or min(dates) >= self.window_start
            if has_more and still_in_window and page + 1 < MAX_MORE_PAGES:
                yield self.more_request(response.meta["bantin_more"], page + 1, response.meta["bantin_zone"])

        yield from self.guarded(response, follow)

    def parse_sitemap_index(self, response):
        def follow() -> Iterator[scrapy.Request]:
            for ref in parse_sitemap_index(response.body, self.base_url, self.site):
                if self.monthly_sitemap_wanted(ref.url, ref.lastmod):
                    yield self.source_request(ref.url, SITEMAP, self.parse_urlset)

        yield from self.guarded(response, follow)

    def monthly_sitemap_wanted(self, url: str, lastmod: datetime | None) -> bool:
        """Monthly news sitemaps that can hold articles from the window (names read, never built)."""
        match = self.profile.paths.monthly_sitemap.search(urlsplit(url).path)
        if not match:
            return False
        year, month = int(match.group(1)), int(match.group(2))
        zone = self.site.timezone
        window_month = (self.window_start.year, self.window_start.month)
        now_month = (self.now.astimezone(zone).year, self.now.astimezone(zone).month)
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
        """Request every article the source announces inside the window.

        The archive filter drops those already requested this run or stored and
        unchanged, and counts the page as read (``bantin_announced``) even when
        it lists nothing.
        """
        source = response.meta["bantin_source"]
        response.meta["bantin_announced"] = True
        site_id = self.site.id
        for entry in entries:
            if not self.in_window(entry, source):
                continue
            yield scrapy.Request(
                entry.url,
                callback=self.parse_article,
                errback=self.article_errback,
                meta={
                    "bantin_kind": "article",
                    "bantin_source": source,
                    "bantin_site": site_id,
                    "bantin_external_id": entry.external_id,
                    "bantin_lastmod": entry.lastmod or entry.published_at,
                },
                # The archive filter already makes each article one request (by id, which
                # URL fingerprints cannot: slugs change); skip the duplicate filter's work.
                dont_filter=True,
            )

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
            article = ArticlePage(response.body, response.url, self.profile).to_item()
        except ExtractionError as exc:
            self.signal(events.article_failed, source=source, url=response.url, reason=exc.reason, extraction=True)
            return []
        # The archive filter adds every source that announced the article this run.
        return [CrawledArticle(article=article, source=source)]

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
