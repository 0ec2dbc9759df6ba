"""VietnamPlus and Tiền Phong: their page objects on saved look-alike pages, their navigation on fake responses.

The fixtures in ``tests/fixtures/<site>/`` are written by ``python -m crawler.samplesite save DIR --site
<site>`` (ground truth in ``expected.json``); ``trap-*.html`` are hand-edited copies with the markup
variants the map records ([SEEN] older Tiền Phong layout; VietnamPlus's JSON-LD author list).
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, TextResponse, XmlResponse

from crawler.crawl import events
from crawler.errors import ExtractionError
from crawler.items import CrawledArticle
from spiders.registry import get_site, resolve_url, site_for_url
from spiders.tienphong import PROFILE as TP
from spiders.tienphong.spider import TienphongSpider
from spiders.vendorcms.article import ArticlePage
from spiders.vendorcms.listings import parse_morenews_contents
from spiders.vendorcms.spider import GOOGLE_NEWS, LATEST, RSS, SITEMAP
from spiders.vietnamplus import PROFILE as VNP
from spiders.vietnamplus.spider import VietnamplusSpider
from tests.test_spider_navigation import FakeArchive, filtered, make_spider, record, split_output

FIXTURES = Path(__file__).parent / "fixtures"
ICT = timezone(timedelta(hours=7))
PROFILES = {"vietnamplus": VNP, "tienphong": TP}


def expected(site: str) -> dict:
    return json.loads((FIXTURES / site / "expected.json").read_text(encoding="utf-8"))


def article_pages():
    for site in PROFILES:
        for name, page in expected(site)["pages"].items():
            if page["kind"] == "article":
                yield pytest.param(site, name, page, id=f"{site}/{name}")


def extract(site: str, name: str, url: str):
    return ArticlePage((FIXTURES / site / name).read_bytes(), url, PROFILES[site]).to_item()


# -- identity ----------------------------------------------------------------------------------


def test_the_registry_knows_both_outlets_by_their_own_url_shapes():
    assert resolve_url("https://www.vietnamplus.vn/a-b-post1128969.vnp") == ("vietnamplus", "1128969")
    assert resolve_url("https://tienphong.vn/a-b-post1847153.tpo") == ("tienphong", "1847153")
    # Another outlet's shape on the host, an author page, another edition: not articles of the site.
    assert resolve_url("https://tienphong.vn/a-b-post1847153.html") is None
    assert resolve_url("https://tienphong.vn/author/tac-gia-1207.tpo") is None
    assert site_for_url("https://en.vietnamplus.vn/a-post1128969.vnp") is None
    assert get_site("tienphong").short_name == "Tiền Phong"


# -- page objects: every saved page, every field -----------------------------------------------


@pytest.mark.parametrize("site,name,page", list(article_pages()))
def test_every_saved_page_gives_its_ground_truth(site, name, page):
    item = extract(site, name, page["url"])
    truth = page["expected"]
    got = item.to_dict()
    for field in ("site", "external_id", "url", "title", "sapo", "body", "author", "category", "tags", "images"):
        assert got[field] == truth[field], field
    assert item.published_at == datetime.fromisoformat(truth["published_at"])
    assert item.modified_at == datetime.fromisoformat(truth["modified_at"])
    if page["features"]["layout"] == "drifted":
        # A layout the row does not know: the lower layers serve, and the item says so.
        assert item.extractor != "site" and "body" in item.fallbacks
    else:
        assert item.extractor == "site"
        assert item.fallbacks == []
        # VietnamPlus's row has no tag links (the map reads tags from the keywords meta): its design, no fallback.
        assert item.layers["tags"] == ("jsonld" if site == "vietnamplus" else "site")
        assert item.layers["title"] == item.layers["body"] == "site"


def page_of(site: str, name: str) -> dict:
    return expected(site)["pages"][name]


def raw(site: str, name: str) -> str:
    return (FIXTURES / site / name).read_text(encoding="utf-8")


def test_tien_phong_strips_its_dateline_from_the_sapo():
    page = page_of("tienphong", "article-sapo-prefix.html")
    prefix = next(
        p
        for p in ("TPO - ", "TP - ")
        if f">{p}{page['expected']['sapo']}" in raw("tienphong", "article-sapo-prefix.html")
    )
    item = extract("tienphong", "article-sapo-prefix.html", page["url"])
    assert item.sapo == page["expected"]["sapo"] and not item.sapo.startswith(prefix.strip())


def test_tien_phong_related_box_is_its_own_class_and_stays_out_of_body_and_tags():
    page = page_of("tienphong", "article-related.html")
    html = raw("tienphong", "article-related.html")
    assert '<div class="article-relate">' in html and "related-news" not in html
    item = extract("tienphong", "article-related.html", page["url"])
    assert "Tin liên quan" not in item.body
    assert item.body == page["expected"]["body"] and item.tags == page["expected"]["tags"]


def test_tien_phong_date_is_read_from_its_visible_time_at_the_site_layer():
    page = page_of("tienphong", "article-normal.html")
    html = raw("tienphong", "article-normal.html")
    assert "<time" not in html and '<span class="time">' in html
    item = extract("tienphong", "article-normal.html", page["url"])
    assert item.published_at == datetime.fromisoformat(page["expected"]["published_at"])
    assert "published_at" not in item.fallbacks


def test_tien_phong_older_layout_and_byline_markup_are_still_its_own_selectors():
    page = page_of("tienphong", "article-sapo-prefix.html")
    item = extract("tienphong", "trap-old-layout.html", page["url"])
    assert item.extractor == "site" and item.fallbacks == []
    assert item.body == page["expected"]["body"]
    assert item.author == page["expected"]["author"]
    assert item.sapo == page["expected"]["sapo"]  # "TP - " stripped as well as "TPO - "


def test_vietnamplus_drops_its_own_name_from_bylines():
    page = page_of("vietnamplus", "article-byline-suffix.html")
    assert page["features"]["author_line"].endswith(" (Vietnam+)")
    item = extract("vietnamplus", "article-byline-suffix.html", page["url"])
    assert item.author == page["expected"]["author"] and "Vietnam" not in item.author


def test_vietnamplus_footer_lines_inside_the_body_never_reach_it():
    page = page_of("vietnamplus", "article-body-footer.html")
    html = raw("vietnamplus", "article-body-footer.html")
    assert "<p>Cơ quan chủ quản: THÔNG TẤN XÃ VIỆT NAM</p>" in html
    item = extract("vietnamplus", "article-body-footer.html", page["url"])
    assert item.body == page["expected"]["body"]
    assert "THÔNG TẤN XÃ" not in item.body and "Bản quyền" not in item.body


def test_vietnamplus_paper_signing_is_no_author():
    page = page_of("vietnamplus", "article-paper-author.html")
    assert page["features"]["author_line"] == "Vietnam+ (VietnamPlus)"
    assert extract("vietnamplus", "article-paper-author.html", page["url"]).author == ""


def test_vietnamplus_jsonld_authors_without_the_paper_when_the_byline_block_is_gone():
    page = page_of("vietnamplus", "article-normal.html")
    item = extract("vietnamplus", "trap-jsonld-author.html", page["url"])
    assert item.author == page["expected"]["author"]
    assert item.fallbacks == ["author"]  # recorded: the byline came from a lower layer
    assert item.layers["author"] == "jsonld"


def test_video_player_labels_and_alt_lines_never_reach_the_body():
    for site in PROFILES:
        page = page_of(site, "article-video.html")
        item = extract(site, "article-video.html", page["url"])
        assert "0:00" not in item.body and item.body == page["expected"]["body"]


# -- navigation on fake responses --------------------------------------------------------------


def spider_for(spider_class, site: str, archive: FakeArchive | None = None, **settings):
    return make_spider(
        None,
        archive if archive is not None else FakeArchive(site=site),
        spider_class=spider_class,
        **{"BANTIN_SITE_URL": "", **settings},
    )


def test_vietnamplus_reads_feeds_and_sitemaps_only_on_its_www_host():
    spider = spider_for(
        VietnamplusSpider, "vietnamplus", BANTIN_SINCE="2026-07-01", BANTIN_CATEGORY_FEEDS=["kinhte-311"]
    )
    requests = list(spider.source_requests())
    assert [r.url for r in requests] == [
        "https://www.vietnamplus.vn/sitemaps/google-news.xml",
        "https://www.vietnamplus.vn/rss/home.rss",
        "https://www.vietnamplus.vn/rss/kinhte-311.rss",
        "https://www.vietnamplus.vn/sitemap.xml",
    ]
    assert spider.allowed_domains == ["www.vietnamplus.vn", "vietnamplus.vn"]


def test_vietnamplus_follows_the_padded_monthly_sitemaps_its_index_names():
    spider = spider_for(
        VietnamplusSpider, "vietnamplus", BANTIN_SINCE="2026-08-01", BANTIN_NOW="2026-08-08T12:00:00+07:00"
    )
    index = next(r for r in spider.source_requests() if r.meta["bantin_source"] == SITEMAP)
    body = (FIXTURES / "vietnamplus" / "sitemap.xml").read_bytes()
    response = XmlResponse(url=index.url, body=body, request=index)
    followed = [r.url for r in index.callback(response)]
    assert followed == ["https://www.vietnamplus.vn/sitemaps/news-2026-08.xml"]


def test_tien_phong_reads_the_zone_api_on_its_api_host_with_its_origin():
    spider = spider_for(TienphongSpider, "tienphong")
    requests = list(spider.source_requests())
    api = [r for r in requests if r.meta["bantin_source"] == LATEST]
    assert [r.url for r in api] == [
        f"https://api.tienphong.vn/api/morenews-zone-{zone}-0.html?phrase=&page_size=20&sz={zone}&st=zone"
        for zone in (3, 166, 5)
    ]
    assert api[0].headers[b"Origin"] == b"https://tienphong.vn"
    assert api[0].headers[b"Referer"] == b"https://tienphong.vn/"
    assert "api.tienphong.vn" in spider.allowed_domains
    assert [r.url for r in requests if r.meta["bantin_source"] != LATEST] == [
        "https://tienphong.vn/sitemaps/google-news.xml",
        "https://tienphong.vn/rss/home.rss",
    ]


def test_the_site_hosts_fence_lets_the_site_s_own_api_host_through_and_nothing_else():
    from scrapy import Request
    from scrapy.exceptions import IgnoreRequest

    from crawler.crawl.middlewares import SiteHostsMiddleware

    spider = spider_for(TienphongSpider, "tienphong")
    fence = SiteHostsMiddleware.from_crawler(spider.crawler)
    for request in spider.source_requests():
        assert fence.process_request(request) is None, request.url
    with pytest.raises(IgnoreRequest):
        fence.process_request(Request("https://api.nhandan.vn/api/morenews-latest-0-0.html"))


def test_under_a_mirror_the_api_is_the_mirrors_and_carries_no_origin_headers():
    spider = spider_for(TienphongSpider, "tienphong", BANTIN_SITE_URL="http://127.0.0.1:8123")
    api = [r for r in spider.source_requests() if r.meta["bantin_source"] == LATEST]
    assert api[0].url.startswith("http://127.0.0.1:8123/api/morenews-zone-3-0.html")
    assert b"Origin" not in api[0].headers
    assert spider.allowed_domains == ["127.0.0.1"]


def contents_response(spider, body: bytes, page: int = 0):
    request = spider.more_request(TP.paths.more_zone, page, zone=3)
    return request, TextResponse(url=request.url, body=body, request=request, encoding="utf-8")


def test_tien_phong_json_items_become_article_requests_and_the_next_page():
    data = expected("tienphong")
    spider = spider_for(TienphongSpider, "tienphong", BANTIN_NOW=data["now"], BANTIN_LOOKBACK_DAYS=30)
    request, response = contents_response(spider, (FIXTURES / "tienphong" / "api-morenews-zone-3-0.json").read_bytes())
    requests, _ = split_output(filtered(spider, response, request.callback(response)))
    articles = [r for r in requests if r.meta["bantin_kind"] == "article"]
    items = json.loads((FIXTURES / "tienphong" / "api-morenews-zone-3-0.json").read_text())["data"]["contents"]
    # Absolute and relative URLs alike, on the site's host; the epoch date is the announced instant.
    assert [r.url for r in articles] == [
        "https://tienphong.vn" + item["url"].removeprefix("https://tienphong.vn") for item in items
    ]
    assert articles[0].meta["bantin_external_id"] == str(items[0]["id"])
    assert articles[0].meta["bantin_lastmod"] == datetime.fromtimestamp(items[0]["update_time"], UTC)
    (more,) = [r for r in requests if r.meta["bantin_kind"] == "source"]
    assert more.url.startswith("https://api.tienphong.vn/api/morenews-zone-3-1.html")


def test_json_items_stop_when_empty_on_error_and_are_refused_when_malformed():
    empty = b'{"error_code": 0, "data": {"contents": []}}'
    assert parse_morenews_contents(empty, "https://tienphong.vn", TP) == ([], False)
    assert parse_morenews_contents(b'{"error_code": 500, "data": null}', "https://tienphong.vn", TP) == ([], False)
    items, more = parse_morenews_contents(
        json.dumps(
            {
                "data": {
                    "contents": [
                        {"url": "/a-post1.tpo", "title": "A", "date": 1754612100000},  # milliseconds
                        {"url": "https://nhandan.vn/b-post2.html", "title": "B"},  # another site
                        {"title": "no url"},
                        "garbage",
                    ]
                }
            }
        ).encode(),
        "https://tienphong.vn",
        TP,
    )
    assert [(i.external_id, i.published_at) for i in items] == [("1", datetime(2025, 8, 8, 7, 15, tzinfo=ICT))]
    assert more
    for body in (b"not json", b'{"data": {"contents": "<li>"}}', b"[]"):
        with pytest.raises(ExtractionError):
            parse_morenews_contents(body, "https://tienphong.vn", TP)


def test_a_json_item_with_an_epoch_no_article_can_have_is_skipped_and_listed():
    items, _ = parse_morenews_contents(
        json.dumps(
            {
                "data": {
                    "contents": [
                        {"url": "/a-post1.tpo", "title": "A", "date": 1754612100000},
                        {"url": "/b-post2.tpo", "title": "B", "date": 99_999_999_999_999},  # ms: the year 5138
                    ]
                }
            }
        ).encode(),
        "https://tienphong.vn",
        TP,
    )
    assert [i.external_id for i in items] == ["1"]
    assert [url for url, _ in items.skipped] == ["https://tienphong.vn/b-post2.tpo"]


def test_each_site_s_everyday_sources_are_those_its_paths_have():
    assert get_site("nhandan").everyday_sources == (GOOGLE_NEWS, RSS, LATEST)
    assert get_site("tienphong").everyday_sources == (GOOGLE_NEWS, RSS, LATEST)  # its zone "load more"
    assert get_site("vietnamplus").everyday_sources == (GOOGLE_NEWS, RSS)


def test_tien_phong_gzip_monthly_sitemap_without_content_encoding_is_read():
    name = next(n for n in expected("tienphong")["pages"] if n.startswith("news-"))
    body = (FIXTURES / "tienphong" / name).read_bytes()
    assert body[:2] == b"\x1f\x8b"  # the look-alike's trap: gzip bytes under an .xml name
    spider = spider_for(TienphongSpider, "tienphong", BANTIN_NOW=expected("tienphong")["now"], BANTIN_LOOKBACK_DAYS=60)
    request = spider.source_request(f"/sitemaps/{name}", SITEMAP, spider.parse_urlset)
    response = XmlResponse(url=request.url, body=body, request=request)
    requests, _ = split_output(filtered(spider, response, request.callback(response)))
    assert len(requests) == gzip.decompress(body).count(b"<loc>") > 0
    assert all(r.url.endswith(".tpo") for r in requests)


@pytest.mark.parametrize(
    "spider_class,site,feed",
    [(VietnamplusSpider, "vietnamplus", "rss-home.rss"), (TienphongSpider, "tienphong", "rss-home.rss")],
)
def test_each_outlets_feed_and_article_go_through_the_archive_filter_under_its_own_site(spider_class, site, feed):
    data = expected(site)
    archive = FakeArchive(site=site)
    spider = spider_for(spider_class, site, archive, BANTIN_NOW=data["now"], BANTIN_LOOKBACK_DAYS=30)
    discovered = record(spider, events.source_discovered)
    request = next(r for r in spider.source_requests() if r.meta["bantin_source"] == RSS)
    response = XmlResponse(url=request.url, body=(FIXTURES / site / feed).read_bytes(), request=request)
    requests, _ = split_output(filtered(spider, response, request.callback(response)))
    assert requests and all(r.meta["bantin_site"] == site for r in requests)
    assert discovered[0]["requested"] == len(requests)
    page = page_of(site, "article-normal.html")
    wanted = next((r for r in requests if r.url == page["url"]), None)
    if wanted is None:  # not in the first 50 of the feed: ask for it directly
        wanted = requests[0].replace(
            url=page["url"], meta={**requests[0].meta, "bantin_external_id": page["expected"]["external_id"]}
        )
    article = HtmlResponse(url=page["url"], body=(FIXTURES / site / "article-normal.html").read_bytes(), request=wanted)
    assert wanted.callback is not None
    (item,) = split_output(filtered(spider, article, wanted.callback(article)))[1]
    assert isinstance(item, CrawledArticle)
    assert (item.article.site, item.article.external_id) == (site, page["expected"]["external_id"])


def test_google_news_sitemaps_of_both_outlets_list_only_their_own_articles():
    for spider_class, site in ((VietnamplusSpider, "vietnamplus"), (TienphongSpider, "tienphong")):
        data = expected(site)
        spider = spider_for(spider_class, site, BANTIN_NOW=data["now"], BANTIN_LOOKBACK_DAYS=30)
        request = next(r for r in spider.source_requests() if r.meta["bantin_source"] == GOOGLE_NEWS)
        response = XmlResponse(
            url=request.url, body=(FIXTURES / site / "google-news.xml").read_bytes(), request=request
        )
        requests, _ = split_output(filtered(spider, response, request.callback(response)))
        assert requests and all(get_site(site).external_id(r.url) for r in requests)


# -- the look-alikes themselves ------------------------------------------------------------------


def test_serve_starts_one_look_alike_per_site_each_on_its_own_origin():
    import subprocess
    import sys
    import urllib.request

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler.samplesite",
            "serve",
            "--site",
            "vietnamplus",
            "--site",
            "tienphong",
            "--sisters",
            "1",
            "--days",
            "1",
            "--per-day",
            "4",
            "--end-date",
            "2026-08-08",
        ],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None  # stdout=PIPE
        urls = [process.stdout.readline().strip() for _ in range(3)]
        assert len(set(urls)) == 3 and all(url.startswith("http://127.0.0.1:") for url in urls)
        feeds = [urllib.request.urlopen(url + "/rss/home.rss", timeout=10).read().decode() for url in urls]
        assert "-post" in feeds[0] and ".vnp<" in feeds[0] and ".tpo<" not in feeds[0]
        assert ".tpo<" in feeds[1] and "Báo Tiền Phong" in feeds[1]
        # Then the first sister: NDO's markup and paper name, articles in its own id range.
        assert "Báo Nhân Dân" in feeds[2] and re.search(r"-post2\d{6}\.html<", feeds[2])
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_each_row_s_registry_entry_is_derived_from_the_row_in_one_place():
    from spiders.baoquangninh import PROFILE as BQN
    from spiders.nhandan import PROFILE as NDO

    for profile in (NDO, VNP, TP, BQN):
        site = get_site(profile.site.id)
        assert site is profile.site and site.extract == profile.extract
        assert site.normalise_id("000985123") == "985123" and site.normalise_id("0") == "0"
        assert site.everyday_sources  # what every crawl of it reads, from its row
    page = page_of("vietnamplus", "article-normal.html")
    extract = get_site("vietnamplus").extract
    assert extract is not None
    item = extract((FIXTURES / "vietnamplus" / "article-normal.html").read_bytes(), page["url"])
    assert (item.site, item.external_id) == ("vietnamplus", page["expected"]["external_id"])
