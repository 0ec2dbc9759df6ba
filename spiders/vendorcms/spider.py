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
from datetime import datetime
from typing import ClassVar
from urllib.parse import quote, urlsplit

import scrapy

from spiders.navigation import SiteSpider
from spiders.pages.listings import parse_rss, parse_sitemap_index, parse_urlset

from .article import ArticlePage
from .listings import parse_listing_html, parse_morenews_contents, parse_morenews_json
from .profile import GOOGLE_NEWS, LATEST, RSS, SEARCH, SITEMAP, VendorCmsProfile

# Past this many "load more" pages something is wrong (the window never closes).
MAX_MORE_PAGES = 200
# Back-fill sitemaps read per run at most: a month is one sitemap, so this is decades of them,
# and an index listing thousands (the same file under many query strings) costs no more.
MAX_SITEMAPS = 500

__all__ = ["GOOGLE_NEWS", "LATEST", "RSS", "SEARCH", "SITEMAP", "VendorCmsSpider"]


class VendorCmsSpider(SiteSpider):
    profile: ClassVar[VendorCmsProfile]
    unwindowed_sources = (SEARCH,)  # search exists to reach further back than the window

    def configure(self, settings) -> None:
        super().configure(settings)
        api_origin = self.profile.paths.api_origin
        # The live API has its own host (api.<site>); a mirror serves the API on its own origin.
        self.api_base = self.base_url if self.mirrored or not api_origin else api_origin.rstrip("/")
        api_host = (urlsplit(self.api_base).hostname or "").lower()
        if api_host not in self.allowed_domains:
            self.allowed_domains.append(api_host)
        self.search_terms = search_terms(settings.getlist("BANTIN_TOPICS")) if settings.getbool("BANTIN_SEARCH") else []
        self.search_pages = settings.getint("BANTIN_SEARCH_PAGES", 3)
        self.max_sitemaps = settings.getint("BANTIN_MAX_SITEMAPS", MAX_SITEMAPS)
        self.sitemaps_requested = 0

    def page_object(self, body: bytes, url: str, encoding: str | None) -> ArticlePage:
        return ArticlePage(body, url, self.profile, encoding=encoding)

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
            listed = parse_sitemap_index(response.body, self.base_url, self.site)
            wanted = [ref for ref in listed if self.monthly_sitemap_wanted(ref.url, ref.lastmod)]
            room = max(self.max_sitemaps - self.sitemaps_requested, 0)
            self.sitemaps_requested += min(len(wanted), room)
            for ref in wanted[:room]:
                yield self.source_request(ref.url, SITEMAP, self.parse_urlset)
            # The index itself was read: a page of the source, with what the cap left out.
            reason = f"over the cap of {self.max_sitemaps} sitemaps per run (BANTIN_MAX_SITEMAPS)"
            response.meta["bantin_announced"] = True
            response.meta["bantin_skipped"] = [(ref.url, reason) for ref in wanted[room:]]
            response.meta["bantin_listed"] = len(listed)

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

    # -- articles --------------------------------------------------------------------------


def search_terms(topics: Iterable[dict]) -> list[str]:
    """One site search per distinct positive term of the configured topics."""
    from crawler.query import parse_query, positive_terms

    seen: dict[str, str] = {}
    for topic in topics:
        for term in positive_terms(parse_query(topic["query"], topic=topic["name"])):
            seen.setdefault(term.text.casefold(), term.text)
    return list(seen.values())
