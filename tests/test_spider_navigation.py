"""Spider navigation on fake responses: which requests reach the engine, and what is signalled. No network.

Responses come from the sample site's own router (``SampleSite.respond``, never started) or the saved
fixtures. Each callback's output goes through the archive filter (the spider middleware that decides
"already archived?"), whose archive is a fake standing in for the ArchiveStore extension.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MethodType
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import scrapy
from scrapy.http import HtmlResponse, TextResponse, XmlResponse
from scrapy.settings import Settings
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawler.clock import VIETNAM
from crawler.crawl import events
from crawler.crawl.archive import ArchiveFilter
from crawler.items import CrawledArticle
from crawler.samplesite.model import generate_site
from crawler.samplesite.server import SampleSite
from crawler.store.articles import KnownArticle
from spiders.nhandan.spider import NhandanSpider
from spiders.pages.listings import Discovered
from spiders.vendorcms.spider import GOOGLE_NEWS, LATEST, RSS, SEARCH, SITEMAP

BASE = "http://127.0.0.1:8123"
FIXTURES = Path(__file__).parent / "fixtures" / "ndo"


class FakeArchive:
    """What the archive filter asks of the ArchiveStore: stored article ids with their last known change."""

    def __init__(self, stored: dict[int, datetime | None] | None = None, site: str = "nhandan"):
        self.site = site
        self.stored = dict(stored or {})
        self.asked: list[list[int]] = []
        self.seen: dict[int, dict[str, datetime | None]] = {}

    def known(self, site, external_ids):
        assert site == self.site
        ids = [int(external_id) for external_id in external_ids]
        self.asked.append(ids)
        # The fake's surrogate key is the post id itself.
        return {str(i): KnownArticle(i, self.stored[i]) for i in ids if i in self.stored}

    def saw(self, sources_by_article) -> None:
        for article_id, sources in sources_by_article.items():
            self.seen.setdefault(article_id, {}).update(sources)


class Site:
    """The sample site's router without a server: request -> Scrapy response."""

    def __init__(self, **generate):
        self.model = generate_site(**generate)
        self.server = SampleSite(self.model)
        self.server.base_url = BASE  # links are rendered on this origin; nothing listens there

    def response(self, request: scrapy.Request):
        split = urlsplit(request.url)
        path = split.path + (f"?{split.query}" if split.query else "")
        answer = self.server.respond(path, accept_gzip=False)
        kind = answer.content_type.split(";")[0]
        cls = XmlResponse if "xml" in kind or "rss" in kind else HtmlResponse if "html" in kind else TextResponse
        return cls(url=request.url, status=answer.status, body=answer.body, encoding="utf-8", request=request)


def make_spider(
    site: Site | None = None, archive: FakeArchive | None = None, *, spider_class=NhandanSpider, **settings
):
    """A configured spider; ``spider.archive_filter`` is the middleware its output goes through."""
    values = {
        "BANTIN_SITE_URL": BASE,
        "BANTIN_NOW": site.model.now.isoformat() if site else "2026-08-20T12:00:00+07:00",
        "BANTIN_LOOKBACK_DAYS": 2,
        **settings,
    }
    crawler = get_crawler(spider_class, values)
    spider = spider_class.from_crawler(crawler)
    crawler.spider = spider
    # As `bantin crawl` sets them: above the spider's own (it names its site at spider priority).
    configured = Settings(crawler.settings.copy_to_dict())
    configured.setdict(settings, priority="cmdline")
    spider.configure(configured)
    spider.archive_filter = ArchiveFilter(crawler, archive if archive is not None else FakeArchive())
    return spider


async def _through(middleware, response, output) -> list:
    async def produced():
        for value in output or []:
            yield value

    return [value async for value in middleware.process_spider_output(response, produced())]


def filtered(spider, response, output) -> list:
    """A callback's output as the engine receives it: through the archive filter."""
    return asyncio.run(_through(spider.archive_filter, response, output))


