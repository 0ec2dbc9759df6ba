"""The team's pages: status with since-when, archive and search, an article, topics and back-test, readers, resend."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from crawler.store.models import CrawlRun
from spiders.registry import everyday_sources
from tests.digest_support import CNHT, NOW, QN, standard_archive
from tests.web_support import SAME_ORIGIN, form_token, make_site, smtp_sink, web_config


@pytest.fixture
def site(database):
    archive = standard_archive(database)
    site = make_site(database)
    site.archive = archive
    assert site.login().status_code == 303
    return site


def test_status_shows_each_outlet_and_since_when_a_warning_holds(site):
    with site.database.session() as session:
        for hours in (30, 28):
            session.add(
                CrawlRun(
                    started_at=NOW - timedelta(hours=hours),
                    finished_at=NOW - timedelta(hours=hours - 1),
                    status="failed",
                    site="nhandan",
                    message="HTTP 503 everywhere",
                    counts={},
                )
            )
    # The failures came after the last good crawl, so the last finished one is the newest failed one.
    page = site.client.get("/admin?lang=en")
    assert page.status_code == 200 and "Báo Nhân Dân" in page.text
    assert "Outlets" in page.text and "Recent crawls" in page.text
    warnings = re.findall(r'<div class="warn"><code>(\w+)</code>(.*?)</div>', page.text, re.S)
    assert warnings, page.text
    assert all("since" in text for _, text in warnings)


def test_status_since_comes_from_the_ledger(site):
    from crawler.health import collect_status

    with site.database.session() as session:
        session.add(
            CrawlRun(
                started_at=NOW + timedelta(minutes=5),
                finished_at=NOW + timedelta(minutes=6),
                status="failed",
                site="nhandan",
                message="boom",
                counts={},
            )
        )
        session.add(
            CrawlRun(
                started_at=NOW + timedelta(minutes=10),
                finished_at=NOW + timedelta(minutes=11),
                status="failed",
                site="nhandan",
                message="boom",
                counts={},
            )
        )
    report = collect_status(
        site.config, site.database, now=NOW + timedelta(minutes=20), everyday_sources=everyday_sources
    )
    failed = next(w for w in report["warnings"] if w["code"] == "crawl_failed")
    # The streak of failures began with the first failed run after the last good one.
    assert failed["since"] == (NOW + timedelta(minutes=5)).astimezone(site.config.schedule.tz).isoformat()


def test_archive_lists_the_newest_and_pages_with_a_keyset(site):
    for n in range(60):
        site.archive.article(f"Bài số {n}", topics={}, published=NOW - timedelta(days=1, minutes=n))
    first = site.client.get("/admin/articles")
    assert first.status_code == 200
    ids = re.findall(r'href="/admin/articles/(\d+)"', first.text)
    assert len(ids) == 50
    next_link = re.search(r'class="next" href="([^"]+)"', first.text)
    assert next_link is not None
    following = next_link.group(1).replace("&amp;", "&")
    second = site.client.get(following)
    more = re.findall(r'href="/admin/articles/(\d+)"', second.text)
    assert len(more) == 13 and not set(more) & set(ids) and 'class="next"' not in second.text


def test_search_uses_the_topic_language_highlights_and_filters_per_outlet(site):
    page = site.client.get("/admin/articles", params={"q": '"công nghiệp hỗ trợ" OR CNHT'})
    assert "<mark>công nghiệp hỗ trợ</mark>" in page.text and "<mark>CNHT</mark>" in page.text
    folded = site.client.get("/admin/articles", params={"q": "cong nghiep ho tro"})
    assert "<mark>công nghiệp hỗ trợ</mark>" in folded.text
    other_outlet = site.client.get("/admin/articles", params={"q": "CNHT", "site": "tienphong"})
    assert "<mark>" not in other_outlet.text
    broken = site.client.get("/admin/articles", params={"q": '"unclosed'})
    assert broken.status_code == 200 and 'class="error"' in broken.text


def test_the_article_page_shows_sources_matches_and_their_hits(site):
    page = site.client.get("/admin/articles/1001")
    assert page.status_code == 200
    assert CNHT in page.text and "<mark>công nghiệp hỗ trợ</mark>" in page.text
    # The scraped snippet "<sạch>" is text, not markup.
    assert "&lt;sạch&gt;" in page.text
    assert site.client.get("/admin/articles/999999").status_code == 404


def test_topics_page_counts_matches_and_back_tests_like_the_cli(site, capsys, tmp_path):
    page = site.client.get("/admin/topics")
    assert CNHT in page.text and QN in page.text and "/feeds/topic/" in page.text
    tested = site.client.get("/admin/topics", params={"q": '"Quảng Ninh"', "all": "1"})
    matched = re.search(r'<p class="result"><b>(\d+) trên (\d+)', tested.text)
    assert matched is not None
    from crawler.backtest import backtest

    with site.database.session() as session:
        expected = backtest(session, '"Quảng Ninh"', since=None, limit=50, zone=site.config.schedule.tz)
    assert (int(matched.group(1)), int(matched.group(2))) == (expected.matched, expected.scanned)
    assert expected.matched >= 1 and "<mark>" in tested.text
    bad = site.client.get("/admin/topics", params={"q": "(a OR"})
    assert 'class="error"' in bad.text


def test_readers_page_shows_the_effective_subscriptions_and_the_outbox(site):
    page = site.client.get("/admin/readers")
    assert "an@example.org" in page.text and "binh@example.org" in page.text
    assert "theo tệp cấu hình" in page.text


def test_resend_is_a_post_with_its_token_and_sends_a_new_message(database):
    standard_archive(database)
    sink, stop = smtp_sink()
    try:
        from reports.delivery import run_digest

        config = web_config(database.url, port=sink.port)
        run_digest(config, database, now=NOW)
        site = make_site(database, config)
        site.login()
        page = site.client.get("/admin/readers")
        token = form_token(page.text)
        data = {
            "csrf": token,
            "recipient": "an@example.org",
            "date": NOW.astimezone(config.schedule.tz).date().isoformat(),
        }
        assert (
            site.client.post("/admin/readers/resend", data={**data, "csrf": "x"}, headers=SAME_ORIGIN).status_code
            == 403
        )
        assert len(sink.received_by("an@example.org")) == 1
        done = site.client.post("/admin/readers/resend", data=data, headers=SAME_ORIGIN)
        assert done.status_code == 200 and "an@example.org: sent" in done.text
        assert len(sink.received_by("an@example.org")) == 2
        nothing = site.client.post("/admin/readers/resend", data={**data, "date": "2020-01-01"}, headers=SAME_ORIGIN)
        assert nothing.status_code == 400 and "no digest was sent" in nothing.text
    finally:
        stop()


def test_health_readiness_and_metrics(site):
    assert site.client.get("/healthz").text == "ok\n"
    assert site.client.get("/readyz").status_code == 200
    metrics = site.client.get("/metrics")
    assert metrics.status_code == 200
    assert 'bantin_articles{site="nhandan"} 3.0' in metrics.text
    assert 'bantin_outbox_messages{status="pending"} 0.0' in metrics.text
    assert "bantin_crawl_runs_total" in metrics.text
    site.database.engine.dispose()


def test_readyz_says_when_the_database_does_not_answer(site, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(site.database, "session", broken)
    assert site.client.get("/readyz").status_code == 503
    assert site.client.get("/healthz").status_code == 200


def test_metrics_are_refused_to_anonymous_peers_outside_the_listed_networks(database):
    standard_archive(database)
    site = make_site(database)
    # The test client's peer is "testclient", in no network.
    assert site.client.get("/metrics").status_code == 403


def test_newest_pages_along_the_index_equal_the_archive_order_with_undated_last(site):
    from crawler.store.archive import article_query, newest_articles
    from crawler.store.models import ArticleRow

    for n in range(7):
        site.archive.article(f"Bài cùng giờ {n}", topics={}, published=NOW - timedelta(days=2))
    with site.database.session() as session:
        for key in (1001, 1005, 1009):
            session.get(ArticleRow, key).published_at = None
    with site.database.session() as session:
        expected = [row.id for row in session.scalars(article_query())]
        walked, after = [], None
        while True:
            page = newest_articles(session, after=after, limit=3)
            walked += [row.id for row in page]
            if len(page) < 3:
                break
            after = page[-1]
    assert walked == expected and expected[-3:] == [1009, 1005, 1001]


def test_switching_language_keeps_the_search_and_then_the_page_speaks_english(site):
    page = site.client.get("/admin/articles", params={"q": "CNHT", "site": "nhandan", "lang": "vi"})
    lang_link = re.search(r'<a class="lang" href="([^"]+)"', page.text)
    assert lang_link is not None
    link = lang_link.group(1)
    assert parse_qs(urlsplit(html.unescape(link)).query) == {"q": ["CNHT"], "site": ["nhandan"], "lang": ["en"]}
    english = site.client.get("/admin/articles" + html.unescape(link))
    assert english.status_code == 200 and '<html lang="en">' in english.text and "<mark>CNHT</mark>" in english.text
