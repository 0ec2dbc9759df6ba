"""What each recipient is owed: grouping, order, updates, in-flight rows, coverage, caps."""

from __future__ import annotations

import unicodedata
from datetime import timedelta

import pytest

from crawler.store import Database
from crawler.store.models import Delivery, OutboxMessage
from reports.digest import build_digest, safe_url
from tests.digest_support import (
    CNHT,
    NOW,
    QN,
    Archive,
    hit,
    make_config,
    standard_setup,
)


@pytest.fixture
def setup(tmp_path):
    config, database, archive = standard_setup(tmp_path)
    yield config, database, archive
    database.dispose()


def digest_for(config, database, index=0, **kwargs):
    with database.session() as session:
        return build_digest(session, config, config.recipients[index], now=NOW, **kwargs)


def test_groups_in_config_order_first_topic_wins_newest_first(setup):
    config, database, archive = setup
    digest = digest_for(config, database)
    assert [g.topic for g in digest.groups] == [CNHT, QN]
    cnht, qn = digest.groups
    assert [i.title for i in cnht.items] == ["Phát triển công nghiệp hỗ trợ ở Bắc Ninh", "Quảng Ninh thu hút CNHT"]
    both = cnht.items[1]
    assert both.other_topics == [QN]
    # The article under both topics appears once only.
    assert [i.title for i in qn.items] == ["<script>alert('x')</script> Hạ Long đón khách"]
    assert digest.total == 3
    assert digest.subject == "Bản tin NDO 27/03/2025: 3 bài mới — Công nghiệp hỗ trợ (2), Quảng Ninh (1)"
    assert {r.term: r.fields for r in cnht.items[0].reasons} == {"công nghiệp hỗ trợ": ["title", "body"]}
    assert cnht.items[0].published == "05:00 27/03/2025"  # Asia/Ho_Chi_Minh


def test_english_recipient_sees_only_their_topics(setup):
    config, database, _ = setup
    digest = digest_for(config, database, 1)
    assert [g.topic for g in digest.groups] == [QN]
    assert digest.total == 2
    assert digest.subject.startswith("NDO digest 27/03/2025: 2 new articles — Quảng Ninh (2)")
    assert digest.groups[0].items[1].other_topics == []  # CNHT is not one of theirs


def test_delivered_articles_are_not_owed_until_they_change(setup):
    config, database, archive = setup
    first = digest_for(config, database)
    with database.session() as session:
        session.add(
            OutboxMessage(
                digest_key="k",
                digest_date=NOW.date(),
                recipient="an@example.org",
                message_id="<m>",
                subject="s",
                raw_message=b"x",
                items=[],
                status="sent",
                created_at=NOW,
                updated_at=NOW,
            )
        )
        session.flush()
        outbox_id = session.query(OutboxMessage.id).scalar()
        for article_id, version in first.delivered_versions:
            session.add(
                Delivery(
                    recipient="an@example.org",
                    article_id=article_id,
                    article_version=version,
                    outbox_id=outbox_id,
                    delivered_at=NOW,
                )
            )
    assert digest_for(config, database).total == 0
    archive.update_article(first.delivered_versions[0][0], "Tiêu đề mới: công nghiệp hỗ trợ")
    again = digest_for(config, database)
    assert again.total == 1
    assert again.groups[0].items[0].updated is True
    assert again.groups[0].items[0].title == "Tiêu đề mới: công nghiệp hỗ trợ"
    # The subject does not call a changed article new.
    assert again.subject.startswith("Bản tin NDO 27/03/2025: 1 bài cập nhật — ")


def test_stored_text_is_shown_as_the_one_normaliser_cleans_it(tmp_path):
    # An imported archive (`bantin articles import`) is stored as its file has it: decomposed,
    # with invisible characters and stray white space.
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    database = Database(url)
    config = make_config(url)
    title = "Công nghiệp\u200b  hỗ trợ\u00a0Bắc Ninh\x00"
    Archive(database).article(
        unicodedata.normalize("NFD", title),
        topics={CNHT: [hit("công nghiệp hỗ trợ", "title", "Công nghiệp hỗ trợ Bắc Ninh")]},
        sapo=unicodedata.normalize("NFD", " Sapo\ufeff của\tbài. "),
        author=unicodedata.normalize("NFD", "Minh\u00adHà"),
        category=[unicodedata.normalize("NFD", "Kinh\u2060 tế")],
    )
    [item] = digest_for(config, database).groups[0].items
    assert (item.title, item.sapo, item.author, item.category) == (
        "Công nghiệp hỗ trợ Bắc Ninh",
        "Sapo của bài.",
        "MinhHà",
        "Kinh tế",
    )
    database.dispose()