def record(spider, signal) -> list[dict]:
    calls: list[dict] = []

    def handler(signal=None, sender=None, **kwargs):
        calls.append(kwargs)

    spider.crawler.signals.connect(handler, signal=signal, weak=False)
    return calls


def path_of(request: scrapy.Request) -> str:
    split = urlsplit(request.url)
    return unquote(split.path + (f"?{split.query}" if split.query else ""))


def split_output(output) -> tuple[list[scrapy.Request], list[CrawledArticle]]:
    output = list(output or [])
    return ([o for o in output if isinstance(o, scrapy.Request)], [o for o in output if isinstance(o, CrawledArticle)])


def visit(site: Site, request: scrapy.Request):
    response = site.response(request)
    assert isinstance(request.callback, MethodType), request.callback  # a method of the spider that made it
    return split_output(filtered(request.callback.__self__, response, request.callback(response)))


def crawl(spider, site: Site, requests: list[scrapy.Request]) -> tuple[list[str], list[CrawledArticle]]:
    """Sources first (as their priority makes the engine do), then articles; returns article paths fetched."""
    sources = [r for r in requests if r.meta["bantin_kind"] == "source"]
    articles = [r for r in requests if r.meta["bantin_kind"] == "article"]
    items: list[CrawledArticle] = []
    while sources:
        new, _ = visit(site, sources.pop(0))
        sources += [r for r in new if r.meta["bantin_kind"] == "source"]
        articles += [r for r in new if r.meta["bantin_kind"] == "article"]
    for request in articles:
        items += visit(site, request)[1]
    return [path_of(r) for r in articles], items


# -- start ---------------------------------------------------------------------------------


async def _collect(agen) -> list:
    return [item async for item in agen]


def test_start_reads_settings_and_requests_the_everyday_sources():
    crawler = get_crawler(
        NhandanSpider,
        {
            "BANTIN_SITE": "nhandan",
            "BANTIN_SITE_URL": BASE + "/",
            "BANTIN_NOW": "2026-08-20T12:00:00+07:00",
            "BANTIN_CATEGORY_FEEDS": ["kinh-te-1185"],
        },
    )
    spider = NhandanSpider.from_crawler(crawler)
    crawler.spider = spider
    requests = asyncio.run(_collect(spider.start()))
    assert [path_of(r) for r in requests] == [
        "/sitemaps/google-news.xml",
        "/rss/home.rss",
        "/rss/kinh-te-1185.rss",
        "/tin-moi.html",
        "/api/morenews-latest-0-0.html?phrase=",
    ]
    assert all(r.url.startswith(BASE + "/") for r in requests)
    assert [r.meta["bantin_source"] for r in requests] == [GOOGLE_NEWS, RSS, RSS, LATEST, LATEST]
    assert all(r.meta["bantin_kind"] == "source" and r.priority > 0 and r.errback for r in requests)
    assert spider.allowed_domains == ["127.0.0.1"]
    assert spider.window_start == datetime.fromisoformat("2026-08-18T12:00:00+07:00")


def test_since_adds_the_sitemap_index_and_moves_the_window():
    spider = make_spider(BANTIN_SINCE="2026-07-01")
    paths = [path_of(r) for r in spider.source_requests()]
    assert paths[-1] == "/sitemap.xml" and paths.count("/sitemap.xml") == 1
    assert spider.window_start == datetime(2026, 7, 1, tzinfo=VIETNAM)
    assert "/sitemap.xml" not in [path_of(r) for r in make_spider().source_requests()]


