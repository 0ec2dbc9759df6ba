"""Scrapy item pipeline: a thin adapter over storage and matching.

One short transaction per article: the article, the sources that saw it and
its topic matches are committed together, so a crawl killed at any moment
leaves either the whole article or nothing (and the next run fetches it).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from sqlalchemy.exc import SQLAlchemyError

from crawler import signals as bantin_signals
from crawler.db import Database
from crawler.db.articles import record_sources, store_article
from crawler.db.models import Article as ArticleRow
from crawler.items import CrawledArticle
from crawler.topics import TopicSet, match_article, prepare_topics

log = logging.getLogger("bantin.crawl")


class ArchivePipeline:
    def __init__(self, crawler, database_url: str, topics: list[dict]):
        self.crawler = crawler
        self.database_url = database_url
        self.topic_config = topics
        self.database: Database | None = None
        self.topics: TopicSet | None = None

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        return cls(crawler, settings.get("BANTIN_DATABASE_URL"), settings.getlist("BANTIN_TOPICS"))

    def open_spider(self, spider=None) -> None:
        self.database = Database(self.database_url)
        self.topics = prepare_topics(self.database, self.topic_config, now=_now())

    def close_spider(self, spider=None) -> None:
        if self.database is not None:
            self.database.dispose()

    def process_item(self, item, spider=None):
        if not isinstance(item, CrawledArticle):
            return item
        article = item.article
        now = _now()
        try:
            with self.database.session() as session:
                outcome = store_article(session, article, now=now)
                # The source rows refer to the article: flush it first.
                session.flush()
                record_sources(session, article.article_id, item.sources or {item.source: None}, now=now)
                if outcome != "unchanged":
                    row = session.get(ArticleRow, article.article_id)
                    match_article(session, row, self.topics, now=now)
        except SQLAlchemyError as exc:
            log.error("could not store %s: %s", article.url, exc)
            self._signal(bantin_signals.article_failed, source=item.source, url=article.url, reason=f"storage: {exc}")
            return item
        self._signal(bantin_signals.article_stored, source=item.source, outcome=outcome, extractor=article.extractor)
        return item

    def _signal(self, signal, **kwargs) -> None:
        self.crawler.signals.send_catch_log(signal=signal, **kwargs)


def _now() -> datetime:
    return datetime.now(timezone.utc)
