"""Navigation every site's spider shares: settings, the window, announcing articles, recording failures.

A site's spider (its CMS family's, or its own) subclasses :class:`SiteSpider`, names its
``site`` and lists its discovery sources (``source_requests``) and its page object
(``page_object``); storage is never the spider's business (the archive filter, a spider
middleware, decides what is fetched again).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from w3lib.encoding import http_content_type_encoding

from crawler.clock import utcnow
from crawler.crawl import events
from crawler.errors import CrawlError, ExtractionError
from crawler.items import CrawledArticle
from spiders.pages.listings import Discovered
from spiders.registry import Site

# An announced date later than now by more than this is not a date the site can mean.
MAX_CLOCK_SKEW = timedelta(days=1)


class SiteSpider(scrapy.Spider):
    # Set by each site's subclass (with ``name``, the id Scrapy knows the spider by).
    site: ClassVar[Site]
    # Sources whose articles are requested whatever their date (search reaches further back).
    unwindowed_sources: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def update_settings(cls, settings) -> None:
        super().update_settings(settings)
        # `scrapy crawl <site>`: tells bantin's add-on which configured site this crawl is (below the
        # priority `bantin crawl` sets it with, so a mismatch there is still refused in configure).
        if hasattr(cls, "site"):
            settings.set("BANTIN_SITE", cls.site.id, priority="spider")

    def configure(self, settings) -> None:
        """Read this run's settings (called at start: add-ons fill settings after the spider is built)."""
        site = self.site
        configured = settings.get("BANTIN_SITE")
        if configured and configured != site.id:
            raise CrawlError(f"spider {self.name!r} crawls site {site.id!r}, not {configured!r}")
        self.base_url = (settings.get("BANTIN_SITE_URL") or site.base_url).rstrip("/")
        host = (urlsplit(self.base_url).hostname or "").lower()
        # A mirror or the sample site serves the site elsewhere: follow only its host then.
        self.mirrored = host not in site.hosts
        self.allowed_domains = [host] if self.mirrored else list(site.hosts)
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
        """The site's discovery sources of this run (its everyday ones, back-fill and search as configured)."""
        raise NotImplementedError

    def page_object(self, body: bytes, url: str, encoding: str | None) -> Any:
        """The site's page object for one article page (``.to_item()`` and ``.warnings``)."""
        raise NotImplementedError

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
        # What the page listed, window or not (``bantin sites check`` reports it).
        response.meta["bantin_listed"] = len(entries) + len(skipped)
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
        if source in self.unwindowed_sources:
            return True
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
            page = self.page_object(response.body, requested, http_charset(response))
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
    return _header_charset(content_type) if content_type else None


# A site sends the same few Content-Type values on every page; reading one (a regular expression and a
# codec lookup) cost more than a percent of the crawl.
@lru_cache(maxsize=64)
def _header_charset(content_type: bytes) -> str | None:
    return http_content_type_encoding(content_type.decode("latin-1"))


def describe_failure(failure) -> str:
    """One line for the ledger: the HTTP status or the network error."""
    value = failure.value
    response = getattr(value, "response", None)
    if response is not None:
        return f"HTTP {response.status}"
    text = str(value).strip() or type(value).__name__
    return f"{type(value).__name__}: {text}"[:300] if type(value).__name__ not in text else text[:300]
