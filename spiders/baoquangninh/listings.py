"""Báo Quảng Ninh's feed index as a pure function: the ``/rss`` page -> its category feeds.

The feeds themselves are RSS, read by the shared parser (``spiders.pages.listings.parse_rss``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from crawler.errors import ExtractionError
from spiders.pages.urls import absolute_http_url, canonical_url, same_site

if TYPE_CHECKING:
    from .profile import OwnCmsProfile


def parse_feed_index(html: str | bytes, base_url: str, profile: OwnCmsProfile) -> list[tuple[str, str]]:
    """(feed name, feed URL) of every category feed the index page links, in page order, each once.

    Only feeds on the site's own host and of the feed path's shape count: a link to another
    site's feed or to anything else on the page is no category feed of this site.
    """
    if isinstance(html, (bytes, bytearray)):
        html = bytes(html).decode("utf-8", errors="replace")
    if not html.strip():
        raise ExtractionError("empty feed index")
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"unreadable feed index: {exc}") from exc
    feeds: dict[str, str] = {}
    for a in root.iter("a"):
        try:
            url = absolute_http_url(a.get("href"), base_url)
        except ValueError:  # a broken IPv6 literal and the like
            continue
        if not url or not same_site(url, base_url):
            continue
        match = profile.feeds.feed.match(urlsplit(url).path)
        if match:
            feeds.setdefault(match.group(1), canonical_url(url))
    return list(feeds.items())
