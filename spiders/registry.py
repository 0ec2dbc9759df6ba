"""The sites bantin can follow, each described once, as data.

A :class:`Site` is everything the rest of bantin may know about an outlet:
its id, names, hosts, time zone, how its article URLs map to the site's own
article id, and which Scrapy spider crawls it. The facts themselves (URL
shapes, selectors, feeds) live in the site's own package under ``spiders/``;
this module only lists them. Nothing here imports Scrapy or storage.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo


class UnknownSiteError(LookupError):
    """A site id that no registered site has."""

    def __init__(self, site_id: str, known: list[str]):
        self.site_id = site_id
        self.known = known
        super().__init__(f"unknown site {site_id!r} (known sites: {', '.join(known)})")


@dataclass(frozen=True)
class Site:
    # Stable and stored with every article and crawl run: never rename one.
    id: str
    # How readers call it ("Báo Nhân Dân"), and the short form in subjects ("NDO").
    name: str
    short_name: str
    base_url: str
    # Every host the site serves articles from (``www.`` variants included).
    hosts: tuple[str, ...]
    timezone: ZoneInfo
    # The Scrapy spider (its ``name``) that crawls this site.
    spider: str
    # The site's article URL path; its first group is the site's own article id.
    article_path: re.Pattern[str]
    # External ids are normalised by this (NDO: leading zeros dropped).
    normalise_id: Callable[[str], str] = field(default=str)
    # The site's page object as one call: (HTML, page URL) -> ExtractedArticle (`bantin extract`).
    extract: Callable[[bytes | str, str], Any] | None = None
    # The discovery sources (as the ledger names them) every crawl of the site reads:
    # `bantin status` warns when the last run's ledger lacks one.
    everyday_sources: tuple[str, ...] = ()
    # The shape of a name in a `[[sites]]` entry's ``category_feeds`` (NDO: ``kinhte-1185``), and one example;
    # None: the site reads no configured feeds.
    feed_name: re.Pattern[str] | None = None
    feed_example: str = ""

    def owns(self, url: str) -> bool:
        """An http(s) URL on one of the site's hosts."""
        parts = urlsplit(url.strip())
        return parts.scheme in ("http", "https") and (parts.hostname or "").lower() in self.hosts

    def external_id(self, url: str | None) -> str | None:
        """The site's own id for the article at this URL (any host: mirrors keep the path), or None."""
        if not url:
            return None
        match = self.article_path.search(urlsplit(url.strip()).path)
        return self.normalise_id(match.group(1)) if match else None


# Sites packaged outside this repository register a Site under this entry point group.
ENTRY_POINT_GROUP = "bantin.sites"


def _registered() -> dict[str, Site]:
    # Each site package declares its Site; importing them here is the registry.
    from importlib.metadata import entry_points

    from spiders.baoquangninh.site import SITE as BAOQUANGNINH
    from spiders.nhandan.site import SITE as NHANDAN
    from spiders.tienphong.site import SITE as TIENPHONG
    from spiders.vietnamplus.site import SITE as VIETNAMPLUS

    found = {site.id: site for site in (NHANDAN, VIETNAMPLUS, TIENPHONG, BAOQUANGNINH)}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        site = point.load()
        found.setdefault(site.id, site)
    return found


@lru_cache(maxsize=1)
def sites() -> dict[str, Site]:
    """Every registered site by id, in registration order."""
    return _registered()


def spider_modules() -> list[str]:
    """Where Scrapy's spider loader looks: this package, and each outside site's own module."""
    from importlib.metadata import entry_points

    return list(dict.fromkeys(["spiders", *(point.module for point in entry_points(group=ENTRY_POINT_GROUP))]))


def get_site(site_id: str) -> Site:
    try:
        return sites()[site_id]
    except KeyError:
        raise UnknownSiteError(site_id, list(sites())) from None


def everyday_sources(site_id: str) -> tuple[str, ...]:
    """The sources every crawl of this site reads."""
    try:
        return get_site(site_id).everyday_sources
    except UnknownSiteError:
        return ()  # a site no longer registered: its sources are nobody's promise now


def site_for_url(url: str) -> Site | None:
    """The registered site whose hosts serve this URL."""
    return next((site for site in sites().values() if site.owns(url)), None)


def resolve_url(url: str) -> tuple[str, str] | None:
    """(site id, external id) for an article URL of a registered site, else None."""
    site = site_for_url(url)
    if site is None:
        return None
    external_id = site.external_id(url)
    return (site.id, external_id) if external_id else None
