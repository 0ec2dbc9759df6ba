"""What every site's page objects and parsers share: HTML/XML + URL in, typed data out. No Scrapy imports.

Nothing here knows an outlet: article URL shapes, ids and time zones come from the
site (``spiders.registry.Site``), selectors from its package.
"""

from __future__ import annotations

from .css import xpath, xpath_any
from .dates import parse_datetime
from .listings import Discovered, SitemapRef, collect, parse_rss, parse_sitemap_index, parse_urlset
from .textutil import clean_text, dedupe
from .urls import absolute_http_url, canonical_url, same_site

__all__ = [
    "Discovered",
    "SitemapRef",
    "absolute_http_url",
    "canonical_url",
    "clean_text",
    "collect",
    "dedupe",
    "parse_datetime",
    "parse_rss",
    "parse_sitemap_index",
    "parse_urlset",
    "same_site",
    "xpath",
    "xpath_any",
]
