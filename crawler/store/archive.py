"""Questions people ask the archive: listing, finding one article, its topics.

The CLI (and later the web app) format the answers; the queries live here so
that every front end asks them the same way.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import Row, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from crawler.clock import VIETNAM
from crawler.errors import AmbiguousArticleError, UsageError
from crawler.query import Node, render
from crawler.store.models import ArticleRow, ArticleSource, CrawlRun, Match, Topic

log = logging.getLogger("bantin.archive")

# A front end's way of reading an article URL: (site id, external id), or None when no site owns it.
UrlResolver = Callable[[str], "tuple[str, str] | None"]
# A site's rule for its own article ids, as its crawl stores them (NDO: leading zeros dropped).
IdRule = Callable[[str], str]


def article_query(
    *,
    since: date | None = None,
    until: date | None = None,
    topic: str | None = None,
    sites: Iterable[str] | None = None,
    candidates=None,
    after: Place | None = None,
    published_from: datetime | None = None,
    by_date: bool = False,
) -> Select[ArticleRow]:
    """Stored articles, newest first; ``since``/``until`` are publication days in Vietnam time.

    ``candidates``: a selectable of article ids (the archive index's) to keep to.
    ``after``: only articles that come after this one in the newest-first order (the next page).
    ``by_date``: keep to the candidates by testing each article met along the date index (SQLite),
    instead of looking every candidate up and sorting them all: the first rows come at once when
    candidates are many.
    """
    query = select(ArticleRow)
    if candidates is not None:
        # `id + 0` is no longer the key: SQLite cannot drive the query by the candidates' keys.
        key = ArticleRow.id + 0 if by_date else ArticleRow.id
        query = query.where(key.in_(select(candidates.c.id)))
    if after is not None:
        query = query.where(_after(after))
    if published_from is not None:
        query = query.where(ArticleRow.published_at >= published_from)
    if since:
        query = query.where(ArticleRow.published_at >= datetime.combine(since, time(), VIETNAM))
    if until:
        query = query.where(ArticleRow.published_at < datetime.combine(until + timedelta(days=1), time(), VIETNAM))
    if topic:
        query = query.where(ArticleRow.id.in_(select(Match.article_id).where(Match.topic == topic)))
    if sites is not None:
        query = query.where(ArticleRow.site.in_(sorted(set(sites))))
    return query.order_by(ArticleRow.published_at.desc().nulls_last(), ArticleRow.id.desc())


class Place(Protocol):
    """Where an article stands in the newest-first order: all a next page needs of the last row shown."""

    @property
    def id(self) -> int: ...

    @property
    def published_at(self) -> datetime | None: ...


def _after(row: Place):
    """Rows after ``row`` in (published_at desc nulls last, id desc)."""
    if row.published_at is None:
        return and_(ArticleRow.published_at.is_(None), ArticleRow.id < row.id)
    return or_(
        ArticleRow.published_at < row.published_at,
        and_(ArticleRow.published_at == row.published_at, ArticleRow.id < row.id),
        ArticleRow.published_at.is_(None),
    )


def place_of(session: Session, key: int) -> Place | None:
    """The article ``key``'s place in the order (to ask for the page after it), or None if it is gone."""
    return session.execute(select(ArticleRow.id, ArticleRow.published_at).where(ArticleRow.id == key)).first()


def newest_articles(
    session: Session,
    *,
    sites: Iterable[str] | None = None,
    after: Place | None = None,
    limit: int,
    columns: Sequence[Any] = (),
) -> list[Row]:
    """One page of ``article_query``'s order (newest first, undated last), read along an index.

    The same rows as ``article_query(sites=..., after=...).limit(limit)``, but dated and undated
    articles are asked for apart: a condition "after this row, or undated" cannot bound an index
    scan (PostgreSQL then reads every row after the page), each half alone can.
    Plain rows of id, published_at and ``columns`` (a page is shown, not changed: no ORM objects to build),
    each a ``Place`` for the next page.
    """
    selected = (ArticleRow.id, ArticleRow.published_at, *columns)
    rows: list[Row] = []
    if after is None or after.published_at is not None:
        dated = article_query(sites=sites).where(ArticleRow.published_at.is_not(None))
        if after is not None:
            moment = after.published_at
            dated = dated.where(
                ArticleRow.published_at <= moment, or_(ArticleRow.published_at < moment, ArticleRow.id < after.id)
            )
        rows = list(session.execute(dated.with_only_columns(*selected).limit(limit)))
        if len(rows) == limit:
            return rows
    undated = article_query(sites=sites).where(ArticleRow.published_at.is_(None))
    if after is not None and after.published_at is None:
        undated = undated.where(ArticleRow.id < after.id)
    rows += session.execute(undated.with_only_columns(*selected).limit(limit - len(rows)))
    return rows


# More candidates than this, and a page of them is found sooner along the date index (see _candidate_chunks):
# the walk meets a candidate in every archive/DENSE_CANDIDATES articles or sooner.
DENSE_CANDIDATES = 2000
# Where a connection remembers the queries (canonical text) it found dense, and how many at most.
DENSE_QUERIES = "bantin_dense_queries"
DENSE_REMEMBERED = 1000
# Where a connection remembers its dense queries' candidate keys (see _dense_candidates), and how many keys
# at most, all queries together: a kept key costs about 60 bytes, and each pooled connection keeps its own.
DENSE_KEYS = "bantin_dense_keys"
DENSE_KEYS_KEPT = 50_000
# What the matcher reads of an article: ``ArticleFields.from_article`` takes a row of these.
MATCHED_COLUMNS = (
    ArticleRow.id,
    ArticleRow.title,
    ArticleRow.sapo,
    ArticleRow.body,
    ArticleRow.tags,
    ArticleRow.category,
)


def matching_rows(
    session: Session,
    tree: Node,
    accept: Callable[[Row], Any],
    *,
    columns: Sequence[Any] = (),
    since: date | None = None,
    until: date | None = None,
    sites: Iterable[str] | None = None,
    after: Place | None = None,
    published_from: datetime | None = None,
    batch: int = 1000,
    first_batch: int | None = None,
    limit: int | None = None,
) -> Iterator[tuple[Row, Any]]:
    """(row, verdict) for each article ``accept`` returns a verdict for, newest first.

    The rows are plain rows of ``MATCHED_COLUMNS`` and ``columns``, never ORM objects:
    a whole-archive question reads tens of thousands of candidates, and building,
    tracking and dropping a mapped object for each cost as much as matching it.
    ``accept`` runs as the caller asks for the next match: one that stops after a page
    matches none of the read-ahead candidates it did not need (most of a search page's cost).
    ``limit``: how many matches the caller stops after (a page, and one to tell there is more).
    Each read after the first is then about what the share matched so far says is still wanted,
    not a whole batch for a page that falls a few short (loading rows costs more than judging them).
    """
    read = accepted = 0

    def next_size() -> int | None:
        if limit is None or not accepted or accepted >= limit:
            return None
        wanted = -(-(limit - accepted) * read // accepted)
        # With room for a few more rejections than the share so far: one read more costs a round trip.
        return min(wanted + wanted // 4 + 2, batch)

    for rows in _candidate_chunks(
        session,
        tree,
        columns=columns,
        since=since,
        until=until,
        sites=sites,
        after=after,
        published_from=published_from,
        batch=batch,
        first_batch=first_batch,
        next_size=next_size,
    ):
        for row in rows:
            read += 1
            verdict = accept(row)
            if verdict is not None:
                accepted += 1
                yield row, verdict


def matches_per_site(
    session: Session,
    tree: Node,
    accept: Callable[[Row], Any],
    *,
    since: date | None = None,
    until: date | None = None,
    sites: Iterable[str] | None = None,
    after: Place | None = None,
) -> Counter[str]:
    """How many articles ``accept`` takes, per site (`articles search --count`), reading none of them whole."""
    found = matching_rows(
        session, tree, accept, columns=(ArticleRow.site,), since=since, until=until, sites=sites, after=after
    )
    return Counter(row.site for row, _ in found)


def matching_articles(
    session: Session,
    tree: Node,
    accept: Callable[[Row], Any],
    *,
    since: date | None = None,
    until: date | None = None,
    sites: Iterable[str] | None = None,
    after: Place | None = None,
    published_from: datetime | None = None,
    batch: int = 200,
    first_batch: int | None = None,
) -> Iterator[tuple[ArticleRow, Any]]:
    """Like ``matching_rows``, each match as its stored ``ArticleRow`` (for a page of results).

    The archive index narrows the rows to the candidates of the query ``tree``;
    ``accept`` (the matcher) decides. Without a usable index every article is read.
    ``first_batch``: how many candidates the first read loads (then twice as many each time, up to
    ``batch``), for a caller that stops after one page.
    """
    for rows in _candidate_chunks(
        session,
        tree,
        columns=(),
        since=since,
        until=until,
        sites=sites,
        after=after,
        published_from=published_from,
        batch=batch,
        first_batch=first_batch,
    ):
        chunk = [(row, verdict) for row in rows if (verdict := accept(row)) is not None]
        if chunk:
            loaded = {
                row.id: row
                for row in session.scalars(select(ArticleRow).where(ArticleRow.id.in_([row.id for row, _ in chunk])))
            }
            for row, verdict in chunk:
                yield loaded[row.id], verdict


def _candidate_chunks(
    session: Session,
    tree: Node,
    *,
    columns: Sequence[Any],
    since: date | None,
    until: date | None,
    sites: Iterable[str] | None,
    after: Place | None,
    published_from: datetime | None,
    batch: int,
    first_batch: int | None,
    next_size: Callable[[], int | None] | None = None,
) -> Iterator[Sequence[Row]]:
    """The candidate rows (``MATCHED_COLUMNS`` and ``columns``) of each read, in order.

    ``next_size``: how many rows the next read loads (None, or without it: twice as many as the last, up to ``batch``).

    ``first_batch`` (a caller that stops after a page): when the query has many candidates, SQLite walks
    the date index newest first and stops there, instead of sorting every candidate before the first.
    """
    from crawler.store.index import candidates_for

    candidates, why = candidates_for(session, tree)
    if candidates is None:
        log.warning("scanning every article: %s", why)
    else:
        log.debug("reading the query's candidates from the archive index")
    by_date = False
    # Every candidate's key, when they are few: the rows are then looked up by them, without asking
    # the index a second time (a phrase of common syllables costs milliseconds to look up).
    few: Sequence[int] | None = None
    # A dense query's candidates, kept to along the date walk in Python rather than by SQLite's IN.
    dense_ids: frozenset[int] | None = None
    if candidates is not None and first_batch is not None and session.get_bind().dialect.name == "sqlite":
        # A query once found dense is walked by date at once: its next page (or the same page asked
        # again) need not count its candidates first. Only the plan depends on it, never the rows.
        dense = session.connection().info.setdefault(DENSE_QUERIES, set())
        shape = render(tree, canonical=True)
        by_date = shape in dense
        if by_date:
            dense_ids = _dense_candidates(session, candidates)
        else:
            found = session.scalars(select(candidates.c.id).limit(DENSE_CANDIDATES + 1)).all()
            by_date = len(found) > DENSE_CANDIDATES
            few = None if by_date else found
            if by_date:
                if len(dense) >= DENSE_REMEMBERED:
                    dense.clear()
                dense.add(shape)
                dense_ids = _dense_candidates(session, candidates)
    query = article_query(
        since=since,
        until=until,
        sites=sites,
        candidates=candidates if few is None and dense_ids is None else None,
        after=after,
        published_from=published_from,
        by_date=by_date,
    )
    if few is not None:
        query = query.where(ArticleRow.id.in_(few))
    selected = (*MATCHED_COLUMNS, *columns)
    if candidates is None:
        chunks: Iterable[Sequence[Row]] = session.execute(
            query.with_only_columns(*selected).execution_options(yield_per=batch)
        ).partitions()
    else:
        chunks = _rows_in_order(
            session, query, selected, batch, first_batch or batch, next_size, stream=by_date, keep=dense_ids
        )
    yield from chunks


def _dense_candidates(session: Session, candidates) -> frozenset[int] | None:
    """Every candidate key of a dense query, remembered by the connection while the archive is unchanged.

    Each page of a dense query otherwise has SQLite build its whole candidate set again (milliseconds).
    The archive's version is read before the candidates, in the same transaction: a commit by another
    connection (``data_version``) or by this one (its change count) makes the remembered set a miss.
    """
    connection = session.connection()
    version = tuple(
        connection.exec_driver_sql("SELECT (SELECT data_version FROM pragma_data_version), total_changes()").one()
    )
    # The index question itself, not the query's text: two texts the index reads alike share it.
    compiled = candidates.compile(connection)
    shape = (str(compiled), tuple(sorted(compiled.params.items())))
    remembered = connection.info.setdefault(DENSE_KEYS, {})
    hit = remembered.get(shape)
    if hit is not None and hit[0] == version:
        return hit[1]
    found = session.scalars(select(candidates.c.id).limit(DENSE_KEYS_KEPT + 1)).all()
    # Too many to keep: SQLite keeps to them itself, and the next page need not read them to find that out.
    keys = frozenset(found) if len(found) <= DENSE_KEYS_KEPT else None
    if sum(len(kept or ()) for _, kept in remembered.values()) + len(keys or ()) > DENSE_KEYS_KEPT:
        remembered.clear()
    remembered[shape] = (version, keys)
    return keys


def _rows_in_order(
    session: Session,
    query: Select,
    selected: Sequence[Any],
    batch: int,
    first_batch: int,
    next_size: Callable[[], int | None] | None,
    *,
    stream: bool,
    keep: frozenset[int] | None = None,
) -> Iterator[Sequence[Row]]:
    """The rows of ``query``, ordering only their keys: sorting whole ~3 KB rows costs more than reading them.

    ``stream``: read the keys as the query finds them (it walks an index in order) rather than all first.
    """
    found = session.scalars(query.with_only_columns(ArticleRow.id).execution_options(yield_per=batch * 5))
    keys: Iterator[int] = iter(found if stream else found.all())
    if keep is not None:
        keys = (key for key in keys if key in keep)
    size = max(1, min(first_batch, batch))
    while chunk := list(itertools.islice(keys, size)):
        loaded = {row.id: row for row in session.execute(select(*selected).where(ArticleRow.id.in_(chunk)))}
        yield [loaded[key] for key in chunk]
        size = (next_size() if next_size else None) or min(size * 2, batch)


def topics_by_article(session: Session, keys: list[int]) -> dict[int, list[str]]:
    """The topics each of these articles matched, by article key."""
    found: dict[int, list[str]] = {}
    if keys:
        for key, name in session.execute(
            select(Match.article_id, Match.topic).where(Match.article_id.in_(keys)).order_by(Match.topic)
        ):
            found.setdefault(key, []).append(name)
    return found


def sources_by_article(session: Session, keys: list[int]) -> dict[int, list[ArticleSource]]:
    """Where each of these articles was discovered (feed, sitemap, ...), by article key, by source name."""
    found: dict[int, list[ArticleSource]] = {}
    if keys:
        for source in session.scalars(
            select(ArticleSource).where(ArticleSource.article_id.in_(keys)).order_by(ArticleSource.source)
        ):
            found.setdefault(source.article_id, []).append(source)
    return found


def article_matches(session: Session, key: int) -> list[Match]:
    """The topic matches of one article, with their hits, the first recorded first."""
    return list(session.scalars(select(Match).where(Match.article_id == key).order_by(Match.id)))


def story_copies(session: Session, rows: Iterable[ArticleRow]) -> dict[int, list[str]]:
    """For each article, the other sites whose copy of its story the archive holds (first published first)."""
    rows = list(rows)
    if not rows:
        return {}
    members: dict[int, list[tuple[str, int]]] = {}
    for story_id, key, site in session.execute(
        select(ArticleRow.story_id, ArticleRow.id, ArticleRow.site)
        .where(ArticleRow.story_id.in_(sorted({row.story_id for row in rows})))
        .order_by(ArticleRow.published_at.asc().nulls_last(), ArticleRow.id)
    ):
        members.setdefault(story_id, []).append((site, key))
    return {row.id: [site for site, key in members.get(row.story_id, []) if key != row.id] for row in rows}


def find_article(
    session: Session, reference: str, *, resolve_url: UrlResolver, id_rules: Mapping[str, IdRule]
) -> ArticleRow:
    """One stored article from what a person types: a URL, ``SITE:ID``, or a site's own id.

    ``id_rules``: each known site's rule for its ids, by site id; the id of ``SITE:ID`` or a bare
    id is looked up as each site stores it (a site without a rule stores ids as typed).
    Raises :class:`UsageError` when nothing is stored under it and
    :class:`AmbiguousArticleError` when a bare id names articles of several sites.
    """
    reference = reference.strip()
    site, sep, external_id = reference.partition(":")
    site_and_id = bool(sep and external_id and "/" not in external_id)
    # A site without a rule (one the archive still holds but the registry no longer knows) keeps ids as typed.
    row = _by_identity(session, site, id_rules.get(site, str)(external_id)) if site_and_id else None
    if row is None and not (site_and_id and site in id_rules):
        if "://" in reference:
            identity = resolve_url(reference)
            row = _by_identity(session, *identity) if identity else None
            if row is None:
                row = session.scalar(select(ArticleRow).where(ArticleRow.url == reference.split("#")[0].split("?")[0]))
        else:
            rows = _by_bare_id(session, reference, id_rules)
            if len(rows) > 1:
                raise AmbiguousArticleError(reference, [f"{row.site}:{row.external_id}" for row in rows])
            row = rows[0] if rows else None
    if row is None:
        raise UsageError(f"no stored article {reference!r}")
    return row


def _by_identity(session: Session, site: str, external_id: str) -> ArticleRow | None:
    return session.scalar(select(ArticleRow).where(ArticleRow.site == site, ArticleRow.external_id == external_id))


def _by_bare_id(session: Session, typed: str, id_rules: Mapping[str, IdRule]) -> list[ArticleRow]:
    """Each site's article stored under what that site's rule makes of ``typed``, by site."""
    spellings = sorted({typed, *(rule(typed) for rule in id_rules.values())})
    rows = session.scalars(select(ArticleRow).where(ArticleRow.external_id.in_(spellings)).order_by(ArticleRow.site))
    return [row for row in rows if row.external_id == id_rules.get(row.site, str)(typed)]


def articles_per_site(session: Session) -> dict[str, int]:
    """How many articles the archive holds for each site."""
    return dict(session.execute(select(ArticleRow.site, func.count()).group_by(ArticleRow.site)).all())


def last_crawl_per_site(session: Session) -> dict[str, CrawlRun]:
    """Each site's most recently started crawl run."""
    latest = select(CrawlRun.site, func.max(CrawlRun.id).label("id")).group_by(CrawlRun.site).subquery()
    rows = session.scalars(select(CrawlRun).join(latest, CrawlRun.id == latest.c.id))
    return {run.site: run for run in rows}


def sites_in_archive(session: Session) -> set[str]:
    """Every site the archive holds articles of (a site no longer registered included)."""
    return set(session.scalars(select(ArticleRow.site).distinct()))


def stories_on_several_sites(session: Session) -> int:
    """How many stories the archive holds copies of from more than one site."""
    shared = (
        select(ArticleRow.story_id)
        .group_by(ArticleRow.story_id)
        .having(func.count(func.distinct(ArticleRow.site)) > 1)
        .subquery()
    )
    return session.scalar(select(func.count()).select_from(shared)) or 0


def stored_topics(session: Session) -> dict[str, Topic]:
    """Each configured topic as the archive last recorded it (query, version, version matched), by name."""
    return {row.name: row for row in session.scalars(select(Topic))}


def matches_per_topic(session: Session) -> dict[str, int]:
    """How many articles each topic matched."""
    return dict(session.execute(select(Match.topic, func.count()).group_by(Match.topic)).all())


def last_match_per_topic(session: Session) -> dict[str, datetime]:
    """When each topic last matched an article."""
    return dict(session.execute(select(Match.topic, func.max(Match.matched_at)).group_by(Match.topic)).all())
