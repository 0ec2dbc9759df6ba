"""Storing articles and what discovered them; the incremental crawl's memory."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import EllipsisType
from typing import Literal

from sqlalchemy import event, func, insert, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state, manager_of_class

from crawler.items import ExtractedArticle
from crawler.store.models import ArticleRow, ArticleSource, Match

StoreOutcome = Literal["new", "updated", "unchanged"]

# Sources report times at minute precision or with clock skew; a lastmod must be
# later than what we have by more than this to count as a change.
CHANGE_TOLERANCE = timedelta(seconds=60)
# No page or source can truthfully claim a change after the moment bantin recorded the claim; rows kept from
# before dates were checked hold such claims (9999-12-31), and trusting one would hide every later change.
CLOCK_SKEW_ALLOWED = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class KnownArticle:
    # The surrogate key (articles.id).
    article_id: int
    # The newest time anything (the page itself or a source) said the article changed.
    changed_as_of: datetime | None


def known_articles(session: Session, site: str, external_ids: Iterable[str]) -> dict[str, KnownArticle]:
    """What the archive already knows about these ids of one site (one query, for a page of discoveries)."""
    ids = sorted(set(external_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(
            ArticleRow.id,
            ArticleRow.external_id,
            ArticleRow.modified_at,
            ArticleRow.published_at,
            ArticleRow.fetched_at,
        ).where(ArticleRow.site == site, ArticleRow.external_id.in_(ids))
    ).all()
    if not rows:
        return {}
    source_claims: dict[int, list[datetime | None]] = {}
    for key, lastmod, last_seen_at in session.execute(
        select(ArticleSource.article_id, ArticleSource.lastmod, ArticleSource.last_seen_at).where(
            ArticleSource.article_id.in_([row.id for row in rows])
        )
    ):
        source_claims.setdefault(key, []).append(_plausible(lastmod, last_seen_at))
    known: dict[str, KnownArticle] = {}
    for key, external_id, modified_at, published_at, fetched_at in rows:
        claims = [
            _plausible(modified_at, fetched_at),
            _plausible(published_at, fetched_at),
            *source_claims.get(key, []),
        ]
        times = [t for t in claims if t is not None]
        known[external_id] = KnownArticle(key, max(times) if times else None)
    return known


def _plausible(claimed: datetime | None, recorded_at: datetime) -> datetime | None:
    # An impossible claim still tells one thing: what bantin holds was current when it recorded it.
    claimed, recorded = _aware(claimed), _aware(recorded_at)
    if claimed is not None and recorded is not None and claimed > recorded + CLOCK_SKEW_ALLOWED:
        return recorded
    return claimed


def needs_fetch(known: KnownArticle | None, announced: datetime | None) -> bool:
    """Fetch what is new, or what a source says changed after what we stored."""
    if known is None:
        return True
    if announced is None or known.changed_as_of is None:
        return False
    # The tolerance moves the announced time, never the stored one: a stored time near
    # datetime's limit (9999-12-31, from before dates were checked) must not overflow.
    return announced - CHANGE_TOLERANCE > known.changed_as_of


def store_article(
    session: Session, item: ExtractedArticle, *, now: datetime, existing: ArticleRow | None | EllipsisType = ...
) -> tuple[StoreOutcome, ArticleRow]:
    """Insert or update one article; a re-fetch that changes nothing a reader sees is 'unchanged'.

    ``existing`` may pass the stored row (or None) when the caller already loaded it for a batch.
    """
    content_hash = item.content_hash()
    if isinstance(existing, EllipsisType):
        row = session.scalars(
            select(ArticleRow)
            .where(ArticleRow.site == item.site, ArticleRow.external_id == item.external_id)
            .with_for_update()
        ).one_or_none()
    else:
        row = existing
    if row is None:
        # Not the mapper's constructor, which sets each of the 18 columns through its instrumentation (history,
        # events): a new row has no history to keep, and no listener watches these attributes.
        row = _new_article()
        row.__dict__.update(
            site=item.site,
            external_id=item.external_id,
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


_new_article = manager_of_class(ArticleRow).new_instance


@event.listens_for(Session, "before_flush")
def _sqlite_keys(session: Session, flush_context, instances) -> None:
    """Give new articles and matches on SQLite the keys SQLite itself would give them (one above the largest).

    The unit of work then inserts a flush's rows of each in one statement instead of one each (SQLite's
    RETURNING order is not guaranteed, so SQLAlchemy otherwise asks for each key alone). A writing
    transaction holds SQLite's write lock from its start (see ``crawler.store``): nobody else inserts
    in between. PostgreSQL batches its inserts by itself.
    """
    models: tuple[type[ArticleRow | Match], ...] = (ArticleRow, Match)
    for model in models:
        new: list[ArticleRow | Match] = [row for row in session.new if isinstance(row, model)]
        if all(row.id is not None for row in new):
            continue
        connection = session.connection()
        if connection.dialect.name != "sqlite":
            return
        largest = connection.execute(select(func.max(model.id))).scalar() or 0
        # In the order the unit of work inserts them, as SQLite would have given them (a row whose key a
        # caller chose counts for the rows after it).
        new.sort(key=lambda row: instance_state(row).insert_order or 0)
        for row in new:
            if row.id is None:
                row.id = largest = largest + 1
            else:
                largest = max(largest, row.id)


def load_articles(session: Session, site: str, external_ids: Iterable[str]) -> dict[str, ArticleRow]:
    """The stored rows of one site among these ids, locked for update (one query for a batch)."""
    ids = sorted(set(external_ids))
    if not ids:
        return {}
    rows = session.scalars(
        select(ArticleRow).where(ArticleRow.site == site, ArticleRow.external_id.in_(ids)).with_for_update()
    )
    return {row.external_id: row for row in rows}


def _fields(item: ExtractedArticle, content_hash: str, now: datetime) -> dict:
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
    session: Session, article: ArticleRow, sources: Mapping[str, datetime | None], *, now: datetime, new: bool = False
) -> None:
    """Remember which sources saw an article (only for stored articles: 'seen' follows storage).

    ``new``: the article was just added, so it has no source rows to look up (nor a key yet).
    """
    if new:
        add_sources(session, article, {source: (now, now, lastmod) for source, lastmod in sources.items()})
        return
    record_sources_of(session, {article.id: sources}, now=now)


_PENDING_SOURCES = "bantin_sources_pending"


def add_sources(
    session: Session, article: ArticleRow, sources: Mapping[str, tuple[datetime, datetime, datetime | None]]
) -> None:
    """The source rows of a just-added article: source -> (first seen, last seen, lastmod).

    Written as plain rows when the flush has given the article its key, one statement for a flush's
    articles: an ORM object per source cost more than the article's own row.
    """
    rows = [
        {"source": source, "first_seen_at": first, "last_seen_at": last, "lastmod": lastmod}
        for source, (first, last, lastmod) in sources.items()
    ]
    if not rows:
        return
    if inspect(article).persistent:
        session.execute(insert(ArticleSource), [{"article_id": article.id, **row} for row in rows])
    else:
        session.info.setdefault(_PENDING_SOURCES, []).append((article, rows))


@event.listens_for(Session, "after_flush")
def _write_sources(session: Session, flush_context) -> None:
    pending = session.info.pop(_PENDING_SOURCES, None)
    if not pending:
        return
    # The session still shows its state from before the flush, but the flush gave its articles their keys.
    # An article no longer in the session was taken out by a savepoint's rollback: its sources go with it.
    kept = [(article, rows) for article, rows in pending if article in session and article not in session.deleted]
    written = [(article, rows) for article, rows in kept if article.id is not None]
    waiting = [(article, rows) for article, rows in kept if article.id is None]
    if waiting:  # added to the session after this flush began
        session.info[_PENDING_SOURCES] = waiting
    if written:
        session.connection().execute(
            insert(ArticleSource), [{"article_id": article.id, **row} for article, rows in written for row in rows]
        )


@event.listens_for(Session, "after_rollback")
def _forget_sources(session: Session) -> None:
    session.info.pop(_PENDING_SOURCES, None)


def record_sources_of(
    session: Session, sources_by_key: Mapping[int, Mapping[str, datetime | None]], *, now: datetime
) -> None:
    """The same for stored articles known by their keys (one query for all of them)."""
    if not sources_by_key:
        return
    existing = {
        (row.article_id, row.source): row
        for row in session.scalars(select(ArticleSource).where(ArticleSource.article_id.in_(sorted(sources_by_key))))
    }
    for key, sources in sources_by_key.items():
        for source, lastmod in sources.items():
            row = existing.get((key, source))
            if row is None:
                session.add(
                    ArticleSource(article_id=key, source=source, first_seen_at=now, last_seen_at=now, lastmod=lastmod)
                )
                continue
            row.last_seen_at = now
            if lastmod is not None and (row.lastmod is None or lastmod > row.lastmod):
                row.lastmod = lastmod


def _aware(value: datetime | None) -> datetime | None:
    # Aggregates bypass the column type on SQLite and come back naive (UTC wall time).

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
