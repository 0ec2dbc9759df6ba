"""Scrapy settings for bantin's crawl.

`scrapy crawl nhandan` (from the repository root) and `bantin crawl` both use
this module; the values that come from bantin's configuration (politeness,
the site, the database) are filled in by `crawler.crawl.addon.BantinAddon`, or set
by `bantin crawl` itself from the same function.
"""

BOT_NAME = "bantin"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

ADDONS = {"crawler.crawl.addon.BantinAddon": 0}

ITEM_PIPELINES = {
    "crawler.crawl.pipelines.ArchivePipeline": 300,
}
EXTENSIONS = {
    # The crawl's one database handle; the pipeline, the ledger and the archive filter share it.
    "crawler.crawl.archive.ArchiveStore": -10,
    "crawler.crawl.ledger.CrawlLedger": 0,
    "crawler.crawl.progress.TerminalProgress": 10,
    "scrapy.extensions.telnet.TelnetConsole": None,
}
DOWNLOADER_MIDDLEWARES = {
    # A fence around the site's hosts that also holds for dont_filter requests and their
    # redirects, and robots.txt read as RFC 9309 says (see crawler/crawl/middlewares.py).
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "crawler.crawl.middlewares.SiteHostsMiddleware": 50,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.crawl.middlewares.RobotsPolicyMiddleware": 100,
    # Retries with back-off (and Retry-After) instead of Scrapy's immediate retries.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.crawl.middlewares.BackoffRetryMiddleware": 550,
    # Default components the crawl has no use for (no logins, no meta-refresh pages on
    # the site); each costs a little on every request.
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.crawl.middlewares.NoRefererRedirectMiddleware": 600,
}
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.start.StartSpiderMiddleware": None,
    "crawler.crawl.middlewares.StartRequestsMiddleware": 25,
    # Depth limits and URL-length checks guard open-ended crawls; this one only follows
    # links its own sources list, one level deep. Nor does the site need a Referer.
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
    # A development aid (warns once if a spider copies Scrapy's internal meta keys into its requests,
    # which these spiders never do), and one more async generator on every request and item.
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
    # "Already archived?": drops announced articles the archive has unchanged (crawler/crawl/archive.py).
    "crawler.crawl.archive.ArchiveFilter": 900,
}

# Items processed in parallel per response. Scrapy starts this many asyncio tasks for every
# response (its default of 100 costs more than the pages' own work); the pipeline and the
# archive filter never wait on anything, so more than one buys no concurrency at all.
CONCURRENT_ITEMS = 1

# A development aid: Scrapy reads and parses the source of every generator callback (each source page's)
# to warn about a `return value` in it, which these spiders never have; its cache misses for bound methods.
WARN_ON_GENERATOR_RETURN_VALUE = False

RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
RETRY_BACKOFF_BASE = 1.0
RETRY_BACKOFF_MAX = 60.0
DOWNLOAD_WARNSIZE = 0
COOKIES_ENABLED = False
DNS_TIMEOUT = 20
# The live site is gzip-compressed; HttpCompressionMiddleware (on by default) handles it.
COMPRESSION_ENABLED = True
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
FEED_EXPORT_ENCODING = "utf-8"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
LOG_LEVEL = "INFO"
