"""The vendor CMS's own listings: HTML story lists and the "load more" (morenews) JSON, as pure functions.

Feeds and sitemaps are read by the generic parsers in ``spiders.pages.listings``;
these read the family's markup with the selectors of one site's profile.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import lxml.html
from lxml import etree

from crawler.errors import ExtractionError
from spiders.pages.css import xpath
from spiders.pages.dates import EARLIEST, LATEST, ImplausibleDate
from spiders.pages.listings import Entries, Found, collect, entry_date
from spiders.pages.textutil import clean_text
from spiders.pages.urls import absolute_http_url, same_site

from .selectors import ListingSelectors

if TYPE_CHECKING:
    from .profile import VendorCmsProfile

log = logging.getLogger("bantin.extract")

_DMY_TIME = re.compile(r"\d{1,2}/\d{1,2}/\d{4}(?:\s*-?\s*\d{1,2}:\d{2})?")


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


def _story_time(story, sel: ListingSelectors, zone) -> datetime | ImplausibleDate | None:
    el = _first(story, sel.story_time)
    if el is None:
        return None
    return entry_date(el.get("datetime"), zone) or entry_date(clean_text(el.text_content()), zone)


def _is_article_link(href: str, base_url: str, site) -> bool:
    url = absolute_http_url(href, base_url)
    return url is not None and same_site(url, base_url) and site.external_id(url) is not None


def parse_listing_html(html: str | bytes, base_url: str, profile: VendorCmsProfile) -> Entries:
    """The latest-news, category, tag and search pages -> the articles they link, in page order.

    Falls back to every article link on the page (with a warning) when no story markup matches.
    """
    selectors = profile.selectors.listing
    site = profile.site
    root = _html_root(html)
    found: list[Found] = []
    for a in (a for css in selectors.search_link for a in xpath(css)(root)):
        found.append((a.get("href", ""), _link_title(a), None, None))
    for story in xpath(selectors.story)(root):
        a = _first(story, selectors.story_link)
        if a is not None:
            found.append((a.get("href", ""), _link_title(a), _story_time(story, selectors, site.timezone), None))
    if not found:
        links = [(a.get("href", ""), _link_title(a), None, None) for a in root.iter("a")]
        found = [entry for entry in links if _is_article_link(entry[0], base_url, site)]
        if found:
            log.warning("%s: no story markup matched; using %d bare article links", base_url, len(found))
    return collect(found, base_url, site)


def _morenews_data(text: str | bytes) -> dict | None:
    """The ``data`` object of a "load more" answer; None when it is empty or reports an error code."""
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
        return None
    data = payload.get("data")
    if data in (None, "", []):
        return None
    if not isinstance(data, dict):
        raise ExtractionError("malformed morenews JSON: data is not an object")
    return data


def _has_more(data: dict, found: list) -> bool:
    return bool(found) and data.get("has_more", data.get("hasMore", True)) not in (False, 0, "0", "false")


def parse_morenews_json(text: str | bytes, base_url: str, profile: VendorCmsProfile) -> tuple[Entries, bool]:
    """A "load more" (``morenews-*``) answer whose ``data.articles`` is HTML (NDO) -> (articles, has_more).

    ``has_more`` is false when the answer is empty or reports an error code; the caller
    also stops once dates fall before its window.
    """
    data = _morenews_data(text)
    if data is None:
        return Entries(), False
    articles = data.get("articles", "")
    if articles in (None, "", []):
        return Entries(), False
    if not isinstance(articles, str):
        raise ExtractionError("malformed morenews JSON: data.articles is not an HTML string")
    selectors = profile.selectors.listing
    zone = profile.site.timezone
    fragment = lxml.html.fragment_fromstring(articles, create_parent="div")
    found = []
    for article in xpath(selectors.more_article)(fragment):
        a = _first(article, selectors.more_link)
        if a is None:
            continue
        found.append((a.get("href", ""), _link_title(a), _more_date(article, selectors, zone), None))
    return collect(found, base_url, profile.site), _has_more(data, found)


# Epoch values past this are milliseconds (year 5138 in seconds).
_EPOCH_MS = 10**11


def _epoch_or_text(value, zone) -> datetime | ImplausibleDate | None:
    """A date, None when there is none, or an ImplausibleDate (as :func:`entry_date`): the entry is then skipped."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, (int, float)):
        if value <= 0:
            return None
        seconds = value / 1000 if value >= _EPOCH_MS else value
        try:
            when = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
        if not EARLIEST <= when < LATEST:
            return ImplausibleDate(f"implausible date {value!r}")
        return when.astimezone(zone)
    return entry_date(value, zone) if isinstance(value, str) else None


def parse_morenews_contents(text: str | bytes, base_url: str, profile: VendorCmsProfile) -> tuple[Entries, bool]:
    """A "load more" answer whose ``data.contents`` is a list of JSON items (Tiền Phong, SGGP) -> (articles, has_more).

    Each item has ``title`` and ``url`` (absolute or, on SGGP, relative to the site) and its
    date as an epoch (``date``, or ``update_time`` on SGGP); entries of another shape are skipped.
    """
    data = _morenews_data(text)
    if data is None:
        return Entries(), False
    contents = data.get("contents")
    if contents in (None, "", []):
        return Entries(), False
    if not isinstance(contents, list):
        raise ExtractionError("malformed morenews JSON: data.contents is not a list")
    zone = profile.site.timezone
    found = []
    for entry in contents:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            continue
        title = clean_text(entry.get("title")) if isinstance(entry.get("title"), str) else None
        published = _epoch_or_text(entry.get("date"), zone)
        modified = _epoch_or_text(entry.get("update_time"), zone)
        found.append((entry["url"], title or None, published or modified, modified))
    return collect(found, base_url, profile.site), _has_more(data, found)


def _more_date(article, sel: ListingSelectors, zone) -> datetime | ImplausibleDate | None:
    """The date is the last text of the date element (``dd/mm/YYYY HH:MM``, the site's local time)."""
    el = _first(article, sel.more_date)
    if el is None:
        return None
    if el.get("datetime"):
        return entry_date(el.get("datetime"), zone)
    texts = [t.strip() for t in el.itertext() if t.strip()]
    for candidate in reversed(texts):
        match = _DMY_TIME.search(candidate)
        if match:
            return entry_date(match.group(0), zone)
    return None
