"""Templates: escaping, links, highlights, the text part, dark mode, the size budget."""

from __future__ import annotations

import re

import pytest
from jinja2 import UndefinedError

from reports.digest import build_digest
from reports.render import environment, render, render_within
from tests.digest_support import (
    CNHT,
    NOW,
    hit,
    standard_setup,
)


@pytest.fixture
def built(tmp_path):
    config, database, archive = standard_setup(tmp_path)
    yield config, database, archive
    database.dispose()


def make_digest(config, database, index=0):
    with database.session() as session:
        return build_digest(session, config, config.recipients[index], now=NOW)


def test_hostile_title_is_text_and_bad_links_are_dropped(built):
    config, database, _ = built
    html = render(make_digest(config, database)).html
    assert "<script>" not in html
    assert "&lt;script&gt;alert('x')&lt;/script&gt; Hạ Long đón khách" in html
    assert "javascript:" not in html
    assert 'href="https://nhandan.vn/bai-1001-post1001.html"' in html
    # Scraped snippet text is escaped; the only <mark> is ours.
    assert "cần vốn &amp; đất &lt;sạch&gt;." in html
    assert re.search(r"<mark[^>]*>công nghiệp hỗ trợ</mark> cần vốn", html)


def test_text_part_is_plain(built):
    config, database, _ = built
    text = render(make_digest(config, database)).text
    assert "<script>alert('x')</script> Hạ Long đón khách" in text
    assert "cần vốn & đất <sạch>." in text
    assert "*công nghiệp hỗ trợ*" in text
    assert "&amp;" not in text and "<mark" not in text
    assert "javascript:" not in text


def test_html_has_dark_mode_phone_meta_and_inlined_css(built):
    config, database, _ = built
    html = render(make_digest(config, database)).html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert 'name="viewport"' in html
    assert "@media (prefers-color-scheme: dark)" in html and "@media (max-width: 480px)" in html
    assert re.search(r'<h1 [^>]*style="[^"]*color: ?#9b1c1c', html)


def test_environment_escapes_html_not_txt_and_is_strict():
    env = environment()
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"  # unknown extension: escaped
    assert callable(env.autoescape)  # chosen per template name
    assert env.autoescape("digest.html") is True and env.autoescape("digest.txt") is False
    with pytest.raises(UndefinedError):
        env.from_string("{{ missing.attr }}").render()


def test_size_budget_moves_items_to_the_text_list(built):
    config, database, archive = built
    long_snippet = "công nghiệp hỗ trợ " + "rất dài " * 60
    for n in range(80):
        archive.article(
            f"Bài CNHT {n}",
            sapo="Sapo " * 80,
            topics={
                CNHT: [
                    hit("công nghiệp hỗ trợ", "body", long_snippet + str(n)),
                    hit("công nghiệp hỗ trợ", "sapo", long_snippet + "x" + str(n)),
                ]
            },
        )
    digest = make_digest(config, database)
    full = render(digest)
    assert full.html_bytes > 30 * 1024
    fitted_digest, fitted = render_within(digest, max_html_kb=30)
    assert fitted.html_bytes <= 30 * 1024
    assert 0 < fitted.shown < digest.total
    hidden = len(fitted_digest.overflow)
    assert fitted.shown + hidden == digest.total
    assert f"… và {hidden} bài khác" in fitted.text
    assert "Bài CNHT 0" in fitted.text  # the oldest is listed by title (order: newest first)
    assert "https://nhandan.vn/bai-" in fitted.text.split("… và")[1]
    assert fitted.html.rstrip().endswith("</html>")
    # What fits is what rendering the fitted digest whole gives, text and HTML alike (links included).
    unsubscribe, preferences = "https://bantin.example.org/u/t", "https://bantin.example.org/p/t"
    shrunk = render_within(digest, max_html_kb=30, unsubscribe=unsubscribe, preferences=preferences)
    assert shrunk[1] == render(fitted_digest, unsubscribe=unsubscribe, preferences=preferences)
    whole = render_within(digest, max_html_kb=500, unsubscribe=unsubscribe, preferences=preferences)
    assert whole == (digest, render(digest, unsubscribe=unsubscribe, preferences=preferences))


def test_items_inlined_alone_give_the_bytes_of_the_whole_page_inlined(built):
    """Each item's fragment is inlined once, alone, and shared: the message must be byte for byte the one that
    inlining the whole page would give (a stylesheet rule that depends on where an element stands would not)."""
    from markupsafe import Markup

    from reports import render as rendering

    def raw_item(name: str, item) -> str:
        fragment = environment().get_template(name).render(item=item, lang=digest.language)
        return Markup(fragment) if name.endswith(".html") else fragment

    config, database, _ = built
    fragments: rendering.Fragments = {}
    for index in range(len(config.recipients)):
        for digest in (make_digest(config, database, index), make_digest(config, database, index).with_shown(1)):
            unsubscribe, preferences = "https://bantin.example.org/u/t", "https://bantin.example.org/r/t"
            parts = rendering._ItemParts(digest.language, None)
            context = rendering._context(digest, unsubscribe=unsubscribe, preferences=preferences, parts=parts)
            context["item_part"] = raw_item
            whole = rendering._inliner().inline(environment().get_template(rendering.HTML_TEMPLATE).render(context))
            shared = render(digest, unsubscribe=unsubscribe, preferences=preferences, fragments=fragments)
            assert shared.html == whole
            assert render(digest, unsubscribe=unsubscribe, preferences=preferences).html == whole
    assert fragments
