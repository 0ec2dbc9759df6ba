"""The baoquangninh.vn spider (``scrapy crawl baoquangninh``): its category feeds, found on its feed index.

Every run reads ``/rss`` and then each category feed it lists (about 48 on the live site), or
only those the configuration's ``category_feeds`` names; an article in several feeds is
requested once (the archive filter). The map knows no sitemap, latest-news page or search for
the site, so there are none here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import scrapy

from spiders.navigation import SiteSpider
from spiders.pages.listings import parse_rss

from .article import ArticlePage
from .listings import parse_feed_index
from .profile import RSS, OwnCmsProfile
from .site import PROFILE, SITE


class BaoquangninhSpider(SiteSpider):
    name = "baoquangninh"
    site = SITE
    profile: ClassVar[OwnCmsProfile] = PROFILE

    def source_requests(self) -> Iterator[scrapy.Request]:
        yield self.source_request(self.profile.feeds.index, RSS, self.parse_feed_index)

    def page_object(self, body: bytes, url: str, encoding: str | None) -> ArticlePage:
        return ArticlePage(body, url, self.profile, encoding=encoding)

    def parse_feed_index(self, response):
        def follow() -> Iterator[scrapy.Request]:
            listed = parse_feed_index(response.body, self.base_url, self.profile)
            wanted = set(self.category_feeds)
            feeds = [(name, url) for name, url in listed if not wanted or name in wanted]
            if wanted:
                # A configured feed the index no longer lists is still read: the index may be
                # incomplete, and a feed that is gone shows up as a failed source page.
                known = {name for name, _ in listed}
                feeds += [
                    (name, self.profile.feeds.feed_path.format(feed=name))
                    for name in self.category_feeds
                    if name not in known
                ]
            # The index was read: a page of the source that lists feeds, not articles.
            response.meta["bantin_announced"] = True
            response.meta["bantin_listed"] = len(listed)
            for _, url in feeds:
                yield self.source_request(url, RSS, self.parse_feed)

        yield from self.guarded(response, follow)

    def parse_feed(self, response):
        yield from self.guarded(
            response, lambda: self.announce(response, parse_rss(response.body, self.base_url, self.site))
        )
