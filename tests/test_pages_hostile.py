"""Page objects and listing parsers on hostile input: whatever a page holds, one line of reason or a clean item.

Each case is a page or feed a real site (or an attacker) could serve: ids and dates no article has,
JSON-LD nested 50,000 deep, a canonical URL naming another article, legacy encodings declared in the
HTTP header only or nowhere, terminal escapes in URLs.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from crawler.errors import ExtractionError
from spiders.nhandan import PROFILE, SITE
from spiders.pages import parse_rss, parse_sitemap_index, parse_urlset
from spiders.pages.dates import parse_datetime as parse_in_zone
from spiders.vendorcms.article import ArticlePage as VendorCmsPage

ArticlePage = partial(VendorCmsPage, profile=PROFILE)
parse_datetime = partial(parse_in_zone, default_tz=SITE.timezone)

FIXTURES = Path(__file__).parent / "fixtures" / "ndo"
URL = "https://nhandan.vn/siet-chat-quan-ly-cong-nghiep-ho-tro-tai-quang-ninh-post981234.html"
OTHER = "https://nhandan.vn/bai-khac-hoan-toan-post940002.html"
BASE = "https://nhandan.vn"
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# Vietnamese tone marks: windows-1258 writes them as combining characters after the letter.
TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def full_html() -> str:
    return (FIXTURES / "article_full.html").read_text(encoding="utf-8")


def to_cp1258(text: str) -> bytes:
    """Text as a windows-1258 page stores it (precomposed base letters, combining tones)."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            marks = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in marks if c not in TONES))
            out += (base + "".join(c for c in marks if c in TONES)).encode("cp1258")
    return bytes(out)


@pytest.fixture(scope="module")
def reference():
    return ArticlePage(full_html().encode("utf-8"), URL).to_item()


# -- #2: anything the extractor raises becomes a reason -------------------------------------------


def test_json_ld_nested_50000_deep_is_skipped_and_the_page_still_read(reference):
    deep = '<script type="application/ld+json">' + "[" * 50_000 + "]" * 50_000 + "</script>"
    html = full_html().replace("</head>", deep + "</head>", 1)
    item = ArticlePage(html.encode("utf-8"), URL).to_item()
    assert (item.title, item.body, item.published_at) == (reference.title, reference.body, reference.published_at)


def test_any_exception_inside_the_extractor_is_an_extraction_error_with_a_one_line_reason(monkeypatch):
    def broken(self, scope):
        raise KeyError("author\nsecond line")

    monkeypatch.setattr(VendorCmsPage, "_author", broken)
    with pytest.raises(ExtractionError) as caught:
        ArticlePage(full_html(), URL).to_item()
    assert "KeyError" in caught.value.reason and "\n" not in caught.value.reason
    assert caught.value.url == URL


# -- #3: identity from the requested URL ---------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        f'<meta property="og:url" content="{OTHER}">',
        f'<link rel="canonical" href="{OTHER}">',
    ],
)
def test_a_canonical_naming_another_article_never_changes_the_identity(tag):
    html = re.sub(r'<meta property="og:url"[^>]*>|<link rel="canonical"[^>]*>', "", full_html())
    html = html.replace("</head>", tag + "</head>", 1)
    page = ArticlePage(html, URL + "?utm_source=x")
    item = page.to_item()
    assert (item.external_id, item.url) == ("981234", URL)
    assert len(page.warnings) == 1 and OTHER in page.warnings[0]


def test_a_canonical_naming_the_same_article_still_cleans_the_url():
    page = ArticlePage(full_html(), "https://nhandan.vn/old-slug-post981234.html")
    assert page.to_item().url == URL and page.warnings == []


# -- #11: legacy encodings -----------------------------------------------------------------------


def undeclared(text: str) -> str:
    return text.replace('<meta charset="utf-8">', "", 1)


def test_windows_1258_declared_only_in_the_http_header_is_read(reference):
    body = to_cp1258(undeclared(full_html()))
    item = ArticlePage(body, URL, encoding="windows-1258").to_item()
    assert (item.title, item.sapo, item.body) == (reference.title, reference.sapo, reference.body)


def test_windows_1258_without_any_declaration_is_detected(reference):
    item = ArticlePage(to_cp1258(undeclared(full_html())), URL).to_item()
    assert (item.title, item.body) == (reference.title, reference.body)
    assert "\ufffd" not in item.title + item.body


def test_a_header_that_lies_gives_way_to_bytes_that_decode_strictly(reference):
    item = ArticlePage(to_cp1258(undeclared(full_html())), URL, encoding="utf-8").to_item()
    assert item.body == reference.body


