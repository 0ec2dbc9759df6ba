"""ArticlePage on saved NDO-like pages: every field, every clutter kind, every fallback layer."""

from __future__ import annotations

import logging
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crawler.errors import ExtractionError
from crawler.items import Image
from spiders.nhandan import PROFILE
from spiders.vendorcms.article import ArticlePage, clean_author

FIXTURES = Path(__file__).parent / "fixtures" / "ndo"
ICT = timezone(timedelta(hours=7))
FULL_URL = "https://nhandan.vn/siet-chat-quan-ly-cong-nghiep-ho-tro-tai-quang-ninh-post981234.html"
TITLE = "Siết chặt quản lý “công nghiệp hỗ trợ” tại Quảng Ninh"


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def extract(name: str, url: str):
    return ArticlePage(load(name), url, PROFILE).to_item()


@pytest.fixture(scope="module")
def full():
    return extract("article_full.html", FULL_URL + "?utm_source=facebook#comments")


# -- the full modern page ------------------------------------------------------------------------


def test_identity_and_canonical_url(full):
    assert full.external_id == "981234"
    assert full.url == FULL_URL


def test_saved_file_takes_the_pages_own_canonical_url():
    saved = extract("article_full.html", (FIXTURES / "article_full.html").resolve().as_uri())
    assert saved.url == FULL_URL
    assert saved.external_id == "981234"


def test_title_keeps_curly_quotes(full):
    assert full.title == TITLE


def test_sapo_selected_by_class_on_h2_as_written(full):
    assert full.sapo == (
        "NDO - Tỉnh Quảng Ninh đặt mục tiêu nâng tỷ lệ nội địa hóa trong ngành công nghiệp hỗ trợ lên 45% vào năm 2030."
    )


def test_body_paragraphs_notebox_and_headings_in_order(full):
    assert full.body.split("\n\n") == [
        "Sáng 8/8, Ủy ban nhân dân tỉnh Quảng Ninh tổ chức hội thảo về phát triển công nghiệp hỗ trợ.",
        "Theo báo cáo, toàn tỉnh hiện có 120 doanh nghiệp hoạt động trong lĩnh vực này.",
        "Những thách thức đặt ra",
        "Nhiều doanh nghiệp vẫn phụ thuộc vào nguồn nguyên liệu nhập khẩu.",
        "Doanh nghiệp cần hỗ trợ có thể liên hệ Sở Công Thương.",
        "Hội thảo kết thúc trong ngày.",
    ]


@pytest.mark.parametrize(
    "clutter",
    [
        "Bài liên quan một",  # related-news teaser nested inside the body
        "Tin liên quan",  # related-news heading
        "Tin khác",  # sidebar article.story teaser
        "Quảng cáo",  # div.qc and adsWeb_* slots
        "googletag",
        "loadAds",  # scripts
        "color:red",  # style
        "Khung video nhúng",  # iframe
        "JavaScript",  # noscript
        "0:00",  # player time labels
        "ảnh 1",
        "ảnh 2",  # image alt lines
        "Quang cảnh hội thảo.",  # caption duplicated as a paragraph
        "Một nhà máy sản xuất linh kiện.",  # legacy table.picture caption
        "Bản quyền thuộc về Báo Nhân Dân",
        "Tổng Biên tập",
        "71 Hàng Trống",  # footer lines
    ],
)
def test_no_clutter_reaches_body(full, clutter):
    assert clutter not in full.body
    assert clutter not in full.sapo


def test_body_has_no_empty_paragraphs_or_stray_whitespace(full):
    for paragraph in full.body.split("\n\n"):
        assert paragraph and paragraph == " ".join(paragraph.split())


def test_author_prefix_and_paper_name_removed(full):
    assert full.author == "VĂN CHÚC"


