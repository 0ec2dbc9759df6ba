"""One row per outlet on the vendor CMS: every fact the family's code needs about a site.

NDO, VietnamPlus, Tiền Phong, SGGP and PLO run the same CMS (see the team's
sites map): the article page object, the listing parsers and the spider are the
family's, and a sister outlet is a new :class:`VendorCmsProfile` in its own
package. Identity (id, hosts, article URL pattern, zone) is the site's registry
entry, held here as ``site``; the rest is what differs between the outlets.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from spiders.pages.urls import drop_leading_zeros
from spiders.registry import Site

from .selectors import VendorCmsSelectors

if TYPE_CHECKING:
    from crawler.items import ExtractedArticle

# A category feed's name on the family's sites: its slug and zone id (``kinhte-1185``, ``xahoi/phapluat-327``).
FEED_NAME = re.compile(r"^[a-z0-9][a-z0-9/-]*-\d+$")

# Source names, as stored with each article and counted in the ledger.
GOOGLE_NEWS = "google_news"
RSS = "rss"
LATEST = "latest"
SITEMAP = "sitemap"
SEARCH = "search"


@dataclass(frozen=True, kw_only=True)
class SourcePaths:
    """Where the site's discovery sources live, relative to its base URL."""

    google_news: str
    home_feed: str
    # ``{feed}``: a name from the configuration's ``category_feeds``.
    category_feed: str
    sitemap_index: str
    # Monthly sitemaps named in the index (never built: padding differs between outlets);
    # groups: year, month.
    monthly_sitemap: re.Pattern[str]
    # The latest-news page; None when the map knows none for the site.
    latest: str | None = None
    # ``{page}``: 0, 1, 2... until the dates leave the window; None: no "load more" of the latest news.
    more_latest: str | None = None
    # ``{zone}`` and ``{page}`` (0, 1, 2...): a zone's "load more", read for each of ``more_zones``.
    more_zone: str | None = None
    more_zones: tuple[int, ...] = ()
    # How the "load more" pages answer: ``articles_html`` (NDO: ``data.articles`` is an HTML
    # fragment) or ``contents`` (Tiền Phong, SGGP: ``data.contents[]`` JSON items with epoch dates).
    more_format: str = "articles_html"
    # The origin of the "load more" API on the live site (``https://api.tienphong.vn``); None: the
    # site's own. A mirror (the sample site) serves the API itself.
    api_origin: str | None = None
    # ``{term}``: the URL-quoted search term; None when the map knows no search page.
    search: str | None = None
    # ``{page}`` (1, 2...) and ``{term}``; None when the site has no "load more" for search.
    more_search: str | None = None

    @property
    def everyday_sources(self) -> tuple[str, ...]:
        """The sources every crawl reads, whatever its options (back-fill sitemaps and search are
        optional): a run whose ledger lacks one lost it somewhere (the site's ``everyday_sources``)."""
        has_latest = any(path is not None for path in (self.latest, self.more_latest, self.more_zone))
        return (GOOGLE_NEWS, RSS, *((LATEST,) if has_latest else ()))

    def __post_init__(self) -> None:
        if self.more_format not in ("articles_html", "contents"):
            raise ValueError(f"unknown load-more format {self.more_format!r}")


@dataclass(frozen=True, kw_only=True)
class VendorCmsProfile:
    """A sister outlet's row. ``site`` is given as the outlet's identity (id, names, hosts, zone, spider,
    article URL pattern) and completed here with what every row derives the same way: the id's
    normalisation, the page object as ``extract``, the everyday sources of its paths and its feed
    names' shape. The row's ``site`` is the registry's entry (``SITE = PROFILE.site``)."""

    site: Site
    paths: SourcePaths
    selectors: VendorCmsSelectors
    # The paper's own names: a byline naming only the paper has no author (any case).
    paper_names: frozenset[str]
    # Breadcrumbs that name the home page or the paper, not a category (any case).
    home_crumbs: frozenset[str]
    # "… | Báo X" appended to <title> and og:title.
    title_suffix: re.Pattern[str]
    # Site footer lines that reach the body on some pages.
    footer_lines: re.Pattern[str]
    # A dateline the paper puts before every sapo ("TPO - "), stripped; None keeps the sapo as written.
    sapo_prefix: re.Pattern[str] | None = None
    # Where the paper's own photos are served from (the record for a new row's live check;
    # not a filter: articles also carry agency photos from other hosts).
    image_hosts: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "site",
            dataclasses.replace(
                self.site,
                normalise_id=drop_leading_zeros,
                extract=self.extract,
                everyday_sources=self.paths.everyday_sources,
                feed_name=FEED_NAME,
            ),
        )
        # Compared case-folded; rows are written as readers spell the names.
        object.__setattr__(self, "paper_names", frozenset(name.casefold() for name in self.paper_names))
        object.__setattr__(self, "home_crumbs", frozenset(name.casefold() for name in self.home_crumbs))

    def extract(self, html: bytes | str, url: str) -> ExtractedArticle:
        """The family's page object with this row, as one call (``Site.extract``, ``bantin extract``)."""
        from .article import ArticlePage

        return ArticlePage(html, url, self).to_item()
