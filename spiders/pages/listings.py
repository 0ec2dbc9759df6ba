"""Discovery parsers: sitemaps, RSS, listing pages and the morenews JSON, as pure functions.

Each returns small dataclasses. Only article URLs on ``base_url``'s host are kept
(canonical: no query, no fragment), deduplicated by article id in source order.
A document that cannot be read at all raises :class:`ExtractionError`; a damaged
one yields what could be recovered, with a warning on logger ``bantin.extract``.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

import lxml.html
from lxml import etree

from crawler.errors import ExtractionError

from .dates import parse_datetime
from .selectors import SELECTORS, ListingSelectors, xpath
from .textutil import clean_text
from .urls import absolute_http_url, external_id_from_url, canonical_url, is_article_url, same_site

log = logging.getLogger("bantin.extract")

MAX_XML_BYTES = 50 * 1024 * 1024  # the sitemap protocol's own limit for an uncompressed file


@dataclass(frozen=True, slots=True)
class SitemapRef:
    url: str
    lastmod: datetime | None = None


@dataclass(frozen=True, slots=True)
class Discovered:
    url: str
    external_id: str
    lastmod: datetime | None = None
    title: str | None = None
    published_at: datetime | None = None


_DMY_TIME = re.compile(r"\d{1,2}/\d{1,2}/\d{4}(?:\s*-?\s*\d{1,2}:\d{2})?")


# -- XML -------------------------------------------------------------------------------------

def _xml_bytes(data: str | bytes) -> bytes:
    if isinstance(data, str):
        data = data.encode("utf-8")
    if data[:2] == b"\x1f\x8b":  # a .xml.gz served without Content-Encoding
        try:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = decompressor.decompress(data, MAX_XML_BYTES)
        except (zlib.error, EOFError, gzip.BadGzipFile) as exc:
            raise ExtractionError(f"corrupt gzip data: {exc}") from exc
    return data.lstrip(b"\xef\xbb\xbf").lstrip()


def _parse_xml(data: str | bytes, what: str, expected: tuple[str, ...]):
    raw = _xml_bytes(data)
    if not raw:
        raise ExtractionError(f"empty {what}")
    # A parser per call: its error log is per parser and tells us whether recovery was needed.
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, remove_comments=True)
    try:
        root = etree.fromstring(raw, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ExtractionError(f"unreadable {what}: {exc}") from exc
    if root is None:
        raise ExtractionError(f"unreadable {what}: no XML root element")
    if etree.QName(root).localname not in expected:
        raise ExtractionError(f"not a {what}: root element is <{etree.QName(root).localname}>")
    if parser.error_log:
        log.warning("%s is damaged (%s); using what could be recovered", what, parser.error_log[0].message)
    return root


def _children(el, name: str) -> list:
    return [child for child in el if isinstance(child.tag, str) and etree.QName(child).localname == name]


def _child_text(el, *path: str) -> str:
    """Text of the first descendant along ``path`` (local names, any namespace)."""
    current = [el]
    for name in path:
        current = [c for parent in current for c in _children(parent, name)]
        if not current:
            return ""
    return (current[0].text or "").strip()


def parse_sitemap_index(xml: str | bytes, base_url: str) -> list[SitemapRef]:
    """``<sitemapindex>`` -> sitemaps on the same host, with their ``lastmod``."""
    root = _parse_xml(xml, "sitemap index", ("sitemapindex",))
    refs: list[SitemapRef] = []
    seen: set[str] = set()
    for entry in _children(root, "sitemap"):
        url = absolute_http_url(_child_text(entry, "loc"), base_url)
        if not url or not same_site(url, base_url) or url in seen:
            continue
        seen.add(url)
        refs.append(SitemapRef(url=url, lastmod=parse_datetime(_child_text(entry, "lastmod"))))
    return refs


def parse_urlset(xml: str | bytes, base_url: str) -> list[Discovered]:
    """``<urlset>`` (plain or Google News) -> article URLs with lastmod, news title and publication date."""
    root = _parse_xml(xml, "sitemap", ("urlset",))
    found = []
    for entry in _children(root, "url"):
        published = parse_datetime(_child_text(entry, "news", "publication_date"))
        lastmod = parse_datetime(_child_text(entry, "lastmod"))
        title = clean_text(_child_text(entry, "news", "title")) or None
        found.append((_child_text(entry, "loc"), title, published, lastmod))
    return _collect(found, base_url)


def parse_rss(xml: str | bytes, base_url: str) -> list[Discovered]:
    """RSS 2.0 ``<item>`` (and Atom ``<entry>``) -> article URLs with title and ``pubDate``."""
    root = _parse_xml(xml, "feed", ("rss", "feed", "RDF"))
    found = []
    items = [item for channel in _children(root, "channel") for item in _children(channel, "item")]
    items += _children(root, "item")  # RSS 1.0 puts items beside the channel
    for item in items:
        link = _child_text(item, "link")
        guid = _children(item, "guid")
        if not link and guid and (guid[0].get("isPermaLink") or "true").lower() != "false":
            link = (guid[0].text or "").strip()
        published = parse_datetime(_child_text(item, "pubDate") or _child_text(item, "date"))
        found.append((link, clean_text(_child_text(item, "title")) or None, published, None))
    for entry in _children(root, "entry"):
        links = _children(entry, "link")
        alternate = [l for l in links if (l.get("rel") or "alternate") == "alternate"] or links
        link = alternate[0].get("href", "") if alternate else ""
        published = parse_datetime(_child_text(entry, "published") or _child_text(entry, "updated"))
        lastmod = parse_datetime(_child_text(entry, "updated"))
        found.append((link, clean_text(_child_text(entry, "title")) or None, published, lastmod))
    return _collect(found, base_url)


def _collect(found: Iterable[tuple[str, str | None, datetime | None, datetime | None]],
             base_url: str) -> list[Discovered]:
    out: dict[str, Discovered] = {}
    for link, title, published, lastmod in found:
        url = absolute_http_url(link, base_url)
        if not url or not is_article_url(url, base_url):
            continue
        url = canonical_url(url)
        external_id = external_id_from_url(url)
        if external_id is not None and external_id not in out:
            out[external_id] = Discovered(url=url, external_id=external_id, lastmod=lastmod, title=title,
                                         published_at=published)
    return list(out.values())


# -- HTML listings ---------------------------------------------------------------------------

def _html_root(html: str | bytes):
    if isinstance(html, (bytes, bytearray)):
        html = bytes(html).decode("utf-8", errors="replace")
    html = html.lstrip("\ufeff")
    if not html.strip():
        raise ExtractionError("empty listing page")
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"unreadable listing page: {exc}") from exc


def _first(context, alternatives: tuple[str, ...]):
    for css in alternatives:
        found = xpath(css)(context)
        if found:
            return found[0]
    return None


def _link_title(a) -> str | None:
    return clean_text(a.get("title")) or clean_text(a.text_content()) or None


def _story_time(story, sel: ListingSelectors) -> datetime | None:
    el = _first(story, sel.story_time)
    if el is None:
        return None
    return parse_datetime(el.get("datetime")) or parse_datetime(clean_text(el.text_content()))


def parse_listing_html(html: str | bytes, base_url: str, *,
                       selectors: ListingSelectors = SELECTORS.listing) -> list[Discovered]:
    """``/tin-moi.html``, category, tag and search pages -> the articles they link, in page order.

    Falls back to every article link on the page (with a warning) when no story markup matches.
    """
    root = _html_root(html)
    found = []
    for a in (a for css in selectors.search_link for a in xpath(css)(root)):
        found.append((a.get("href", ""), _link_title(a), None, None))
    for story in xpath(selectors.story)(root):
        a = _first(story, selectors.story_link)
        if a is not None:
            found.append((a.get("href", ""), _link_title(a), _story_time(story, selectors), None))
    if not found:
        links = [(a.get("href", ""), _link_title(a), None, None) for a in root.iter("a")]
        found = [entry for entry in links if is_article_url(entry[0], base_url)]
        if found:
            log.warning("%s: no story markup matched; using %d bare article links", base_url, len(found))
    return _collect(found, base_url)


def parse_morenews_json(text: str | bytes, base_url: str, *,
                        selectors: ListingSelectors = SELECTORS.listing) -> tuple[list[Discovered], bool]:
    """A ``/api/morenews-*.html`` answer -> (articles, has_more).

    ``has_more`` is false when the answer is empty or reports an error code; the caller
    also stops once dates fall before its window.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    try:
        payload = json.loads(text.lstrip("\ufeff"))
    except ValueError as exc:
        raise ExtractionError(f"malformed morenews JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise ExtractionError("malformed morenews JSON: top level is not an object")
    code = payload.get("error_code", 0)
    if code not in (0, "0", None):
        log.info("morenews answered error_code=%r (%s): no more items", code, payload.get("error_message", ""))
        return [], False
    data = payload.get("data")
    if data in (None, "", []):
        return [], False
    if not isinstance(data, dict):
        raise ExtractionError("malformed morenews JSON: data is not an object")
    articles = data.get("articles", "")
    if articles in (None, "", []):
        return [], False
    if not isinstance(articles, str):
        raise ExtractionError("malformed morenews JSON: data.articles is not an HTML string")
    fragment = lxml.html.fragment_fromstring(articles, create_parent="div")
    found = []
    for article in xpath(selectors.more_article)(fragment):
        a = _first(article, selectors.more_link)
        if a is None:
            continue
        found.append((a.get("href", ""), _link_title(a), _more_date(article, selectors), None))
    items = _collect(found, base_url)
    has_more = bool(found) and data.get("has_more", data.get("hasMore", True)) not in (False, 0, "0", "false")
    return items, has_more


def _more_date(article, sel: ListingSelectors) -> datetime | None:
    """The date is the last text of ``a.text.text2`` (``dd/mm/YYYY HH:MM``, Vietnam time)."""
    el = _first(article, sel.more_date)
    if el is None:
        return None
    if el.get("datetime"):
        return parse_datetime(el.get("datetime"))
    texts = [t.strip() for t in el.itertext() if t.strip()]
    for candidate in reversed(texts):
        match = _DMY_TIME.search(candidate)
        if match:
            return parse_datetime(match.group(0))
    return None
