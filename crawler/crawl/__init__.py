"""The Scrapy runtime of one crawl: settings, add-on, pipelines, ledger, middlewares, progress."""
