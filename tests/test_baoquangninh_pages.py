"""Báo Quảng Ninh: its page object on saved look-alike pages (every clutter kind), its navigation on fake responses.

``tests/fixtures/baoquangninh/`` is written by ``python -m crawler.samplesite save DIR --site baoquangninh``
(ground truth in ``expected.json``); the ``trap-*.html`` files are copies of ``article-normal.html``
edited by hand: every JSON-LD block and structured meta tag removed (``no-structured-data``), a
trailing comma in the JSON-LD (``broken-jsonld``), the end markers as a ``div`` in the old tone
placement and an upper-case ``span`` (``marker-variants``), og:url and canonical naming another
article (``canonical-other``).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, XmlResponse

from crawler.crawl import events
from crawler.errors import ExtractionError
from crawler.items import CrawledArticle
from spiders.baoquangninh import PROFILE
from spiders.baoquangninh.article import ArticlePage
from spiders.baoquangninh.listings import parse_feed_index
from spiders.baoquangninh.spider import BaoquangninhSpider
from spiders.registry import get_site, resolve_url, site_for_url
from tests.test_spider_navigation import FakeArchive, filtered, make_spider, record, split_output

FIXTURES = Path(__file__).parent / "fixtures" / "baoquangninh"
FIELDS = ("site", "external_id", "url", "title", "sapo", "body", "author", "category", "tags", "images")


def expected() -> dict:
    return json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))


def page_of(name: str) -> dict:
    return expected()["pages"][name]


def raw(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def extract(name: str, url: str | None = None):
    return ArticlePage((FIXTURES / name).read_bytes(), url or page_of(name)["url"], PROFILE).to_item()


def article_pages():
    for name, page in expected()["pages"].items():
        if page["kind"] == "article":
            yield pytest.param(name, page, id=name)


# -- identity ----------------------------------------------------------------------------------


def test_the_registry_knows_the_paper_by_its_seven_digit_ids_on_both_its_hosts():
    assert resolve_url("https://baoquangninh.vn/khai-thac-than-thoi-ky-phap-thuoc-3349315.html") == (
        "baoquangninh",
        "3349315",
    )
    assert resolve_url("https://baoquangninh.com.vn/le-hoi-3210121.html") == ("baoquangninh", "3210121")
    # Live TV in a folder, a section, a six-digit number, another outlet's shape: no articles of the paper.
    for url in (
        "https://baoquangninh.vn/truyen-hinh/ban-tin-3300001.html",
        "https://baoquangninh.vn/kinh-te",
        "https://baoquangninh.vn/tin-985123.html",
        "https://baoquangninh.vn/a-post1128969.vnp",
    ):
        assert resolve_url(url) is None, url
    assert site_for_url("https://media.baoquangninh.vn/upload/image/202608/medium/a.jpg") is None
    assert get_site("baoquangninh").short_name == "Báo Quảng Ninh"


# -- every saved page, every field ---------------------------------------------------------------


@pytest.mark.parametrize("name,page", list(article_pages()))
def test_every_saved_page_gives_its_ground_truth(name, page):
    item = extract(name)
    truth = page["expected"]
    got = item.to_dict()
    for field in FIELDS:
        assert got[field] == truth[field], field
    assert item.published_at == datetime.fromisoformat(truth["published_at"])
    assert item.modified_at == datetime.fromisoformat(truth["modified_at"])
    if page["features"]["layout"] == "drifted":
        # A layout the site's selectors do not know: structured data still serves, the body falls
        # to the generic extractor, and the item says so (the crawl counts it towards `degraded`).
        assert item.extractor == "generic" and item.fallbacks == ["body"]
        assert item.layers["body"] == "generic" and item.layers["title"] == "jsonld"
    else:
        assert item.extractor == "site" and item.fallbacks == []
        # Structured data first, then the site's own selectors for what it lacks (the byline, the body).
        assert {
            field: item.layers.get(field) for field in ("title", "sapo", "published_at", "tags", "category", "body")
        } == {
            "title": "jsonld",
            "sapo": "jsonld",
            "published_at": "jsonld",
            "tags": "jsonld",
            "category": "jsonld",
            "body": "site",
        }
        if truth["author"]:
            assert item.layers["author"] == "site"


def test_the_text_ends_at_keywords_related_news_and_readers_comments():
    page = page_of("article-related.html")
    html = raw("article-related.html")
    # The three sections are inside the content block, after the text.
    content = html[html.index('<div class="article-content">') :]
    for heading in ("Từ khóa", "Tin liên quan", "Ý kiến bạn đọc"):
        assert f'<h3 class="box-title">{heading}</h3>' in content
    item = extract("article-related.html")
    assert item.body == page["expected"]["body"]
    for leak in ("Từ khóa", "Tin liên quan", "Ý kiến bạn đọc", "Gửi bình luận", "Bạn đọc Hạ Long"):
        assert leak not in item.body
    related_titles = [e["title"] for e in expected()["articles"] if e["url"] in html and e["url"] != page["url"]]
    assert related_titles and not any(title in item.body for title in related_titles)


def test_the_end_markers_are_found_in_any_markup_case_and_tone_placement():
    page = page_of("article-normal.html")
    item = extract("trap-marker-variants.html", page["url"])
    assert item.body == page["expected"]["body"] and item.fallbacks == []


def test_the_bold_last_line_is_the_byline_and_never_body_text():
    page = page_of("article-normal.html")
    assert page["features"]["author_line"].startswith("Bài và ảnh: ")
    assert f'<p style="text-align: right;"><strong>{page["features"]["author_line"]}</strong></p>' in raw(
        "article-normal.html"
    )
    item = extract("article-normal.html")
    assert item.author == page["expected"]["author"] != ""
    assert page["expected"]["author"] not in item.body.splitlines()[-1]
    assert item.layers["author"] == "site"


def test_the_paper_signing_is_no_author_and_its_organisation_in_json_ld_neither():
    page = page_of("article-paper-author.html")
    assert page["features"]["author_line"] == "Báo Quảng Ninh điện tử"
    item = extract("article-paper-author.html")
    assert item.author == "" and "Báo Quảng Ninh" not in item.body and "author" not in item.layers


def test_ads_and_their_tracking_links_video_player_labels_and_captions_stay_out_of_the_body():
    for name in ("article-normal.html", "article-video.html"):
        html = raw(name)
        assert 'class="ads-zone-group"' in html and "/ads-tracking?aid=" in html
        item = extract(name)
        assert item.body == page_of(name)["expected"]["body"]
        assert "Quảng cáo" not in item.body and "00:00" not in item.body
    item = extract("article-normal.html")
    assert len(item.images) >= 2 and all(image.caption and image.caption not in item.body for image in item.images)
    # Lazy images: the real address is data-src (src is a placeholder), on the paper's media host.
    assert all(image.url.startswith("https://media.baoquangninh.vn/upload/image/") for image in item.images)


def test_without_structured_data_the_site_selectors_serve_every_field():
    page = page_of("article-normal.html")
    item = extract("trap-no-structured-data.html", page["url"])
    truth = page["expected"]
    for field in ("title", "sapo", "body", "author", "category", "tags", "images"):
        assert getattr(item, field) == (truth[field] if field != "images" else item.images), field
    # The visible date has no zone: the site's zone (Asia/Ho_Chi_Minh) applies.
    assert item.published_at == datetime.fromisoformat(truth["published_at"])
    assert item.modified_at is None  # only structured data carries it
    assert set(item.layers.values()) == {"site"} and item.fallbacks == [] and item.extractor == "site"


def test_broken_json_ld_falls_to_the_meta_tags_of_the_same_layer():
    page = page_of("article-normal.html")
    item = extract("trap-broken-jsonld.html", page["url"])
    truth = page["expected"]
    # og:title carries the paper's suffix, stripped; the category comes from article:section.
    assert (item.title, item.sapo, item.tags, item.category) == (
        truth["title"],
        truth["sapo"],
        truth["tags"],
        truth["category"][-1:],
    )
    assert item.layers["title"] == "jsonld" and item.fallbacks == []


def test_a_canonical_url_naming_another_article_is_a_warning_not_the_identity():
    page = page_of("article-normal.html")
    article = ArticlePage((FIXTURES / "trap-canonical-other.html").read_bytes(), page["url"], PROFILE)
    item = article.to_item()
    assert (item.external_id, item.url) == (page["expected"]["external_id"], page["url"])
    assert article.warnings and "3000001" in article.warnings[0]


def test_a_page_without_title_body_or_id_is_refused():
    with pytest.raises(ExtractionError):
        ArticlePage(
            b"<html><body><p>nothing</p></body></html>", "https://baoquangninh.vn/a-3349315.html", PROFILE
        ).to_item()
    with pytest.raises(ExtractionError, match="no article id"):
        ArticlePage(
            b"<html><head><title>T</title></head><body><h1>T</h1><p>text</p></body></html>",
            "https://baoquangninh.vn/kinh-te",
            PROFILE,
        ).to_item()
    # A URL without an id is named by the page's own canonical URL, when that is an article of the site.
    page = page_of("article-normal.html")
    item = ArticlePage(
        (FIXTURES / "article-normal.html").read_bytes(), "https://baoquangninh.vn/kinh-te", PROFILE
    ).to_item()
    assert item.external_id == page["expected"]["external_id"]


# -- the feed index and the feeds ------------------------------------------------------------------


def test_the_feed_index_lists_each_category_feed_once_and_nothing_else():
    base = "https://baoquangninh.vn"
    html = raw("rss.html").replace(
        "</ul>",
        '<li><a href="https://tienphong.vn/rss/news/kinh-te.rss">x</a></li>'
        '<li><a href="/rss/news/kinh-te.rss?v=2">again</a></li>'
        '<li><a href="/rss/home.rss">home</a></li></ul>',
    )
    feeds = parse_feed_index(html, base, PROFILE)
    names = [name for name, _ in feeds]
    assert len(names) == len(set(names)) and "kinh-te" in names and "than-khoang-san" in names
    assert all(url == f"{base}/rss/news/{name}.rss" for name, url in feeds)
    with pytest.raises(ExtractionError):
        parse_feed_index(b"   ", base, PROFILE)


def spider_for(archive: FakeArchive | None = None, **settings):
    return make_spider(
        None,
        archive if archive is not None else FakeArchive(site="baoquangninh"),
        spider_class=BaoquangninhSpider,
        **{"BANTIN_SITE_URL": "", **settings},
    )


def index_response(spider):
    (request,) = list(spider.source_requests())
    return request, HtmlResponse(url=request.url, body=(FIXTURES / "rss.html").read_bytes(), request=request)


def test_every_run_reads_the_feed_index_then_every_feed_it_lists():
    spider = spider_for()
    request, response = index_response(spider)
    assert request.url == "https://baoquangninh.vn/rss" and request.meta["bantin_source"] == "rss"
    assert spider.allowed_domains == list(get_site("baoquangninh").hosts)
    requests, _ = split_output(filtered(spider, response, request.callback(response)))
    listed = parse_feed_index(response.body, "https://baoquangninh.vn", PROFILE)
    assert [r.url for r in requests] == [url for _, url in listed]
    assert all(r.meta["bantin_kind"] == "source" and r.meta["bantin_source"] == "rss" for r in requests)


def test_configured_feeds_narrow_the_index_and_a_missing_one_is_still_read():
    spider = spider_for(BANTIN_CATEGORY_FEEDS=["than-khoang-san", "xuc-tien-dau-tu", "thuc-hien-NQ57-ve-KHCN"])
    request, response = index_response(spider)
    requests, _ = split_output(filtered(spider, response, request.callback(response)))
    assert [r.url for r in requests] == [
        f"https://baoquangninh.vn/rss/news/{name}.rss"
        for name in ("xuc-tien-dau-tu", "than-khoang-san", "thuc-hien-NQ57-ve-KHCN")
    ]


def test_feed_items_become_article_requests_by_path_and_live_tv_is_no_article():
    data = expected()
    spider = spider_for(BANTIN_NOW=data["now"], BANTIN_LOOKBACK_DAYS=30)
    discovered = record(spider, events.source_discovered)
    feed = spider.source_request("/rss/news/kinh-te.rss", "rss", spider.parse_feed)
    body = (FIXTURES / "rss-kinh-te.rss").read_bytes()
    assert b"utm_source=rss" in body
    response = XmlResponse(url=feed.url, body=body, request=feed)
    requests, _ = split_output(filtered(spider, response, feed.callback(response)))
    assert requests and all("?" not in r.url and r.meta["bantin_site"] == "baoquangninh" for r in requests)
    assert discovered[0]["requested"] == len(requests)
    tv = spider.source_request("/rss/news/truyen-hinh.rss", "rss", spider.parse_feed)
    tv_body = (FIXTURES / "rss-truyen-hinh.rss").read_bytes()
    assert b"/truyen-hinh/" in tv_body
    response = XmlResponse(url=tv.url, body=tv_body, request=tv)
    assert split_output(filtered(spider, response, tv.callback(response))) == ([], [])


def test_an_announced_article_is_extracted_under_the_paper_s_site():
    page = page_of("article-normal.html")
    spider = spider_for(BANTIN_NOW=expected()["now"], BANTIN_LOOKBACK_DAYS=30)
    feed = spider.source_request("/rss/news/du-lich.rss", "rss", spider.parse_feed)
    request = feed.replace(
        url=page["url"],
        callback=spider.parse_article,
        errback=spider.article_errback,
        meta={
            **feed.meta,
            "bantin_kind": "article",
            "bantin_site": "baoquangninh",
            "bantin_external_id": page["expected"]["external_id"],
            "bantin_lastmod": None,
        },
        dont_filter=True,
    )
    response = HtmlResponse(url=page["url"], body=(FIXTURES / "article-normal.html").read_bytes(), request=request)
    (item,) = split_output(filtered(spider, response, request.callback(response)))[1]
    assert isinstance(item, CrawledArticle)
    assert (item.article.site, item.article.external_id, item.article.title) == (
        "baoquangninh",
        page["expected"]["external_id"],
        page["expected"]["title"],
    )


def test_an_unreadable_feed_index_is_a_failed_source_page():
    spider = spider_for()
    failed = record(spider, events.source_failed)
    (request,) = list(spider.source_requests())
    response = HtmlResponse(url=request.url, body=b" ", request=request)
    assert split_output(filtered(spider, response, request.callback(response))) == ([], [])
    assert failed and failed[0]["source"] == "rss" and "empty feed index" in failed[0]["reason"]
