"""Story ids and fingerprints, kept in the transaction that writes an article.

Every article gets its story when it is first stored, whichever path stores
it (a crawl's pipeline, ``articles import``, a test building rows by hand):
session events, as for the archive index, so there is one place and no
writer can forget it. A new article joins the story of the most similar
article of another outlet published within ``crawler.stories.WINDOW`` of it
(see ``crawler.stories`` for the rule), else founds a story of its own. An
edited article keeps its story and gets a fresh fingerprint, so later copies
are compared with what it says now.

Migration 0006 groups an archive stored before stories existed with
:func:`group_archive`, through the same :func:`place_articles`. Queries here
name only the columns that exist at schema 0006 (lightweight tables, not the
ORM models), so that migration keeps working when later ones change the models.
"""

from __future__ import annotations

import secrets
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    column,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from crawler.clock import utcnow
from crawler.store.models import ArticleRow, UTCDateTime
from crawler.stories import WINDOW, Fingerprint, Placed, StoryPool, fingerprint, signature_version

GROUP_BATCH = 1000
# A process keeps at most this many fingerprints between placements (about 700 bytes each); past it, it
# starts again from what the next placement needs.
POOL_CACHE_LIMIT = 100_000
# PostgreSQL advisory lock key for placing articles in stories (any constant no other lock uses).
PLACEMENT_LOCK = 0x62616E74696E  # "bantin"

_articles = table(
    "articles",
    column("id", BigInteger),
    column("site", String),
    column("published_at", UTCDateTime()),
    column("story_id", BigInteger),
    column("title", Text),
    column("sapo", Text),
    column("body", Text),
)
_fingerprints = table(
    "article_fingerprints",
    column("article_id", BigInteger),
    column("version", Integer),
    column("signature", LargeBinary),
    column("title", Text),
    column("shingles", Integer),
)
# A Table (with its key) rather than a lightweight table: an insert reports the new story's id.
_stories = Table("stories", MetaData(), Column("id", BigInteger, primary_key=True), Column("created_at", UTCDateTime()))

_epoch = table("story_epoch", column("id", Integer), column("token", BigInteger))
# connection.info key: (the cache, the token it may trust once the transaction commits, or None).
_PENDING = "bantin_story_pool_pending"

_FINGERPRINTED = ("title", "sapo", "body")


@dataclass(frozen=True, slots=True)
class Unplaced:
    """An article that needs a story: its outlet, publication instant and fingerprint."""

    site: str
    published_at: datetime | None
    fingerprint: Fingerprint


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _spans(moments: Sequence[datetime]) -> list[tuple[datetime, datetime]]:
    """The publication windows the candidates of these articles lie in, overlapping ones merged."""
    # Archives hold impossible claims such as 9999-12-31: the window stops at the calendar's ends.
    return _merged(
        [
            (
                moment - WINDOW if moment - _EARLIEST > WINDOW else _EARLIEST,
                moment + WINDOW if _LATEST - moment > WINDOW else _LATEST,
            )
            for moment in moments
        ]
    )


def _placed_between(connection: Connection, start: datetime, end: datetime) -> Iterator[Placed]:
    rows = connection.execute(
        select(
            _articles.c.id,
            _articles.c.site,
            _articles.c.published_at,
            _articles.c.story_id,
            _fingerprints.c.signature,
            _fingerprints.c.title,
            _fingerprints.c.shingles,
        )
        .join(_fingerprints, _fingerprints.c.article_id == _articles.c.id)
        .where(
            _articles.c.published_at >= start,
            _articles.c.published_at <= end,
            _articles.c.story_id.is_not(None),
            _fingerprints.c.version == signature_version(),
        )
    )
    for key, site, published_at, story, signature, title, shingles in rows:
        yield Placed(key, site, published_at, Fingerprint.from_stored(signature, title, shingles), story)


def _stored_sites_of(connection: Connection) -> Callable[[int], list[str]]:
    def sites_of(story: int) -> list[str]:
        return list(connection.execute(select(_articles.c.site).where(_articles.c.story_id == story)).scalars())

    return sites_of


