"""Rendering a Digest into the plain-text and HTML bodies.

One Jinja Environment: autoescape keyed on the final extension (``.html`` is
escaped, ``.txt`` is not; anything else is escaped to be safe), StrictUndefined
so a typo in a template fails loudly. Scraped text is never marked safe: the
highlights are markup the template adds around escaped segments.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from typing import Any

import css_inline
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reports import i18n
from reports.digest import PER_READER_FIELDS, Digest, Item

HTML_TEMPLATE = "digest.html"
TEXT_TEMPLATE = "digest.txt"


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    html: str
    shown: int

    @property
    def html_bytes(self) -> int:
        return len(self.html.encode("utf-8"))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), disabled_extensions=("txt",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Package data, never edited under a running process: checking each file's mtime on every render
        # was a twentieth of a digest's build.
        auto_reload=False,
    )
    env.globals["t"] = i18n.text
    return env


@lru_cache(maxsize=1)
def _inliner() -> css_inline.CSSInliner:
    # @media rules (dark mode, narrow screens) cannot be inlined and must survive. keep_at_rules
    # keeps just those in the <style> tag; keep_style_tags would also repeat every inlined rule.
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


# {(item template, language, the item's repr): its rendering}, shared by the messages of one build.
Fragments = dict[tuple[str, str, str], str]


def render(
    digest: Digest,
    *,
    unsubscribe: str | None = None,
    preferences: str | None = None,
    text: bool = True,
    fragments: Fragments | None = None,
) -> Rendered:
    return _render(digest, unsubscribe, preferences, text, _ItemParts(digest.language, fragments))


def _render(
    digest: Digest, unsubscribe: str | None, preferences: str | None, text: bool, parts: _ItemParts
) -> Rendered:
    context = _context(digest, unsubscribe=unsubscribe, preferences=preferences, parts=parts)
    parts.placed = []
    # The page is inlined with a placeholder for each item, whose fragment was inlined alone once (and is
    # shared by every message showing it): inlining each whole page was a quarter of a digest's build.
    page = _inliner().inline(environment().get_template(HTML_TEMPLATE).render(context))
    html = _PLACEHOLDER.sub(lambda found: parts.placed[int(found.group(1))], page)
    body = _text(context) if text else ""
    return Rendered(text=body, html=html, shown=context["shown"])


# Text no scraped content can hold (its nonce is this process's), which the inliner passes through as it is.
_NONCE = secrets.token_hex(8)
_PLACEHOLDER = re.compile(rf"bantin-item-{_NONCE}-(\d+)\.")


@lru_cache(maxsize=1)
def _fragment_page() -> tuple[str, str]:
    """A page around an item's fragment: the digest's own stylesheet, so that the fragment is inlined as in the
    digest. Every rule outside @media names one tag or class (tests.test_render_digest checks the bytes are
    those of the whole page inlined), so an element's style does not depend on where it stands."""
    env = environment()
    assert env.loader is not None
    source = env.loader.get_source(env, HTML_TEMPLATE)[0]
    found = re.search(r"<style>.*?</style>", source, re.DOTALL)
    assert found is not None, f"{HTML_TEMPLATE} has no <style>"
    # Nothing after </body>: the parser would add text there to the body.
    return f"<!DOCTYPE html>\n<html>\n<head>\n{found.group(0)}\n</head>\n<body>", "</body></html>"


def _inline_fragment(html: str) -> str:
    head, tail = _fragment_page()
    page = _inliner().inline(head + html + tail)
    start = page.index(">", page.index("<body")) + 1
    return page[start : page.rindex("</body>")]


def _context(digest: Digest, *, unsubscribe: str | None, preferences: str | None, parts: _ItemParts) -> dict:
    return {
        "d": digest,
        "lang": digest.language,
        "unsubscribe": unsubscribe,
        "preferences": preferences,
        "shown": sum(len(group.items) for group in digest.groups),
        "item_part": parts,
    }