def test_dates_are_aware_and_read_from_offset_without_colon(full):
    assert full.published_at == datetime(2026, 8, 8, 7, 15, tzinfo=ICT)
    assert full.modified_at == datetime(2026, 8, 8, 9, 30, tzinfo=ICT)
    assert full.to_dict()["published_at"] == "2026-08-08T07:15:00+07:00"


def test_category_parent_first_from_breadcrumbs(full):
    assert full.category == ["Kinh tế", "Chính sách"]


def test_tags_from_article_tag_links_only(full):
    # Header "hot tags", related-news and sidebar tag links belong to other pages.
    assert full.tags == ["Công nghiệp hỗ trợ", "Quảng Ninh"]


def test_images_lazy_src_legacy_table_captions_deduped(full):
    assert full.images == [
        Image("https://image.nhandan.vn/w800/Uploaded/2026/hoithao.jpg", "Quang cảnh hội thảo."),
        Image("https://nhandan.vn/Uploaded/2026/nhamay.jpg", "Một nhà máy sản xuất linh kiện."),
    ]
    assert not any(image.url.startswith("data:") for image in full.images)


def test_site_layer_served_without_fallbacks(full):
    assert full.extractor == "site"
    assert full.fallbacks == []


def test_to_item_is_stable_across_calls():
    page = ArticlePage(load("article_full.html"), FULL_URL, PROFILE)
    assert page.to_item() is page.to_item()


def test_str_input_gives_the_same_item(full):
    item = ArticlePage(load("article_full.html").decode("utf-8"), FULL_URL, PROFILE).to_item()
    assert item.to_dict() == full.to_dict()


# -- layers ------------------------------------------------------------------------------------


def test_jsonld_and_meta_layer_when_site_selectors_miss(caplog):
    with caplog.at_level(logging.INFO, logger="bantin.extract"):
        item = extract("article_jsonld.html", "https://nhandan.vn/gia-lua-tang-manh-post982000.html")
    assert item.extractor == "jsonld"
    assert item.title == "Giá lúa tăng mạnh ở Đồng bằng sông Cửu Long"
    assert item.body == (
        "Giá lúa tại các tỉnh Đồng bằng sông Cửu Long tiếp tục tăng.\n\n"
        "Thương lái thu mua lúa tươi với giá cao hơn tuần trước."
    )
    assert item.sapo == "Giá lúa tại nhiều tỉnh tăng 500 đồng mỗi ki-lô-gam trong tuần qua."
    assert item.author == "MINH HÀ"  # JSON-LD author list: prefix and paper name dropped
    assert item.published_at == datetime(2026, 8, 7, 6, 0, tzinfo=ICT)
    assert item.modified_at == datetime(2026, 8, 7, 10, 0, tzinfo=ICT)
    assert item.category == ["Kinh tế", "Thị trường"]  # article:section metas, in order, deduplicated
    assert item.tags == ["giá lúa", "Đồng bằng sông Cửu Long", "xuất khẩu gạo"]
    assert item.images == [Image("https://nhandan.vn/Uploaded/2026/lua.jpg", "Thu hoạch lúa.")]
    assert item.fallbacks == ["title", "sapo", "body", "author", "published_at", "category", "tags"]
    assert "served by jsonld layer" in caplog.text


def test_generic_layer_when_site_and_structured_data_miss(caplog):
    with caplog.at_level(logging.INFO, logger="bantin.extract"):
        item = extract("article_generic.html", "https://nhandan.vn/khanh-thanh-cau-moi-post982100.html")
    assert item.extractor == "generic"
    assert item.title == "Khánh thành cầu mới bắc qua sông Hồng"  # <title> without the paper's suffix
    paragraphs = item.body.split("\n\n")
    assert paragraphs[0].startswith("Sáng nay, thành phố Hà Nội khánh thành")
    assert paragraphs[-1].startswith("Người dân hai bên bờ sông")
    for clutter in ("Quảng cáo", "0:00", "Bản quyền", "Hàng Trống", "Trang chủ", "Một tin khác"):
        assert clutter not in item.body
    assert set(item.fallbacks) == {"title", "body"}
    assert "served by generic layer" in caplog.text


