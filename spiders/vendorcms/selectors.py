"""Every CSS selector and meta key the NDO page objects use, kept together as data.

When nhandan.vn changes its layout, the fix should be an edit here and nowhere
else. Each field is a tuple of alternatives tried in order; the first one that
matches wins. CSS is compiled once to XPath (see :func:`xpath`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cssselect import HTMLTranslator
from lxml import etree


@dataclass(frozen=True)
class ArticleSelectors:
    # The block that holds the article (title, meta, body, tags); anything outside is page chrome.
    scope: tuple[str, ...] = ("div.article", "article.article", "div.article-detail", "main")
    title: tuple[str, ...] = ("h1.article__title.cms-title", "h1.article__title")
    # The sapo's tag varies between div and h2, so it is selected by class only.
    sapo: tuple[str, ...] = (".article__sapo.cms-desc", ".article__sapo")
    body: tuple[str, ...] = (
        "div.article__body.zce-content-body.cms-body",
        "div.article__body.cms-body",
    )
    published: tuple[str, ...] = (
        ".article__meta time.time[datetime]",
        ".article__meta time[datetime]",
    )
    # Visible date text, a last resort after JSON-LD and meta.
    published_text: tuple[str, ...] = (".article__meta time", ".article__meta .time")
    author: tuple[str, ...] = (".article__author",)
    breadcrumbs: tuple[str, ...] = (".breadcrumbs .text", ".breadcrumbs a")
    tag_links: tuple[str, ...] = ('a[href*="/tu-khoa/"]',)
    # Teaser boxes whose links belong to other articles (never tags, never body).
    teasers: tuple[str, ...] = (".related-news", "article.story")
    # Removed from the body (and from the page before the generic extractor) before any text is read.
    clutter: tuple[str, ...] = (
        ".related-news",
        "article.story",
        "div.qc",
        '[id^="adsWeb_"]',
        "script",
        "style",
        "iframe",
        "noscript",
        "object",
        "embed",
        "form",
        "button",
        "audio",
        "video",
        '[class*="player"]',
        ".article__footer",
        "footer",
    )
    # Removed from the body after images were read from them: captions belong to images.
    media: tuple[str, ...] = ("figure", "figcaption", "table.picture")
    # Page chrome, removed from the whole page before the generic extractor runs.
    chrome: tuple[str, ...] = (
        "header",
        "nav",
        "aside",
        ".header",
        ".footer",
        ".sidebar",
        ".breadcrumbs",
        ".article__meta",
        ".article__tag",
    )
    figure: str = "figure"
    figure_img: str = "img"
    figcaption: str = "figcaption"
    legacy_picture: str = "table.picture"
    legacy_img: str = "td.pic img"
    legacy_caption: str = "td.caption"
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


@dataclass(frozen=True)
class ListingSelectors:
    story: str = "article.story"
    story_link: tuple[str, ...] = (
        ".story__heading a.cms-link",
        ".story__heading a",
    )
    search_link: tuple[str, ...] = (".box-search-result .story__heading a",)
    story_time: tuple[str, ...] = ("time[datetime]", ".story__time", ".story__meta time", "time")
    # morenews JSON: the HTML inside data.articles
    more_article: str = "article"
    more_link: tuple[str, ...] = ("h3 a", "h2 a", ".story__heading a", "a.cms-link")
    more_date: tuple[str, ...] = ("a.text.text2", ".story__time", "time")


@dataclass(frozen=True)
class NdoSelectors:
    article: ArticleSelectors = ArticleSelectors()
    meta: MetaKeys = MetaKeys()
    listing: ListingSelectors = ListingSelectors()


SELECTORS = NdoSelectors()

_translator = HTMLTranslator()


@lru_cache(maxsize=512)
def xpath(css: str) -> etree.XPath:
    """Compile a CSS selector (relative to the context node) once."""
    return etree.XPath(_translator.css_to_xpath(css, prefix="descendant-or-self::"))


@lru_cache(maxsize=128)
def xpath_any(css_alternatives: tuple[str, ...]) -> etree.XPath:
    """One XPath matching any of the alternatives, in document order (for removals)."""
    parts = [_translator.css_to_xpath(css, prefix="descendant-or-self::") for css in css_alternatives]
    return etree.XPath(" | ".join(parts))