def test_search_adds_one_query_per_distinct_positive_term():
    topics = [
        {"name": "Công nghiệp hỗ trợ", "query": '"công nghiệp hỗ trợ" OR CNHT'},
        {"name": "Quảng Ninh", "query": '"Quảng Ninh" -"Hạ Long"'},
        {"name": "Đông Bắc", "query": '"quảng ninh" OR "Lạng Sơn"'},
    ]
    spider = make_spider(BANTIN_TOPICS=topics, BANTIN_SEARCH=True, BANTIN_SEARCH_PAGES=2)
    searches = [r for r in spider.source_requests() if r.meta["bantin_source"] == SEARCH]
    pages = [path_of(r) for r in searches if r.url.startswith(BASE + "/tim-kiem/")]
    queries = [parse_qs(urlsplit(r.url).query)["q"][0] for r in searches if "/tim-kiem/" in r.url]
    assert queries == ["công nghiệp hỗ trợ", "CNHT", "Quảng Ninh", "Lạng Sơn"]  # no NOT term, no repeat
    assert len(pages) == 4
    more = [parse_qs(urlsplit(r.url).query)["phrase"][0] for r in searches if "morenews-search-0-1" in r.url]
    assert more == queries and len(searches) == 8
    # Without --search, topics alone add nothing.
    plain = make_spider(BANTIN_TOPICS=topics)
    assert not [r for r in plain.source_requests() if r.meta["bantin_source"] == SEARCH]


# -- announce ------------------------------------------------------------------------------


def google_news_request(spider) -> scrapy.Request:
    return next(r for r in spider.source_requests() if r.meta["bantin_source"] == GOOGLE_NEWS)


def test_announce_requests_only_unknown_or_changed_articles():
    site = Site(seed=3, days=2, per_day=8)
    recent = site.model.recent(48)
    unchanged, changed, *new = recent
    archive = FakeArchive(
        {
            unchanged.article_id: unchanged.modified_at,
            changed.article_id: changed.modified_at - timedelta(hours=2),
        }
    )
    spider = make_spider(site, archive)
    discovered = record(spider, events.source_discovered)
    requests, _ = visit(site, google_news_request(spider))
    fetched = {int(r.meta["bantin_external_id"]) for r in requests}
    assert fetched == {changed.article_id, *(a.article_id for a in new)}
    assert all(r.meta["bantin_kind"] == "article" and r.meta["bantin_source"] == GOOGLE_NEWS for r in requests)
    assert {r.url for r in requests} == {a.url(BASE) for a in [changed, *new]}
    # The unchanged article is only remembered as still listed, with the date the source gave.
    assert archive.seen == {unchanged.article_id: {GOOGLE_NEWS: unchanged.modified_at}}
    assert discovered == [{"source": GOOGLE_NEWS, "count": len(recent), "requested": len(fetched), "skipped": []}]


def test_articles_before_the_window_are_neither_fetched_nor_marked_seen():
    site = Site(seed=4, days=4, per_day=6)
    spider = make_spider(site, BANTIN_LOOKBACK_DAYS=1)
    rss = next(r for r in spider.source_requests() if path_of(r) == "/rss/home.rss")
    requests, _ = visit(site, rss)
    in_window = {a.article_id for a in site.model.visible() if a.modified_at >= spider.window_start}
    assert in_window and len(in_window) < len(site.model.visible())
    assert {int(r.meta["bantin_external_id"]) for r in requests} == in_window


def test_an_article_announced_by_several_sources_is_requested_once_with_all_its_sources():
    site = Site(seed=5, days=2, per_day=10)
    archive = FakeArchive()
    spider = make_spider(site, archive)
    fetched, items = crawl(spider, site, list(spider.source_requests()))
    visible = site.model.visible()
    assert sorted(fetched) == sorted(a.path for a in visible)  # each once
    assert len(items) == len(visible)
    newest = visible[0]
    item = next(i for i in items if int(i.article.external_id) == newest.article_id)
    assert set(item.sources) == {GOOGLE_NEWS, RSS, LATEST}
    assert item.source == GOOGLE_NEWS  # the first to announce it caused the fetch
    assert item.sources[GOOGLE_NEWS] == newest.modified_at
    # One archive lookup per source page, never per article.
    assert len(archive.asked) <= 3 + len(visible) // 20 + 2


def test_a_changed_article_is_fetched_again_only_once_even_if_every_source_says_so():
    site = Site(seed=6, days=1, per_day=5)
    article = site.model.visible()[0]
    archive = FakeArchive({a.article_id: a.modified_at for a in site.model.visible()})
    site.model.edit_article(article.article_id, at=article.modified_at + timedelta(hours=1))
    spider = make_spider(site, archive)
    fetched, items = crawl(spider, site, list(spider.source_requests()))
    assert fetched == [article.path]
    assert int(items[0].article.external_id) == article.article_id
    assert GOOGLE_NEWS in items[0].sources and RSS in items[0].sources


