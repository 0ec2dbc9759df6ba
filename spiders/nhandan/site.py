"""nhandan.vn as data: its registry entry and its row of the vendor CMS table.

No Scrapy here: the registry (and through it the CLI) imports this module.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from spiders.registry import Site
from spiders.vendorcms.profile import SourcePaths, VendorCmsProfile
from spiders.vendorcms.selectors import GENERIC_CLUTTER, ArticleSelectors, ListingSelectors, VendorCmsSelectors

PATHS = SourcePaths(
    google_news="/sitemaps/google-news.xml",
    home_feed="/rss/home.rss",
    category_feed="/rss/{feed}.rss",
    latest="/tin-moi.html",
    more_latest="/api/morenews-latest-0-{page}.html?phrase=",
    sitemap_index="/sitemap.xml",
    # ``news-2026-8.xml``; whether the month is zero-padded is unclear.
    monthly_sitemap=re.compile(r"news-(\d{4})-(\d{1,2})\.xml"),
    search="/tim-kiem/?q={term}",
    more_search="/api/morenews-search-0-{page}.html?phrase={term}",
)

# The outlet's identity; the family completes it from the row (``SITE`` below).
IDENTITY = Site(
    id="nhandan",
    name="Báo Nhân Dân",
    short_name="NDO",
    base_url="https://nhandan.vn",
    hosts=("nhandan.vn", "www.nhandan.vn"),
    timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
    spider="nhandan",
    # ``/<ascii-slug>-post<ID>.html``, no category folder; video and e-magazine pages too.
    article_path=re.compile(r"/[^/]+-post(\d+)\.html$"),
    feed_example="kinhte-1185",
)

SELECTORS = VendorCmsSelectors(
    article=ArticleSelectors(
        scope=("div.article", "article.article", "div.article-detail", "main"),
        title=("h1.article__title.cms-title", "h1.article__title"),
        # The sapo's tag varies between div and h2, so it is selected by class only.
        sapo=(".article__sapo.cms-desc", ".article__sapo"),
        body=(
            "div.article__body.zce-content-body.cms-body",
            "div.article__body.cms-body",
        ),
        published=(
            ".article__meta time.time[datetime]",
            ".article__meta time[datetime]",
        ),
        published_text=(".article__meta time", ".article__meta .time"),
        author=(".article__author",),
        breadcrumbs=(".breadcrumbs .text", ".breadcrumbs a"),
        tag_links=('a[href*="/tu-khoa/"]',),
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
        story_link=(
            ".story__heading a.cms-link",
            ".story__heading a",
        ),
        search_link=(".box-search-result .story__heading a",),
        story_time=("time[datetime]", ".story__time", ".story__meta time", "time"),
        more_article="article",
        more_link=("h3 a", "h2 a", ".story__heading a", "a.cms-link"),
        # The date is the last text of ``a.text.text2``.
        more_date=("a.text.text2", ".story__time", "time"),
    ),
)

PROFILE: VendorCmsProfile = VendorCmsProfile(
    site=IDENTITY,
    paths=PATHS,
    selectors=SELECTORS,
    paper_names=frozenset(
        {
            "Báo Nhân Dân điện tử",
            "Báo Nhân Dân",
            "Nhân Dân điện tử",
            "Nhân Dân",
            "NDO",
            "Báo NDO",
            "nhandan.vn",
            "Nhân Dân Online",
        }
    ),
    home_crumbs=frozenset({"Trang chủ", "Home", "Nhân Dân", "Báo Nhân Dân"}),
    title_suffix=re.compile(r"\s*[|\-–—]\s*(?:báo\s+)?nhân dân(?:\s+điện tử)?\s*$", re.I),
    footer_lines=re.compile(
        r"^(?:©|bản quyền thuộc về báo nhân dân|tổng biên tập\s*:|phó tổng biên tập\s*:"
        r"|trụ sở bộ biên tập\s*:|giấy phép số\b.*bộ thông tin)",
        re.I,
    ),
    # NDO's "NDO - " dateline is kept: it is part of the sapo as the paper writes it.
    sapo_prefix=None,
    image_hosts=("image.nhandan.vn", "media.nhandan.vn"),
)

# The registry's entry: the identity with the id normalisation, page object and sources the row implies.
SITE = PROFILE.site
