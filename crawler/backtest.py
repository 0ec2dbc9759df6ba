"""Back-testing a query on the archive: what `bantin topics test` and the web app's form both run.

The archive index finds the candidates and the matcher decides, as for a topic.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawler.matching import ArticleFields, Hit, QueryMatcher
from crawler.query import parse_query
from crawler.store.archive import matching_rows
from crawler.store.models import ArticleRow


@dataclass(slots=True)
class MatchedArticle:
    row: ArticleRow
    hits: list[Hit]
    # The terms that carried the match.
    terms: list[str]


@dataclass(slots=True)
class Backtest:
    query: str
    since: datetime | None
    matched: int = 0
    # Site id -> articles of the period / matches; each outlet's copy of a story is matched on its own.
    scanned_per_site: Counter[str] = field(default_factory=Counter)
    per_site: Counter[str] = field(default_factory=Counter)
    # The stories the matches belong to (what a digest would show as items), overall and per site.
    stories: set[int] = field(default_factory=set)
    site_stories: dict[str, set[int]] = field(default_factory=dict)
    # Publication day (in the display zone, ISO) or "undated" -> matches.
    per_day: Counter[str] = field(default_factory=Counter)
    terms: Counter[str] = field(default_factory=Counter)
    # The newest `limit` matches, with their hits.
    articles: list[MatchedArticle] = field(default_factory=list)

    @property
    def scanned(self) -> int:
        """Articles of the period, every outlet together."""
        return self.scanned_per_site.total()


def backtest(
    session: Session, query: str, *, mode: str = "auto", since: datetime | None, limit: int, zone: tzinfo
) -> Backtest:
    """Match `query` over the articles published from `since` (None: the whole archive), newest first.

    A malformed query raises QueryError before anything is read.
    """
    matcher = QueryMatcher(query, mode)
    tree = parse_query(query)
    result = Backtest(query=query, since=since)
    period = select(ArticleRow.site, func.count()).group_by(ArticleRow.site)
    if since is not None:
        # Grouped by the bare column, SQLite walks the (site, external_id) index over the whole archive
        # to spare a sort and reads each row's date; grouped by an expression it reads the period's rows
        # along the date index (10 ms instead of 130 ms for 30 days of a 100,000-article archive).
        site = ArticleRow.site.concat("")
        period = select(site, func.count()).where(ArticleRow.published_at >= since).group_by(site)
    result.scanned_per_site.update({site: count for site, count in session.execute(period)})
    found = matching_rows(
        session,
        tree,
        lambda row: matcher.carried(ArticleFields.from_article(row)),
        columns=(ArticleRow.site, ArticleRow.published_at, ArticleRow.story_id),
        published_from=since,
    )
    listed: list[tuple[int, list[Hit], list[str]]] = []
    for row, carried in found:
        result.matched += 1
        day = row.published_at.astimezone(zone).date().isoformat() if row.published_at else "undated"
        result.per_day[day] += 1
        result.per_site[row.site] += 1
        result.stories.add(row.story_id)
        result.site_stories.setdefault(row.site, set()).add(row.story_id)
        result.terms.update(carried)
        if len(listed) < limit:
            listed.append((row.id, matcher.explain(ArticleFields.from_article(row)).hits, carried))
    # Only the listed matches are read whole (as stored articles, for their titles, links and outlets).
    stored = {
        row.id: row for row in session.scalars(select(ArticleRow).where(ArticleRow.id.in_([k for k, _, _ in listed])))
    }
    result.articles = [MatchedArticle(stored[key], hits, carried) for key, hits, carried in listed]
    return result