# -- morenews pagination -------------------------------------------------------------------


def latest_chain(spider, site: Site) -> list[int]:
    """Follow the morenews-latest pages; returns the page numbers requested."""
    request = spider.more_latest_request(0)
    pages = []
    while request is not None:
        pages.append(request.meta["bantin_page"])
        requests, _ = visit(site, request)
        nxt = [r for r in requests if r.meta["bantin_kind"] == "source"]
        assert len(nxt) <= 1
        request = nxt[0] if nxt else None
    return pages


def test_morenews_stops_at_the_first_page_reaching_before_the_window():
    site = Site(seed=7, days=6, per_day=10)  # 60 articles, 20 a page
    spider = make_spider(site, BANTIN_LOOKBACK_DAYS=2)
    pages = latest_chain(spider, site)
    visible = site.model.visible()
    # The last page read is the first whose oldest article is before the window.
    last_page = visible[pages[-1] * 20 : (pages[-1] + 1) * 20]
    assert min(a.published_at for a in last_page) < spider.window_start
    earlier = visible[: pages[-1] * 20]
    assert all(a.published_at >= spider.window_start for a in earlier)
    assert pages == list(range(len(pages))) and len(pages) < 3


def test_morenews_stops_when_the_site_has_no_more():
    site = Site(seed=8, days=2, per_day=15)  # 30 articles: page 1 is partial, page 2 empty
    spider = make_spider(site, BANTIN_LOOKBACK_DAYS=30)
    assert latest_chain(spider, site) == [0, 1, 2]


def test_morenews_stops_when_it_says_has_more_false():
    spider = make_spider(BANTIN_LOOKBACK_DAYS=3650)
    request = spider.more_latest_request(3)
    body = (FIXTURES / "morenews-latest-0-1.json").read_text(encoding="utf-8")
    assert '"has_more"' not in body
    stopped = body.replace('{"data": {', '{"data": {"has_more": false, ', 1)
    for text, follows in ((body, True), (stopped, False)):
        response = TextResponse(url=request.url, body=text.encode(), encoding="utf-8", request=request)
        requests, _ = split_output(spider.parse_more_latest(response))
        sources = [r for r in requests if r.meta["bantin_kind"] == "source"]
        assert [r.meta["bantin_page"] for r in sources] == ([4] if follows else [])


# -- monthly sitemaps ----------------------------------------------------------------------


def test_monthly_sitemaps_are_chosen_by_name_for_the_window():
    site = Site(seed=9, days=75, per_day=1, end_date=date(2026, 8, 10))  # late May .. August
    assert {m for m in site.model.months()} == {(2026, 5), (2026, 6), (2026, 7), (2026, 8)}
    spider = make_spider(site, BANTIN_SINCE="2026-06-20")
    index = next(r for r in spider.source_requests() if path_of(r) == "/sitemap.xml")
    requests, _ = visit(site, index)
    assert [path_of(r) for r in requests] == [
        "/sitemaps/news-2026-8.xml",
        "/sitemaps/news-2026-7.xml",
        "/sitemaps/news-2026-6.xml",
    ]
    assert all(r.meta["bantin_source"] == SITEMAP and r.callback == spider.parse_urlset for r in requests)
    # Reading one of them announces only what is in the window.
    june = requests[-1]
    articles, _ = visit(site, june)
    window = datetime(2026, 6, 20, tzinfo=VIETNAM)
    expected = {a.article_id for a in site.model.in_month(2026, 6) if a.modified_at >= window}
    assert expected and {int(r.meta["bantin_external_id"]) for r in articles} == expected


