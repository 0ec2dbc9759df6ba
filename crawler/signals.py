"""Scrapy signals bantin's spider and pipelines send, and the crawl ledger listens to."""

# source: str, count: int
source_discovered = object()
# source: str, url: str, reason: str
source_failed = object()
# source: str
article_requested = object()
# source: str, outcome: "new" | "updated" | "unchanged", extractor: str
article_stored = object()
# source: str, url: str, reason: str, extraction: bool (the page came but could not be read)
article_failed = object()
