"""The shape of the vendor CMS's selector table: what a site's profile row fills in, as data.

When a site changes its layout, the fix should be an edit to its row (in its own
package) and nowhere else. Each field is a tuple of alternatives tried in order;
the first one that matches wins. Only what the web itself standardises (JSON-LD,
microdata, Open Graph and meta names, lazy-image attributes, script/style/iframe
clutter) has a default here; every class name and path is the site's.
"""

from __future__ import annotations

from dataclasses import dataclass

# Re-exported: the rows list it in their clutter.
from spiders.pages.html import GENERIC_CLUTTER as GENERIC_CLUTTER


@dataclass(frozen=True, kw_only=True)
class ArticleSelectors:
    # The block that holds the article (title, meta, body, tags); anything outside is page chrome.
    scope: tuple[str, ...]
    title: tuple[str, ...]
    sapo: tuple[str, ...]
    body: tuple[str, ...]
    published: tuple[str, ...]
    # Visible date text, a last resort after JSON-LD and meta.
    published_text: tuple[str, ...]
    author: tuple[str, ...]
    breadcrumbs: tuple[str, ...]
    tag_links: tuple[str, ...]
    # Teaser boxes whose links belong to other articles (never tags, never body).
    teasers: tuple[str, ...]
    # Removed from the body (and from the page before the generic extractor) before any text is read.
    clutter: tuple[str, ...]
    # Page chrome, removed from the whole page before the generic extractor runs.
    chrome: tuple[str, ...]
    legacy_picture: str
    legacy_img: str
    legacy_caption: str
    # Removed from the body after images were read from them: captions belong to images.
    media: tuple[str, ...] = ("figure", "figcaption", "table.picture")
    figure: str = "figure"
    figure_img: str = "img"
    figcaption: str = "figcaption"
    # Structured-data layer: microdata body when the site selectors miss.
    structured_body: tuple[str, ...] = ('[itemprop="articleBody"]',)
    jsonld: str = 'script[type="application/ld+json"]'
    # Image attributes in preference order; ``src`` is often a ``data:`` placeholder.
    img_attrs: tuple[str, ...] = ("data-src", "data-original", "data-lazy-src", "src")


@dataclass(frozen=True)
class MetaKeys:
    """``meta`` keys (property, name or itemprop, lower-cased) per field, in preference order."""

    url: tuple[str, ...] = ("og:url",)
    item_id: tuple[str, ...] = ("dable:item_id",)
    title: tuple[str, ...] = ("og:title", "twitter:title", "title")
    sapo: tuple[str, ...] = ("og:description", "description", "twitter:description")
    author: tuple[str, ...] = ("author", "article:author", "dable:author")
    published: tuple[str, ...] = ("article:published_time", "datepublished", "pubdate")
    modified: tuple[str, ...] = ("article:modified_time", "datemodified", "og:updated_time")
    section: tuple[str, ...] = ("article:section",)
    keywords: tuple[str, ...] = ("news_keywords", "keywords", "article:tag")


@dataclass(frozen=True, kw_only=True)
class ListingSelectors:
    story: str
    story_link: tuple[str, ...]
    search_link: tuple[str, ...]
    story_time: tuple[str, ...]
    # morenews JSON: the HTML inside data.articles
    more_article: str
    more_link: tuple[str, ...]
    more_date: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class VendorCmsSelectors:
    article: ArticleSelectors
    listing: ListingSelectors
    meta: MetaKeys = MetaKeys()
