"""A sister outlet on NDO's vendor CMS is a profile row plus a Site: no code of its own.

The outlet exists only here (``www.sister.example``, articles ``-post<ID>.vnp``, a "SP - " dateline
before every sapo, its own paper name in bylines and footers, its own tag path): its page object
reads a page derived from the NDO fixture, and its spider navigates fake responses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import scrapy
from scrapy.http import HtmlResponse, XmlResponse

from crawler.crawl import events
from crawler.errors import CrawlError
from crawler.items import CrawledArticle
from spiders.nhandan import PROFILE as NDO
from spiders.registry import Site
from spiders.vendorcms.article import ArticlePage
from spiders.vendorcms.profile import SourcePaths
from spiders.vendorcms.spider import GOOGLE_NEWS, SITEMAP, VendorCmsSpider
from tests.test_spider_navigation import FakeArchive, filtered, make_spider, path_of, record, split_output

FIXTURES = Path(__file__).parent / "fixtures" / "ndo"
ICT = timezone(timedelta(hours=7))

SISTER_SITE = Site(
    id="sister",
    name="Báo Chị Em",
    short_name="BCE",
    base_url="https://www.sister.example",
    hosts=("www.sister.example", "sister.example"),
    timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
    spider="sister",
    article_path=re.compile(r"/[^/]+-post(\d+)\.vnp$"),
    normalise_id=lambda value: str(int(value)),
)
SISTER = dataclasses.replace(
    NDO,
    site=SISTER_SITE,
    paths=SourcePaths(
        google_news="/google-news-sitemap.xml",
        home_feed="/rss/trang-chu.rss",
        category_feed="/rss/{feed}.rss",
        latest="/tin-moi-nhat.html",
        more_latest="/api/morenews-latest-0-{page}.html?phrase=",
        sitemap_index="/sitemap.xml",
        monthly_sitemap=re.compile(r"sitemaps-(\d{4})-(\d{1,2})\.xml"),
        search="/tim-kiem?q={term}",
    ),
    selectors=dataclasses.replace(
        NDO.selectors, article=dataclasses.replace(NDO.selectors.article, tag_links=('a[href*="/tag/"]',))
    ),
    paper_names=frozenset({"Báo Chị Em", "Chị Em"}),
    home_crumbs=frozenset({"Trang chủ", "Báo Chị Em"}),
    title_suffix=re.compile(r"\s*[|\-–—]\s*báo chị em\s*$", re.I),
    footer_lines=re.compile(r"^(?:©|bản quyền thuộc về báo chị em)", re.I),
    sapo_prefix=re.compile(r"^SP\s*-\s*"),
    image_hosts=("image.sister.example",),
)


class SisterSpider(VendorCmsSpider):
    name = "sister"
    site = SISTER_SITE
    profile = SISTER


URL = "https://www.sister.example/siet-chat-quan-ly-cong-nghiep-ho-tro-tai-quang-ninh-post981234.vnp"


def sister_page() -> bytes:
    """The NDO fixture as the sister outlet would serve it."""
    html = (FIXTURES / "article_full.html").read_text(encoding="utf-8")
    for old, new in (
        ("https://nhandan.vn/", "https://www.sister.example/"),
        ("-post981234.html", "-post981234.vnp"),
        ("NDO - Tỉnh", "SP - Tỉnh"),
        ("Bản quyền thuộc về Báo Nhân Dân", "Bản quyền thuộc về Báo Chị Em"),
        ("Báo Nhân Dân điện tử", "Báo Chị Em"),
        ("Bài và ảnh: VĂN CHÚC", "Bài và ảnh: VĂN CHÚC - Báo Chị Em"),
        ("/tu-khoa/", "/tag/"),
    ):
        assert old in html, old
        html = html.replace(old, new)
    return html.encode("utf-8")


# -- the page object ---------------------------------------------------------------------------


def test_the_sister_profile_reads_its_own_page_with_the_family_page_object():
    ndo = ArticlePage(
        (FIXTURES / "article_full.html").read_bytes(),
        "https://nhandan.vn/siet-chat-quan-ly-cong-nghiep-ho-tro-tai-quang-ninh-post981234.html",
        NDO,
    ).to_item()
    item = ArticlePage(sister_page(), URL + "?utm_source=x", SISTER).to_item()
    assert (item.site, item.external_id, item.url) == ("sister", "981234", URL)
    assert item.extractor == "site" and item.fallbacks == []
    # The dateline is stripped (NDO's is kept: its row has no prefix); the paper is no author.
    assert ndo.sapo.startswith("NDO - ")
    assert item.sapo == ndo.sapo.removeprefix("NDO - ")
    assert item.author == "VĂN CHÚC"
    # Its footer line never reaches the body; its own tag path serves the tags.
    assert item.body == ndo.body and "Báo Chị Em" not in item.body
    assert item.tags == ndo.tags == ["Công nghiệp hỗ trợ", "Quảng Ninh"]
    assert item.title == ndo.title and item.published_at == ndo.published_at == datetime(2026, 8, 8, 7, 15, tzinfo=ICT)


def test_the_ndo_row_does_not_read_the_sisters_names():
    # The same page through NDO's row: NDO's names only, so the sister's stay in.
    item = ArticlePage(sister_page(), URL.replace(".vnp", ".html"), NDO).to_item()
    assert item.site == "nhandan"
    assert item.sapo.startswith("SP - ")
    assert "Báo Chị Em" in item.author
    assert "tags" in item.fallbacks  # NDO's tag path is /tu-khoa/: only the keywords meta served them


# -- navigation --------------------------------------------------------------------------------


def sister_spider(archive: FakeArchive | None = None, **settings):
    return make_spider(
        None,
        archive if archive is not None else FakeArchive(site="sister"),
        spider_class=SisterSpider,
        BANTIN_SITE_URL="",
        **settings,
    )


def test_the_sister_spider_reads_its_own_paths_on_its_own_hosts():
    spider = sister_spider(BANTIN_SITE="sister", BANTIN_SINCE="2026-07-01")
    requests = list(spider.source_requests())
    assert [r.url for r in requests] == [
        "https://www.sister.example/google-news-sitemap.xml",
        "https://www.sister.example/rss/trang-chu.rss",
        "https://www.sister.example/tin-moi-nhat.html",
        "https://www.sister.example/api/morenews-latest-0-0.html?phrase=",
        "https://www.sister.example/sitemap.xml",
    ]
    assert spider.allowed_domains == ["www.sister.example", "sister.example"]
    assert spider.monthly_sitemap_wanted("https://www.sister.example/sitemaps/sitemaps-2026-7.xml", None)
    assert not spider.monthly_sitemap_wanted("https://www.sister.example/sitemaps/news-2026-7.xml", None)
    index = next(r for r in requests if r.meta["bantin_source"] == SITEMAP)
    assert index.callback == spider.parse_sitemap_index


def test_a_spider_refuses_to_crawl_another_site():
    with pytest.raises(CrawlError, match="'sister'.*'nhandan'"):
        sister_spider(BANTIN_SITE="nhandan")


def google_news(*urls: str) -> bytes:
    entries = "".join(f"<url><loc>{url}</loc><lastmod>2026-08-19T10:00:00+07:00</lastmod></url>" for url in urls)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{entries}</urlset>"
    ).encode()


def test_the_sister_spider_requests_its_articles_and_the_archive_filter_knows_its_site():
    stored = datetime(2026, 8, 19, 10, 0, tzinfo=ICT)
    archive = FakeArchive({981235: stored}, site="sister")
    spider = sister_spider(archive)
    discovered = record(spider, events.source_discovered)
    request = next(r for r in spider.source_requests() if r.meta["bantin_source"] == GOOGLE_NEWS)
    body = google_news(
        URL,
        "https://www.sister.example/da-luu-post981235.vnp",
        "https://www.sister.example/a-post981236.html",  # NDO's shape, not the sister's
        "https://nhandan.vn/b-post981237.vnp",
    )  # another host
    response = XmlResponse(url=request.url, body=body, request=request)
    requests, _ = split_output(filtered(spider, response, request.callback(response)))
    assert [r.url for r in requests] == [URL]
    assert requests[0].meta["bantin_site"] == "sister" and requests[0].meta["bantin_external_id"] == "981234"
    assert archive.asked == [[981234, 981235]]
    assert archive.seen == {981235: {GOOGLE_NEWS: stored}}
    assert discovered == [{"source": GOOGLE_NEWS, "count": 2, "requested": 1, "skipped": []}]

    article = HtmlResponse(url=URL, body=sister_page(), request=requests[0])
    assert requests[0].callback is not None
    (item,) = split_output(filtered(spider, article, requests[0].callback(article)))[1]
    assert isinstance(item, CrawledArticle)
    assert (item.article.site, item.article.external_id) == ("sister", "981234")
    assert item.sources == {GOOGLE_NEWS: stored}


def test_start_requests_of_the_sister_go_to_a_mirror_when_one_is_configured():
    spider = make_spider(
        None, FakeArchive(site="sister"), spider_class=SisterSpider, BANTIN_SITE_URL="http://127.0.0.1:8123"
    )
    requests = asyncio.run(_collect(spider))
    assert requests[0].url == "http://127.0.0.1:8123/google-news-sitemap.xml"
    assert spider.allowed_domains == ["127.0.0.1"]
    assert all(isinstance(r, scrapy.Request) and path_of(r).startswith("/") for r in requests)


async def _collect(spider) -> list:
    return [request async for request in spider.start()]
