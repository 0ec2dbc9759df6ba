"""Báo Quảng Ninh's article page object: HTML + URL + its profile in, a typed ExtractedArticle out.

No Scrapy here, so it runs on saved pages. Nobody has published this CMS's article markup
(the team's map found none), so the layers run the other way round from NDO's: each field is
read from structured data (JSON-LD, then meta tags) first, then from the site's own selectors
(``site.py``), then, for title and body, by the generic extractor (trafilatura).
``ExtractedArticle.layers`` names the layer that served each field; ``fallbacks`` lists the
fields that fell past the site's own layers to the generic extractor, and ``extractor`` is
``generic`` when title or body did (the crawl's ``degraded`` share counts those pages), else
``site``: structured data is this site's own first layer, not a fallback.

The text ends at the first "Từ khóa", "Tin liên quan" or "Ý kiến bạn đọc" heading, and a last
paragraph that is all bold is the byline (a signature such as ``**THU HÀ - QUANG MINH**``),
never body text.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crawler.errors import ExtractionError
from crawler.items import ExtractedArticle, Image
from spiders.pages.css import xpath, xpath_any
from spiders.pages.dates import parse_datetime
from spiders.pages.html import (
    ALT_LINE,
    PLAYER_TIME,
    all_matches,
    clean_author,
    crumb_name,
    dedupe_images,
    drop_keep_tail,
    extractor_failed,
    first_match,
    jsonld_names,
    jsonld_of,
    jsonld_types,
    link_canonical,
    meta_all,
    meta_first,
    meta_map,
    page_identity,
    parse_html,
    walk_blocks,
)
from spiders.pages.textutil import clean_text, dedupe
from spiders.pages.urls import absolute_http_url

if TYPE_CHECKING:
    from .profile import OwnCmsProfile

log = logging.getLogger("bantin.extract")

STRUCTURED, SITE, GENERIC = "jsonld", "site", "generic"
FIELDS = ("title", "sapo", "body", "author", "published_at", "modified_at", "category", "tags")
# Headings and short blocks that may carry an end-of-text marker.
_MARKER_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "p", "div", "span", "strong", "b", "header"})
_BOLD = ("strong", "b")
# A date or time line left on its own by the generic extractor.
_DATE_LINE = re.compile(r"^[\d/.:\s,-]+$")


class ArticlePage:
    """One article page of baoquangninh.vn: ``ArticlePage(html, url, profile).to_item()`` -> ExtractedArticle.

    ``url`` is the address the page was requested at: the article's identity comes from it
    (a canonical URL naming another article is listed in ``warnings``, never followed).
    Raises :class:`ExtractionError` when no layer finds a title, a body or an article id, when
    the bytes cannot be decoded, or when anything in the page makes the extractor fail.
    """

    def __init__(self, html: str | bytes, url: str, profile: OwnCmsProfile, *, encoding: str | None = None):
        self.url = url
        self.profile = profile
        self.site = profile.site
        self.sel = profile.selectors
        self.keys = profile.meta
        self.warnings: list[str] = []
        try:
            self.root = parse_html(html, url, encoding)
        except ExtractionError:
            raise
        except Exception as exc:  # noqa: BLE001 - hostile bytes must fail this page, with the reason
            raise extractor_failed(exc, url) from exc
        self.meta = meta_map(self.root)
        self.jsonld = jsonld_of(xpath(self.sel.jsonld)(self.root), url)
        self.layers: dict[str, str] = {}
        self._item: ExtractedArticle | None = None

    def to_item(self) -> ExtractedArticle:
        if self._item is None:
            try:
                self._item = self._build()
            except ExtractionError:
                raise
            except Exception as exc:  # noqa: BLE001 - hostile markup must fail this page, with the reason
                raise extractor_failed(exc, self.url) from exc
        return self._item

    # -- orchestration ------------------------------------------------------------------------

    def _build(self) -> ExtractedArticle:
        url, external_id = page_identity(
            self.url, self.site, (self._meta_first(self.keys.url), link_canonical(self.root)), None, self.warnings
        )
        if external_id is None:
            raise ExtractionError("no article id in the URL or the page's canonical URL", url=self.url)
        scope = self._scope()
        title = self._layered(
            "title",
            lambda: self._title_structured(),
            lambda: self._text(scope, self.sel.title),
            generic=self._title_generic,
        )
        if not title:
            raise ExtractionError("no title found by any layer", url=self.url)
        sapo = self._layered(
            "sapo",
            lambda: self._ld_text("description") or self._meta_first(self.keys.sapo),
            lambda: self._text(scope, self.sel.sapo),
        )
        # Tags are read before the body is cut: the "Từ khóa" box is what the cut removes.
        tags = self._layered("tags", self._tags_structured, lambda: self._tag_links(scope)) or []
        category = self._layered("category", self._category_structured, lambda: self._breadcrumbs()) or []
        published = self._layered(
            "published_at", lambda: self._date("datePublished", self.keys.published), lambda: self._visible_date(scope)
        )
        modified = self._layered("modified_at", lambda: self._date("dateModified", self.keys.modified), lambda: None)

        body_el = self._first(scope, self.sel.body)
        signature = ""
        images: list[Image] = []
        paragraphs: list[str] = []
        structured_body = self._ld_text("articleBody")
        if structured_body:
            paragraphs = self._filter(structured_body.splitlines(), title, sapo, [])
            if paragraphs:
                self.layers["body"] = STRUCTURED
        if not paragraphs and body_el is not None:
            self._strip(body_el, self.sel.clutter)
            self._cut_at_end_markers(body_el)
            signature = self._take_signature(body_el)
            images = self._images(body_el)
            self._strip(body_el, (self.sel.figure,))
            blocks: list[str] = []
            walk_blocks(self._with_breaks(body_el), blocks)
            paragraphs = self._filter(blocks, title, "", images)
            if paragraphs:
                self.layers["body"] = SITE
        if not paragraphs:
            paragraphs, images, signature = self._generic_body(title, sapo)
            if paragraphs:
                self.layers["body"] = GENERIC
        if not paragraphs:
            raise ExtractionError("no body text found by any layer", url=self.url)

        author = self._layered("author", lambda: self._author_structured(), lambda: self._author_site(scope, signature))
        if not author and signature and self.layers.get("body") == GENERIC:
            # The signature was found by the generic walk: the byline fell past the site's layers.
            author = clean_author(signature, self.profile.paper_names)
            if author:
                self.layers["author"] = GENERIC

        fallbacks = [name for name in FIELDS if self.layers.get(name) == GENERIC]
        extractor = GENERIC if {"title", "body"} & set(fallbacks) else SITE
        if fallbacks:
            log.info("%s: fields past the site's own layers: %s", url, ", ".join(fallbacks))
        return ExtractedArticle(
            site=self.site.id,
            external_id=external_id,
            url=url,
            title=title,
            body="\n\n".join(paragraphs),
            sapo=sapo or "",
            author=author or "",
            published_at=published,
            modified_at=modified,
            category=category,
            tags=tags,
            images=images,
            extractor=extractor,
            fallbacks=fallbacks,
            layers={name: self.layers[name] for name in FIELDS if name in self.layers},
        )

    def _layered(self, field: str, structured, site, generic=None) -> Any:
        """The first non-empty value of structured data, the site's selectors, then the generic extractor."""
        for layer, getter in ((STRUCTURED, structured), (SITE, site), (GENERIC, generic)):
            if getter is None:
                continue
            value = getter()
            if value:
                self.layers[field] = layer
                return value
        return None

    # -- lookups ------------------------------------------------------------------------------

    def _first(self, context, alternatives: tuple[str, ...]):
        return first_match(context, alternatives)

    def _all(self, context, alternatives: tuple[str, ...]) -> list:
        return all_matches(context, alternatives)

    def _text(self, context, alternatives: tuple[str, ...]) -> str:
        el = self._first(context, alternatives)
        return clean_text(el.text_content()) if el is not None else ""

    def _scope(self):
        for css in self.sel.scope:
            for el in xpath(css)(self.root):
                if self._first(el, self.sel.title) is not None or self._first(el, self.sel.body) is not None:
                    return el
        return self.root

    def _meta_first(self, keys: tuple[str, ...]) -> str:
        return meta_first(self.meta, keys)

    def _meta_all(self, keys: tuple[str, ...]) -> list[str]:
        return meta_all(self.meta, keys)

    def _ld(self, key: str) -> Any:
        for obj in self.jsonld:
            if any("Article" in kind or kind == "VideoObject" for kind in jsonld_types(obj)) and obj.get(key):
                return obj[key]
        return None

    def _ld_text(self, key: str) -> str:
        value = self._ld(key)
        return clean_text(value) if isinstance(value, str) else ""

    # -- fields -------------------------------------------------------------------------------

    def _strip_suffix(self, text: str) -> str:
        return self.profile.title_suffix.sub("", text)

    def _title_structured(self) -> str:
        return self._ld_text("headline") or self._strip_suffix(self._meta_first(self.keys.title))

    def _title_generic(self) -> str:
        candidates = [clean_text(h1.text_content()) for h1 in self.root.iter("h1")]
        candidates += [self._strip_suffix(clean_text(t.text_content())) for t in self.root.iter("title")]
        return next((c for c in candidates if c), "")

    def _author_structured(self) -> str:
        names = self.profile.paper_names
        return clean_author(jsonld_names(self._ld("author")), names) or clean_author(
            self._meta_all(self.keys.author), names
        )

    def _author_site(self, scope, signature: str) -> str:
        names = self.profile.paper_names
        found = self._all(scope, self.sel.author)
        byline = clean_author([el.text_content() for el in found], names) if found else ""
        return byline or clean_author(signature, names)

    def _date(self, ld_key: str, meta_keys: tuple[str, ...]) -> datetime | None:
        zone = self.site.timezone
        value = self._ld(ld_key)
        parsed = parse_datetime(value, default_tz=zone) if isinstance(value, str) else None
        if parsed:
            return parsed
        for value in self._meta_all(meta_keys):
            parsed = parse_datetime(value, default_tz=zone)
            if parsed:
                return parsed
        return None

    def _visible_date(self, scope) -> datetime | None:
        for el in self._all(scope, self.sel.published):
            parsed = parse_datetime(clean_text(el.text_content()), default_tz=self.site.timezone)
            if parsed:
                return parsed
        return None

    def _category_structured(self) -> list[str]:
        home = self.profile.home_crumbs
        for obj in self.jsonld:
            if "BreadcrumbList" not in jsonld_types(obj):
                continue
            items = [i for i in obj.get("itemListElement") or [] if isinstance(i, dict)]
            items.sort(key=lambda i: i.get("position") or 0)
            names = [clean_text(crumb_name(i)) for i in items]
            names = [n for n in names if n and n.casefold() not in home]
            if names:
                return dedupe(names)
        return dedupe(self._meta_all(self.keys.section))

    def _breadcrumbs(self) -> list[str]:
        home = self.profile.home_crumbs
        names = [clean_text(el.text_content()) for el in self._all(self.root, self.sel.breadcrumbs)]
        return dedupe([n for n in names if n and n.casefold() not in home])

    def _tags_structured(self) -> list[str]:
        def split(values: list[str]) -> list[str]:
            return dedupe([clean_text(part) for value in values for part in re.split(r"[,;]", value)])

        return split(jsonld_names(self._ld("keywords"))) or next(
            (tags for key in self.keys.keywords if (tags := split(self._meta_all((key,))))), []
        )

    def _tag_links(self, scope) -> list[str]:
        return dedupe([clean_text(a.text_content()).lstrip("#").strip() for a in self._all(scope, self.sel.tag_links)])

    # -- body ---------------------------------------------------------------------------------

    def _strip(self, context, alternatives: tuple[str, ...]) -> None:
        for el in xpath_any(alternatives)(context):
            if el is not context and el.getparent() is not None:
                drop_keep_tail(el)

    def _is_end_marker(self, el) -> bool:
        if not isinstance(el.tag, str) or el.tag.lower() not in _MARKER_TAGS:
            return False
        text = el.text_content()
        return len(text) < 60 and clean_text(text).strip(" #:").casefold() in self.profile.body_ends

    def _cut_at_end_markers(self, container) -> None:
        """Remove the first end-of-text heading and everything after it, up to ``container``'s end."""
        marker = next((el for el in container.iter() if el is not container and self._is_end_marker(el)), None)
        if marker is None:
            return
        node = marker
        while node is not None and node is not container:
            parent = node.getparent()
            for following in list(node.itersiblings()):
                parent.remove(following)
            node.tail = None
            node = parent
        marker.getparent().remove(marker)

    def _take_signature(self, container) -> str:
        """The last paragraph when all its text is bold: the byline. Removed from the text; its text returned."""
        paragraphs = [p for p in container.iter("p") if clean_text(p.text_content())]
        if not paragraphs:
            return ""
        last = paragraphs[-1]
        text = clean_text(last.text_content())
        bold = clean_text(" ".join(b.text_content() for b in last.iter(*_BOLD)))
        if not bold or bold.replace(" ", "") != text.replace(" ", ""):
            return ""
        drop_keep_tail(last)
        return text

    def _with_breaks(self, container):
        for br in container.iter("br"):
            br.tail = "\n" + (br.tail or "")
        return container

    def _images(self, container) -> list[Image]:
        images: list[Image] = []
        for figure in xpath(self.sel.figure)(container):
            caps = xpath(self.sel.figcaption)(figure)
            caption = clean_text(caps[0].text_content()) if caps else ""
            for img in figure.iter("img"):
                src = next(
                    (url for attr in self.sel.img_attrs if (url := absolute_http_url(img.get(attr), self.url))), None
                )
                if src:
                    images.append(Image(url=src, caption=caption))
        return dedupe_images(images)

    def _generic_body(self, title: str, sapo: str | None) -> tuple[list[str], list[Image], str]:
        # Imported here: trafilatura is slow to import and only needed when the layout changed.
        import trafilatura

        root = self.root
        self._strip(root, self.sel.clutter + self.sel.chrome)
        self._cut_at_end_markers(root)
        signature = self._take_signature(root)
        images = self._images(root)
        self._strip(root, (self.sel.figure,))
        for el in list(root.iter("h1")):
            drop_keep_tail(el)
        text = trafilatura.extract(
            root,
            url=self.url,
            include_comments=False,
            include_tables=False,
            include_images=False,
            favor_recall=True,
            deduplicate=False,
        )
        lines = [line for line in (text or "").splitlines() if not _DATE_LINE.match(line)]
        return self._filter(lines, title, sapo or "", images), images, signature

    def _filter(self, paragraphs: list[str], title: str, sapo: str, images: list[Image]) -> list[str]:
        """Paragraph texts, less players' time labels, footer lines, repeated title or sapo, captions, alt lines."""
        captions = {image.caption.casefold() for image in images if image.caption}
        repeated = {title.casefold(), sapo.casefold()} - {""}
        out: list[str] = []
        for raw in paragraphs:
            text = clean_text(raw)
            if not text or PLAYER_TIME.match(text) or self.profile.footer_lines.match(text):
                continue
            folded = text.casefold()
            if folded in repeated or folded in captions:
                continue
            alt = ALT_LINE.match(text) if text[-1].isdecimal() else None
            if alt and (alt["prefix"].casefold() == title.casefold() or not alt["prefix"]):
                continue
            out.append(text)
        return out
