"""Discovery parsers on saved sitemaps, feeds, listing pages and morenews JSON (including damaged ones)."""

from __future__ import annotations

import gzip
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crawler.errors import ExtractionError
from spiders.nhandan import PROFILE, SITE
from spiders.pages import Discovered, SitemapRef, parse_rss, parse_sitemap_index, parse_urlset
from spiders.vendorcms.listings import parse_listing_html, parse_morenews_json

VN_TZ = SITE.timezone

FIXTURES = Path(__file__).parent / "fixtures" / "ndo"
BASE = "https://nhandan.vn"
ICT = timezone(timedelta(hours=7))
A1 = "https://nhandan.vn/siet-chat-quan-ly-cong-nghiep-ho-tro-tai-quang-ninh-post981234.html"
A2 = "https://nhandan.vn/gia-lua-tang-manh-post982000.html"


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# -- sitemaps ------------------------------------------------------------------------------------


def test_sitemap_index_with_bom_relative_duplicate_and_foreign_entries():
    assert load("sitemap.xml").startswith(b"\xef\xbb\xbf")
    refs = parse_sitemap_index(load("sitemap.xml"), BASE, SITE)
    assert [ref.url for ref in refs] == [
        "https://nhandan.vn/sitemaps/google-news.xml",
        "https://nhandan.vn/sitemaps/categories.xml",
        "https://nhandan.vn/sitemaps/topics.xml",
        "https://nhandan.vn/sitemaps/news-2026-8.xml",
        "https://nhandan.vn/sitemaps/news-2026-7.xml",
    ]
    assert refs[0] == SitemapRef("https://nhandan.vn/sitemaps/google-news.xml", datetime(2026, 8, 8, 7, 20, tzinfo=ICT))
    assert refs[1].lastmod is None
    assert refs[3].lastmod == datetime(2026, 8, 8, tzinfo=VN_TZ)
    assert refs[4].lastmod == datetime(2026, 7, 31, 23, 59, tzinfo=ICT)


def test_google_news_sitemap_titles_dates_and_filtering():
    found = parse_urlset(load("google-news.xml"), BASE, SITE)
    assert found == [
        Discovered(
            A1,
            "981234",
            lastmod=None,
            title="Siết chặt quản lý “công nghiệp hỗ trợ” tại Quảng Ninh",
            published_at=datetime(2026, 8, 8, 7, 15, tzinfo=ICT),
        ),
        Discovered(
            A2,
            "982000",
            lastmod=datetime(2026, 8, 7, 10, 0, tzinfo=ICT),
            title="Giá lúa tăng mạnh & ổn định",
            published_at=datetime(2026, 8, 7, 6, 0, tzinfo=ICT),
        ),
    ]


def test_monthly_sitemap_plain_lastmod():
    found = parse_urlset(load("news-2026-8.xml"), BASE, SITE)
    assert [(d.external_id, d.lastmod) for d in found] == [
        ("970001", datetime(2026, 8, 1, 8, 0, tzinfo=ICT)),
        ("970002", datetime(2026, 8, 2, tzinfo=VN_TZ)),
        ("970003", None),
    ]
    assert all(d.title is None and d.published_at is None for d in found)


def test_gzipped_bytes_and_str_input_read_alike():
    raw = load("news-2026-8.xml")
    assert (
        parse_urlset(gzip.compress(raw), BASE, SITE)
        == parse_urlset(raw.decode("utf-8"), BASE, SITE)
        == parse_urlset(raw, BASE, SITE)
    )


def test_sitemap_without_namespace():
    [entry] = parse_urlset(load("sitemap-no-namespace.xml"), BASE, SITE)
    assert entry.lastmod == datetime(2026, 8, 3, 8, 0, tzinfo=ICT)


def test_sample_site_base_url_keeps_its_own_host():
    xml = (
        b"<urlset><url><loc>http://127.0.0.1:8123/a-post7.html</loc></url>"
        b"<url><loc>https://nhandan.vn/b-post8.html</loc></url></urlset>"
    )
    assert [d.url for d in parse_urlset(xml, "http://127.0.0.1:8123", SITE)] == ["http://127.0.0.1:8123/a-post7.html"]


def test_truncated_sitemap_recovers_entries_with_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="bantin.extract"):
        found = parse_urlset(load("sitemap-truncated.xml"), BASE, SITE)
    assert [d.external_id for d in found] == ["970001", "970002"]
    assert "damaged" in caplog.text


@pytest.mark.parametrize(
    ("parser", "name"),
    [
        (parse_urlset, "not-xml.html"),
        (parse_sitemap_index, "google-news.xml"),  # a urlset is not an index
        (parse_urlset, "sitemap.xml"),  # and an index is not a urlset
        (parse_rss, "feed-garbage.rss"),
    ],
)
def test_wrong_or_garbage_documents_raise(parser, name):
    with pytest.raises(ExtractionError):
        parser(load(name), BASE, SITE)


@pytest.mark.parametrize("data", [b"", b"   ", "\ufeff", b"\x1f\x8b\x08\x00broken"])
def test_empty_or_corrupt_xml_raises(data):
    with pytest.raises(ExtractionError):
        parse_urlset(data, BASE, SITE)


# -- RSS -------------------------------------------------------------------------------------------