def test_monthly_sitemap_names_outside_the_window_or_unknown_are_skipped():
    spider = make_spider(BANTIN_SINCE="2026-07-15", BANTIN_NOW="2026-08-20T12:00:00+07:00")
    wanted = spider.monthly_sitemap_wanted
    assert wanted("https://nhandan.vn/sitemaps/news-2026-7.xml", None)
    assert wanted("https://nhandan.vn/sitemaps/news-2026-08.xml", None)
    assert not wanted("https://nhandan.vn/sitemaps/news-2026-6.xml", None)
    assert not wanted("https://nhandan.vn/sitemaps/news-2026-9.xml", None)
    assert not wanted("https://nhandan.vn/sitemaps/categories.xml", None)
    assert not wanted("https://nhandan.vn/sitemaps/news-2025-8.xml", None)


# -- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture, source",
    [
        ("not-xml.html", GOOGLE_NEWS),
        ("feed-garbage.rss", RSS),
        ("morenews-malformed.json", LATEST),
    ],
)
def test_an_unreadable_source_page_signals_source_failed(fixture, source):
    spider = make_spider()
    failed = record(spider, events.source_failed)
    request = {
        GOOGLE_NEWS: google_news_request(spider),
        RSS: next(r for r in spider.source_requests() if path_of(r) == "/rss/home.rss"),
        LATEST: spider.more_latest_request(0),
    }[source]
    response = TextResponse(url=request.url, body=(FIXTURES / fixture).read_bytes(), encoding="utf-8", request=request)
    assert split_output(request.callback(response)) == ([], [])
    assert len(failed) == 1
    assert failed[0]["source"] == source and failed[0]["url"] == request.url and failed[0]["reason"]


def test_a_source_that_does_not_download_signals_source_failed_with_the_status():
    spider = make_spider()
    failed = record(spider, events.source_failed)
    request = google_news_request(spider)
    response = HtmlResponse(url=request.url, status=503, body=b"busy", request=request)
    failure = Failure(HttpError(response, "Ignoring non-200 response"))
    failure.request = request  # type: ignore[attr-defined]  # as scrapy's downloader hangs it on the failure
    assert request.errback is not None
    request.errback(failure)
    assert failed == [{"source": GOOGLE_NEWS, "url": request.url, "reason": "HTTP 503"}]


def article_request(spider, url: str, article_id: int, source: str = RSS) -> scrapy.Request:
    response = XmlResponse(
        url=BASE + "/rss/home.rss",
        body=b"",
        request=scrapy.Request(BASE + "/rss/home.rss", meta={"bantin_kind": "source", "bantin_source": source}),
    )
    announced = spider.announce(response, [Discovered(url=url, external_id=str(article_id))])
    (request,) = filtered(spider, response, announced)
    return request


def test_an_article_page_that_cannot_be_extracted_signals_article_failed():
    spider = make_spider()
    failed = record(spider, events.article_failed)
    url = BASE + "/bai-khong-co-noi-dung-post990001.html"
    request = article_request(spider, url, 990001)
    response = HtmlResponse(url=url, body=(FIXTURES / "article_nobody.html").read_bytes(), request=request)
    assert split_output(spider.parse_article(response)) == ([], [])
    assert len(failed) == 1
    assert failed[0]["extraction"] is True
    assert failed[0]["source"] == RSS and failed[0]["url"] == url and failed[0]["reason"]


def test_an_article_that_does_not_download_signals_article_failed_without_extraction():
    spider = make_spider()
    failed = record(spider, events.article_failed)
    url = BASE + "/bai-post990002.html"
    request = article_request(spider, url, 990002)
    response = HtmlResponse(url=url, status=404, body=b"", request=request)
    failure = Failure(HttpError(response, "Ignoring non-200 response"))
    failure.request = request  # type: ignore[attr-defined]  # as scrapy's downloader hangs it on the failure
    assert request.errback is not None
    request.errback(failure)
    assert failed == [{"source": RSS, "url": url, "reason": "HTTP 404"}]


