"""Text and URL helpers of the page objects."""

from __future__ import annotations

import unicodedata
from dataclasses import fields

import pytest

from spiders.nhandan import PROFILE, SITE
from spiders.pages import canonical_url, clean_text, same_site, xpath


def test_clean_text_nfc_eth_invisible_and_spaces():
    raw = unicodedata.normalize("NFD", "Ðà Nẵng\u00a0và\u200b  ðất\u00ad\ufeff nước\n")
    assert clean_text(raw) == "Đà Nẵng và đất nước"
    assert clean_text(None) == ""


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://nhandan.vn/siet-chat-post981234.html", 981234),
        ("https://nhandan.vn/video-le-thuong-co-post983000.html?utm_source=x#top", 983000),
        ("/bai-post5.html", 5),
        ("https://nhandan.vn/chinhtri", None),
        ("https://nhandan.vn/tu-khoa/luadaoquamang-tag20806.html", None),
        ("https://nhandan.vn/post981234.html", None),
        ("https://nhandan.vn/a-post12.html/extra", None),
        (None, None),
    ],
)
def test_external_id_from_url(url, expected):
    assert SITE.external_id(url) == (None if expected is None else str(expected))


def test_canonical_url_strips_query_and_fragment():
    assert canonical_url("HTTPS://NhanDan.vn/a-post1.html?utm_source=x&b=2#c") == "https://nhandan.vn/a-post1.html"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://nhandan.vn/a-post1.html", True),
        ("/a-post1.html?x=1", True),
        ("https://www.nhandan.vn/a-post1.html", True),
        ("http://nhandan.vn/a-post1.html", True),
        ("https://en.nhandan.vn/a-post1.html", False),
        ("https://evil.example/a-post1.html", False),
        ("https://nhandan.vn/chinhtri", False),
        ("javascript:alert('-post1.html')", False),
    ],
)
def test_is_article_url_same_host_only(url, expected):
    assert is_article_url(url, "https://nhandan.vn") is expected


def test_is_article_url_respects_sample_site_port():
    assert is_article_url("http://127.0.0.1:8123/a-post1.html", "http://127.0.0.1:8123/")
    assert not is_article_url("http://127.0.0.1:9999/a-post1.html", "http://127.0.0.1:8123/")


def is_article_url(url: str, base_url: str) -> bool:
    """What the listing parsers keep: an NDO article URL on the base URL's host."""
    from spiders.pages.urls import absolute_http_url

    absolute = absolute_http_url(url, base_url)
    return absolute is not None and same_site(absolute, base_url) and SITE.external_id(absolute) is not None


def test_every_selector_compiles():
    checked = 0
    for group in (PROFILE.selectors.article, PROFILE.selectors.listing):
        for spec in fields(group):
            if spec.name == "img_attrs":  # attribute names, not selectors
                continue
            value = getattr(group, spec.name)
            for css in value if isinstance(value, tuple) else (value,):
                xpath(css)
                checked += 1
    assert checked > 30


def test_control_characters_from_the_page_are_dropped():
    from spiders.pages.textutil import clean_text

    assert clean_text("Tin\x1b[31m nóng\x07 hôm\x00 nay\x9b") == "Tin[31m nóng hôm nay"
    assert clean_text("dòng một\ndòng\thai") == "dòng một dòng hai"