class _ItemParts:
    """What the digest templates call for each item: its template rendered alone, remembered in `fragments`.

    An item shows only what it holds (and the language), so readers owed the same story under the same topic
    share its rendering. The key is the item's whole repr — every field it has — so a template that starts
    reading another field can never be handed a fragment rendered without it; for a reader's copy of a shared
    item, the shared item's repr (made once) and the copy's own fields stand for it (``_content``).
    """

    def __init__(self, language: str, fragments: Fragments | None):
        self.language = language
        self.fragments: Fragments = {} if fragments is None else fragments
        # Each item's repr by identity, for the HTML and then the text part: one digest's rendering only,
        # while its items are alive (a dead object's id can be another's).
        self._reprs: dict[int, str] = {}
        # The inlined HTML fragments of the page being rendered, in order: the page holds their placeholders.
        self.placed: list[str] = []

    def __call__(self, name: str, item: Item) -> str:
        content = self._reprs.get(id(item))
        if content is None:
            content = self._reprs[id(item)] = _content(item)
        key = (name, self.language, content)
        if key not in self.fragments:
            self.fragments[key] = _render_item(name, item, self.language)
        if not name.endswith(".html"):
            return self.fragments[key]
        self.placed.append(self.fragments[key])
        # Plain text, so the page template's escaping leaves it as it is.
        return f"bantin-item-{_NONCE}-{len(self.placed) - 1}."


def _content(item: Item) -> str:
    """The item's repr, or what stands for it: the repr of the shared item it is a copy of (computed once for
    all readers) and of the fields set on the copy, when every other field is still the shared item's own."""
    if item.copy_of is None:
        return repr(item)
    shared, shared_repr = item.copy_of
    if any(getattr(item, name) is not getattr(shared, name) for name in _SHARED_FIELDS):
        return repr(item)
    return shared_repr + repr(tuple(getattr(item, name) for name in PER_READER_FIELDS))


_SHARED_FIELDS = tuple(
    entry.name for entry in fields(Item) if entry.name not in PER_READER_FIELDS and entry.name != "copy_of"
)


def _render_item(name: str, item: Item, language: str) -> str:
    rendered = environment().get_template(name).render(item=item, lang=language)
    return _inline_fragment(rendered) if name.endswith(".html") else rendered


def _text(context: dict) -> str:
    return environment().get_template(TEXT_TEMPLATE).render(context)


def render_within(
    digest: Digest,
    *,
    max_html_kb: int,
    unsubscribe: str | None = None,
    preferences: str | None = None,
    fragments: Fragments | None = None,
    renderings: dict[tuple, Any] | None = None,
) -> tuple[Digest, Rendered]:
    """Render, showing fewer items in the HTML until it fits the size budget.

    Gmail clips HTML past ~102 KB (hiding the footer and the unsubscribe link);
    left-out items move to the "and N more" list of the text part.

    `renderings` remembers, for the digest's key (``Digest.key``) and whether the reader has a name and links,
    the pages rendered with placeholders for them (``_Pages``): a reader of the same key gets the bytes a
    rendering of their own gave, their escaped name and links put in, without rendering them again.
    """
    if renderings is None or digest.key is None:
        return _render_within(digest, max_html_kb, unsubscribe, preferences, fragments)
    values = (digest.name, unsubscribe, preferences)
    if not all(map(_placeable, values)):
        key = (digest.key, digest.name, max_html_kb, unsubscribe, preferences)
        if key not in renderings:
            renderings[key] = _render_within(digest, max_html_kb, unsubscribe, preferences, fragments)
        fitted, rendered = renderings[key]
        return replace(fitted, recipient=digest.recipient), rendered
    # The page is rendered and inlined once for every reader of the key with a name and links (or none), with
    # placeholders the reader's own are put in: a reader's name or signed links made every rendering theirs.
    shape = (digest.key, max_html_kb, bool(digest.name), bool(unsubscribe), bool(preferences))
    pages = renderings.get(shape)
    if pages is None:
        pages = renderings[shape] = _Pages(digest, fragments, bool(unsubscribe), bool(preferences))
    return pages.fit(digest, max_html_kb * 1024, values)


# What the page holds in the reader's name and links (and the text part as they are): the inliner's
# serializer writes text and attributes with these escapes alone, whatever escapes the template wrote.
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", '"': "&quot;"})
_SLOTS = tuple(f"bantin-{part}-{_NONCE}." for part in ("name", "unsubscribe", "preferences"))
# The parser rewrites some characters (line ends, NUL, no-break space, control characters): a value holding
# one is rendered with the page, as it was.
_UNPLACEABLE = re.compile(r"[\x00-\x1f\x7f-\xa0]")


