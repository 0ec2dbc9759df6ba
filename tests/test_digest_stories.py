"""The digest with several outlets: a story once, under its first outlet, "cũng đăng trên" the others.

The articles are the labelled set's (tests/fixtures/stories): a wire story on
VietnamPlus, NDO and Tiền Phong, and the same figures reported independently.
They are stored and matched as a crawl stores them, so their stories come
from the real grouping.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bench.stories import load_labelled
from crawler.store import Database
from crawler.store.articles import store_article
from crawler.store.models import ArticleRow, CrawlRun, Delivery, OutboxMessage
from crawler.topics import match_article, prepare_topics
from reports.delivery import run_digest
from reports.digest import build_digest
from reports.render import render
from tests.digest_support import config_text, running_sink

# 17:00 in Hà Nội on 27/03/2026, after every article of the labelled set's FDI story.
NOW = datetime(2026, 3, 27, 10, 0, tzinfo=UTC)

QN = "Quảng Ninh"
SITES = """
[[sites]]
id = "nhandan"
[[sites]]
id = "vietnamplus"
[[sites]]
id = "tienphong"
"""
# The wire story: VietnamPlus first (08:10), NDO (10:25), Tiền Phong (14:02); NDO's own report of the milestone.
TRIO = ("vnp-fdi", "ndo-fdi", "tpo-fdi")


@pytest.fixture(scope="module")
def labelled():
    return {entry.key: entry for entry in load_labelled()}


def items_of(entries, *keys):
    """The labelled articles, each at a URL with a query string (its "&" must be escaped in HTML)."""
    return [
        replace(entries[key].item, url=f"https://{entries[key].item.site}.example/{key}.html?a=1&b=2") for key in keys
    ]


class Outlets:
    def __init__(self, database_url: str, port: int = 25, sites: str = SITES):
        from crawler.config import parse_config

        self.config = parse_config(config_text(database_url, port, extra=sites))
        self.database = Database(database_url)
        self.topics = prepare_topics(self.database, self.config.topics, now=NOW - timedelta(days=2))

    def store(self, items, *, now=None):
        now = now or NOW - timedelta(hours=3)
        with self.database.session() as session:
            for item in items:
                outcome, row = store_article(session, item, now=now)
                if outcome != "unchanged":
                    match_article(session, row, self.topics, now=now, new=outcome == "new")

    def crawl(self, site: str, status: str = "ok", **counts):
        with self.database.session() as session:
            session.add(
                CrawlRun(
                    site=site,
                    started_at=NOW - timedelta(hours=2),
                    finished_at=NOW - timedelta(hours=1),
                    status=status,
                    counts={
                        "rss": {
                            "discovered": 20,
                            "fetched": 5,
                            "new": 4,
                            "updated": 1,
                            "failed": counts.get("failed", 0),
                        }
                    },
                )
            )

    def digest(self, index: int = 0, now=NOW):
        with self.database.session() as session:
            return build_digest(session, self.config, self.config.recipients[index], now=now)

    def deliver(self, digest, recipient="an@example.org"):
        """Record a digest as sent, as the outbox does when the server accepts it."""
        with self.database.session() as session:
            pairs = [list(pair) for pair in digest.delivered_versions]
            row = OutboxMessage(
                digest_key=f"k{NOW.timestamp()}-{len(pairs)}",
                digest_date=NOW.date(),
                recipient=recipient,
                message_id=f"<{id(digest)}@t>",
                subject=digest.subject,
                raw_message=b"x",
                items=pairs,
                status="sent",
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(row)
            session.flush()
            for article_id, version in digest.delivered_versions:
                delivery = session.get(Delivery, (recipient, article_id))
                if delivery is None:
                    session.add(
                        Delivery(
                            recipient=recipient,
                            article_id=article_id,
                            article_version=version,
                            outbox_id=row.id,
                            delivered_at=NOW,
                        )
                    )
                else:
                    delivery.article_version, delivery.outbox_id = version, row.id


@pytest.fixture
def outlets(database_url):
    env = Outlets(database_url)
    yield env
    env.database.dispose()


def shown(digest):
    return [item for group in digest.groups for item in group.items]


def test_a_story_on_three_outlets_is_shown_once_under_its_first_outlet(outlets, labelled):
    outlets.store(items_of(labelled, "tpo-fdi", "ndo-fdi", "vnp-fdi", "bqn-fdi"))
    digest = outlets.digest()
    items = shown(digest)
    # The trio is one story; the province paper's own report of the same figures is another.
    assert len(items) == 2 and digest.total == 2
    wire = next(item for item in items if item.also_on)
    assert (wire.site, wire.outlet) == ("vietnamplus", "VietnamPlus")
    assert [link.outlet for link in wire.also_on] == ["NDO", "Tiền Phong"]
    assert wire.also_on[0].url == "https://nhandan.example/ndo-fdi.html?a=1&b=2"
    # Every copy the item stands for is recorded as delivered with it.
    with outlets.database.session() as session:
        keys = dict(session.execute(select(ArticleRow.external_id, ArticleRow.id)).all())
    assert sorted(key for key, _ in wire.delivers) == sorted(keys[key] for key in TRIO)
    other = next(item for item in items if not item.also_on)
    assert sorted(digest.delivered_versions) == sorted([*wire.delivers, *other.delivers])
    # Counts are stories: the subject says 2, and the product name follows the outlets.
    assert digest.subject == f"Bản tin báo chí {NOW:%d/%m/%Y}: 2 bài mới — Công nghiệp hỗ trợ (1), Quảng Ninh (1)"

    rendered = render(digest)
    assert re.search(
        r'cũng đăng trên: <a href="https://nhandan.example/ndo-fdi.html\?a=1&amp;b=2"[^>]*>NDO</a>, '
        r'<a href="https://tienphong.example/tpo-fdi.html\?a=1&amp;b=2"[^>]*>Tiền Phong</a>',
        rendered.html,
    )
    # The first outlet's headline, once; the copies' own headlines not at all.
    assert rendered.html.count(wire.title) == 1
    assert labelled["ndo-fdi"].item.title not in rendered.html and labelled["ndo-fdi"].item.title not in rendered.text
    assert "cũng đăng trên: NDO <https://nhandan.example/ndo-fdi.html?a=1&b=2>, Tiền Phong <" in rendered.text
    assert (
        "VietnamPlus · " in rendered.text
        and "2 bài mới trên Báo Nhân Dân, VietnamPlus và Báo Tiền Phong" in rendered.text
    )


def test_a_story_the_reader_has_does_not_come_back_when_another_outlet_runs_it(outlets, labelled):
    outlets.store(items_of(labelled, "vnp-fdi"))
    first = outlets.digest()
    assert [item.site for item in shown(first)] == ["vietnamplus"] and not shown(first)[0].also_on
    outlets.deliver(first)
    outlets.store(items_of(labelled, "ndo-fdi", "tpo-fdi"), now=NOW - timedelta(hours=1))
    later = outlets.digest()
    assert later.total == 0 and later.empty
    # The other reader never had it: one item, under its first outlet, both copies linked.
    other = outlets.digest(1)
    assert [(item.site, [link.outlet for link in item.also_on]) for item in shown(other)] == [
        ("vietnamplus", ["NDO", "Tiền Phong"])
    ]


def test_a_story_waiting_in_an_unsent_message_is_not_owed_twice(outlets, labelled):
    outlets.store(items_of(labelled, "ndo-fdi"))
    first = outlets.digest()
    with outlets.database.session() as session:
        session.add(
            OutboxMessage(
                digest_key="k",
                digest_date=NOW.date(),
                recipient="an@example.org",
                message_id="<m>",
                subject="s",
                raw_message=b"x",
                items=[list(pair) for pair in first.delivered_versions],
                status="pending",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    outlets.store(items_of(labelled, "vnp-fdi"))
    assert outlets.digest().total == 0


def test_an_edited_article_comes_back_once_marked_updated_with_its_copies(outlets, labelled):
    outlets.store(items_of(labelled, *TRIO))
    first = outlets.digest()
    outlets.deliver(first)
    assert outlets.digest().total == 0
    [edited] = items_of(labelled, "ndo-fdi")
    outlets.store(
        [replace(edited, body=edited.body + "\n\nCập nhật: thêm 2 dự án được cấp phép chiều nay.")],
        now=NOW - timedelta(minutes=30),
    )
    again = outlets.digest()
    [item] = shown(again)
    assert item.updated and item.site == "nhandan" and item.version == 2
    assert [link.outlet for link in item.also_on] == ["VietnamPlus", "Tiền Phong"]
    assert again.subject.startswith(f"Bản tin báo chí {NOW:%d/%m/%Y}: 1 bài cập nhật — ")
    assert '<span class="up"' in render(again).html
    outlets.deliver(again)
    assert outlets.digest().total == 0


def test_coverage_reports_and_warns_per_outlet(outlets, labelled):
    outlets.store(items_of(labelled, "vnp-fdi"))
    outlets.crawl("nhandan")
    outlets.crawl("vietnamplus", status="degraded", failed=3)
    digest = outlets.digest()
    by_site = {entry.site: entry for entry in digest.coverage.sites}
    assert [entry.outlet for entry in digest.coverage.sites] == ["NDO", "VietnamPlus", "Tiền Phong"]
    assert (by_site["nhandan"].scanned, by_site["nhandan"].sources, by_site["nhandan"].failures) == (5, ["rss"], 0)
    assert by_site["vietnamplus"].failures == 3 and "degraded" in by_site["vietnamplus"].warning
    assert by_site["tienphong"].warning.startswith("Cảnh báo: chưa có lượt thu thập")
    assert by_site["nhandan"].warning is None
    rendered = render(digest)
    assert "NDO: Đã quét 5 bài mới hoặc cập nhật (1 lượt thu thập, nguồn: rss); 0 trang lỗi." in rendered.text
    assert "VietnamPlus: Cảnh báo: lượt thu thập gần nhất" in rendered.text
    assert "Tiền Phong: Cảnh báo: chưa có lượt thu thập nào hoàn tất." in rendered.text
    assert re.search(r"<b[^>]*>VietnamPlus</b>: Đã quét 5 bài", rendered.html)


def test_the_product_name_follows_the_enabled_outlets(database_url, labelled):
    alone = Outlets(database_url, sites='[[sites]]\nid = "nhandan"\n')
    try:
        alone.store(items_of(labelled, "ndo-fdi"))
        digest = alone.digest()
        assert digest.subject.startswith(f"Bản tin NDO {NOW:%d/%m/%Y}: 1 bài mới")
        assert alone.digest(1).subject.startswith(f"NDO digest {NOW:%d/%m/%Y}: 1 new article")
        assert "1 bài mới trên Báo Nhân Dân theo chủ đề" in render(digest).text
    finally:
        alone.database.dispose()
    several = Outlets(database_url)
    try:
        assert several.digest(1).subject.startswith(f"Press digest {NOW:%d/%m/%Y}: 1 new article")
    finally:
        several.database.dispose()


@pytest.fixture
def sink():
    with running_sink() as handler:
        yield handler


def test_through_the_outbox_a_story_is_sent_once_whatever_outlet_runs_it_later(database_url, labelled, sink):
    env = Outlets(database_url, sink.port)
    try:
        env.store(items_of(labelled, "vnp-fdi"))
        assert run_digest(env.config, env.database, now=NOW).sent == 2
        env.store(items_of(labelled, "ndo-fdi", "tpo-fdi"), now=NOW + timedelta(hours=1))
        later = run_digest(env.config, env.database, now=NOW + timedelta(days=1))
        assert later.sent == 0 and {result.status for result in later.results} == {"empty"}
        assert len(sink.messages) == 2
        first = sink.parsed()[0]
        assert "Bản tin báo chí" in first["Subject"] and "1 bài mới" in first["Subject"]
    finally:
        env.database.dispose()
