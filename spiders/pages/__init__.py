"""Page objects for nhandan.vn: HTML/XML/JSON + URL in, typed data out. No Scrapy imports."""

from __future__ import annotations

from .dates import VN_TZ, parse_datetime
from .listings import (
    Discovered,
    SitemapRef,
    parse_listing_html,
    parse_morenews_json,
    parse_rss,
    parse_sitemap_index,
    parse_urlset,
)
from .nhandan import ArticlePage, clean_author
from .selectors import SELECTORS, NdoSelectors
from .textutil import clean_text
from .urls import external_id_from_url, canonical_url, is_article_url

__all__ = [
    "SELECTORS",
    "VN_TZ",
    "ArticlePage",
    "Discovered",
    "NdoSelectors",
    "SitemapRef",
    "canonical_url",
    "clean_author",
    "clean_text",
    "external_id_from_url",
    "is_article_url",
    "parse_datetime",
    "parse_listing_html",
    "parse_morenews_json",
    "parse_rss",
    "parse_sitemap_index",
    "parse_urlset",
]
