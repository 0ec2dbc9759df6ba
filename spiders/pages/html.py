"""HTML every site's page object shares: decoding and parsing untrusted bytes, paragraph walking, JSON-LD, bylines.

No Scrapy and no outlet here: selectors and names come from each site's package.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import lxml.html
from lxml import etree

from crawler.errors import ExtractionError
from crawler.items import Image

from .css import xpath
from .textutil import clean_text, dedupe
from .urls import absolute_http_url, canonical_url, same_site

if TYPE_CHECKING:
    from spiders.registry import Site

log = logging.getLogger("bantin.extract")

# Elements whose text is one paragraph; containers are walked into instead.
LEAF_BLOCKS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "dt", "dd", "figcaption"})
CONTAINERS = frozenset(
    {
        "div",
        "section",
        "article",
        "blockquote",
        "ul",
        "ol",
        "dl",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "td",
        "th",
        "center",
        "main",
        "header",
        "aside",
        "details",
        "summary",
    }
)

# Player time labels: "0:00", "0:00 / 0:00", "01:02:03 / 1:00:00".
PLAYER_TIME = re.compile(r"^\d{1,2}(?::\d{2}){1,2}(?:\s*/\s*\d{1,2}(?::\d{2}){1,2})?$")
ALT_LINE = re.compile(r"^(?P<prefix>.*?)\s*ảnh\s*\d+$", re.I)
# Credit prefixes; "Theo" ("according to") carries no colon.
_AUTHOR_PREFIX = re.compile(
    r"(?:(?:bài\s*(?:và|,|&|-|/)?\s*ảnh|tin\s*(?:và|,|&)?\s*ảnh|bài|ảnh|video|clip|tin|đồ\s*họa|đồ\s*hoạ"
    r"|thiết\s*kế|thực\s*hiện|trình\s*bày|biên\s*tập|dựng|quay|nguồn|tác\s*giả|phóng\s*viên)\s*[:：]"
    r"|theo\s+)",
    re.I,
)
# A credit in brackets is a name of its own: "Tuân Tùng (Vietnam+)" -> "Tuân Tùng", "Vietnam+".
_AUTHOR_SPLIT = re.compile(r"\s*(?:[;|,\n–—()\[\]]|\s-\s)\s*")


def clean_author(raw: str | list[str] | None, paper_names: frozenset[str] = frozenset()) -> str:
    """Credit text -> ``"NAME, NAME"``: prefixes such as ``Bài và ảnh:`` and the paper's own names
    (``paper_names``, case-folded) removed."""
    if not raw:
        return ""
    values = raw if isinstance(raw, list) else [raw]
    names: list[str] = []
    for value in values:
        text = clean_text(value)
        # Each prefix becomes a separator, so "Bài: A - Ảnh: B" yields A and B.
        text = _AUTHOR_PREFIX.sub(";", text)
        for part in _AUTHOR_SPLIT.split(text):
            name = part.strip(" .:;,-()[]")
            if name and name.casefold() not in paper_names:
                names.append(name)
    return ", ".join(dedupe(names))


def crumb_name(item: dict) -> str:
    name = item.get("name")
    if isinstance(name, str):
        return name
    names = jsonld_names(item.get("item"))
    return names[0] if names else ""


def jsonld_objects(data: Any) -> Iterator[dict]:
    if isinstance(data, list):
        for entry in data:
            yield from jsonld_objects(entry)
    elif isinstance(data, dict):
        yield data
        graph = data.get("@graph")
        if graph is not None:
            yield from jsonld_objects(graph)


def jsonld_types(obj: dict) -> set[str]:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {str(k) for k in kinds if k}


def jsonld_names(value: Any) -> list[str]:
    """JSON-LD author/keywords: a string, a {name} object, or a list of them."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        name = value.get("name")
        return [name] if isinstance(name, str) else []
    if isinstance(value, list):
        return [name for entry in value for name in jsonld_names(entry)]
    return []


def walk_blocks(el, out: list[str]) -> None:
    """Collect paragraph texts in document order: leaf blocks whole, containers recursed, inline runs joined."""
    run: list[str] = [el.text or ""]
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else None
        if tag is None:  # comments and processing instructions: only their tail is text
            run.append(child.tail or "")
            continue
        tag = tag.lower()
        if tag in LEAF_BLOCKS:
            out.append("".join(run))
            out.append(child.text_content())
            run = [child.tail or ""]
        elif tag in CONTAINERS:
            out.append("".join(run))
            walk_blocks(child, out)
            run = [child.tail or ""]
        else:
            run.append(child.text_content())
            run.append(child.tail or "")
    out.append("".join(run))


