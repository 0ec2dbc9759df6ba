"""The digest HTML in headless Chromium at phone and desktop widths: nothing overflows sideways."""

from __future__ import annotations

import re
import shutil
import subprocess
from html import escape

import pytest

from crawler.store import Database
from reports.delivery import build_previews
from tests.digest_support import CNHT, NOW, QN, hit, make_config, standard_archive

BROWSER = next(
    (path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))), None
)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(BROWSER is None, reason="no headless Chromium installed")]

# Headless Chromium will not make a window narrower than 500 px, so the digest is laid out in
# an iframe of the wanted width (srcdoc: same origin as the host page, so it can be measured).
HOST = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" style="width:{width}px;height:900px;border:0" srcdoc="{doc}"></iframe>
<script>
document.getElementById('f').addEventListener('load', function () {{
  var w = this.contentWindow, d = this.contentDocument.documentElement;
  var p = document.createElement('pre');
  p.textContent = 'WIDTHS ' + d.scrollWidth + ' ' + w.innerWidth;
  document.body.appendChild(p);
}});
</script></body></html>"""


def widths(tmp_path, html: str, width: int) -> tuple[int, int]:
    page = tmp_path / f"page-{width}.html"
    page.write_text(HOST.format(width=width, doc=escape(html, quote=True)), encoding="utf-8")
    profile = tmp_path / f"profile-{width}"
    assert BROWSER is not None  # the module is skipped without one
    result = subprocess.run(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--hide-scrollbars",
            "--window-size=1000,1000",
            "--virtual-time-budget=2000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"WIDTHS (\d+) (\d+)", result.stdout)
    assert found, f"no measurement from Chromium: {result.stderr[-500:]}"
    return int(found.group(1)), int(found.group(2))


@pytest.fixture
def digest_html(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    database = Database(url)
    archive = standard_archive(database)
    # The traps for a narrow screen: long unbroken words and URLs, long names.
    archive.article(
        "Quảng Ninh " + "Siêuđặcbiệtdàikhôngcókhoảngtrắng" * 4,
        author="Nguyễn " * 12,
        url="https://nhandan.vn/" + "a" * 200 + "-post9.html",
        category=["Kinh tế", "X" * 80],
        topics={
            QN: [hit("Quảng Ninh", "body", "Quảng Ninh https://example.org/" + "b" * 150)],
            CNHT: [hit("CNHT", "sapo", "CNHT " + "c" * 120)],
        },
    )
    html = build_previews(make_config(url), database, now=NOW)[0].html
    database.dispose()
    assert "<script" not in html
    return html


@pytest.mark.parametrize("width", [375, 800])
def test_nothing_overflows_horizontally(tmp_path, digest_html, width):
    scroll_width, inner_width = widths(tmp_path, digest_html, width)
    assert inner_width == width
    assert scroll_width <= inner_width
