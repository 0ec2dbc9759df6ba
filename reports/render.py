"""Rendering a Digest into the plain-text and HTML bodies.

One Jinja Environment: autoescape keyed on the final extension (``.html`` is
escaped, ``.txt`` is not; anything else is escaped to be safe), StrictUndefined
so a typo in a template fails loudly. Scraped text is never marked safe: the
highlights are markup the template adds around escaped segments.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import css_inline
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reports import i18n
from reports.digest import Digest

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
        # The templates ship with the package: no file check on every render (one per reader's digest).
        auto_reload=False,
    )
    env.globals["t"] = i18n.text
    return env


@lru_cache(maxsize=1)
def _inliner() -> css_inline.CSSInliner:
    # @media rules (dark mode, narrow screens) cannot be inlined and must survive. keep_at_rules
    # keeps just those in the <style> tag; keep_style_tags would also repeat every inlined rule.
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def render(
    digest: Digest, *, unsubscribe: str | None = None, preferences: str | None = None, text: bool = True
) -> Rendered:
    context = _context(digest, unsubscribe=unsubscribe, preferences=preferences)
    html = _inliner().inline(environment().get_template(HTML_TEMPLATE).render(context))
    body = _text(context) if text else ""
    return Rendered(text=body, html=html, shown=context["shown"])


def _context(digest: Digest, *, unsubscribe: str | None, preferences: str | None) -> dict:
    return {
        "d": digest,
        "lang": digest.language,
        "unsubscribe": unsubscribe,
        "preferences": preferences,
        "shown": sum(len(group.items) for group in digest.groups),
    }


def _text(context: dict) -> str:
    return environment().get_template(TEXT_TEMPLATE).render(context)


def render_within(
    digest: Digest, *, max_html_kb: int, unsubscribe: str | None = None, preferences: str | None = None
) -> tuple[Digest, Rendered]:
    """Render, showing fewer items in the HTML until it fits the size budget.

    Gmail clips HTML past ~102 KB (hiding the footer and the unsubscribe link);
    left-out items move to the "and N more" list of the text part.
    """
    budget = max_html_kb * 1024
    rendered = render(digest, unsubscribe=unsubscribe, preferences=preferences, text=False)
    while rendered.html_bytes > budget and rendered.shown > 0:
        # Shrink in proportion to the overshoot, by at least one item.
        target = min(rendered.shown - 1, int(rendered.shown * budget / rendered.html_bytes * 0.95))
        digest = digest.with_shown(max(target, 0))
        rendered = render(digest, unsubscribe=unsubscribe, preferences=preferences, text=False)
    # The HTML that fits is kept: rendering and inlining it again for the text part gave the same bytes, at a cost.
    text = _text(_context(digest, unsubscribe=unsubscribe, preferences=preferences))
    return digest, Rendered(text=text, html=rendered.html, shown=rendered.shown)