def drop_keep_tail(el) -> None:
    """Remove an element but keep the text that follows it (lxml stores it on the element)."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail:
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def dedupe_images(images: list[Image]) -> list[Image]:
    by_url: dict[str, Image] = {}
    for image in images:
        known = by_url.get(image.url)
        if known is None or (not known.caption and image.caption):
            by_url[image.url] = image
    return list(by_url.values())


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# Tried after any declared encoding: the site's own, then the Windows code page for Vietnamese.
_FALLBACK_ENCODINGS = ("utf-8", "cp1258")
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# HTML's rule: these labels mean windows-1252 (and latin-1 would decode any bytes at all).
_WINDOWS_1252_LABELS = frozenset({"latin-1", "iso8859-1", "ascii"})


def extractor_failed(exc: BaseException, url: str) -> ExtractionError:
    message = " ".join(str(exc).split())[:200]
    return ExtractionError(
        f"the extractor failed on this page: {type(exc).__name__}" + (f": {message}" if message else ""), url=url
    )


def _codec(label: bytes | str | None) -> str | None:
    if not label:
        return None
    if isinstance(label, bytes):
        label = label.decode("ascii", "replace")
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        return None
    return "cp1252" if name in _WINDOWS_1252_LABELS else name


def _encodings(html: bytes, declared: str | None) -> Iterator[str]:
    """Encodings to try strictly, in order: the HTTP header's, the page's own <meta>, then the fallbacks."""
    seen: set[str] = set()

    def fresh(name: str | None) -> Iterator[str]:
        if name and name not in seen:
            seen.add(name)
            yield name

    yield from fresh(_codec(declared))
    # Searched only when the header's encoding did not fit: most pages never get here.
    match = _META_CHARSET.search(html[:4096])
    yield from fresh(_codec(match.group(1)) if match else None)
    for name in _FALLBACK_ENCODINGS:
        yield from fresh(name)


def _decode(html: bytes, declared: str | None, url: str) -> tuple[str, str]:
    """(text, encoding) read strictly: never a U+FFFD standing for bytes that did not decode."""
    for bom, name in _BOMS:
        if html.startswith(bom):
            try:
                return html[len(bom) :].decode(name), name
            except UnicodeDecodeError:
                break
    for name in _encodings(html, declared):
        try:
            return html.decode(name), name
        except UnicodeDecodeError:
            continue
    raise ExtractionError(
        "the page cannot be decoded: not valid "
        + " or ".join(dict.fromkeys([*(n for n in (_codec(declared),) if n), *_FALLBACK_ENCODINGS])),
        url=url,
    )


# lxml.html's parser picks each element's class with a Python callback (forms, inputs, labels and
# selects have their own), run for every element Python touches; the page objects use none of those
# classes' extras. A C-level lookup giving every element lxml.html's HtmlElement (text_content,
# drop_tree ...) costs nothing per element (measured: about 80 us of a vendor CMS page's 1.1-1.3 ms).
_HTML_CLASSES = etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement,
    comment=lxml.html.HtmlComment,
    pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity,
)


def _utf8_parser() -> etree.HTMLParser:
    """lxml.html's parser for UTF-8 bytes, but for its element classes and no table of ``id`` values.

    libxml2 files every ``id`` attribute in a hash table for XPath's ``id()``, which no selector here
    (nor trafilatura) calls: ``#name`` is translated to an attribute test. About 3 % of a page's parse.
    """
    parser = etree.HTMLParser(encoding="utf-8", collect_ids=False)
    parser.set_element_class_lookup(_HTML_CLASSES)
    return parser


def parse_html(html: str | bytes, url: str, encoding: str | None = None):
    utf8: bytes | None = None
    if isinstance(html, (bytes, bytearray)):
        html = bytes(html)
        text, name = _decode(html, encoding, url)
        if not text or text.isspace():
            raise ExtractionError("empty page", url=url)
        if name == "utf-8" and not html.startswith(codecs.BOM_UTF8):
            # Valid UTF-8 (the site's encoding): libxml2 reads the bytes as they are.
            utf8 = html
    else:
        text = html
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise ExtractionError("empty page", url=url)
    if utf8 is None:
        # Text (given as such, or decoded from another encoding) is read as its UTF-8 bytes too: the same
        # tree, and libxml2 parses UTF-8 bytes about a third faster than a str (which lxml hands over in
        # its 1-, 2- or 4-byte internal form). Text with lone surrogates has no UTF-8: parsed as a str.
        with contextlib.suppress(UnicodeEncodeError):
            utf8 = text.encode("utf-8")
    if utf8 is not None:
        try:
            return lxml.html.document_fromstring(utf8, parser=_utf8_parser())
        except (etree.ParserError, ValueError):
            pass  # the text path below reports it
    try:
        return lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        # Its UTF-8 bytes (lxml's way round a str that declares an XML encoding) were tried above, or it has none.
        raise ExtractionError(f"unparseable HTML: {exc}", url=url) from exc


# -- page metadata ------------------------------------------------------------------------------


def meta_map(root) -> dict[str, list[str]]:
    """Every ``<meta>`` value by its property, name or itemprop (lower-cased), in page order."""
    meta: dict[str, list[str]] = {}
    for el in root.iter("meta"):
        key = el.get("property") or el.get("name") or el.get("itemprop")
        content = el.get("content")
        if key and content is not None:
            meta.setdefault(key.strip().lower(), []).append(content)
    return meta


# json.loads(text, strict=False) builds a decoder per call; a page has a few JSON-LD blocks.
_JSONLD_DECODER = json.JSONDecoder(strict=False)


def jsonld_of(scripts, url: str) -> list[dict]:
    """The objects of these JSON-LD ``<script>`` elements (lists and ``@graph`` included); unreadable ones skipped."""
    found: list[dict] = []
    for script in scripts:
        try:
            data = _JSONLD_DECODER.decode(script.text_content() or "null")
            found.extend(jsonld_objects(data))
        except (ValueError, RecursionError):  # nested thousands deep: no article's data
            log.debug("%s: unreadable JSON-LD block skipped", url)
    return found


def link_canonical(root) -> str:
    for link in root.iter("link"):
        if (link.get("rel") or "").lower() == "canonical":
            return link.get("href") or ""
    return ""


def page_identity(
    url: str, site: Site, candidates: Iterable[str], item_id: str | None, warnings: list[str]
) -> tuple[str, str | None]:
    """(URL, article id): the requested article's, with the page's canonical URL when it names the same one.

    ``candidates`` are the page's own claims (og:url, the canonical link). A page may claim to
    be another article (a stale or hostile og:url, a redirect to a different id): trusting that
    would overwrite the other article and leave this one unstored, so fetched again on every
    run; the claim is listed in ``warnings`` instead. A saved file (``file:``) has no address of
    its own: its canonical URL, else ``item_id``, names it.
    """
    saved_file = url.startswith("file:")
    canonical = None
    for candidate in candidates:
        absolute = absolute_http_url(candidate, url)
        if absolute and (saved_file or same_site(absolute, url)) and site.external_id(absolute):
            canonical = absolute
            break
    requested_id = None if saved_file else site.external_id(url)
    if requested_id is None:
        if canonical is not None:
            return canonical_url(canonical), site.external_id(canonical)
        return canonical_url(url), item_id
    if canonical is not None:
        if site.external_id(canonical) == requested_id:
            return canonical_url(canonical), requested_id
        warnings.append(
            f"its canonical URL names another article ({canonical_url(canonical)}); stored as the article requested"
        )
    return canonical_url(url), requested_id


# -- selectors and meta tags as data ------------------------------------------------------------

# Never text: removed from the body (and from the page before a generic extractor) on every site.
GENERIC_CLUTTER = (
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
)


def first_match(context, alternatives: tuple[str, ...]):
    """The first element the first matching CSS alternative finds, or None."""
    for css in alternatives:
        found = xpath(css)(context)
        if found:
            return found[0]
    return None


def all_matches(context, alternatives: tuple[str, ...]) -> list:
    """Every element the first matching CSS alternative finds."""
    for css in alternatives:
        found = xpath(css)(context)
        if found:
            return found
    return []


def meta_first(meta: dict[str, list[str]], keys: tuple[str, ...]) -> str:
    """The first non-empty value of these meta keys, cleaned."""
    for key in keys:
        for value in meta.get(key, ()):
            text = clean_text(value)
            if text:
                return text
    return ""


def meta_all(meta: dict[str, list[str]], keys: tuple[str, ...]) -> list[str]:
    return [clean_text(value) for key in keys for value in meta.get(key, ())]