def load_pool(connection: Connection, moments: Sequence[datetime]) -> StoryPool:
    """Every fingerprinted article published near one of these instants, with its story."""
    placed = [entry for start, end in _spans(moments) for entry in _placed_between(connection, start, end)]
    return StoryPool(placed, sites_of=_stored_sites_of(connection))


class _PoolCache:
    """The fingerprints one process has read, kept between its transactions.

    Trusted only while the story epoch holds ``token``: the token this process
    wrote in its last committed placement. ``None``: not trusted (nothing read
    yet, a placement in flight, or the archive changed in a way the pool did not see).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.token: int | None = None
        self.pool = StoryPool()
        self.keys: set[object] = set()
        self.covered: list[tuple[datetime, datetime]] = []

    def reset(self) -> None:
        self.token = None
        self.pool = StoryPool()
        self.keys = set()
        self.covered = []

    def extend(self, connection: Connection, spans: Sequence[tuple[datetime, datetime]]) -> None:
        """Read what the pool lacks of these publication windows."""
        for start, end in _uncovered(spans, self.covered):
            for entry in _placed_between(connection, start, end):
                if entry.key not in self.keys:
                    self.keys.add(entry.key)
                    self.pool.add(entry)
        self.covered = _merged([*self.covered, *spans])


_caches: weakref.WeakKeyDictionary[Engine, _PoolCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache_for(connection: Connection) -> _PoolCache:
    with _caches_lock:
        cache = _caches.get(connection.engine)
        if cache is None:
            cache = _caches[connection.engine] = _PoolCache()
        return cache


def _merged(spans: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """These windows in order, overlapping ones merged."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _uncovered(
    spans: Sequence[tuple[datetime, datetime]], covered: Sequence[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The parts of ``spans`` outside ``covered`` (both merged), ends included: the caller skips rows it has."""
    missing: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        cursor = start
        for low, high in covered:
            if high < cursor or low > end:
                continue
            if low > cursor:
                missing.append((cursor, low))
            cursor = max(cursor, high)
        if cursor < end:
            missing.append((cursor, end))
    return missing


def _epoch_token(connection: Connection) -> int | None:
    """The story epoch's token, locking its row: a writer that holds it commits first, and is seen."""
    return connection.execute(select(_epoch.c.token).where(_epoch.c.id == 1).with_for_update()).scalar_one_or_none()


def _renew_epoch(connection: Connection, cache: _PoolCache, *, pool_current: bool) -> None:
    """Write a fresh token, and what the cache may trust once this transaction commits.

    ``pool_current``: the cached pool already holds every change this transaction
    made (it placed the articles itself). Once a transaction made a change the pool
    did not see, it stays untrusted whatever the same transaction does later.
    """
    token = secrets.randbits(62)
    connection.execute(update(_epoch).where(_epoch.c.id == 1).values(token=token))
    previous = connection.info.get(_PENDING)
    trusted = pool_current and not (previous is not None and previous[1] is None)
    connection.info[_PENDING] = (cache, token if trusted else None)


@event.listens_for(Engine, "commit")
def _committed(connection: Connection) -> None:
    pending = connection.info.pop(_PENDING, None)
    if pending is not None:
        cache, token = pending
        with cache.lock:
            if token is None:
                cache.reset()
            else:
                cache.token = token


@event.listens_for(Engine, "rollback")
def _rolled_back(connection: Connection) -> None:
    # The token was never written; the cache stays untrusted, as a placement in flight left it.
    connection.info.pop(_PENDING, None)


def place_articles(
    connection: Connection, articles: Sequence[Unplaced], *, now: datetime, cached: bool = False
) -> list[int]:
    """A story id for each article (joining a stored story or founding one), in the given order.

    Articles are placed oldest first, so within one batch as across batches
    the first outlet to publish founds the story and later copies join it.
    Placements are serialised across processes (SQLite: the write lock every
    writing transaction takes first; PostgreSQL: a transaction-level advisory
    lock), so two crawls storing copies of one story at once see each other's.

    ``cached``: keep the fingerprints read here for this process's next
    placements, trusted while the story epoch is unchanged (needs schema 0008;
    the migration that groups an older archive places without it).
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLACEMENT_LOCK})
    moments = [article.published_at for article in articles if article.published_at]
    if not cached:
        return _place(connection, load_pool(connection, moments), articles, now=now)
    cache = _cache_for(connection)
    with cache.lock:
        token = _epoch_token(connection)
        # This transaction placed with the cache already (an import flushes a batch in parts) and made no
        # change it did not see since: the token it wrote is still there, rolled back by no savepoint.
        pending = connection.info.get(_PENDING)
        ours = pending is not None and pending[0] is cache and token is not None and pending[1] == token
        if not ours and (cache.token is None or token != cache.token) or len(cache.pool) > POOL_CACHE_LIMIT:
            cache.reset()
        # Untrusted until this transaction commits (a failure part-way leaves it so).
        cache.token = None
        cache.extend(connection, _spans(moments))
        cache.pool.sites_of = _stored_sites_of(connection)
        stories = _place(connection, cache.pool, articles, now=now)
        cache.pool.sites_of = None
        _renew_epoch(connection, cache, pool_current=True)
    return stories


def _place(connection: Connection, pool: StoryPool, articles: Sequence[Unplaced], *, now: datetime) -> list[int]:
    first = len(pool)
    # Stories founded here are numbered -1, -2, ... until their rows are inserted, all at once, below.
    stories: list[int] = [0] * len(articles)
    founded = 0
    order = sorted(
        range(len(articles)),
        key=lambda index: (articles[index].published_at is None, articles[index].published_at or now, index),
    )
    for index in order:
        article = articles[index]
        joined = pool.story_for(article.site, article.published_at, article.fingerprint)
        if joined is None:
            founded += 1
        story = joined if joined is not None else -founded
        stories[index] = story
        if article.published_at is not None:
            pool.add(
                Placed(None, article.site, article.published_at, article.fingerprint, story), new_story=joined is None
            )
    keys = new_stories(connection, founded, now=now)
    pool.renumber({-number: key for number, key in enumerate(keys, start=1)}, first=first)
    return [keys[-story - 1] if story < 0 else story for story in stories]


def new_stories(connection: Connection, count: int, *, now: datetime) -> list[int]:
    """The ids of ``count`` new stories, in one statement."""
    if not count:
        return []
    # The rows are alike, so which key goes to which story does not matter: without asking for the keys in
    # parameter order, SQLite inserts them in one statement rather than one each. Sorted, they come in the
    # order the database gave them, as before.
    if connection.dialect.name == "sqlite":
        # SQLite's own keys (one above the largest: a writing transaction holds the write lock), given here
        # so that the driver inserts the rows without RETURNING, which SQLAlchemy builds row by row.
        largest = connection.execute(select(func.max(_stories.c.id))).scalar() or 0
        keys = list(range(largest + 1, largest + count + 1))
        connection.execute(insert(_stories), [{"id": key, "created_at": now} for key in keys])
        return keys
    rows = connection.execute(insert(_stories).returning(_stories.c.id), [{"created_at": now}] * count)
    return sorted(int(key) for key in rows.scalars())


def write_fingerprints(connection: Connection, rows: Sequence[tuple[int, Fingerprint]]) -> None:
    if not rows:
        return
    connection.execute(delete(_fingerprints).where(_fingerprints.c.article_id.in_([key for key, _ in rows])))
    connection.execute(
        insert(_fingerprints),
        [
            {
                "article_id": key,
                "version": signature_version(),
                "signature": fp.to_bytes(),
                "title": fp.title,
                "shingles": fp.shingles,
            }
            for key, fp in rows
        ],
    )


# --- keeping them in step with the articles ---------------------------------------------------


def _text_changed(row: ArticleRow) -> bool:
    state = inspect(row)
    return any(state.attrs[name].history.has_changes() for name in _FINGERPRINTED)


def _story_changed(row: ArticleRow) -> bool:
    return inspect(row).attrs["story_id"].history.has_changes()


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, flush_context, instances) -> None:
    new = [row for row in session.new if isinstance(row, ArticleRow)]
    changed = [row for row in session.dirty if isinstance(row, ArticleRow) and _text_changed(row)]
    # What a process's cached fingerprints cannot follow: edits, deletions, stories set by hand.
    unseen = (
        bool(changed)
        or any(isinstance(row, ArticleRow) for row in session.deleted)
        or any(isinstance(row, ArticleRow) and _story_changed(row) for row in session.dirty)
    )
    if not (new or unseen):
        return
    fingerprints = {id(row): fingerprint(row.title or "", row.sapo or "", row.body or "") for row in new + changed}
    unplaced = [row for row in new if row.story_id is None]
    connection = session.connection()
    if unplaced:
        # Deterministic whatever order the session holds its new objects in.
        unplaced.sort(key=lambda row: (row.site, row.external_id))
        stories = place_articles(
            connection,
            [Unplaced(row.site, row.published_at, fingerprints[id(row)]) for row in unplaced],
            now=utcnow(),
            cached=True,
        )
        for row, story in zip(unplaced, stories, strict=True):
            row.story_id = story
    if unseen or len(unplaced) < len(new):
        _renew_epoch(connection, _cache_for(connection), pool_current=False)
    session.info.setdefault("bantin_fingerprints_pending", []).extend(
        (row, fingerprints[id(row)]) for row in new + changed
    )


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context) -> None:
    pending = session.info.pop("bantin_fingerprints_pending", None)
    if pending:
        write_fingerprints(
            session.connection(),
            [(row.id, fp) for row, fp in pending if row not in session.deleted and row.id is not None],
        )


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("bantin_fingerprints_pending", None)


# --- an archive stored before stories ---------------------------------------------------------


def group_archive(
    connection: Connection, *, now: datetime | None = None, batch_size: int = GROUP_BATCH, progress: bool | None = None
) -> int:
    """Fingerprint and place every article that has no story yet, oldest first; returns how many.

    Progress goes to stderr, only when it is a terminal.
    """
    now = now or utcnow()
    show = sys.stderr.isatty() if progress is None else progress
    done = 0
    columns = (
        _articles.c.id,
        _articles.c.site,
        _articles.c.published_at,
        _articles.c.title,
        _articles.c.sapo,
        _articles.c.body,
    )
    unplaced = _articles.c.story_id.is_(None)
    last: tuple[datetime, int] | None = None
    while True:
        # Dated articles in publication order (keyset pagination), then the undated ones.
        query = select(*columns).where(unplaced, _articles.c.published_at.is_not(None))
        if last is not None:
            query = query.where(
                or_(
                    _articles.c.published_at > last[0],
                    and_(_articles.c.published_at == last[0], _articles.c.id > last[1]),
                )
            )
        rows = connection.execute(query.order_by(_articles.c.published_at, _articles.c.id).limit(batch_size)).all()
        if not rows:
            rows = connection.execute(
                select(*columns)
                .where(unplaced, _articles.c.published_at.is_(None))
                .order_by(_articles.c.id)
                .limit(batch_size)
            ).all()
            if not rows:
                break
        else:
            last = (rows[-1].published_at, rows[-1].id)
        fingerprints = [fingerprint(row.title or "", row.sapo or "", row.body or "") for row in rows]
        unplaced_rows = [Unplaced(row.site, row.published_at, fp) for row, fp in zip(rows, fingerprints, strict=True)]
        stories = place_articles(connection, unplaced_rows, now=now)
        connection.execute(
            update(_articles).where(_articles.c.id == bindparam("key")).values(story_id=bindparam("story")),
            [{"key": row.id, "story": story} for row, story in zip(rows, stories, strict=True)],
        )
        write_fingerprints(connection, [(row.id, fp) for row, fp in zip(rows, fingerprints, strict=True)])
        done += len(rows)
        if show:
            print(f"\rgrouping the archive into stories: {done} articles", end="", file=sys.stderr, flush=True)
    if show and done:
        print(file=sys.stderr)
    return done