def test_site_layer_logged_at_debug(caplog):
    with caplog.at_level(logging.DEBUG, logger="bantin.extract"):
        extract("article_full.html", FULL_URL)
    assert "served by site layer" in caplog.text


def test_jsonld_article_body_serves_when_no_body_block():
    html = """<html><head><script type="application/ld+json">
    {"@graph": [{"@type": "NewsArticle", "headline": "Tiêu đề", "articleBody": "Đoạn một.\\n\\nĐoạn hai."}]}
    </script></head><body><h1 class="article__title">Tiêu đề</h1></body></html>"""
    item = ArticlePage(html, "https://nhandan.vn/tieu-de-post5.html", PROFILE).to_item()
    assert (item.extractor, item.body, item.fallbacks) == ("jsonld", "Đoạn một.\n\nĐoạn hai.", ["body"])


# -- failures ----------------------------------------------------------------------------------


def test_page_without_title_raises():
    with pytest.raises(ExtractionError) as info:
        extract("article_notitle.html", "https://nhandan.vn/khong-co-post1.html")
    assert info.value.url == "https://nhandan.vn/khong-co-post1.html"
    assert "title" in info.value.reason


def test_page_whose_body_is_only_clutter_raises():
    with pytest.raises(ExtractionError) as info:
        extract("article_nobody.html", "https://nhandan.vn/bai-viet-trong-post2.html")
    assert "body" in info.value.reason


@pytest.mark.parametrize("html", ["", "   ", b""])
def test_empty_page_raises(html):
    with pytest.raises(ExtractionError):
        ArticlePage(html, "https://nhandan.vn/x-post1.html", PROFILE).to_item()


def test_page_without_any_article_id_raises():
    with pytest.raises(ExtractionError, match="article id"):
        extract("article_generic.html", "https://nhandan.vn/tin-moi.html")


# -- identity ---------------------------------------------------------------------------------


def test_offsite_og_url_ignored_for_sample_site_url():
    item = extract("article_video.html", "http://127.0.0.1:8123/video-le-thuong-co-post983000.html?x=1#t")
    assert item.url == "http://127.0.0.1:8123/video-le-thuong-co-post983000.html"
    assert item.external_id == "983000"


def test_id_from_og_url_when_requested_url_has_none():
    item = extract("article_full.html", "https://nhandan.vn/redirect?id=981234")
    assert (item.external_id, item.url) == ("981234", FULL_URL)


def test_id_from_dable_item_id_as_last_resort():
    item = extract("article_video.html", "http://127.0.0.1:9/xem?id=1")
    assert item.external_id == "983000"


# -- video page, legacy/NFD page ----------------------------------------------------------------


def test_video_page_player_labels_dropped_notebox_paragraphs_kept():
    item = extract("article_video.html", "https://nhandan.vn/video-le-thuong-co-post983000.html")
    assert item.body == (
        "Hàng nghìn người dân và du khách đã tới dự lễ thượng cờ.\n\n"
        "Lễ thượng cờ diễn ra lúc 6 giờ hằng ngày.\n\nLễ hạ cờ lúc 21 giờ."
    )
    assert item.author == "THÀNH ĐẠT"  # "Video:" prefix gone; "Ảnh: NDO" is the paper itself
    assert item.category == ["Video"]


@pytest.fixture(scope="module")
def legacy():
    return extract("article_legacy_nfd.html", "https://nhandan.vn/doan-cong-tac-tham-ha-giang-post700001.html")


def test_legacy_fixture_really_is_nfd_with_eth():
    raw = load("article_legacy_nfd.html").decode("utf-8")
    assert "\u00d0" in raw and not unicodedata.is_normalized("NFC", raw) and "\u200b" in raw


