"""baoquangninh.vn as data: its registry entry, its feeds, selectors and names.

Labels are the map's (``sites.md`` §3): [SEEN] in someone's working code, [INFER] reasoned.
No article selector is [SEEN]: the selectors below are [INFER], written against the sample
site's look-alike, and wait for a live check (``bantin sites check --site baoquangninh``).
No Scrapy here: the registry (and through it the CLI) imports this module.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from spiders.pages.html import GENERIC_CLUTTER
from spiders.registry import Site

from .profile import ArticleSelectors, FeedPaths, MetaKeys, OwnCmsProfile

FEEDS = FeedPaths(
    # ``/rss`` lists the category feeds, ``/rss/news/<slug>.rss``: about 48 of them [SEEN 2026-03].
    # ``/rss/home.rss`` appears only in generic lists, by analogy with other CMSs [INFER, doubtful].
    index="/rss",
    feed=re.compile(r"^/rss/news/([A-Za-z0-9-]+)\.rss$"),
    feed_path="/rss/news/{feed}.rss",
)

# The paper's identity; its row completes it (``SITE`` below).
IDENTITY = Site(
    id="baoquangninh",
    name="Báo Quảng Ninh",
    short_name="Báo Quảng Ninh",
    base_url="https://baoquangninh.vn",
    # The paper moved from baoquangninh.com.vn (2022) to baoquangninh.vn (2024-2026) [SEEN].
    hosts=("baoquangninh.vn", "www.baoquangninh.vn", "baoquangninh.com.vn", "www.baoquangninh.com.vn"),
    timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
    spider="baoquangninh",
    # ``/<slug>-<7-digit id>.html``, no folder: ``/truyen-hinh/...`` (live TV) and section pages are no articles.
    article_path=re.compile(r"^/[^/]+-(\d{7})\.html$"),
    # ``/rss/news/<name>.rss``: ``than-khoang-san``, ``thuc-hien-NQ57-ve-KHCN`` [SEEN].
    feed_name=re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$"),
    feed_example="than-khoang-san",
)

SELECTORS = ArticleSelectors(
    scope=("article.article-detail", "div.article-detail", "main"),
    title=("h1.article-title", "h1.title-detail", "h1.title"),
    sapo=(".article-sapo", ".sapo"),
    body=("div.article-content", "div.content-detail", '[itemprop="articleBody"]'),
    published=(".article-meta .article-date", ".article-date", ".date-time"),
    author=(".article-author",),
    breadcrumbs=(".breadcrumb a",),
    # The "Từ khóa" box that follows the text [SEEN: the cleaning rule cuts there].
    tag_links=(".box-tags a", ".article-tags a", ".tags a"),
    clutter=(
        # Ads zones and their tracking links inside the body [SEEN 2025-11].
        "div.ads-zone-group",
        '[id^="ads-zone-"]',
        'a[href*="/ads-tracking"]',
        ".video-player",
        ".video-controls",
        *GENERIC_CLUTTER,
    ),
    chrome=(
        "header",
        "nav",
        "aside",
        "footer",
        ".header",
        ".footer",
        ".breadcrumb",
        ".article-meta",
        "article.card",
    ),
)

PROFILE = OwnCmsProfile(
    site=IDENTITY,
    feeds=FEEDS,
    selectors=SELECTORS,
    meta=MetaKeys(),
    paper_names=frozenset(
        {
            "Báo Quảng Ninh",
            "Báo Quảng Ninh điện tử",
            "Quảng Ninh điện tử",
            "baoquangninh.vn",
            "baoquangninh.com.vn",
            "QMG",
            "Trung tâm Truyền thông tỉnh Quảng Ninh",
        }
    ),
    home_crumbs=frozenset({"Trang chủ", "Home", "Báo Quảng Ninh"}),
    title_suffix=re.compile(r"\s*[|\-–—]\s*(?:báo\s+)?quảng ninh(?:\s+điện tử)?\s*$", re.I),
    # "### Từ khóa", "### Tin liên quan", "### Ý kiến bạn đọc" end the text [SEEN BaoQuangNinhRule].
    body_ends=frozenset({"Từ khóa", "Từ khoá", "Tin liên quan", "Ý kiến bạn đọc", "Tin cùng chuyên mục"}),
    footer_lines=re.compile(r"^(?:©|bản quyền thuộc về|cơ quan chủ quản\s*:|giấy phép số\b)", re.I),
    # ``media.baoquangninh.vn/upload/image/YYYYMM/medium|original/...``, older ``dataimages/YYYYMM/`` [SEEN].
    image_hosts=("media.baoquangninh.vn",),
)

# The registry's entry: the identity with the id normalisation, page object and source the row implies.
SITE = PROFILE.site
