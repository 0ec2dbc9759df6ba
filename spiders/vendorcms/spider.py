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
from datetime import date, datetime, time, timedelta
from typing import ClassVar
from urllib.parse import quote, urlsplit

import scrapy
from w3lib.encoding import http_content_type_encoding

from crawler.clock import utcnow
from crawler.crawl import events
from crawler.errors import CrawlError, ExtractionError
from crawler.items import CrawledArticle
from spiders.pages.listings import Discovered, parse_rss, parse_sitemap_index, parse_urlset
from spiders.registry import Site

from .article import ArticlePage
from .listings import parse_listing_html, parse_morenews_contents, parse_morenews_json
from .profile import GOOGLE_NEWS, LATEST, RSS, SEARCH, SITEMAP, VendorCmsProfile

# Past this many "load more" pages something is wrong (the window never closes).
MAX_MORE_PAGES = 200
# Back-fill sitemaps read per run at most: a month is one sitemap, so this is decades of them,
# and an index listing thousands (the same file under many query strings) costs no more.
MAX_SITEMAPS = 500
# An announced date later than now by more than this is not a date the site can mean.
MAX_CLOCK_SKEW = timedelta(days=1)

__all__ = ["GOOGLE_NEWS", "LATEST", "RSS", "SEARCH", "SITEMAP", "VendorCmsSpider"]


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
        self.now = datetime.fromisoformat(now_text) if now_text else utcnow()
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
        self.max_sitemaps = settings.getint("BANTIN_MAX_SITEMAPS", MAX_SITEMAPS)
        self.sitemaps_requested = 0

    def url(self, path: str) -> str:
        return self.base_url + path

    async def start(self):
        self.configure(self.crawler.settings)
        requests = list(self.source_requests())
        # Every source is in the ledger from the start: one that is never read shows as such.
        self.signal(events.sources_planned, sources=list(dict.fromkeys(r.meta["bantin_source"] for r in requests)))
        for request in requests:
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
        return self.source_request(
            self.api_base + path,
            LATEST,
            self.parse_more_latest,
            headers=headers,
            bantin_page=page,
            bantin_more=template,
            bantin_zone=zone,
        )

    def more_latest_request(self, page: int) -> scrapy.Request:
        template = self.profile.paths.more_latest
        if template is None:
            raise ValueError(f"{self.site.id} has no more-latest API")
        return self.more_request(template, page)

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
            wanted = [
                ref
                for ref in parse_sitemap_index(response.body, self.base_url, self.site)
                if self.monthly_sitemap_wanted(ref.url, ref.lastmod)
            ]
            room = max(self.max_sitemaps - self.sitemaps_requested, 0)
            self.sitemaps_requested += min(len(wanted), room)
            for ref in wanted[:room]:
                yield self.source_request(ref.url, SITEMAP, self.parse_urlset)
            # The index itself was read: a page of the source, with what the cap left out.
            reason = f"over the cap of {self.max_sitemaps} sitemaps per run (BANTIN_MAX_SITEMAPS)"
            response.meta["bantin_announced"] = True
            response.meta["bantin_skipped"] = [(ref.url, reason) for ref in wanted[room:]]

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
        except Exception as exc:  # noqa: BLE001 - hostile input must cost one source page, recorded
            reason = exc.reason if isinstance(exc, ExtractionError) else f"{type(exc).__name__}: {exc}"[:300]
            self.signal(
                events.source_failed,
                source=response.meta["bantin_source"],
                url=response.url,
                reason=reason,
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
        entries, skipped = self.plausible(entries)
        # The archive filter counts them with the page's other numbers.
        response.meta["bantin_skipped"] = skipped
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

    def plausible(self, entries: Iterable[Discovered]) -> tuple[list[Discovered], list[tuple[str, str]]]:
        """Entries whose dates can be stored and compared; the others, with why, to be counted.

        A date later than now (plus clock skew) would be remembered as the article's last
        change and hide every real change after it; the listing parsers already drop ids and
        dates that cannot be stored at all (``Entries.skipped``).
        """
        skipped = list(getattr(entries, "skipped", ()))
        latest = self.now + MAX_CLOCK_SKEW
        kept = []
        for entry in entries:
            when = max((t for t in (entry.lastmod, entry.published_at) if t is not None), default=None)
            if when is not None and when > latest:
                skipped.append((entry.url, f"date in the future ({when.isoformat()})"))
            else:
                kept.append(entry)
        return kept, skipped

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
        # The article is the one announced: a redirect may have moved the response elsewhere.
        requested = (response.meta.get("redirect_urls") or (response.url,))[0]
        try:
            page = ArticlePage(response.body, requested, self.profile, encoding=http_charset(response))
            article = page.to_item()
        except Exception as exc:  # noqa: BLE001 - a page that fails is recorded, never lost silently
            reason = exc.reason if isinstance(exc, ExtractionError) else f"{type(exc).__name__}: {exc}"[:300]
            self.signal(events.article_failed, source=source, url=response.url, reason=reason, extraction=True)
            return []
        if response.url != requested and self.site.external_id(response.url) != article.external_id:
            page.warnings.append(f"redirected to {response.url[:200]}; stored as the article announced")
        for warning in page.warnings:
            self.signal(events.page_warning, source=source, url=requested, reason=warning)
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


def http_charset(response) -> str | None:
    """The charset the Content-Type header declares, if any (the page object decodes the bytes)."""
    content_type = response.headers.get(b"Content-Type")
    return http_content_type_encoding(content_type.decode("latin-1")) if content_type else None


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
