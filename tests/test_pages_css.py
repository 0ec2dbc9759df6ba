"""The page objects' CSS-to-XPath translation selects exactly what cssselect's own translation selects."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import lxml.html
import pytest
from cssselect import HTMLTranslator
from lxml import etree

from spiders.pages.css import css_to_xpath

FIXTURES = Path(__file__).parent / "fixtures"

# Class attributes the word test must read as cssselect does: substrings, other white space, repeats.
TRICKY = """<html><body>
<div class="article"><h1 class="article__title  cms-title">T</h1>
  <div class="x-article articlex"><p class="text">not in scope</p></div>
  <section class="breadcrumbs	main
    wide"><span class="text">A</span><b><span class="text big">B</span></b></section>
  <div class="picture"><span class="text">C</span></div>
  <table class="picture"><tr><td class="pic"><img class="pic" src="a.jpg"></td></tr></table>
  <p class="">empty</p><p class=" text ">padded</p><p class="TEXT">upper</p>
  <a class="tag cms-tag" href="/tu-khoa/x" data-x="1">tag</a><a class="cms-tag" id="adsWeb_1">ad</a>
</div></body></html>"""

SELECTORS = (
    ".text",
    ".breadcrumbs .text",
    ".breadcrumbs > .text",
    ".breadcrumbs > b > .text.big",
    ".text.big",
    "div.article",
    "div.picture",
    "table.picture",
    "td.pic img",
    "table.picture td.pic img.pic",
    "h1.article__title.cms-title",
    ".article__title.cms-title.missing",
    "a.tag[href*='/tu-khoa/']",
    "a[data-x].tag.cms-tag",
    ".cms-tag[id^='adsWeb_']",
    "[id^='adsWeb_']",
    "div.article .text, .picture",
    "a:not(.tag)",
    "span:nth-child(1).text",
)


def _stock(css: str) -> etree.XPath:
    return etree.XPath(HTMLTranslator().css_to_xpath(css, prefix="descendant-or-self::"))


def _same(root, css: str) -> None:
    ours = etree.XPath(css_to_xpath(css))
    for context in [root, *root.iter("div", "section")]:
        assert ours(context) == _stock(css)(context), (css, context.get("class"))


@pytest.mark.parametrize("css", SELECTORS)
def test_tricky_classes(css: str) -> None:
    root = lxml.html.document_fromstring(TRICKY)
    assert _stock(css)(root) or css.endswith(".missing")  # each selector finds something (or is meant not to)
    _same(root, css)


def _row_selectors() -> set[str]:
    from spiders.baoquangninh.site import PROFILE as BQN
    from spiders.nhandan.site import PROFILE as NDO
    from spiders.tienphong.site import PROFILE as TP
    from spiders.vietnamplus.site import PROFILE as VNP

    found: set[str] = set()
    for profile in (NDO, VNP, TP, BQN):
        stack: list[object] = [dataclasses.asdict(profile.selectors)]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                # Every field is CSS but the meta keys (names of <meta> tags).
                stack.extend(rows for field, rows in value.items() if field != "meta")
            elif isinstance(value, (tuple, list)):
                stack.extend(value)
            elif isinstance(value, str):
                found.add(value)
    return found


def test_every_row_selector_on_every_saved_page() -> None:
    selectors = sorted(_row_selectors())
    assert len(selectors) > 50  # the rows were read
    pages = sorted(FIXTURES.glob("*/*.html"))
    assert pages
    for page in pages:
        root = lxml.html.document_fromstring(page.read_bytes())
        for css in selectors:
            ours = etree.XPath(css_to_xpath(css))
            assert ours(root) == _stock(css)(root), (page.name, css)
