"""Scrapy signals bantin's spider and pipelines send, and the crawl ledger listens to.

Sent per source page and per stored batch rather than per article: a signal costs
a dispatch through every receiver, which adds up at hundreds of pages a second.
"""

# sources: list[str] (every source this run will read: each appears in the ledger, read or not)
sources_planned = object()
# source: str, count: int (articles first announced by this source in the run),
# requested: int (of those, how many are fetched),
# skipped: list of (url, reason) (entries not announced: an implausible id or date, over a cap)
source_discovered = object()
# source: str, url: str, reason: str
source_failed = object()
# outcomes: list of (source, "new" | "updated" | "unchanged", extractor) for one stored batch
articles_stored = object()
# source: str, url: str, reason: str, extraction: bool (the page came but could not be read)
article_failed = object()
# source: str, url: str, reason: str (a page stored, with something worth a look: a canonical URL
# naming another article)
page_warning = object()
# url: str, reason: str (a request robots.txt refused: disallowed, or robots.txt unreachable)
robots_refused = object()