def test_rss_items_link_guid_pubdate():
    found = parse_rss(load("home.rss"), BASE, SITE)
    assert found == [
        Discovered(
            A1,
            "981234",
            title="Siết chặt quản lý “công nghiệp hỗ trợ” tại Quảng Ninh",
            published_at=datetime(2026, 8, 8, 7, 15, tzinfo=ICT),
        ),
        Discovered(A2, "982000", title="Giá lúa tăng mạnh", published_at=datetime(2026, 8, 7, 13, 0, tzinfo=ICT)),
        Discovered(
            "https://nhandan.vn/khong-mui-gio-post982001.html",
            "982001",
            title="Không có múi giờ",
            published_at=datetime(2026, 8, 7, 6, 0, tzinfo=VN_TZ),
        ),
    ]


def test_truncated_rss_keeps_complete_items():
    assert [d.external_id for d in parse_rss(load("feed-truncated.rss"), BASE, SITE)] == ["970001"]


def test_atom_feed():
    xml = """<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>Bài Atom</title>
    <link rel="alternate" href="https://nhandan.vn/bai-atom-post11.html"/>
    <published>2026-08-08T07:15:00+07:00</published><updated>2026-08-08T08:00:00+07:00</updated></entry></feed>"""
    [entry] = parse_rss(xml, BASE, SITE)
    assert (entry.external_id, entry.title, entry.lastmod) == ("11", "Bài Atom", datetime(2026, 8, 8, 8, tzinfo=ICT))


# -- HTML listings --------------------------------------------------------------------------------


def test_tin_moi_listing():
    found = parse_listing_html(load("tin-moi.html"), BASE, PROFILE)
    assert found == [
        Discovered(
            A1,
            "981234",
            title="Siết chặt quản lý “công nghiệp hỗ trợ” tại Quảng Ninh",
            published_at=datetime(2026, 8, 8, 7, 15, tzinfo=ICT),
        ),
        Discovered(A2, "982000", title="Giá lúa tăng mạnh", published_at=datetime(2026, 8, 7, 6, 0, tzinfo=VN_TZ)),
    ]


def test_category_listing_h2_and_h3_headings():
    assert [(d.external_id, d.title) for d in parse_listing_html(load("category-kinhte.html"), BASE, PROFILE)] == [
        ("982000", "Giá lúa tăng mạnh"),
        ("970001", "Bài một"),
    ]


def test_search_results():
    assert [(d.external_id, d.title) for d in parse_listing_html(load("search-results.html"), BASE, PROFILE)] == [
        ("960001", "Phát triển công nghiệp hỗ trợ"),
        ("960002", "CNHT ở Quảng Ninh"),
    ]


def test_unknown_listing_layout_falls_back_to_article_links_with_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="bantin.extract"):
        found = parse_listing_html(load("listing-new-layout.html"), BASE, PROFILE)
    assert [d.url for d in found] == [
        "https://nhandan.vn/bai-moi-post990001.html",
        "https://nhandan.vn/bai-moi-post990002.html",
    ]
    assert "no story markup" in caplog.text


def test_empty_listing_page_raises():
    with pytest.raises(ExtractionError):
        parse_listing_html(b"", BASE, PROFILE)


# -- morenews JSON -------------------------------------------------------------------------------


def test_morenews_latest_items_titles_and_dates():
    items, has_more = parse_morenews_json(load("morenews-latest-0-1.json"), BASE, PROFILE)
    assert has_more is True
    assert items == [
        Discovered(
            A1,
            "981234",
            title="Siết chặt quản lý “công nghiệp hỗ trợ” tại Quảng Ninh",
            published_at=datetime(2026, 8, 8, 7, 15, tzinfo=VN_TZ),
        ),
        Discovered(A2, "982000", title="Giá lúa tăng mạnh", published_at=datetime(2026, 8, 7, 6, 0, tzinfo=VN_TZ)),
        Discovered("https://nhandan.vn/khong-ngay-post982002.html", "982002", title="Không có ngày"),
    ]
    assert items[0].published_at.utcoffset() == timedelta(hours=7)


def test_morenews_empty_page_ends_pagination():
    assert parse_morenews_json(load("morenews-latest-empty.json"), BASE, PROFILE) == ([], False)


def test_morenews_zone_and_search_variants():
    zone, more = parse_morenews_json(load("morenews-zone-1185-2.json"), BASE, PROFILE)
    assert more and [(d.external_id, d.published_at) for d in zone] == [
        ("970001", datetime(2026, 8, 1, 8, 0, tzinfo=VN_TZ))
    ]
    search, more = parse_morenews_json(load("morenews-search-0-2.json").decode("utf-8"), BASE, PROFILE)
    assert more and [(d.external_id, d.published_at) for d in search] == [
        ("960001", datetime(2024, 1, 15, 9, 30, tzinfo=VN_TZ))
    ]


def test_morenews_error_code_means_no_more():
    assert parse_morenews_json(load("morenews-zone-error.json"), BASE, PROFILE) == ([], False)


@pytest.mark.parametrize(
    "text",
    [
        load("morenews-malformed.json"),
        load("morenews-wrong-shape.json"),
        b"",
        "<html>502</html>",
        "[1, 2]",
        '{"data": "x"}',
    ],
)
def test_malformed_morenews_raises_extraction_error(text):
    with pytest.raises(ExtractionError):
        parse_morenews_json(text, BASE, PROFILE)
