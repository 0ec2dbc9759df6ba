"""Topics in the database: keeping the stored matches in step with the configured queries.

The configuration is the source of truth for topics; the `topics` table
remembers which query version the archive was last matched with, so a new or
changed topic is re-matched over the whole archive (and is never empty).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crawler.config import TopicConfig
from crawler.matching import ArticleFields, Matcher, TopicSpec
from crawler.store import Database
from crawler.store.archive import MATCHED_COLUMNS
from crawler.store.models import ArticleRow, Match, Topic

log = logging.getLogger("bantin.topics")

REMATCH_BATCH = 1000


@dataclass
class TopicSet:
    """All configured topics compiled once into one matcher."""

    specs: list[TopicSpec]
    matcher: Matcher
    # name -> query version, computed once (each is a parse and a hash)
    versions: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.versions = {spec.name: spec.version for spec in self.specs}

    @classmethod
    def from_config(cls, topics: Iterable[TopicConfig | TopicSpec | dict]) -> TopicSet:
        specs = [_spec(topic) for topic in topics]
        return cls(specs, Matcher(specs))

    def subset(self, names: Iterable[str]) -> TopicSet:
        wanted = set(names)
        return TopicSet.from_config([spec for spec in self.specs if spec.name in wanted])


def _spec(topic: TopicConfig | TopicSpec | dict) -> TopicSpec:
    if isinstance(topic, TopicSpec):
        return topic
    if isinstance(topic, dict):
        return TopicSpec(name=topic["name"], query=topic["query"], accents=topic.get("accents", "auto"))
    return TopicSpec(name=topic.name, query=topic.query, accents=topic.accents)


def sync_topics(session: Session, topic_set: TopicSet, *, now: datetime) -> list[str]:
    """Make the topics table match the configuration; return the topics the archive must be re-matched for."""
    rows = {row.name: row for row in session.scalars(select(Topic))}
    stale: list[str] = []
    for spec in topic_set.specs:
        row = rows.pop(spec.name, None)
        if row is None:
            # Another process preparing the same configuration may add it at once.
            module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            session.execute(
                module.insert(Topic)
                .values(
                    name=spec.name,
                    query=spec.query,
                    accents=spec.accents,
                    version=spec.version,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=[Topic.name])
            )
            stale.append(spec.name)
            continue
        if row.version != spec.version:
            row.query, row.accents, row.version, row.updated_at = spec.query, spec.accents, spec.version, now
        if row.matched_version != spec.version:
            stale.append(spec.name)
    for removed in rows.values():
        # A topic taken out of the configuration takes its matches with it.
        session.execute(delete(Match).where(Match.topic == removed.name))
        # A statement, not session.delete(): a concurrent sync may have deleted it already.
        session.execute(delete(Topic).where(Topic.name == removed.name))
    return stale


def _match_rows(found: dict[str, list], topic_set: TopicSet, article_version: int, now: datetime) -> list[dict]:
    """The matches table's rows (without the article) for what the matcher ``found`` in one article."""
    versions = topic_set.versions
    return [
        dict(
            topic=spec.name,
            topic_version=versions[spec.name],
            article_version=article_version,
            hits=[hit.to_dict() for hit in found[spec.name]],
            matched_at=now,
        )
        for spec in topic_set.specs
        if found.get(spec.name)
    ]


def match_article(
    session: Session, article: ArticleRow, topic_set: TopicSet, *, now: datetime, new: bool = False
) -> list[str]:
    """Re-match one stored article against every topic in the set; returns the matched topic names.

    ``new``: the article was just added, so it has no stored matches to look up (nor a key yet).
    """
    if not new:
        return match_stored(session, [article], topic_set, now=now).get(article.id, [])
    found = topic_set.matcher.match(ArticleFields.from_article(article))
    if not found:
        return []
    rows = _match_rows(found, topic_set, article.version, now)
    # Nobody else can see an article this transaction just added: plain inserts, batched at flush.
    session.add_all(Match(article=article, **row) for row in rows)
    return [row["topic"] for row in rows]


