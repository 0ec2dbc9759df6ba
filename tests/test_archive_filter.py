"""The archive filter over a real archive (SQLite and PostgreSQL): what it drops, what it records, what it costs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import pytest
import scrapy
from scrapy.utils.test import get_crawler
from sqlalchemy import event, select

from crawler.crawl import events
from crawler.crawl.archive import ArchiveFilter, ArchiveStore
from crawler.samplesite.model import generate_site
from crawler.store.articles import store_article
from crawler.store.models import ArticleRow, ArticleSource
from spiders.nhandan.spider import NhandanSpider

T = TypeVar("T")

BASE = "https://nhandan.vn"


@pytest.fixture
def store(database_url):
    archive = ArchiveStore(database_url)
    yield archive
    archive.close()


def announced(articles, source="rss", shift=timedelta(0)) -> list[scrapy.Request]:
    return [
        scrapy.Request(
            a.url(BASE),
            meta={
                "bantin_kind": "article",
                "bantin_source": source,
                "bantin_site": "nhandan",
                "bantin_external_id": str(a.article_id),
                "bantin_lastmod": a.modified_at + shift,
            },
            dont_filter=True,
        )
        for a in articles
    ]


def statements(store: ArchiveStore, run: Callable[[], T]) -> tuple[T, int]:
    """What ``run`` returns, and how many SQL statements it sent."""
    count = 0

    def counted(*_args, **_kwargs):
        nonlocal count
        count += 1

    event.listen(store.database.engine, "before_cursor_execute", counted)
    try:
        return run(), count
    finally:
        event.remove(store.database.engine, "before_cursor_execute", counted)


def test_stored_unchanged_articles_are_dropped_and_their_source_recorded_at_a_cost_per_page(store):
    model = generate_site(seed=11, days=4, per_day=25)
    articles = model.visible()
    stored, fresh = articles[:60], articles[60:]
    now = model.now
    with store.database.session() as session:
        for article in stored:
            store_article(session, article.as_item(BASE), now=now)
    crawler = get_crawler(NhandanSpider, {})
    counts: list[dict] = []
    crawler.signals.connect(
        lambda **kwargs: counts.append({k: kwargs[k] for k in ("source", "count", "requested")}),
        signal=events.source_discovered,
        weak=False,
    )
    archive_filter = ArchiveFilter(crawler, store)

    small, small_cost = statements(store, lambda: archive_filter.sift("rss", announced(stored[:5] + fresh[:5])))
    large, large_cost = statements(store, lambda: archive_filter.sift("rss", announced(stored[5:] + fresh[5:])))
    assert [r.meta["bantin_external_id"] for r in small + large] == [str(a.article_id) for a in fresh]
    # One look-up and one write per source page, whatever its length: never per article.
    assert small_cost == large_cost <= 6
    assert counts == [
        {"source": "rss", "count": 10, "requested": 5},
        {"source": "rss", "count": len(articles) - 10, "requested": len(fresh) - 5},
    ]

    with store.database.session() as session:
        listed = {
            external_id
            for (external_id,) in session.execute(
                select(ArticleRow.external_id)
                .join(ArticleSource, ArticleSource.article_id == ArticleRow.id)
                .where(ArticleSource.source == "rss")
            )
        }
    assert listed == {str(a.article_id) for a in stored}

    # Announced again this run, by another source or as changed: requested at most once in the run.
    assert archive_filter.sift("google_news", announced(fresh)) == []
    edited = announced(stored[:3], source="google_news", shift=timedelta(hours=2))
    assert archive_filter.sift("google_news", edited) == edited
    assert archive_filter.sift("latest", announced(stored[:3], source="latest", shift=timedelta(hours=3))) == []