def test_a_source_page_counts_as_read_even_empty_and_not_when_it_fails():
    spider = make_spider()
    discovered = record(spider, events.source_discovered)
    request = next(r for r in spider.source_requests() if path_of(r) == "/rss/home.rss")
    empty = XmlResponse(url=request.url, body=b'<?xml version="1.0"?><rss><channel></channel></rss>', request=request)
    assert filtered(spider, empty, request.callback(empty)) == []
    assert discovered == [{"source": RSS, "count": 0, "requested": 0, "skipped": []}]
    request = next(r for r in spider.source_requests() if path_of(r) == "/rss/home.rss")
    garbage = TextResponse(
        url=request.url, body=(FIXTURES / "feed-garbage.rss").read_bytes(), encoding="utf-8", request=request
    )
    assert filtered(spider, garbage, request.callback(garbage)) == []
    assert len(discovered) == 1  # a page that could not be read announces nothing


# -- hostile sources and pages (issue 11) --------------------------------------------------


def test_start_plans_every_source_so_the_ledger_lists_each_even_if_never_read():
    crawler = get_crawler(
        NhandanSpider,
        {
            "BANTIN_SITE_URL": BASE,
            "BANTIN_NOW": "2026-08-20T12:00:00+07:00",
            "BANTIN_SINCE": "2026-07-01",
        },
    )
    spider = NhandanSpider.from_crawler(crawler)
    crawler.spider = spider
    planned = record(spider, events.sources_planned)
    asyncio.run(_collect(spider.start()))
    assert planned == [{"sources": [GOOGLE_NEWS, RSS, LATEST, SITEMAP]}]


def test_a_parser_crash_costs_the_source_page_and_is_recorded(monkeypatch):
    import spiders.vendorcms.spider as module

    def overflow(body, base_url, site):
        raise OverflowError("date value out of range")

    monkeypatch.setattr(module, "parse_rss", overflow)
    spider = make_spider()
    failed = record(spider, events.source_failed)
    request = next(r for r in spider.source_requests() if path_of(r) == "/rss/home.rss")
    response = XmlResponse(url=request.url, body=(FIXTURES / "home.rss").read_bytes(), request=request)
    assert split_output(request.callback(response)) == ([], [])
    assert failed == [{"source": RSS, "url": request.url, "reason": "OverflowError: date value out of range"}]


def test_entries_dated_in_the_future_are_skipped_and_counted_not_remembered():
    spider = make_spider()
    discovered = record(spider, events.source_discovered)
    response = XmlResponse(
        url=BASE + "/rss/home.rss",
        body=b"",
        request=scrapy.Request(BASE + "/rss/home.rss", meta={"bantin_kind": "source", "bantin_source": RSS}),
    )
    future = spider.now + timedelta(days=365 * 100)
    requests = filtered(
        spider,
        response,
        spider.announce(
            response,
            [
                Discovered(url=BASE + "/a-post990001.html", external_id="990001", lastmod=future),
                Discovered(url=BASE + "/b-post990002.html", external_id="990002", lastmod=spider.now),
            ],
        ),
    )
    assert [r.meta["bantin_external_id"] for r in requests] == ["990002"]
    assert ("nhandan", "990001") not in spider.archive_filter.announced
    (signal,) = discovered
    assert signal["count"] == 1 and [url for url, _ in signal["skipped"]] == [BASE + "/a-post990001.html"]


def test_a_poisoned_time_already_in_the_archive_does_not_break_the_source():
    site = Site(seed=3, days=1, per_day=4)
    article = site.model.recent(48)[0]
    end_of_time = datetime(9999, 12, 31, 23, 59, 59, tzinfo=VIETNAM)
    spider = make_spider(site, FakeArchive({article.article_id: end_of_time}))
    failed = record(spider, events.source_failed)
    requests, _ = visit(site, google_news_request(spider))
    assert requests and failed == []
    assert str(article.article_id) not in {r.meta["bantin_external_id"] for r in requests}


def sitemap_index(*locs: str) -> bytes:
    refs = "".join(f"<sitemap><loc>{BASE}{loc}</loc></sitemap>" for loc in locs)
    return f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{refs}</sitemapindex>'.encode()


