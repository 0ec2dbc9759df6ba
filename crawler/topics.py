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
from crawler.store.models import ArticleRow, Match, Topic

log = logging.getLogger("bantin.topics")

REMATCH_BATCH = 500


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


def match_article(
    session: Session, article: ArticleRow, topic_set: TopicSet, *, now: datetime, new: bool = False
) -> list[str]:
    """Re-match one stored article against every topic in the set; returns the matched topic names.

    ``new``: the article was just added, so it has no stored matches to look up (nor a key yet).
    """
    found = topic_set.matcher.match(ArticleFields.from_article(article))
    names = [spec.name for spec in topic_set.specs]
    if not found and new:
        return []
    versions = topic_set.versions
    rows: list[dict[str, Any]] = [
        dict(
            topic=name,
            topic_version=versions[name],
            article_version=article.version,
            hits=[hit.to_dict() for hit in found[name]],
            matched_at=now,
        )
        for name in names
        if found.get(name)
    ]
    if new:
        # Nobody else can see an article this transaction just added: plain inserts, batched at flush.
        session.add_all(Match(article=article, **row) for row in rows)
        return [row["topic"] for row in rows]
    existing = set(session.scalars(select(Match.topic).where(Match.article_id == article.id, Match.topic.in_(names))))
    gone = [name for name in names if name in existing and not found.get(name)]
    if gone:
        session.execute(delete(Match).where(Match.article_id == article.id, Match.topic.in_(gone)))
    if rows:
        # A concurrent re-match (another process preparing the same new topic) may insert
        # the same (article, topic) at once: an upsert lets both succeed, last one wins.
        session.execute(_upsert_matches(session, [dict(article_id=article.id, **row) for row in rows]))
    return [row["topic"] for row in rows]


def _upsert_matches(session: Session, rows: list[dict]):
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(Match).values(rows)
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
            with database.session() as session:
                keys = candidate_ids(session, candidates, after=last_id, limit=batch_size)
                batch = list(session.scalars(select(ArticleRow).where(ArticleRow.id.in_(keys)).order_by(ArticleRow.id)))
                # Each article's lookup of its own matches needs nothing pending flushed first:
                # one flush per batch instead of one per article.
                with session.no_autoflush:
                    for article in batch:
                        for name in match_article(session, article, topic_set, now=now):
                            counts[name] += 1
            if len(keys) < batch_size:
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
                batch = list(
                    session.scalars(
                        select(ArticleRow).where(ArticleRow.id > last_id).order_by(ArticleRow.id).limit(batch_size)
                    )
                )
                for article in batch:
                    for name in match_article(session, article, topic_set, now=now):
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
