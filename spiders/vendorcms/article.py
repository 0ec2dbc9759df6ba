"""The vendor CMS article page object: HTML + URL + a site's profile in, a typed
:class:`~crawler.items.ExtractedArticle` out.

No Scrapy here, so it runs on saved pages. Each field is read in layers: the site's
own selectors (its profile row, ``spiders.vendorcms.selectors``), then JSON-LD / meta
tags, then, for the body only, a generic extractor (trafilatura). ``ExtractedArticle.extractor`` names the layer
that served title and body; ``ExtractedArticle.fallbacks`` names each field whose site
selectors found nothing while a lower layer supplied a value.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import lxml.html

from crawler.errors import ExtractionError
from crawler.items import ExtractedArticle, Image
from spiders.pages.css import xpath, xpath_any
from spiders.pages.dates import parse_datetime
from spiders.pages.html import ALT_LINE as _ALT_LINE
from spiders.pages.html import PLAYER_TIME as _PLAYER_TIME
from spiders.pages.html import (
    all_matches,
    clean_author,
    first_match,
    jsonld_of,
    link_canonical,
    meta_all,
    meta_first,
    meta_map,
    page_identity,
)
from spiders.pages.html import crumb_name as _crumb_name
from spiders.pages.html import dedupe_images as _dedupe_images
from spiders.pages.html import drop_keep_tail as _drop_keep_tail
from spiders.pages.html import extractor_failed as _extractor_failed
from spiders.pages.html import jsonld_names as _names
from spiders.pages.html import jsonld_types as _types
from spiders.pages.html import parse_html as _parse_html
from spiders.pages.html import walk_blocks as _walk
from spiders.pages.textutil import clean_text, dedupe
from spiders.pages.urls import absolute_http_url

if TYPE_CHECKING:
    from .profile import VendorCmsProfile

log = logging.getLogger("bantin.extract")

LAYERS = ("site", "jsonld", "generic")
# The fields whose layer is recorded, in the order fallbacks list them.
FIELDS = ("title", "sapo", "body", "author", "published_at", "category", "tags")


class ArticlePage:
    """One article page of a vendor CMS site: ``ArticlePage(html, url, profile).to_item()`` -> ExtractedArticle.

    ``url`` is the address the page was requested at: the article's identity comes from it
    (a canonical URL or og:url naming another article is listed in ``warnings``, never
    followed). ``encoding`` is the charset the HTTP header declared, if any.

    Raises :class:`ExtractionError` when no title, no body or no article id can be
    found by any layer, when the bytes cannot be decoded, or when anything in the page
    makes the extractor itself fail: a half item is never returned.
    """

    def __init__(self, html: str | bytes, url: str, profile: VendorCmsProfile, *, encoding: str | None = None):
        self.url = url
        self.profile = profile
        self.site = profile.site
        self.sel = profile.selectors.article
        self.meta_keys = profile.selectors.meta
        # Things worth a look on a page that was still extracted (one line each).
        self.warnings: list[str] = []
        try:
            self.root = _parse_html(html, url, encoding)
        except ExtractionError:
            raise
        except Exception as exc:  # noqa: BLE001 - hostile bytes must fail this page, with the reason
            raise _extractor_failed(exc, url) from exc
        self._meta: dict[str, list[str]] | None = None
        self._jsonld: list[dict] | None = None
        self._item: ExtractedArticle | None = None
        self._fallbacks: list[str] = []
        # Fields a lower layer served from the site's own visible markup (a date's text).
        self._site_text: set[str] = set()
        # Fields a layer below the site's selectors served (fallbacks, and what the row has no selector for).
        self._lower: set[str] = set()
        # (scope element, its title element) found while choosing the scope: the title lookup reuses it.
        self._scope_title: tuple[Any, Any] | None = None

    # -- public -------------------------------------------------------------------------------

    def to_item(self) -> ExtractedArticle:
        if self._item is None:
            try:
                self._item = self._build()
            except ExtractionError:
                raise
            except Exception as exc:  # noqa: BLE001 - hostile markup must fail this page, with the reason
                raise _extractor_failed(exc, self.url) from exc
        return self._item

    # -- orchestration ------------------------------------------------------------------------

    def _build(self) -> ExtractedArticle:
        url, external_id = self._identity()
        if external_id is None:
            raise ExtractionError("no article id in the URL, og:url or dable:item_id", url=self.url)

        scope = self._scope()
        title, title_layer = self._title(scope)
        if not title:
            raise ExtractionError("no title found by any layer", url=self.url)

        body_el = self._first(scope, self.sel.body)
        author = self._author(scope)
        published = self._published(scope)
        category = self._category(scope)
        tags = self._tags(scope, body_el)
        sapo = self._sapo(scope)
        images: list[Image] = []
        paragraphs: list[str] = []
        body_layer = "site"
        if body_el is not None:
            self._strip(body_el, self.sel.clutter)
            images = self._images(body_el)
            self._strip(body_el, self.sel.media)
            paragraphs = self._filter_paragraphs(self._blocks(body_el), title, images)
        if not paragraphs:
            # No body block, or an empty one (a stale container left behind by a redesign).
            if body_el is None:
                images = self._images_outside_body(scope)
            raw, body_layer = self._body_fallback(scope)
            paragraphs = self._filter_paragraphs(raw, title, images)
            if paragraphs:
                self._fallbacks.append("body")
        body = "\n\n".join(paragraphs)
        if not body:
            raise ExtractionError("no body text found by any layer", url=self.url)

        extractor = max(title_layer, body_layer, key=LAYERS.index)
        fallbacks: list[str] = [name for name in FIELDS if name in self._fallbacks]
        modified = self._modified()
        present = {
            "title": title,
            "sapo": sapo,
            "body": body,
            "author": author,
            "published_at": published,
            "category": category,
            "tags": tags,
        }
        served_below = {"title": title_layer, "body": body_layer}
        # The lower layers of the other fields are structured data and meta tags, except the
        # visible date, which is the site's own markup read last.
        layers = {
            name: served_below.get(name, "jsonld" if name in self._lower - self._site_text else "site")
            for name, value in present.items()
            if value
        }
        if modified:
            layers["modified_at"] = "jsonld"  # the row has no selector for it: structured data only
        if fallbacks or extractor != "site":
            log.info(
                "%s: served by %s layer; fields past site selectors: %s", url, extractor, ", ".join(fallbacks) or "-"
            )
        else:
            log.debug("%s: served by site layer", url)
        return ExtractedArticle(
            site=self.site.id,
            external_id=external_id,
            url=url,
            title=title,
            body=body,
            sapo=sapo,
            author=author,
            published_at=published,
            modified_at=modified,
            category=category,
            tags=tags,
            images=images,
            extractor=extractor,
            fallbacks=fallbacks,
            layers=layers,
        )

    def _layered(self, field: str, site: Callable[[], Any], *lower: Callable[[], Any], has_site: bool = True) -> Any:
        """First non-empty value; a field served below the site layer is recorded in fallbacks.

        ``has_site`` false: the row has no selector for the field (VietnamPlus's tags), so a lower
        layer serving it is the row's design, not a fallback.
        """
        value = site() if has_site else None
        if value:
            return value
        for getter in lower:
            value = getter()
            if value:
                self._lower.add(field)
                if has_site:
                    self._fallbacks.append(field)
                return value
        return value

    # -- lookups ------------------------------------------------------------------------------

    def _first(self, context, alternatives: tuple[str, ...]):
        return first_match(context, alternatives)

    def _all(self, context, alternatives: tuple[str, ...]) -> list:
        return all_matches(context, alternatives)

    def _scope(self):
        """The article block when one holds the title or body; else the whole page."""
        for css in self.sel.scope:
            for el in xpath(css)(self.root):
                title = self._first(el, self.sel.title)
                if title is not None:
                    self._scope_title = (el, title)
                    return el
                if self._first(el, self.sel.body) is not None:
                    return el
        return self.root

    @property
    def meta(self) -> dict[str, list[str]]:
        if self._meta is None:
            self._meta = meta_map(self.root)
        return self._meta

    def _meta_first(self, keys: tuple[str, ...]) -> str:
        return meta_first(self.meta, keys)

    def _meta_all(self, keys: tuple[str, ...]) -> list[str]:
        return meta_all(self.meta, keys)

    def _meta_id(self, keys: tuple[str, ...]) -> str | None:
        value = self._meta_first(keys)
        return self.site.normalise_id(value) if value.isdigit() else None

    @property
    def jsonld(self) -> list[dict]:
        """NewsArticle-like objects from every JSON-LD script (lists and @graph included)."""
        if self._jsonld is None:
            self._jsonld = jsonld_of(xpath(self.sel.jsonld)(self.root), self.url)
        return self._jsonld

    def _ld(self, key: str) -> Any:
        for obj in self.jsonld:
            if any("Article" in kind or kind == "VideoObject" for kind in _types(obj)) and obj.get(key):
                return obj[key]
        return None

    # -- fields -------------------------------------------------------------------------------

    def _identity(self) -> tuple[str, str | None]:
        """(URL, article id): the requested article's, never another one its page claims (``page_identity``)."""
        return page_identity(
            self.url,
            self.site,
            (self._meta_first(self.meta_keys.url), link_canonical(self.root)),
            self._meta_id(self.meta_keys.item_id),
            self.warnings,
        )

    def _title(self, scope) -> tuple[str, str]:
        if self._scope_title is not None and self._scope_title[0] is scope:
            el = self._scope_title[1]
        else:
            el = self._first(scope, self.sel.title)
        text = clean_text(el.text_content()) if el is not None else ""
        if text:
            return text, "site"
        headline = self._ld("headline")
        structured = (clean_text(headline) if isinstance(headline, str) else "") or self._meta_first(
            self.meta_keys.title
        )
        if structured:
            self._fallbacks.append("title")
            return self.profile.title_suffix.sub("", structured), "jsonld"
        candidates = [clean_text(h1.text_content()) for h1 in self.root.iter("h1")]
        candidates += [self.profile.title_suffix.sub("", clean_text(t.text_content())) for t in self.root.iter("title")]
        text = next((c for c in candidates if c), "")
        if text:
            self._fallbacks.append("title")
        return text, "generic"

    def _sapo(self, scope) -> str:
        def site() -> str:
            el = self._first(scope, self.sel.sapo)
            return clean_text(el.text_content()) if el is not None else ""

        def ld() -> str:
            value = self._ld("description")
            return clean_text(value) if isinstance(value, str) else ""

        sapo = self._layered("sapo", site, ld, lambda: self._meta_first(self.meta_keys.sapo))
        prefix = self.profile.sapo_prefix
        return prefix.sub("", sapo, count=1) if prefix is not None and sapo else sapo

    def _author(self, scope) -> str:
        paper_names = self.profile.paper_names

        def site() -> str | None:
            found = self._all(scope, self.sel.author)
            # Matched but only the paper's name -> "" yet still served by the site layer.
            return clean_author([el.text_content() for el in found], paper_names) if found else None

        value = site()
        if value is not None:
            return value
        ld = clean_author(_names(self._ld("author")), paper_names)
        meta = clean_author(self._meta_all(self.meta_keys.author), paper_names)
        if ld or meta:
            self._fallbacks.append("author")
            self._lower.add("author")
        return ld or meta

    def _published(self, scope) -> datetime | None:
        zone = self.site.timezone

        def site() -> datetime | None:
            for el in self._all(scope, self.sel.published):
                # Some rows select a visible date (Tiền Phong's ``span.time``): no attribute, its text.
                value = el.get("datetime")
                parsed = parse_datetime(value if value is not None else clean_text(el.text_content()), default_tz=zone)
                if parsed:
                    return parsed
            return None

        def ld() -> datetime | None:
            value = self._ld("datePublished")
            return parse_datetime(value, default_tz=zone) if isinstance(value, str) else None

        def meta() -> datetime | None:
            for value in self._meta_all(self.meta_keys.published):
                parsed = parse_datetime(value, default_tz=zone)
                if parsed:
                    return parsed
            return None

        def visible() -> datetime | None:
            el = self._first(scope, self.sel.published_text)
            when = parse_datetime(clean_text(el.text_content()), default_tz=zone) if el is not None else None
            if when is not None:
                self._site_text.add("published_at")
            return when

        return self._layered("published_at", site, ld, meta, visible)

    def _modified(self) -> datetime | None:
        zone = self.site.timezone
        value = self._ld("dateModified")
        parsed = parse_datetime(value, default_tz=zone) if isinstance(value, str) else None
        if parsed:
            return parsed
        for value in self._meta_all(self.meta_keys.modified):
            parsed = parse_datetime(value, default_tz=zone)
            if parsed:
                return parsed
        return None

    def _category(self, scope) -> list[str]:
        home_crumbs = self.profile.home_crumbs

        def site() -> list[str]:
            crumbs = self._all(self.root, self.sel.breadcrumbs)
            names = [clean_text(el.text_content()) for el in crumbs]
            return dedupe([n for n in names if n.casefold() not in home_crumbs])

        def ld_breadcrumbs() -> list[str]:
            for obj in self.jsonld:
                if "BreadcrumbList" not in _types(obj):
                    continue
                items = [i for i in obj.get("itemListElement") or [] if isinstance(i, dict)]
                items.sort(key=lambda i: i.get("position") or 0)
                names = [clean_text(_crumb_name(i)) for i in items]
                names = [n for n in names if n and n.casefold() not in home_crumbs]
                if names:
                    return dedupe(names)
            return []

        def meta() -> list[str]:
            return dedupe(self._meta_all(self.meta_keys.section))

        def ld_section() -> list[str]:
            return dedupe([clean_text(n) for n in _names(self._ld("articleSection"))])

        return self._layered("category", site, meta, ld_breadcrumbs, ld_section) or []

    def _tags(self, scope, body_el) -> list[str]:
        def site() -> list[str]:
            excluded = set()
            for box in xpath_any(self.sel.teasers)(scope):  # links in teasers are not this article's tags
                excluded.update(box.iter("a"))
            if body_el is not None:
                excluded.update(body_el.iter("a"))
            links = [a for a in self._all(scope, self.sel.tag_links) if a not in excluded]
            return dedupe([clean_text(a.text_content()).lstrip("#").strip() for a in links])

        def split(values: list[str]) -> list[str]:
            return dedupe([clean_text(part) for value in values for part in re.split(r"[,;]", value)])

        def meta() -> list[str]:
            for key in self.meta_keys.keywords:
                tags = split(self._meta_all((key,)))
                if tags:
                    return tags
            return []

        return (
            self._layered(
                "tags", site, meta, lambda: split(_names(self._ld("keywords"))), has_site=bool(self.sel.tag_links)
            )
            or []
        )

    # -- images -------------------------------------------------------------------------------

    def _images(self, container) -> list[Image]:
        images: list[Image] = []
        for el in container.iter("figure", "table"):
            if el.tag == "figure":
                imgs = xpath(self.sel.figure_img)(el)
                caps = xpath(self.sel.figcaption)(el)
            elif "picture" in (el.get("class") or "").split():
                imgs = xpath(self.sel.legacy_img)(el)
                caps = xpath(self.sel.legacy_caption)(el)
            else:
                continue
            caption = clean_text(caps[0].text_content()) if caps else ""
            for img in imgs:
                src = self._img_src(img)
                if src:
                    images.append(Image(url=src, caption=caption))
        return _dedupe_images(images)

    def _img_src(self, img) -> str | None:
        for attr in self.sel.img_attrs:
            src = absolute_http_url(img.get(attr), self.url)
            if src:
                return src
        return None

    def _images_outside_body(self, scope) -> list[Image]:
        self._strip(scope, self.sel.clutter)
        return self._images(scope)

    # -- body ---------------------------------------------------------------------------------

    def _strip(self, context, alternatives: tuple[str, ...]) -> None:
        for el in xpath_any(alternatives)(context):
            if el is context:
                continue
            parent = el.getparent()
            if parent is not None:
                _drop_keep_tail(el)

    def _blocks(self, container) -> list[str]:
        for br in container.iter("br"):
            br.tail = "\n" + (br.tail or "")
        out: list[str] = []
        _walk(container, out)
        return out

    def _body_fallback(self, scope) -> tuple[list[str], str]:
        body = self._ld("articleBody")
        if isinstance(body, str) and body.strip():
            if "<" in body:
                fragment = lxml.html.fragment_fromstring(body, create_parent="div")
                return self._blocks(fragment), "jsonld"
            return [clean_text(p) for p in body.splitlines()], "jsonld"
        structured = self._first(self.root, self.sel.structured_body)
        if structured is not None:
            self._strip(structured, self.sel.clutter + self.sel.media)
            paragraphs = self._blocks(structured)
            if any(clean_text(p) for p in paragraphs):
                return paragraphs, "jsonld"
        return self._generic(), "generic"

    def _generic(self) -> list[str]:
        # Imported here: trafilatura is slow to import and only needed when the site changed its layout.
        import trafilatura

        self._strip(self.root, self.sel.clutter + self.sel.chrome + self.sel.media)
        for el in self.root.iter("h1"):
            _drop_keep_tail(el)
        text = trafilatura.extract(
            self.root,
            url=self.url,
            include_comments=False,
            include_tables=False,
            include_images=False,
            favor_recall=True,
            deduplicate=False,
        )
        return text.splitlines() if text else []

    def _filter_paragraphs(self, paragraphs: list[str], title: str, images: list[Image]) -> list[str]:
        captions = {image.caption.casefold() for image in images if image.caption}
        footer_line = self.profile.footer_lines
        folded_title = title.casefold()
        out: list[str] = []
        for raw in paragraphs:
            text = clean_text(raw)
            if not text or _PLAYER_TIME.match(text) or footer_line.match(text):
                continue
            folded = text.casefold()
            if folded == folded_title:
                continue
            # _ALT_LINE ends in a digit; its lazy prefix is costly on every other paragraph.
            alt = _ALT_LINE.match(text) if text[-1].isdecimal() else None
            if alt and (alt["prefix"].casefold() == folded_title or not alt["prefix"]):
                continue
            if folded in captions:
                continue
            out.append(text)
        return out
