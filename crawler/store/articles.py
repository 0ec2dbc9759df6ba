"""Storing articles and what discovered them; the incremental crawl's memory."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawler.store.models import Article as ArticleRow
from crawler.store.models import ArticleSource
from crawler.items import Article

StoreOutcome = Literal["new", "updated", "unchanged"]

# Sources report times at minute precision or with clock skew; a lastmod must be
# later than what we have by more than this to count as a change.
CHANGE_TOLERANCE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class KnownArticle:
    article_id: int
    # The newest time anything (the page itself or a source) said the article changed.
    changed_as_of: datetime | None


def known_articles(session: Session, article_ids: Iterable[int]) -> dict[int, KnownArticle]:
    """What the archive already knows about these ids (one query, for a page of discoveries)."""
    ids = sorted(set(article_ids))
    if not ids:
        return {}
    newest_source = (
        select(ArticleSource.article_id, func.max(ArticleSource.lastmod).label("lastmod"))
        .where(ArticleSource.article_id.in_(ids))
        .group_by(ArticleSource.article_id)
        .subquery()
    )
    rows = session.execute(
        select(ArticleRow.article_id, ArticleRow.modified_at, ArticleRow.published_at, newest_source.c.lastmod)
        .outerjoin(newest_source, newest_source.c.article_id == ArticleRow.article_id)
        .where(ArticleRow.article_id.in_(ids))
    )
    known: dict[int, KnownArticle] = {}
    for article_id, modified_at, published_at, lastmod in rows:
        times = [t for t in (modified_at, published_at, _aware(lastmod)) if t is not None]
        known[article_id] = KnownArticle(article_id, max(times) if times else None)
    return known


def needs_fetch(known: KnownArticle | None, announced: datetime | None) -> bool:
    """Fetch what is new, or what a source says changed after what we stored."""
    if known is None:
        return True
    if announced is None or known.changed_as_of is None:
        return False
    return announced > known.changed_as_of + CHANGE_TOLERANCE


def store_article(
    session: Session, item: Article, *, now: datetime, existing: ArticleRow | None | object = ...
) -> tuple[StoreOutcome, ArticleRow]:
    """Insert or update one article; a re-fetch that changes nothing a reader sees is 'unchanged'.

    ``existing`` may pass the stored row (or None) when the caller already loaded it for a batch.
    """
    content_hash = item.content_hash()
    row = session.get(ArticleRow, item.article_id, with_for_update=True) if existing is ... else existing
    if row is None:
        row = ArticleRow(
            article_id=item.article_id,
            url=item.url,
            first_seen_at=now,
            changed_at=now,
            version=1,
            **_fields(item, content_hash, now),
        )
        session.add(row)
        return "new", row
    changed = row.content_hash != content_hash
    for key, value in _fields(item, content_hash, now).items():
        setattr(row, key, value)
    if row.url != item.url:
        row.url = item.url
    if changed:
        row.version += 1
        row.changed_at = now
        return "updated", row
    return "unchanged", row


def load_articles(session: Session, article_ids: Iterable[int]) -> dict[int, ArticleRow]:
    """The stored rows among these ids, locked for update (one query for a batch)."""
    ids = sorted(set(article_ids))
    if not ids:
        return {}
    rows = session.scalars(select(ArticleRow).where(ArticleRow.article_id.in_(ids)).with_for_update())
    return {row.article_id: row for row in rows}


def _fields(item: Article, content_hash: str, now: datetime) -> dict:
    return {
        "title": item.title,
        "sapo": item.sapo,
        "body": item.body,
        "author": item.author,
        "category": list(item.category),
        "tags": list(item.tags),
        "images": [{"url": image.url, "caption": image.caption} for image in item.images],
        "published_at": item.published_at,
        "modified_at": item.modified_at,
        "fetched_at": now,
        "content_hash": content_hash,
        "extractor": item.extractor,
    }


def record_sources(
    session: Session, article_id: int, sources: Mapping[str, datetime | None], *, now: datetime, new: bool = False
) -> None:
    """Remember which sources saw an article (only for stored articles: 'seen' follows storage).

    ``new``: the article was just inserted, so it has no source rows to look up.
    """
    existing = {} if new else {
        row.source: row
        for row in session.scalars(select(ArticleSource).where(ArticleSource.article_id == article_id))
    }
    for source, lastmod in sources.items():
        row = existing.get(source)
        if row is None:
            session.add(
                ArticleSource(article_id=article_id, source=source, first_seen_at=now, last_seen_at=now, lastmod=lastmod)
            )
            continue
        row.last_seen_at = now
        if lastmod is not None and (row.lastmod is None or lastmod > row.lastmod):
            row.lastmod = lastmod


def _aware(value: datetime | None) -> datetime | None:
    # Aggregates bypass the column type on SQLite and come back naive (UTC wall time).
    from datetime import timezone

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class ArchiveIndex:
    """The spider's view of the archive: what is known, and which sources still list it.

    Opens its own engine (the spider runs in the reactor thread; sessions are
    short and never shared with the pipelines).
    """

    def __init__(self, database_url: str):
        from crawler.store import Database

        self.database = Database(database_url)

    def known(self, article_ids: Iterable[int]) -> dict[int, KnownArticle]:
        ids = list(article_ids)
        if not ids:
            return {}
        with self.database.session() as session:
            return known_articles(session, ids)

    needs_fetch = staticmethod(needs_fetch)

    def saw(self, sources_by_article: Mapping[int, Mapping[str, datetime | None]]) -> None:
        if not sources_by_article:
            return
        from datetime import timezone

        now = datetime.now(timezone.utc)
        with self.database.session() as session:
            for article_id, sources in sources_by_article.items():
                record_sources(session, article_id, sources, now=now)

    def close(self, *args, **kwargs) -> None:
        self.database.dispose()