def test_a_page_that_decodes_in_no_encoding_fails_instead_of_storing_replacement_characters():
    # 0x81 is undefined in windows-1258 and a stray continuation byte in UTF-8.
    body = to_cp1258(undeclared(full_html())).replace(b"</h1>", b"\x81</h1>", 1)
    with pytest.raises(ExtractionError, match="cannot be decoded"):
        ArticlePage(body, URL, encoding="windows-1258").to_item()


# -- #12: no control character in any scraped string, URLs included ------------------------------


def test_terminal_escapes_in_image_urls_and_the_canonical_link_are_neutralised():
    html = full_html()
    html = re.sub(
        r'<meta property="og:url"[^>]*>', '<meta property="og:url" content="https://evil.example/x">', html, count=1
    )
    html = html.replace("</head>", f'<link rel="canonical" href="{URL}\x1b]0;pwned\x07">' + "</head>", 1)
    html = re.sub(r'data-src="([^"]+)"', lambda m: f'data-src="{m.group(1)}\x1b[2J\x9b31m"', html, count=1)
    item = ArticlePage(html, URL.replace("-post", "-cu-post")).to_item()
    assert item.images and all(not CONTROL.search(image.url) for image in item.images)
    assert not CONTROL.search(item.url) and item.external_id == "981234"
    strings = [
        item.url,
        item.title,
        item.sapo,
        item.body,
        item.author,
        *item.category,
        *item.tags,
        *(part for image in item.images for part in (image.url, image.caption)),
    ]
    assert not any(CONTROL.search(text.replace("\n", "")) for text in strings)


# -- #1: dates and ids no article has ------------------------------------------------------------


def test_dates_outside_any_article_s_lifetime_are_no_dates():
    assert parse_datetime("9999-12-31T23:59:59Z") is None
    assert parse_datetime("0001-01-01T00:00:00+07:00") is None
    assert parse_datetime("2026-08-08T07:15:00+0700") == datetime(2026, 8, 8, 0, 15, tzinfo=UTC)


def test_an_article_page_with_a_date_at_datetime_s_limit_keeps_its_other_dates(reference):
    html = full_html().replace('datetime="', 'datetime="9999-12-31T23:59:59Z" data-was="', 1)
    item = ArticlePage(html, URL).to_item()
    assert item.published_at is None or item.published_at == reference.published_at
    item.to_dict()  # every date can be shown


RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>t</title>
<item><title>good</title><link>https://nhandan.vn/a-post981001.html</link>
  <pubDate>Thu, 27 Mar 2025 08:15:00 +0700</pubDate></item>
<item><title>huge id</title><link>https://nhandan.vn/b-post12345678901234567890123.html</link></item>
<item><title>end of time</title><link>https://nhandan.vn/c-post981002.html</link>
  <pubDate>Fri, 31 Dec 9999 23:59:59 GMT</pubDate></item>
<item><title>broken link</title><link>http://[::1/d-post981003.html</link></item>
<item><title>good too</title><link>https://nhandan.vn/e-post981004.html</link></item>
</channel></rss>"""


def test_one_poisoned_feed_item_is_skipped_and_listed_the_rest_are_read():
    entries = parse_rss(RSS, BASE, SITE)
    assert [entry.external_id for entry in entries] == ["981001", "981004"]
    reasons = [reason for _, reason in entries.skipped]
    assert len(reasons) == 3
    assert any("23 digits" in reason for reason in reasons)
    assert any("implausible date" in reason for reason in reasons)
    assert any("unreadable link" in reason for reason in reasons)


def test_a_sitemap_lastmod_at_the_end_of_time_skips_that_entry_only():
    xml = (FIXTURES / "google-news.xml").read_text(encoding="utf-8")
    plain = parse_urlset(xml, BASE, SITE)
    poison = f"<url><loc>{BASE}/het-gio-post981999.html</loc><lastmod>9999-12-31T23:59:59Z</lastmod></url>"
    entries = parse_urlset(xml.replace("<url>", poison + "<url>", 1), BASE, SITE)
    assert entries == plain and [url for url, _ in entries.skipped] == [f"{BASE}/het-gio-post981999.html"]


# -- #17: one sitemap under many query strings is one sitemap ------------------------------------


def test_a_sitemap_listed_under_3000_query_strings_is_listed_once():
    refs = "".join(f"<sitemap><loc>{BASE}/sitemaps/news-2026-8.xml?v={i}</loc></sitemap>" for i in range(3000))
    refs += f"<sitemap><loc>{BASE}/sitemaps/news-2026-7.xml</loc></sitemap>"
    index = f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{refs}</sitemapindex>'
    assert [ref.url for ref in parse_sitemap_index(index, BASE, SITE)] == [
        f"{BASE}/sitemaps/news-2026-8.xml?v=0",
        f"{BASE}/sitemaps/news-2026-7.xml",
    ]
