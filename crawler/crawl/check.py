"""`bantin sites check`: read each site's discovery sources once and one recent article per source, storing nothing.

The check runs the site's own spider (so it reads exactly what a crawl reads, through the same
robots.txt policy, host fence, delay and retries), with the archive, the ledger and the
pipelines switched off: :class:`CheckRecorder`, a spider middleware in the archive filter's
place, notes every source page (read or not, how many entries it listed), lets through one
article request per source and pages that only list other sources (a sitemap index, a feed
index), drops "load more" pagination, and keeps each article's extraction report. Nothing is
written anywhere; the database is never opened.

Like a crawl, a check is one Scrapy process: the CLI runs it in its own short-lived process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from scrapy import Request

from crawler.clock import utcnow
from crawler.config import Config
from crawler.crawl import events
from crawler.crawl.addon import CrawlSite
from crawler.crawl.run import CrawlOptions, crawl_settings
from crawler.items import CrawledArticle

# Entries are counted over this window, and the back-fill sitemaps of its months are read.
CHECK_WINDOW = timedelta(days=31)


@dataclass
class SourcePage:
    source: str
    url: str
    ok: bool = False
    # Entries the page listed (articles, or feeds and sitemaps for an index); None when unread.
    entries: int | None = None
    error: str = ""


@dataclass
class ArticleCheck:
    source: str
    url: str
    ok: bool = False
    extractor: str = ""
    # Fields that fell past the site's own selectors.
    fallbacks: list[str] = field(default_factory=list)
    # field -> the layer that served it (site, jsonld, generic)
    layers: dict[str, str] = field(default_factory=dict)
    title: str = ""
    error: str = ""


@dataclass
class SiteCheck:
    site: str
    base_url: str
    sources: list[SourcePage] = field(default_factory=list)
    articles: list[ArticleCheck] = field(default_factory=list)
    # Why the check could not run at all (no spider, a crawler that did not start).
    error: str = ""

    @property
    def problems(self) -> list[str]:
        """One line per reason the site fails the check; empty when it passes."""
        found = [self.error] if self.error else []
        found += [
            f"source {page.source} unreadable: {page.url} ({page.error or 'not read'})"
            for page in self.sources
            if not page.ok
        ]
        for article in self.articles:
            if not article.ok:
                found.append(f"article from {article.source} failed: {article.url} ({article.error})")
            elif article.fallbacks:
                found.append(
                    f"article from {article.source} fell back past the site's selectors "
                    f"({', '.join(article.fallbacks)}): {article.url}"
                )
        if not self.error and not self.articles and all(page.ok for page in self.sources):
            found.append("no source listed an article to check")
        return found

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "site": self.site,
            "base_url": self.base_url,
            "ok": self.ok,
            "problems": self.problems,
            "sources": [asdict(page) for page in self.sources],
            "articles": [asdict(article) for article in self.articles],
            "error": self.error,
        }


class CheckRecorder:
    """Spider middleware: one article per source, index pages followed, pagination dropped, all noted."""

    def __init__(self, crawler):
        self.report = SiteCheck(
            site=crawler.settings.get("BANTIN_SITE"), base_url=crawler.settings.get("BANTIN_SITE_URL", "")
        )
        self.pages: dict[str, SourcePage] = {}
        self.articles: dict[str, ArticleCheck] = {}
        self.picked_sources: set[str] = set()
        crawler.signals.connect(self.source_failed, signal=events.source_failed)
        crawler.signals.connect(self.article_failed, signal=events.article_failed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def page(self, source: str, url: str) -> SourcePage:
        if url not in self.pages:
            self.pages[url] = SourcePage(source, url)
            self.report.sources.append(self.pages[url])
        return self.pages[url]

    def source_failed(self, source, url, reason) -> None:
        page = self.page(source, url)
        page.ok, page.error = False, reason

    def article_failed(self, source, url, reason, extraction=False) -> None:
        check = self.articles.get(url) or self.articles.setdefault(url, ArticleCheck(source, url))
        if check not in self.report.articles:
            self.report.articles.append(check)
        check.ok, check.error = False, reason

    async def process_spider_output(self, response, result):
        meta = response.meta
        kind = meta.get("bantin_kind")
        if kind == "article":
            async for output in result:
                if isinstance(output, CrawledArticle):
                    self.record_article((meta.get("redirect_urls") or [response.url])[0], output)
            return
        if kind != "source":
            async for output in result:
                yield output
            return
        announced: list[Request] = []
        follow: list[Request] = []
        async for output in result:
            if isinstance(output, Request) and output.meta.get("bantin_kind") == "article":
                announced.append(output)
            elif isinstance(output, Request):
                follow.append(output)
        source = meta["bantin_source"]
        page = self.page(source, response.url)
        if meta.get("bantin_announced") and not page.error:
            page.ok = True
            page.entries = meta.get("bantin_listed", len(announced))
        if announced:
            # A page of articles: its next pages are the same source again ("load more").
            fresh = [r for r in announced if r.url not in self.articles]
            # The most recent the page announces (feeds and sitemaps are not always newest first).
            pick = max(fresh, key=_announced_time, default=None)
            if pick is not None and source not in self.picked_sources:
                self.picked_sources.add(source)
                self.articles[pick.url] = ArticleCheck(source, pick.url)
                self.report.articles.append(self.articles[pick.url])
                yield pick
        else:
            # An index (of sitemaps, of feeds): each page it names is read once.
            for request in follow:
                if request.url not in self.pages:
                    self.page(request.meta.get("bantin_source", source), request.url)
                    yield request

    def record_article(self, requested: str, crawled: CrawledArticle) -> None:
        check = self.articles.get(requested)
        if check is None:
            return
        article = crawled.article
        check.ok = True
        check.extractor = article.extractor
        check.fallbacks = list(article.fallbacks)
        check.layers = dict(article.layers)
        check.title = article.title


def _announced_time(request: Request) -> datetime:
    when = request.meta.get("bantin_lastmod")
    return when if isinstance(when, datetime) else datetime.min.replace(tzinfo=UTC)


def check_settings(config: Config, site: CrawlSite, now: datetime, *, priority: str = "cmdline"):
    """A site's crawl settings with storage, ledger and pipelines off, and the recorder in the archive's place."""
    since = (now - CHECK_WINDOW).astimezone(UTC).date()
    settings = crawl_settings(
        config, site, CrawlOptions(since=since, now=now.isoformat(), progress=False), priority=priority
    )
    middlewares = dict(settings.getdict("SPIDER_MIDDLEWARES"))
    middlewares["crawler.crawl.archive.ArchiveFilter"] = None
    middlewares["crawler.crawl.check.CheckRecorder"] = 900
    extensions = dict(settings.getdict("EXTENSIONS"))
    for name in (
        "crawler.crawl.archive.ArchiveStore",
        "crawler.crawl.ledger.CrawlLedger",
        "crawler.crawl.progress.TerminalProgress",
    ):
        extensions[name] = None
    settings.setdict(
        {
            "SPIDER_MIDDLEWARES": middlewares,
            "EXTENSIONS": extensions,
            "ITEM_PIPELINES": {},
            # Read-only: no database URL reaches any component.
            "BANTIN_DATABASE_URL": "",
        },
        priority=priority,
    )
    return settings


def run_check(config: Config, sites: Sequence[CrawlSite], *, now: datetime | None = None) -> list[SiteCheck]:
    """Check these sites together in this process (one Scrapy process); one report per site, in order."""
    from scrapy.crawler import Crawler, CrawlerProcess

    now = now or utcnow()
    # The process's settings are merged into every crawler's: below the crawlers' own priority.
    process = CrawlerProcess(check_settings(config, sites[0], now, priority="project"))
    crawlers: list[tuple[CrawlSite, Crawler | None, str]] = []
    for site in sites:
        try:
            spidercls = process.spider_loader.load(site.spider)
        except KeyError:
            crawlers.append((site, None, f"no spider named {site.spider!r}"))
            continue
        first = not any(crawler is not None for _, crawler, _ in crawlers)
        crawler = Crawler(spidercls, check_settings(config, site, now), init_reactor=first)
        process.crawl(crawler)
        crawlers.append((site, crawler, ""))
    if any(crawler is not None for _, crawler, _ in crawlers):
        process.start()
    reports = []
    for site, started, error in crawlers:
        recorder = started.get_spider_middleware(CheckRecorder) if started is not None else None
        if recorder is None:
            reports.append(SiteCheck(site.id, site.base_url or "", error=error or "the check did not start"))
        else:
            reports.append(recorder.report)
    return reports
