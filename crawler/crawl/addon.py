"""Fills Scrapy's settings from bantin's configuration (a Scrapy add-on)."""

from __future__ import annotations

from datetime import date

from crawler.config import Config, load_config


def scrapy_settings(
    config: Config,
    *,
    site_url: str | None = None,
    since: date | None = None,
    search: bool = False,
    trigger: str = "manual",
    now: str | None = None,
    polite: bool = True,
) -> dict:
    """Scrapy settings for one crawl, from the configuration and this run's options."""
    crawl = config.crawl
    base_url = (site_url or config.site.base_url).rstrip("/")
    settings = {
        "BANTIN_CONFIGURED": True,
        "BANTIN_SITE_URL": base_url,
        "BANTIN_DATABASE_URL": config.storage.url,
        "BANTIN_LOOKBACK_DAYS": crawl.lookback_days,
        "BANTIN_SINCE": since.isoformat() if since else "",
        "BANTIN_SEARCH": search,
        "BANTIN_SEARCH_PAGES": crawl.search_pages,
        "BANTIN_CATEGORY_FEEDS": list(config.site.category_feeds),
        "BANTIN_TOPICS": [topic.model_dump() for topic in config.topics],
        "BANTIN_DEGRADED_SHARE": crawl.degraded_share,
        "BANTIN_TRIGGER": trigger,
        "BANTIN_NOW": now or "",
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "DOWNLOAD_TIMEOUT": crawl.timeout_seconds,
        "RETRY_TIMES": crawl.retries,
        "DOWNLOAD_MAXSIZE": int(crawl.max_page_mb * 1024 * 1024),
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency,
        "CONCURRENT_REQUESTS": max(crawl.concurrency, 1),
        "DOWNLOAD_DELAY": crawl.download_delay,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(crawl.download_delay, 0.5),
    }
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
    """For `scrapy crawl nhandan`: read bantin's config unless `bantin crawl` already did."""

    def update_settings(self, settings) -> None:
        if settings.getbool("BANTIN_CONFIGURED"):
            return
        config = load_config(settings.get("BANTIN_CONFIG") or None)
        settings.setdict(scrapy_settings(config), priority="addon")
