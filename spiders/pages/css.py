"""CSS selectors compiled once to XPath, for page objects that keep their selectors as data."""

from __future__ import annotations

from functools import lru_cache

from cssselect import HTMLTranslator, parse
from cssselect.parser import Attrib, Class, CombinedSelector, Element, Tree
from cssselect.xpath import XPathExpr
from lxml import etree

# Tests the class attribute node itself (``.``): the translation of ``.name`` below.
_CLASS_TEST = "[contains(., {word})][contains(concat(' ', normalize-space(.), ' '), {padded})]"
_CLASS_STEP_END = "/parent::*"


class _ClassStepTranslator(HTMLTranslator):
    """cssselect's HTML translation, with ``.name`` as a step through the class attribute.

    cssselect tests a class as a predicate on every element (``*[@class and contains(...)]``), and
    libxml2 builds a node set for ``@class`` on each one it tries: whole-page selectors such as
    ``.breadcrumbs .text`` cost tens of microseconds a page. ``*/@class[...]/parent::*`` selects the
    same elements (in document order, once each) by visiting only the class attributes. Only for
    selectors of elements, classes, attributes and combinators (``_plain``): cssselect's other
    translations (``:not``, ``:nth-of-type`` ...) rework the element test, which this step is not.
    """

    def xpath_class(self, class_selector: Class) -> XPathExpr:
        xpath = self.xpath(class_selector.selector)
        name = class_selector.class_name
        test = _CLASS_TEST.format(word=self.xpath_literal(name), padded=self.xpath_literal(f" {name} "))
        element = xpath.element + (f"[{xpath.condition}]" if xpath.condition else "")
        if not xpath.condition and element.endswith(_CLASS_STEP_END):
            # Another class of the same element: one more test on the same attribute.
            xpath.element = element[: -len(_CLASS_STEP_END)] + test + _CLASS_STEP_END
        else:
            xpath.element = f"{element}/@class{test}{_CLASS_STEP_END}"
        xpath.condition = ""
        return xpath


_stock = HTMLTranslator()
_class_steps = _ClassStepTranslator()


def _plain(tree: Tree) -> bool:
    """Only elements, classes, attribute tests and combinators."""
    if isinstance(tree, Element):
        return True
    if isinstance(tree, (Class, Attrib)):
        return _plain(tree.selector)
    if isinstance(tree, CombinedSelector):
        return _plain(tree.selector) and _plain(tree.subselector)
    return False


def css_to_xpath(css: str) -> str:
    """The XPath (relative to the context node) that finds what ``css`` selects."""
    parts = []
    for selector in parse(css):
        translator = _class_steps if selector.pseudo_element is None and _plain(selector.parsed_tree) else _stock
        parts.append(translator.selector_to_xpath(selector, prefix="descendant-or-self::"))
    return " | ".join(parts)


@lru_cache(maxsize=512)
def xpath(css: str) -> etree.XPath:
    """Compile a CSS selector (relative to the context node) once."""
    return etree.XPath(css_to_xpath(css))


@lru_cache(maxsize=128)
def xpath_any(css_alternatives: tuple[str, ...]) -> etree.XPath:
    """One XPath matching any of the alternatives, in document order (for removals)."""
    return etree.XPath(" | ".join(css_to_xpath(css) for css in css_alternatives))