def test_nfd_eth_zero_width_and_nbsp_normalised(legacy):
    for value in (
        legacy.title,
        legacy.sapo,
        legacy.body,
        legacy.author,
        *legacy.category,
        *legacy.tags,
        *(image.caption for image in legacy.images),
    ):
        assert unicodedata.is_normalized("NFC", value)
        assert not set(value) & {"\u00d0", "\u00f0", "\u200b", "\u200d", "\u00a0"}
    assert legacy.title == "Đoàn công tác thăm Hà Giang"
    assert legacy.sapo == "Đoàn đã tặng quà cho học sinh vùng cao."
    assert legacy.body == "Chuyến đi kéo dài ba ngày tại huyện Đồng Văn.\n\nCác em học sinh rất vui."


def test_legacy_body_class_table_picture_and_visible_date(legacy):
    assert legacy.extractor == "site"
    assert legacy.images == [Image("https://image.nhandan.vn/Uploaded/2025/dongvan.jpg", "Cao nguyên đá Đồng Văn.")]
    assert legacy.published_at == datetime(2025, 3, 27, 8, 15, tzinfo=ICT)
    assert legacy.fallbacks == ["published_at"]  # no time[datetime], no JSON-LD/meta: visible text served
    assert legacy.category == ["Xã hội"]  # "Trang chủ" crumb dropped
    assert legacy.author == "Trần Đức, LÊ HÙNG"


# -- author cleaning ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bài và ảnh: VĂN CHÚC", "VĂN CHÚC"),
        ("Bài, ảnh: Trần Đức", "Trần Đức"),
        ("Bài và ảnh:VĂN CHÚC", "VĂN CHÚC"),
        ("Ảnh: LÊ HÙNG", "LÊ HÙNG"),
        ("Bài: HÀ AN - Ảnh: BÌNH MINH", "HÀ AN, BÌNH MINH"),
        ("Bài: HÀ AN; Ảnh: HÀ AN", "HÀ AN"),
        ("Theo TTXVN", "TTXVN"),
        ("Video: THÀNH ĐẠT", "THÀNH ĐẠT"),
        ("Báo Nhân Dân điện tử; NGUYỄN VĂN B", "NGUYỄN VĂN B"),
        ("Báo Nhân Dân điện tử", ""),
        ("NDO", ""),
        ("Nhân Dân", ""),
        ("NGỌC ANH, THU HÀ", "NGỌC ANH, THU HÀ"),
        ("  Minh  Hà  ", "Minh Hà"),
        (["Bài: A", "Ảnh: NDO", "B"], "A, B"),
        ("", ""),
    ],
)
def test_clean_author(raw, expected):
    assert clean_author(raw, PROFILE.paper_names) == expected


def test_meta_author_with_paper_name_used_when_no_site_or_jsonld_author():
    html = """<html><head><meta name="author" content="Báo Nhân Dân điện tử; KIM ANH"></head><body>
    <div class="article"><h1 class="article__title">T</h1>
    <div class="article__body cms-body"><p>Nội dung.</p></div></div></body></html>"""
    item = ArticlePage(html, "https://nhandan.vn/t-post9.html", PROFILE).to_item()
    assert item.author == "KIM ANH" and "author" in item.fallbacks


def test_relative_and_non_http_image_urls():
    html = """<html><body><div class="article"><h1 class="article__title">T</h1>
    <div class="article__body cms-body"><p>Nội dung.</p>
    <figure><img src="data:image/png;base64,AAAA"></figure>
    <figure><img data-src="javascript:alert(1)"><figcaption>x</figcaption></figure>
    <figure><img src="data:image/gif;base64,R0" data-src="//image.nhandan.vn/a.jpg">
    <figcaption> Chú   thích </figcaption></figure>
    <figure><img data-src="../b.jpg"></figure>
    </div></div></body></html>"""
    item = ArticlePage(html, "https://nhandan.vn/muc/t-post9.html", PROFILE).to_item()
    assert item.images == [Image("https://image.nhandan.vn/a.jpg", "Chú thích"), Image("https://nhandan.vn/b.jpg")]
