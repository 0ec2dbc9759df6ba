"""The web app in Debian's Chromium (Playwright, never a downloaded browser): an admin and a reader, phone and desktop.

Screenshots of every step at 375 and 1280 px are kept in build/screenshots/ (or $BANTIN_SCREENSHOTS).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from crawler.store import Database
from crawler.tokens import make_token
from spiders.registry import everyday_sources
from tests.digest_support import CNHT, QN, SECRET, SECRET_ENV, free_port, hit, standard_archive
from tests.web_support import ADMIN_HASH_ENV, ADMIN_PASSWORD, OUTLETS, web_config

BROWSER = next((path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None)
playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.skipif(BROWSER is None, reason="no headless Chromium installed")]
WIDTHS = {"phone": (375, 812), "desktop": (1280, 900)}
AN = "an@example.org"


@pytest.fixture
def server(tmp_path):
    import uvicorn

    from crawler.web import WebApp, create_app
    from crawler.web.security import WebSettings

    port = free_port()
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    database = Database(url)
    archive = standard_archive(database)
    # The traps for a narrow screen: a long unbroken word, a long link, a long snippet.
    archive.article(
        "Quảng Ninh " + "Siêuđặcbiệtdàikhôngcókhoảngtrắng" * 4,
        url="https://nhandan.vn/" + "a" * 200,
        topics={QN: [hit("Quảng Ninh", "body", "Quảng Ninh https://example.org/" + "b" * 150)]},
    )
    web = (
        f'[web]\npublic_url = "http://127.0.0.1:{port}"\nsecret_env = "{SECRET_ENV}"\n'
        f'admin_password_env = "{ADMIN_HASH_ENV}"\n'
    )
    config = web_config(url, web=web)
    app = create_app(
        WebApp(
            config=config,
            database=database,
            settings=WebSettings.from_config(config),
            outlets=OUTLETS,
            everyday_sources=everyday_sources,
        )
    )
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    for _ in range(500):
        if uv.started:
            break
        time.sleep(0.02)
    assert uv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", config, database
    uv.should_exit = True
    thread.join(timeout=30)
    database.dispose()


@pytest.fixture
def browser():
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=BROWSER,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots() -> Path:
    """Where the screenshots stay after the run (pytest's own temporary folders are rotated away)."""
    folder = Path(os.environ.get("BANTIN_SCREENSHOTS") or Path(__file__).resolve().parents[1] / "build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page, folder: Path, name: str) -> None:
    """A screenshot at each width, and no page wider than the screen."""
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        target = folder / f"{name}-{label}.png"
        target.unlink(missing_ok=True)
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 0, target
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{name} overflows sideways at {width}px: {scroll} > {inner}"


def test_an_admin_logs_in_searches_and_back_tests(server, browser, shots):
    base, config, database = server
    page = browser.new_page()
    page.goto(base + "/admin/articles")
    assert "/login" in page.url
    shoot(page, shots, "login")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]:has-text('Đăng nhập')")
    page.wait_for_url(base + "/admin/articles")
    page.fill("input[name=q]", '"công nghiệp hỗ trợ" OR CNHT')
    page.click("form.search button")
    page.wait_for_selector("mark")
    marks = page.locator("mark").all_inner_texts()
    assert "công nghiệp hỗ trợ" in marks and "CNHT" in marks
    # The hostile title is text on the page, never an element.
    page.goto(base + "/admin/articles")
    assert page.locator("script").count() == 0
    assert "<script>alert('x')</script>" in page.inner_text("main")
    shoot(page, shots, "archive")
    page.click("a.title >> nth=0")
    page.wait_for_selector("article h1")
    shoot(page, shots, "article")

    page.goto(base + "/admin/topics")
    page.fill("#backtest ~ form input[name=q]", '"Quảng Ninh"')
    page.check("input[name=all]")
    page.click("#backtest ~ form button")
    result = page.inner_text("p.result")
    from crawler.backtest import backtest

    with database.session() as session:
        expected = backtest(session, '"Quảng Ninh"', since=None, limit=50, zone=config.schedule.tz)
    assert re.search(rf"\b{expected.matched} trên {expected.scanned}\b", result), result
    shoot(page, shots, "backtest")
    page.goto(base + "/admin?lang=en")
    assert "Outlets" in page.inner_text("main")
    shoot(page, shots, "status")
    page.click("button:has-text('Log out')")
    page.wait_for_url(re.compile(r".*/login"))
    page.goto(base + "/admin")
    assert "/login" in page.url


def test_a_reader_changes_preferences_and_unsubscribes(server, browser, shots):
    from crawler.readers import effective_reader

    base, config, database = server
    page = browser.new_page()
    page.goto(f"{base}/r/{make_token(SECRET, 'prefs', AN)}")
    shoot(page, shots, "preferences")
    page.uncheck(f"input[value='{CNHT}']")
    page.check("input[name=paused]")
    page.click("button[type=submit]:has-text('Lưu')")
    page.wait_for_selector("p.notice")
    with database.session() as session:
        reader = effective_reader(config, session, AN)
    assert reader.topics == (QN,) and reader.state == "paused"
    assert page.is_checked("input[name=paused]") and not page.is_checked(f"input[value='{CNHT}']")

    page.goto(f"{base}/u/{make_token(SECRET, 'unsubscribe', AN)}")
    shoot(page, shots, "unsubscribe")
    with database.session() as session:
        assert effective_reader(config, session, AN).state == "paused"  # the page alone changed nothing
    page.click("button[type=submit]:has-text('Hủy đăng ký')")
    page.wait_for_selector("p.notice")
    shoot(page, shots, "unsubscribed")
    with database.session() as session:
        assert effective_reader(config, session, AN).state == "unsubscribed"
    print(f"\nscreenshots: {shots}")
