"""URL helpers shared by every site: the canonical form, same-site checks, absolute http(s) URLs.

Which URLs are articles, and their ids, is each site's own fact (``spiders.registry.Site``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urljoin, urlsplit, urlunsplit

# Sites' ids have a handful of digits; past 18 (int64) an id is a broken or hostile link, not an article.
MAX_ID_DIGITS = 18


def _plain(value):
    """A str subclass (an lxml "smart string" keeps its whole document alive) as a plain str, for cache keys."""
    return str(value) if isinstance(value, str) and type(value) is not str else value


# Scraped URLs reach terminals and mail: no control character may survive in one.
# Tab, CR and LF are removed and the others percent-encoded, as browsers' URL parser does.
_URL_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_URL_CONTROL_REMOVED = frozenset("\t\r\n")


def drop_leading_zeros(digits: str) -> str:
    """A site's numeric article id as text, leading zeros dropped (``0985123`` is ``985123``).

    Not int(): a digit run of 4,300+ is a ValueError there, and ids stay text anyway.
    """
    return digits.lstrip("0") or "0"


def clean_url(url: str) -> str:
    """``url`` with no control character (C0, DEL, C1) left in it."""
    url = url.strip()
    if not _URL_CONTROL.search(url):
        return url
    return _URL_CONTROL.sub(
        lambda m: "" if m.group() in _URL_CONTROL_REMOVED else "".join(f"%{b:02X}" for b in m.group().encode()),
        url,
    ).strip()


def canonical_url(url: str) -> str:
    """The URL without query string and fragment (article identity ignores both)."""
    parts = urlsplit(clean_url(url))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))


def host_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def same_site(url: str, base_url: str) -> bool:
    """Same host (``www.`` ignored) and same non-default port; only http(s)."""
    return _same_site(_plain(url), _plain(base_url))


# Cached, like absolute_http_url: listings and feeds announce the
# same URLs again and again, and urlsplit/urljoin are slow.
@lru_cache(maxsize=4096)
def _same_site(url: str, base_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(base_url)
    if a.scheme not in ("http", "https"):
        return False
    try:
        return host_of(url) == host_of(base_url) and _port(a) == _port(b)
    except ValueError:
        return False


def _port(parts) -> int | None:
    # http and https on default ports count as one site (og:url may differ in scheme only).
    port = parts.port
    return None if port in (None, 80, 443) else port


def absolute_http_url(url: str | None, base_url: str) -> str | None:
    """Resolve against the page URL; only http(s) results are kept (no ``data:``, ``javascript:``)."""
    if not url:
        return None
    return _absolute_http_url(_plain(url), _plain(base_url))


@lru_cache(maxsize=4096)
def _absolute_http_url(url: str, base_url: str) -> str | None:
    url = clean_url(url)
    if not url or url.startswith(("data:", "javascript:", "about:", "#")):
        return None
    absolute = urljoin(base_url, url)
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return absolute
