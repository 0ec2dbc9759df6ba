"""www.vietnamplus.vn as data: its registry entry and its row of the vendor CMS table.

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
    # ``/sitemap.xml`` index, ``/sitemaps/google-news.xml``, monthly ``news-YYYY-M.xml`` [SEEN 2026-07-01].
    google_news="/sitemaps/google-news.xml",
    home_feed="/rss/home.rss",
    # ``kinhte``, ``kinhte-311``, ``xahoi/phapluat-327``... [SEEN].
    category_feed="/rss/{feed}.rss",
    sitemap_index="/sitemap.xml",
    monthly_sitemap=re.compile(r"news-(\d{4})-(\d{1,2})\.xml"),
    # No latest-news page, search or vi-edition "load more" is mapped (only the zh edition's
    # topic API is [SEEN]; its vi twin and answer shape are [INFER]): feeds and sitemaps only.
)

# The outlet's identity; the family completes it from the row (``SITE`` below).
IDENTITY = Site(
    id="vietnamplus",
    name="VietnamPlus",
    short_name="VietnamPlus",
    base_url="https://www.vietnamplus.vn",
    # ``en.`` and ``zh.`` are other editions on other hosts: not this site.
    hosts=("www.vietnamplus.vn", "vietnamplus.vn"),
    timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
    spider="vietnamplus",
    # ``/<slug>-post<ID>.vnp`` [SEEN post1128969]; old section pages (``/kinhte.vnp``) have no ``-post``.
    article_path=re.compile(r"/[^/]+-post(\d+)\.vnp$"),
    feed_example="kinhte-311",
)

SELECTORS = VendorCmsSelectors(
    article=ArticleSelectors(
        # ``.main-col.content-col`` is the wider column, where the footer lines come in [SEEN].
        scope=("div.article", "article.article", "div.main-col.content-col", "main"),
        title=("h1.article__title.cms-title", "h1.article__title"),
        sapo=(".article__sapo.cms-desc", ".article__sapo"),
        body=(".article__body.zce-content-body.cms-body", ".article__body.cms-body"),
        # The map has JSON-LD ``datePublished`` first [SEEN]; a ``time[datetime]`` is [INFER].
        published=(".article__meta time[datetime]", "time.time[datetime]"),
        published_text=(".article__meta .time", "span.time"),
        author=(".article__author", "span.author.cms-author"),
        breadcrumbs=("div.breadcrumb.breadcrumb-detail h2 a", ".breadcrumbs .text", ".breadcrumbs a"),
        # No tag links are mapped: tags come from the keywords meta [SEEN], recorded as a fallback.
        tag_links=(),
        teasers=(".related-news", "article.story"),
        clutter=(
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
            ".breadcrumb",
            ".breadcrumbs",
            ".article__meta",
            ".article__tag",
        ),
        legacy_picture="table.picture",
        legacy_img="td.pic img",
        legacy_caption="td.caption",
    ),
    listing=ListingSelectors(
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
    # Creators matching /Vietnam\+/ are the site itself [SEEN Zotero].
    paper_names=frozenset(
        {
            "VietnamPlus",
            "Vietnam+",
            "TTXVN/Vietnam+",
            "Vietnam+ (VietnamPlus)",
            "Báo điện tử VietnamPlus",
            "vietnamplus.vn",
        }
    ),
    home_crumbs=frozenset({"Trang chủ", "Home", "VietnamPlus", "Vietnam+"}),
    title_suffix=re.compile(
        r"\s*[|\-–—]\s*(?:báo điện tử\s+)?"
        r"(?:vietnam\+\s*\(vietnamplus\)|vietnamplus|vietnam\+)\s*$",
        re.I,
    ),
    # "Cơ quan chủ quản: THÔNG TẤN XÃ VIỆT NAM", "© Bản quyền thuộc về VietnamPlus, TTXVN" [SEEN].
    footer_lines=re.compile(
        r"^(?:©|cơ quan chủ quản\s*:|bản quyền thuộc về vietnamplus|tổng biên tập\s*:|giấy phép số\b)",
        re.I,
    ),
    sapo_prefix=None,
    image_hosts=("imagev3.vietnamplus.vn",),
)

# The registry's entry: the identity with the id normalisation, page object and sources the row implies.
SITE = PROFILE.site
