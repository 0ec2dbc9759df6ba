"""Fills Scrapy's settings from bantin's configuration (a Scrapy add-on), one site's crawler at a time.

The settings contract with the spiders: ``BANTIN_SITE`` (the site id),
``BANTIN_SITE_URL`` (absent: the site's own address), ``BANTIN_CATEGORY_FEEDS``,
per-site ``DOWNLOAD_DELAY`` / ``CONCURRENT_REQUESTS_PER_DOMAIN``, and the
``BANTIN_*`` keys below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from crawler.config import DEFAULT_SITE, Config, SiteEntry, load_config


@dataclass(frozen=True)
class CrawlSite:
    """One site of a crawl, resolved by the composition root from its registry entry and `[[sites]]` entry."""

    id: str
    # The Scrapy spider's name (loaded through SPIDER_MODULES, never imported here).
    spider: str
    base_url: str | None = None
    category_feeds: tuple[str, ...] = ()
    # None: the [crawl] value.
    download_delay: float | None = None
    concurrency: int | None = None

    @classmethod
    def from_entry(cls, entry: SiteEntry, *, spider: str, base_url: str | None = None) -> CrawlSite:
        return cls(
            id=entry.id,
            spider=spider,
            base_url=entry.base_url or base_url,
            category_feeds=tuple(entry.category_feeds),
            download_delay=entry.download_delay,
            concurrency=entry.concurrency,
        )


def scrapy_settings(
    config: Config,
    *,
    site: CrawlSite | None = None,
    since: date | None = None,
    search: bool = False,
    trigger: str = "manual",
    now: str | None = None,
    polite: bool = True,
) -> dict:
    """Scrapy settings for one site's crawl, from the configuration and this run's options."""
    if site is None:
        # No site named: NDO's entry, else the first configured site (its spider has its id).
        entry = config.site_entry(DEFAULT_SITE) or next(iter(config.site_entries()), None) or SiteEntry(id=DEFAULT_SITE)
        site = CrawlSite.from_entry(entry, spider=entry.id)
    crawl = config.crawl
    delay = crawl.download_delay if site.download_delay is None else site.download_delay
    concurrency = crawl.concurrency if site.concurrency is None else site.concurrency
    settings = {
        "BANTIN_CONFIGURED": True,
        "BANTIN_SITE": site.id,
        "BANTIN_DATABASE_URL": config.storage.url,
        "BANTIN_LOOKBACK_DAYS": crawl.lookback_days,
        "BANTIN_SINCE": since.isoformat() if since else "",
        "BANTIN_SEARCH": search,
        "BANTIN_SEARCH_PAGES": crawl.search_pages,
        "BANTIN_CATEGORY_FEEDS": list(site.category_feeds),
        "BANTIN_TOPICS": [topic.model_dump() for topic in config.topics],
        "BANTIN_DEGRADED_SHARE": crawl.degraded_share,
        "BANTIN_TRIGGER": trigger,
        "BANTIN_NOW": now or "",
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "DOWNLOAD_TIMEOUT": crawl.timeout_seconds,
        "RETRY_TIMES": crawl.retries,
        "DOWNLOAD_MAXSIZE": int(crawl.max_page_mb * 1024 * 1024),
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "CONCURRENT_REQUESTS": max(concurrency, 1),
        "DOWNLOAD_DELAY": delay,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(delay, 0.5),
    }
    if site.base_url:
        # Absent: the spider crawls its site's own address.
        settings["BANTIN_SITE_URL"] = site.base_url.rstrip("/")
    if not polite:
        # Benchmarks and the demo against the loopback sample site only.
        settings.update(
            DOWNLOAD_DELAY=0,
            AUTOTHROTTLE_ENABLED=False,
            CONCURRENT_REQUESTS_PER_DOMAIN=16,
            CONCURRENT_REQUESTS=16,
        )
    return settings


class BantinAddon:
    """For `scrapy crawl <site>`: read bantin's config unless `bantin crawl` already did.

    The spider named its site (``BANTIN_SITE``, see ``spiders.navigation.SiteSpider``): its `[[sites]]`
    entry is used (or the site's own defaults when the file does not list it).
    """

    def update_settings(self, settings) -> None:
        if settings.getbool("BANTIN_CONFIGURED"):
            return
        config = load_config(settings.get("BANTIN_CONFIG") or None)
        site_id = settings.get("BANTIN_SITE")
        site = None
        if site_id:
            entry = config.site_entry(site_id) or SiteEntry(id=site_id)
            site = CrawlSite.from_entry(entry, spider=site_id)
        settings.setdict(scrapy_settings(config, site=site), priority="addon")