def _placeable(value: str | None) -> bool:
    return value is None or _UNPLACEABLE.search(value) is None


class _Pages:
    """One key's pages rendered with placeholders, by the shown counts the size budget led to."""

    def __init__(self, digest: Digest, fragments: Fragments | None, unsubscribe: bool, preferences: bool):
        self.parts = _ItemParts(digest.language, fragments)
        self.name = _SLOTS[0] if digest.name else ""
        self.unsubscribe = _SLOTS[1] if unsubscribe else None
        self.preferences = _SLOTS[2] if preferences else None
        # {the shown counts the budget led to: (that digest, its HTML, its text)}
        self.pages: dict[tuple[int, ...], tuple[Digest, Rendered, str]] = {}
        # The last reader's name and links and what they were given: readers with none of their own (or the
        # same) come one after another, and get the same strings, encoded once (``reports.mailer._part``).
        self.last: tuple[tuple[str | None, ...], Digest, Rendered] | None = None

    def _page(self, digest: Digest, path: tuple[int, ...]) -> tuple[Digest, Rendered, str]:
        page = self.pages.get(path)
        if page is None:
            slotted = replace(digest, name=self.name)
            unsubscribe, preferences = self.unsubscribe, self.preferences
            rendered = _render(slotted, unsubscribe, preferences, False, self.parts)
            context = _context(slotted, unsubscribe=unsubscribe, preferences=preferences, parts=self.parts)
            page = self.pages[path] = (digest, rendered, _text(context))
        return page

    def fit(self, digest: Digest, budget: int, values: tuple[str | None, ...]) -> tuple[Digest, Rendered]:
        if self.last is not None and self.last[0] == values:
            return replace(self.last[1], recipient=digest.recipient), self.last[2]
        name, unsubscribe, preferences = values
        html_values = (
            (name or "").translate(_TEXT_ESCAPES),
            (unsubscribe or "").translate(_ATTRIBUTE_ESCAPES),
            (preferences or "").translate(_ATTRIBUTE_ESCAPES),
        )
        path: tuple[int, ...] = ()
        shrunk, page, text = self._page(digest, path)
        html = _filled(page.html, html_values)
        size = len(html.encode("utf-8"))
        # The loop of _render_within, on the reader's own bytes.
        while size > budget and page.shown > 0:
            fewer = _fewer_shown(page.shown, size, budget)
            path += (fewer,)
            shrunk, page, text = self._page(shrunk.with_shown(fewer), path)
            html = _filled(page.html, html_values)
            size = len(html.encode("utf-8"))
        text = _filled(text, (name or "", unsubscribe or "", preferences or ""))
        fitted, rendered = (
            replace(shrunk, recipient=digest.recipient, name=digest.name),
            Rendered(text, html, page.shown),
        )
        self.last = (values, fitted, rendered)
        return fitted, rendered


def _filled(page: str, values: tuple[str, ...]) -> str:
    for slot, value in zip(_SLOTS, values, strict=True):
        page = page.replace(slot, value)
    return page


def _fewer_shown(shown: int, size: int, budget: int) -> int:
    """How many items to show next when `shown` made `size` bytes of HTML: fewer in proportion to the overshoot,
    by at least one."""
    return max(min(shown - 1, int(shown * budget / size * 0.95)), 0)


def _render_within(
    digest: Digest, max_html_kb: int, unsubscribe: str | None, preferences: str | None, fragments: Fragments | None
) -> tuple[Digest, Rendered]:
    budget = max_html_kb * 1024
    parts = _ItemParts(digest.language, fragments)
    rendered = _render(digest, unsubscribe, preferences, False, parts)
    while rendered.html_bytes > budget and rendered.shown > 0:
        digest = digest.with_shown(_fewer_shown(rendered.shown, rendered.html_bytes, budget))
        rendered = _render(digest, unsubscribe, preferences, False, parts)
    # The HTML that fits is kept: rendering and inlining it again for the text part gave the same bytes, at a cost.
    text = _text(_context(digest, unsubscribe=unsubscribe, preferences=preferences, parts=parts))
    return digest, Rendered(text=text, html=rendered.html, shown=rendered.shown)
