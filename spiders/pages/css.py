"""CSS selectors compiled once to XPath, for page objects that keep their selectors as data."""

from __future__ import annotations

from functools import lru_cache

from cssselect import HTMLTranslator
from lxml import etree

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
