"""tienphong.vn as data: its registry entry and its row of the vendor CMS table.

Labels are the map's (``sites.md`` §2): [SEEN] in someone's working code, [INFER] reasoned.
No Scrapy here: the registry (and through it the CLI) imports this module.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from spiders.registry import Site
from spiders.vendorcms.profile import SourcePaths, VendorCmsProfile
from spiders.vendorcms.selectors import GENERIC_CLUTTER, ArticleSelectors, ListingSelectors, VendorCmsSelectors

PATHS = SourcePaths(
    # ``/sitemap.xml``, ``/sitemaps/google-news.xml``, monthly ``news-{Y}-{M}.xml`` [SEEN].
    google_news="/sitemaps/google-news.xml",
    home_feed="/rss/home.rss",
    # ``kinh-te-3``, ``xa-hoi-2``, ``the-gioi-5``... [SEEN, verified 2026-10-08].
    category_feed="/rss/{feed}.rss",
    sitemap_index="/sitemap.xml",
    monthly_sitemap=re.compile(r"news-(\d{4})-(\d{1,2})\.xml"),
    # No latest-news page and no search are mapped; the zone API is [SEEN] on api.tienphong.vn,
    # answering ``data.contents[]`` JSON with epoch dates. Zones 3 Kinh tế, 166 Địa ốc, 5 Thế giới.
    more_zone="/api/morenews-zone-{zone}-{page}.html?phrase=&page_size=20&sz={zone}&st=zone",
    more_zones=(3, 166, 5),
    more_format="contents",
    api_origin="https://api.tienphong.vn",
)

# The outlet's identity; the family completes it from the row (``SITE`` below).
IDENTITY = Site(
    id="tienphong",
    name="Báo Tiền Phong",
    short_name="Tiền Phong",
    base_url="https://tienphong.vn",
    hosts=("tienphong.vn", "www.tienphong.vn"),
    timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
    spider="tienphong",
    # ``/<slug>-post<ID>.tpo`` [SEEN]; author (``/author/<slug>-<id>.tpo``) and event pages have no ``-post``.
    article_path=re.compile(r"/[^/]+-post(\d+)\.tpo$"),
    feed_example="kinh-te-3",
)

SELECTORS = VendorCmsSelectors(
    article=ArticleSelectors(
        # ``div.col-27.article-content`` is the article column [SEEN].
        scope=("div.article", "article.article", "div.col-27.article-content", "main"),
        title=("h1.article__title.cms-title", "h1.article__title"),
        sapo=("div.article__sapo.cms-desc", ".article__sapo"),
        # The older layout drops ``zce-content-body`` [SEEN].
        body=(".article__body.zce-content-body.cms-body", ".article__body.cms-body"),
        # The visible ``span.time`` is what working crawlers read [SEEN]; a ``datetime`` first when present.
        published=(".article__meta time[datetime]", ".article__meta span.time", "span.time"),
        published_text=(".article__meta .time", "span.time"),
        author=("div.article__author span.name.cms-author", "span.author a.cms-author span", ".article__author"),
        # [INFER] the same as NDO.
        breadcrumbs=(".breadcrumbs .text", ".breadcrumbs a"),
        tag_links=('a[href*="/tu-khoa/"]',),
        teasers=(".article-relate", ".related-news", "article.story"),
        clutter=(
            # Tiền Phong's related box inside the body [SEEN]; the family's too.
            ".article-relate",
            ".related-news",
            "article.story",
            "div.qc",
            '[id^="adsWeb_"]',
            *GENERIC_CLUTTER,
            '[class*="player"]',
            ".article__footer",
            "footer",
        ),
        chrome=(
            "header",
            "nav",
            "aside",
            ".header",
            ".footer",
            ".sidebar",
            ".breadcrumbs",
            ".article__meta",
            ".article__tag",
        ),
        legacy_picture="table.picture",
        legacy_img="td.pic img",
        legacy_caption="td.caption",
    ),
    listing=ListingSelectors(
        # ``article.story``, ``h2|h3.story__heading a.cms-link`` [SEEN].
        story="article.story",
        story_link=(".story__heading a.cms-link", ".story__heading a"),
        search_link=(),
        story_time=("time[datetime]", ".story__time", ".story__meta time", "time"),
        more_article="article",
        more_link=("h3 a", "h2 a", ".story__heading a", "a.cms-link"),
        more_date=("a.text.text2", ".story__time", "time"),
    ),
)

PROFILE: VendorCmsProfile = VendorCmsProfile(
    site=IDENTITY,
    paths=PATHS,
    selectors=SELECTORS,
    paper_names=frozenset(
        {
            "Báo Tiền Phong",
            "Tiền Phong",
            "Tiền Phong Online",
            "TPO",
            "TP",
            "tienphong.vn",
        }
    ),
    home_crumbs=frozenset({"Trang chủ", "Home", "Tiền Phong", "Báo Tiền Phong"}),
    title_suffix=re.compile(r"\s*[|\-–—]\s*(?:báo\s+)?tiền phong(?:\s+online)?\s*$", re.I),
    # [INFER] the family's footer lines with Tiền Phong's name.
    footer_lines=re.compile(
        r"^(?:©|bản quyền thuộc về báo tiền phong|tổng biên tập\s*:|cơ quan chủ quản\s*:"
        r"|giấy phép số\b)",
        re.I,
    ),
    # "TP - " / "TPO - " before the sapo [SEEN stored pages].
    sapo_prefix=re.compile(r"^TPO?\s*-\s*"),
    image_hosts=("image.tienphong.vn", "photo-cms-tpo.epicdn.me", "cdn.tienphong.vn"),
)

# The registry's entry: the identity with the id normalisation, page object and sources the row implies.
SITE = PROFILE.site
