"""Discovery parsers every site shares: sitemaps (index, urlset, Google News) and RSS/Atom, as pure functions.

Each returns small dataclasses. Only article URLs on ``base_url``'s host are kept
(canonical: no query, no fragment), deduplicated by article id in source order;
which URLs are articles, and their ids and zone, come from the site (a
``spiders.registry.Site``). A document that cannot be read at all raises
:class:`ExtractionError`; a damaged one yields what could be recovered, with a
warning on logger ``bantin.extract``. A CMS family's own listings (HTML pages,
"load more" APIs) live in its package, built from the helpers here.
One bad entry (an id too long to be one, an impossible date, an unreadable link) is
left out and listed in the result's ``skipped``: it never costs the rest of the page.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from lxml import etree

from crawler.errors import ExtractionError

from .dates import ImplausibleDate, parse_datetime
from .textutil import clean_text
from .urls import MAX_ID_DIGITS, absolute_http_url, canonical_url, same_site

if TYPE_CHECKING:
    from spiders.registry import Site

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


class Entries(list):
    """Discovered entries in source order; ``skipped`` lists the entries left out, as (link, reason)."""

    def __init__(self, entries=(), skipped: list[tuple[str, str]] | None = None):
        super().__init__(entries)
        self.skipped: list[tuple[str, str]] = skipped or []


def entry_date(value: str | None, zone) -> datetime | ImplausibleDate | None:
    """A date, None when there is none, or the ImplausibleDate itself: :func:`collect` then skips the entry."""
    try:
        return parse_datetime(value, default_tz=zone, strict=True)
    except ImplausibleDate as exc:
        return exc


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


def parse_sitemap_index(xml: str | bytes, base_url: str, site: Site) -> list[SitemapRef]:
    """``<sitemapindex>`` -> sitemaps on the same host, with their ``lastmod``."""
    root = _parse_xml(xml, "sitemap index", ("sitemapindex",))
    refs: list[SitemapRef] = []
    seen: set[str] = set()
    for entry in _children(root, "sitemap"):
        try:
            url = absolute_http_url(_child_text(entry, "loc"), base_url)
        except ValueError:  # e.g. a broken IPv6 literal
            continue
        if not url or not same_site(url, base_url):
            continue
        # One sitemap is one path: the same file under other query strings is still that file.
        key = canonical_url(url)
        if key in seen:
            continue
        seen.add(key)
        refs.append(
            SitemapRef(url=url, lastmod=parse_datetime(_child_text(entry, "lastmod"), default_tz=site.timezone))
        )
    return refs


def parse_urlset(xml: str | bytes, base_url: str, site: Site) -> Entries:
    """``<urlset>`` (plain or Google News) -> article URLs with lastmod, news title and publication date."""
    root = _parse_xml(xml, "sitemap", ("urlset",))
    zone = site.timezone
    found = []
    for entry in _children(root, "url"):
        published = entry_date(_child_text(entry, "news", "publication_date"), zone)
        lastmod = entry_date(_child_text(entry, "lastmod"), zone)
        title = clean_text(_child_text(entry, "news", "title")) or None
        found.append((_child_text(entry, "loc"), title, published, lastmod))
    return collect(found, base_url, site)


def parse_rss(xml: str | bytes, base_url: str, site: Site) -> Entries:
    """RSS 2.0 ``<item>`` (and Atom ``<entry>``) -> article URLs with title and ``pubDate``."""
    root = _parse_xml(xml, "feed", ("rss", "feed", "RDF"))
    zone = site.timezone
    found: list[Found] = []
    items = [item for channel in _children(root, "channel") for item in _children(channel, "item")]
    items += _children(root, "item")  # RSS 1.0 puts items beside the channel
    for item in items:
        link = _child_text(item, "link")
        guid = _children(item, "guid")
        if not link and guid and (guid[0].get("isPermaLink") or "true").lower() != "false":
            link = (guid[0].text or "").strip()
        published = entry_date(_child_text(item, "pubDate") or _child_text(item, "date"), zone)
        found.append((link, clean_text(_child_text(item, "title")) or None, published, None))
    for entry in _children(root, "entry"):
        links = _children(entry, "link")
        alternate = [link for link in links if (link.get("rel") or "alternate") == "alternate"] or links
        link = alternate[0].get("href", "") if alternate else ""
        published = entry_date(_child_text(entry, "published") or _child_text(entry, "updated"), zone)
        lastmod = entry_date(_child_text(entry, "updated"), zone)
        found.append((link, clean_text(_child_text(entry, "title")) or None, published, lastmod))
    return collect(found, base_url, site)


# (link, title, published, lastmod) as a source lists them.
Found = tuple[str, str | None, datetime | ImplausibleDate | None, datetime | ImplausibleDate | None]


def collect(found: Iterable[Found], base_url: str, site: Site) -> Entries:
    """(link, title, published, lastmod) as a source lists them -> the site's articles on ``base_url``'s host.

    Dates are as :func:`entry_date` reads them: an entry with an implausible one is skipped.
    """
    out: dict[str, Discovered] = {}
    skipped: list[tuple[str, str]] = []
    for link, title, published, lastmod in found:
        try:
            url = absolute_http_url(link, base_url)
            if not url or not same_site(url, base_url):
                continue
        except ValueError as exc:  # urlsplit refuses some hostile links (a broken IPv6 literal)
            skipped.append((str(link)[:200], f"unreadable link: {exc}"))
            continue
        url = canonical_url(url)
        external_id = site.external_id(url)
        if external_id is None or external_id in out:
            continue
        if len(external_id) > MAX_ID_DIGITS:
            skipped.append((url[:200], f"implausible article id ({len(external_id)} digits)"))
            continue
        if isinstance(published, ImplausibleDate) or isinstance(lastmod, ImplausibleDate):
            skipped.append((url, str(published if isinstance(published, ImplausibleDate) else lastmod)))
            continue
        out[external_id] = Discovered(
            url=url, external_id=external_id, lastmod=lastmod, title=title, published_at=published
        )
    return Entries(out.values(), skipped)