def test_articles_in_an_unsent_outbox_row_are_not_owed_twice(setup):
    config, database, _ = setup
    first = digest_for(config, database)
    with database.session() as session:
        session.add(
            OutboxMessage(
                digest_key="k",
                digest_date=NOW.date(),
                recipient="an@example.org",
                message_id="<m>",
                subject="s",
                raw_message=b"x",
                items=[list(p) for p in first.delivered_versions[:2]],
                status="pending",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    assert digest_for(config, database).total == 1


def test_failed_rows_do_not_hold_articles_back(setup):
    config, database, _ = setup
    first = digest_for(config, database)
    with database.session() as session:
        session.add(
            OutboxMessage(
                digest_key="k",
                digest_date=NOW.date(),
                recipient="an@example.org",
                message_id="<m>",
                subject="s",
                raw_message=b"x",
                items=[list(p) for p in first.delivered_versions],
                status="failed",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    assert digest_for(config, database).total == 3


def test_only_http_links_and_negated_hits_are_not_reasons(setup):
    config, database, archive = setup
    archive.article(
        "Bài có NOT",
        topics={QN: [hit("Quảng Ninh", "body", "ở Quảng Ninh"), hit("Hạ Long", "body", "ở Hạ Long", negated=True)]},
    )
    digest = digest_for(config, database, 1)
    items = {i.title: i for g in digest.groups for i in g.items}
    assert items["<script>alert('x')</script> Hạ Long đón khách"].url is None
    assert [r.term for r in items["Bài có NOT"].reasons] == ["Quảng Ninh"]
    assert safe_url("https://nhandan.vn/a.html") == "https://nhandan.vn/a.html"
    for bad in ("javascript:alert(1)", "data:text/html,x", "//evil.example/x", "http://a b", "ftp://x/y", "", None):
        assert safe_url(bad) is None


def test_cap_keeps_every_topic_and_lists_the_rest(setup):
    config, database, archive = setup
    for n in range(10):
        archive.article(f"CNHT số {n}", topics={CNHT: [hit("CNHT", "title", f"CNHT số {n}")]})
    digest = digest_for(config, database, max_items=4)
    assert digest.total == 13
    shown = [i for g in digest.groups for i in g.items]
    assert len(shown) == 4
    assert {g.topic for g in digest.groups if g.items} == {CNHT, QN}
    assert len(digest.overflow) == 9
    assert digest.groups[0].total == 12  # the count still covers everything owed


def test_coverage_line_and_warnings(setup):
    config, database, archive = setup
    digest = digest_for(config, database)
    assert digest.coverage.scanned == 15 and digest.coverage.failures == 1
    assert digest.coverage.sources == ["rss", "sitemap"]
    assert digest.coverage.warning is None
    archive.crawl(started=NOW - timedelta(minutes=30), status="degraded")
    assert "degraded" in digest_for(config, database).coverage.warning


def test_stale_crawl_is_warned_about(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    database = Database(url)
    config = make_config(url)
    with database.session() as session:
        digest = build_digest(session, config, config.recipients[0], now=NOW)
    assert digest.coverage.warning is not None
    assert digest.coverage.warning.startswith("Cảnh báo: chưa có lượt thu thập")
    from tests.digest_support import Archive

    Archive(database).crawl(started=NOW - timedelta(hours=30))
    with database.session() as session:
        digest = build_digest(session, config, config.recipients[0], now=NOW)
    assert digest.coverage.warning is not None
    assert "quá lâu" in digest.coverage.warning
    assert digest.empty and digest.subject == "Bản tin NDO 27/03/2025: không có bài mới"