def read_index(spider, body: bytes):
    index = next(r for r in spider.source_requests() if path_of(r) == "/sitemap.xml")
    response = XmlResponse(url=index.url, body=body, request=index)
    return split_output(filtered(spider, response, index.callback(response)))[0]


def test_a_month_listed_under_3000_query_strings_is_fetched_once():
    spider = make_spider(BANTIN_SINCE="2026-08-01")
    requests = read_index(spider, sitemap_index(*(f"/sitemaps/news-2026-8.xml?page={i}" for i in range(3000))))
    assert [path_of(r) for r in requests] == ["/sitemaps/news-2026-8.xml?page=0"]


def test_sitemaps_per_run_are_capped_and_the_excess_counted():
    spider = make_spider(BANTIN_SINCE="2025-01-01", BANTIN_MAX_SITEMAPS=3)
    discovered = record(spider, events.source_discovered)
    months = [f"/sitemaps/news-{year}-{month}.xml" for year in (2026, 2025) for month in range(8, 0, -1)]
    requests = read_index(spider, sitemap_index(*months))
    assert [path_of(r) for r in requests] == months[:3]
    (signal,) = discovered
    assert signal["source"] == SITEMAP and len(signal["skipped"]) == len(months) - 3
    assert "cap of 3" in signal["skipped"][0][1]
    assert make_spider().max_sitemaps == 500


def test_an_article_redirected_to_another_id_is_stored_as_the_one_announced():
    site = Site(seed=5, days=1, per_day=4)
    announced, target = site.model.visible()[:2]
    spider = make_spider(site)
    warnings = record(spider, events.page_warning)
    request = article_request(spider, announced.url(BASE), announced.article_id)
    page = site.response(scrapy.Request(target.url(BASE)))
    response = HtmlResponse(
        url=target.url(BASE),
        body=page.body,
        request=request.replace(url=target.url(BASE), meta={**request.meta, "redirect_urls": [announced.url(BASE)]}),
    )
    (item,) = split_output(spider.parse_article(response))[1]
    assert item.article.external_id == str(announced.article_id)
    assert item.article.url == announced.url(BASE)
    assert len(warnings) == 2 and all(w["url"] == announced.url(BASE) for w in warnings)
    assert any(str(target.article_id) in w["reason"] for w in warnings)


def test_the_http_charset_reaches_the_page_object():
    site = Site(seed=5, days=1, per_day=2)
    article = site.model.visible()[0]
    spider = make_spider(site)
    request = article_request(spider, article.url(BASE), article.article_id)
    html = site.response(scrapy.Request(article.url(BASE))).text.replace('<meta charset="utf-8">', "")
    body = html.encode("utf-16-le")  # no BOM, no meta: only the header says what it is
    response = HtmlResponse(
        url=article.url(BASE), body=body, request=request, headers={"Content-Type": "text/html; charset=utf-16le"}
    )
    (item,) = split_output(spider.parse_article(response))[1]
    assert item.article.title == article.title


def test_start_requests_are_marked_for_scrapy_s_start_queue_and_nothing_else_passes_the_marker():
    from crawler.crawl.middlewares import StartRequestsMiddleware

    settings = Settings()
    settings.setmodule("crawler.crawl.settings", priority="project")
    middlewares = settings.get_component_priority_dict_with_base("SPIDER_MIDDLEWARES")
    assert middlewares["scrapy.spidermiddlewares.start.StartSpiderMiddleware"] is None
    assert middlewares["crawler.crawl.middlewares.StartRequestsMiddleware"] is not None

    item = {"not": "a request"}
    marked = scrapy.Request(f"{BASE}/already", meta={"is_start_request": False})

    async def start():
        yield scrapy.Request(f"{BASE}/rss/home.rss")
        yield item
        yield marked

    async def collect():
        return [output async for output in StartRequestsMiddleware().process_start(start())]

    first, second, third = asyncio.run(collect())
    assert first.meta["is_start_request"] is True
    assert second is item
    assert third.meta["is_start_request"] is False
    # Nothing a callback yields goes through it (Scrapy's own adds a layer there for every response).
    assert not hasattr(StartRequestsMiddleware, "process_spider_output")