def match_stored(
    session: Session, articles: Sequence[Any], topic_set: TopicSet, *, now: datetime
) -> dict[int, list[str]]:
    """Re-match stored articles (anything with id, version and the matched fields: an ``ArticleRow``, a plain
    row of them) against every topic in the set, in a few statements for the lot; returns, by article key,
    the topics each matched (an article that matched none is absent).
    """
    names = [spec.name for spec in topic_set.specs]
    matched: dict[int, list[str]] = {}
    rows: list[dict[str, Any]] = []
    for article in articles:
        found = topic_set.matcher.match(ArticleFields.from_article(article))
        if found:
            kept = _match_rows(found, topic_set, article.version, now)
            rows += [dict(article_id=article.id, **row) for row in kept]
            matched[article.id] = [row["topic"] for row in kept]
    keys = [article.id for article in articles]
    gone: dict[str, list[int]] = {}
    for key, name in session.execute(
        select(Match.article_id, Match.topic).where(Match.article_id.in_(keys), Match.topic.in_(names))
    ):
        if name not in matched.get(key, ()):
            gone.setdefault(name, []).append(key)
    for name, lost in gone.items():
        session.execute(delete(Match).where(Match.topic == name, Match.article_id.in_(lost)))
    if rows:
        # A concurrent re-match (another process preparing the same new topic) may insert
        # the same (article, topic) at once: an upsert lets both succeed, last one wins. One
        # statement for the lot, its values sent in batches by the driver's executemany.
        session.execute(_upsert_matches(session), rows)
    return matched


def _upsert_matches(session: Session):
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(Match)
    return statement.on_conflict_do_update(
        index_elements=[Match.article_id, Match.topic],
        set_={
            column: statement.excluded[column] for column in ("topic_version", "article_version", "hits", "matched_at")
        },
    )


def rematch(
    database: Database, topic_set: TopicSet, *, now: datetime, batch_size: int = REMATCH_BATCH
) -> dict[str, int]:
    """Match the archive against these topics, in short batches; returns matches per topic.

    Only the articles the archive index cannot rule out for one of the topics are
    read and matched; whatever else they matched before is dropped. Without a
    usable index, every article is read.
    """
    from crawler.query import parse_query
    from crawler.store.index import candidate_ids, candidate_subquery, index_available, narrowing, union

    counts = dict.fromkeys(topic_set.versions, 0)
    if not topic_set.specs:
        return counts
    names = [spec.name for spec in topic_set.specs]
    candidates = union([narrowing(parse_query(spec.query, topic=spec.name)) for spec in topic_set.specs])
    with database.session() as session:
        usable = candidates is not None and index_available(session)
    if usable:
        last_id = -1
        while True:
            # Every candidate key in one read (the index answers a query at once, not page by page: each page
            # would be the whole query again), then the articles in batches; a second read catches the
            # articles stored meanwhile.
            with database.session() as session:
                keys = candidate_ids(session, candidates, after=last_id, limit=None)
            for first in range(0, len(keys), batch_size):
                with database.session() as session:
                    batch = session.execute(
                        select(*MATCHED_COLUMNS, ArticleRow.version).where(
                            ArticleRow.id.in_(keys[first : first + batch_size])
                        )
                    ).all()
                    for names_matched in match_stored(session, batch, topic_set, now=now).values():
                        for name in names_matched:
                            counts[name] += 1
            if not keys:
                break
            last_id = keys[-1]
        with database.session() as session:
            # An article the index rules out for every one of these topics matches none of them.
            ruled_in = candidate_subquery(session.get_bind().dialect.name, candidates)
            session.execute(delete(Match).where(Match.topic.in_(names), Match.article_id.not_in(select(ruled_in.c.id))))
    else:
        log.warning("re-matching by reading every article: the archive index cannot narrow %s", ", ".join(names))
        last_id = -1
        while True:
            with database.session() as session:
                batch = session.execute(
                    select(*MATCHED_COLUMNS, ArticleRow.version)
                    .where(ArticleRow.id > last_id)
                    .order_by(ArticleRow.id)
                    .limit(batch_size)
                ).all()
                for names_matched in match_stored(session, batch, topic_set, now=now).values():
                    for name in names_matched:
                        counts[name] += 1
            if len(batch) < batch_size:
                break
            last_id = batch[-1].id
    with database.session() as session:
        for spec in topic_set.specs:
            topic = session.get(Topic, spec.name)
            if topic is not None and topic.version == spec.version:
                topic.matched_version = spec.version
    return counts


def prepare_topics(database: Database, topics: Sequence[TopicConfig | dict], *, now: datetime) -> TopicSet:
    """Compile the configured topics, record them, and re-match the archive for new or changed ones."""
    topic_set = TopicSet.from_config(topics)
    with database.session() as session:
        stale = sync_topics(session, topic_set, now=now)
    if stale:
        counts = rematch(database, topic_set.subset(stale), now=now)
        for name in stale:
            log.info("topic %r re-matched over the archive: %d article(s)", name, counts.get(name, 0))
    return topic_set
