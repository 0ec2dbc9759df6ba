"""The shape of Báo Quảng Ninh's row: what its page object and spider read, as data (filled in ``site.py``)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spiders.pages.urls import drop_leading_zeros
from spiders.registry import Site

if TYPE_CHECKING:
    from crawler.items import ExtractedArticle

# Source names, as stored with each article and counted in the ledger.
RSS = "rss"


@dataclass(frozen=True, kw_only=True)
class ArticleSelectors:
    """CSS alternatives per field, tried in order (the site layer, after structured data and meta)."""

    # The block that holds the article; anything outside is page chrome.
    scope: tuple[str, ...]
    title: tuple[str, ...]
    sapo: tuple[str, ...]
    body: tuple[str, ...]
    # Visible date text without a zone (the site's zone applies).
    published: tuple[str, ...]
    # A byline block, when there is one; otherwise the body's bold last line signs the article.
    author: tuple[str, ...]
    breadcrumbs: tuple[str, ...]
    tag_links: tuple[str, ...]
    # Removed from the body before any text is read (ads, players, forms...).
    clutter: tuple[str, ...]
    # Removed from the whole page before the generic extractor runs.
    chrome: tuple[str, ...]
    figure: str = "figure"
    figcaption: str = "figcaption"
    jsonld: str = 'script[type="application/ld+json"]'
    img_attrs: tuple[str, ...] = ("data-src", "data-original", "data-lazy-src", "src")


@dataclass(frozen=True, kw_only=True)
class MetaKeys:
    """``meta`` keys (property, name or itemprop, lower-cased) per field, in preference order."""

    url: tuple[str, ...] = ("og:url",)
    title: tuple[str, ...] = ("og:title", "twitter:title")
    sapo: tuple[str, ...] = ("og:description", "description", "twitter:description")
    author: tuple[str, ...] = ("author", "article:author")
    published: tuple[str, ...] = ("article:published_time", "datepublished", "pubdate")
    modified: tuple[str, ...] = ("article:modified_time", "datemodified", "og:updated_time")
    section: tuple[str, ...] = ("article:section",)
    keywords: tuple[str, ...] = ("news_keywords", "keywords", "article:tag")


@dataclass(frozen=True, kw_only=True)
class FeedPaths:
    # The page listing every category feed; the feeds are the links on it matching ``feed``.
    index: str
    # A category feed's path; group 1 is the feed's name (what ``category_feeds`` lists).
    feed: re.Pattern[str]
    # ``{feed}``: a feed name, when the configuration names its feeds (then the index is still read).
    feed_path: str


@dataclass(frozen=True, kw_only=True)
class OwnCmsProfile:
    """The paper's row. ``site`` is given as its identity and completed here with the id's
    normalisation, the page object as ``extract`` and its everyday source (``SITE = PROFILE.site``)."""

    site: Site
    feeds: FeedPaths
    selectors: ArticleSelectors
    meta: MetaKeys
    # The paper's own names: a byline or JSON-LD author naming only the paper has no author (any case).
    paper_names: frozenset[str]
    # Breadcrumbs that name the home page or the paper, not a category (any case).
    home_crumbs: frozenset[str]
    # "… - Báo Quảng Ninh điện tử" appended to <title> and og:title.
    title_suffix: re.Pattern[str]
    # Headings after which nothing is the article's text (keywords, related news, comments).
    body_ends: frozenset[str]
    # Site footer lines that reach the body on some pages.
    footer_lines: re.Pattern[str]
    # Where the paper's own photos are served from (the record for the live check, not a filter).
    image_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "site",
            dataclasses.replace(
                self.site, normalise_id=drop_leading_zeros, extract=self.extract, everyday_sources=(RSS,)
            ),
        )
        for name in ("paper_names", "home_crumbs", "body_ends"):
            object.__setattr__(self, name, frozenset(value.casefold() for value in getattr(self, name)))

    def extract(self, html: bytes | str, url: str) -> ExtractedArticle:
        """The page object with this row, as one call (``Site.extract``, ``bantin extract``)."""
        from .article import ArticlePage

        return ArticlePage(html, url, self).to_item()
