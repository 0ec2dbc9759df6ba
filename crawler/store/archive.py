"""Questions people ask the archive: listing, finding one article, its topics.

The CLI (and later the web app) format the answers; the queries live here so
that every front end asks them the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from crawler.clock import VIETNAM
from crawler.errors import AmbiguousArticleError, UsageError
from crawler.store.models import ArticleRow, CrawlRun, Match

# A front end's way of reading an article URL: (site id, external id), or None when no site owns it.
UrlResolver = Callable[[str], "tuple[str, str] | None"]


def article_query(
    *, since: date | None = None, until: date | None = None, topic: str | None = None,
    sites: Iterable[str] | None = None,
) -> Select[tuple[ArticleRow]]:
    """Stored articles, newest first; ``since``/``until`` are publication days in Vietnam time."""
    query = select(ArticleRow)
    if since:
        query = query.where(ArticleRow.published_at >= datetime.combine(since, time(), VIETNAM))
    if until:
        query = query.where(ArticleRow.published_at < datetime.combine(until + timedelta(days=1), time(), VIETNAM))
    if topic:
        query = query.where(ArticleRow.id.in_(select(Match.article_id).where(Match.topic == topic)))
    if sites is not None:
        query = query.where(ArticleRow.site.in_(sorted(set(sites))))
    return query.order_by(ArticleRow.published_at.desc().nulls_last(), ArticleRow.id.desc())


def topics_by_article(session: Session, keys: list[int]) -> dict[int, list[str]]:
    """The topics each of these articles matched, by article key."""
    found: dict[int, list[str]] = {}
    if keys:
        for key, name in session.execute(
            select(Match.article_id, Match.topic).where(Match.article_id.in_(keys)).order_by(Match.topic)
        ):
            found.setdefault(key, []).append(name)
    return found


def find_article(session: Session, reference: str, *, resolve_url: UrlResolver, known_sites: Iterable[str]) -> ArticleRow:
    """One stored article from what a person types: a URL, ``SITE:ID``, or a site's own id.

    Raises :class:`UsageError` when nothing is stored under it and
    :class:`AmbiguousArticleError` when a bare id names articles of several sites.
    """
    reference = reference.strip()
    site, sep, external_id = reference.partition(":")
    if sep and site in set(known_sites) and external_id and "/" not in external_id:
        row = _by_identity(session, site, external_id)
    elif "://" in reference:
        identity = resolve_url(reference)
        row = _by_identity(session, *identity) if identity else None
        if row is None:
            row = session.scalar(select(ArticleRow).where(ArticleRow.url == reference.split("#")[0].split("?")[0]))
    else:
        rows = list(session.scalars(
            select(ArticleRow).where(ArticleRow.external_id == reference).order_by(ArticleRow.site)
        ))
        if len(rows) > 1:
            raise AmbiguousArticleError(reference, [f"{row.site}:{row.external_id}" for row in rows])
        row = rows[0] if rows else None
    if row is None:
        raise UsageError(f"no stored article {reference!r}")
    return row


def _by_identity(session: Session, site: str, external_id: str) -> ArticleRow | None:
    return session.scalar(select(ArticleRow).where(ArticleRow.site == site, ArticleRow.external_id == external_id))


def articles_per_site(session: Session) -> dict[str, int]:
    """How many articles the archive holds for each site."""
    return dict(session.execute(select(ArticleRow.site, func.count()).group_by(ArticleRow.site)).all())


def last_crawl_per_site(session: Session) -> dict[str, CrawlRun]:
    """Each site's most recently started crawl run."""
    latest = (
        select(CrawlRun.site, func.max(CrawlRun.id).label("id")).group_by(CrawlRun.site).subquery()
    )
    rows = session.scalars(select(CrawlRun).join(latest, CrawlRun.id == latest.c.id))
    return {run.site: run for run in rows}
