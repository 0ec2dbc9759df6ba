"""bantin's tables, as SQLAlchemy 2 typed models.

Every instant is stored in UTC (``UTCDateTime`` refuses naive datetimes) and
shown in Asia/Ho_Chi_Minh by whoever displays it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from crawler.matching import Hit
from crawler.store.records import DeliveredVersion, DeliveredVersionsJSON, HitsJSON, RunCounts, RunCountsJSON

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored: give it a time zone")
        value = value.astimezone(UTC)
        # SQLite keeps no offset; store the UTC wall time and restore the zone on the way out.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


# The surrogate keys of articles are 64-bit on PostgreSQL; on SQLite only INTEGER
# PRIMARY KEY is the autoincrementing rowid (it is 64-bit there anyway).
ArticleKey = BigInteger().with_variant(Integer(), "sqlite")


class ArticleRow(Base):
    """One stored article: a surrogate key, and the identity its site gives it.

    ``(site, external_id)`` is what the site calls the article (NDO's post id,
    as text: each site owns the format); ``id`` is what every other table and
    JSON payload refers to.
    """

    __tablename__ = "articles"
    # A unique index rather than a constraint: SQLite can add one without rebuilding the table.
    __table_args__ = (Index(None, "site", "external_id", unique=True),)

    id: Mapped[int] = mapped_column(ArticleKey, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(1000), unique=True)
    title: Mapped[str] = mapped_column(Text)
    sapo: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(500), default="")
    category: Mapped[list[Any]] = mapped_column(default=list)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    # [{"url": ..., "caption": ...}, ...]
    images: Mapped[list[Any]] = mapped_column(default=list)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    modified_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime]
    fetched_at: Mapped[datetime]
    # When what a reader sees last changed; `version` counts those changes.
    changed_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)
    content_hash: Mapped[str] = mapped_column(String(64))
    extractor: Mapped[str] = mapped_column(String(16), default="site")
    # The story it belongs to (the same text on several outlets; crawler/store/stories.py sets it when the
    # article is first stored).
    story_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("stories.id"), index=True)


class Story(Base):
    """One story: the articles of several outlets that carry the same text (see crawler/stories.py)."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(ArticleKey, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]


class ArticleFingerprint(Base):
    """What an article is compared by when a later article may be a copy of it (crawler/stories.py)."""

    __tablename__ = "article_fingerprints"

    article_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    # crawler.stories.signature_version() when it was computed.
    version: Mapped[int] = mapped_column(Integer)
    # The MinHash signature of the body's shingles: NUM_PERM little-endian uint32.
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    # The normalised headline, and how many distinct shingles the body had.
    title: Mapped[str] = mapped_column(Text)
    shingles: Mapped[int] = mapped_column(Integer)


class StoryEpoch(Base):
    """One row: a token that every writer of fingerprints, story ids or articles replaces.

    A process that keeps the fingerprints it has read between transactions trusts them only
    while the token is the one it wrote itself (crawler/store/stories.py).
    """

    __tablename__ = "story_epoch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[int] = mapped_column(BigInteger)


class ArticleSource(Base):
    """Which discovery source (RSS, sitemap, listing, search...) saw which article."""

    __tablename__ = "article_sources"

    article_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    # The newest modification time this source announced (sitemap lastmod, feed date).
    lastmod: Mapped[datetime | None]

    # Set on a row for a just-added article: the unit of work fills in its key at flush.
    article: Mapped[ArticleRow] = relationship(lazy="raise")


class CrawlRun(Base):
    """The crawl ledger: one row per run."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    # running | ok | degraded | failed | interrupted
    status: Mapped[str] = mapped_column(String(16), default="running")
    trigger: Mapped[str] = mapped_column(String(16), default="manual")
    # The registered site this run crawled (one run per site).
    site: Mapped[str] = mapped_column(String(32), index=True)
    site_url: Mapped[str] = mapped_column(String(500), default="")
    since: Mapped[date | None] = mapped_column(Date)
    # {source: {"discovered": n, "fetched": n, "new": n, "updated": n, "unchanged": n, "failed": n}}
    counts: Mapped[RunCounts] = mapped_column(RunCountsJSON, default=dict)
    # [{"url": ..., "reason": ..., "source": ...}], capped
    errors: Mapped[list[Any]] = mapped_column(default=list)
    article_pages: Mapped[int] = mapped_column(Integer, default=0)
    fallback_pages: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    pid: Mapped[int | None] = mapped_column(Integer)
    hostname: Mapped[str] = mapped_column(String(255), default="")
    heartbeat_at: Mapped[datetime | None]
    # Cluster mode: the queued job that ran this crawl, and the worker that ran the job.
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    worker: Mapped[str] = mapped_column(String(255), default="", server_default="")


class Topic(Base):
    """The topics the archive was last matched against (the config is the source of truth)."""

    __tablename__ = "topics"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    query: Mapped[str] = mapped_column(Text)
    accents: Mapped[str] = mapped_column(String(8), default="auto")
    # A hash of the normalised query and accent mode: a change means re-match.
    version: Mapped[str] = mapped_column(String(64))
    # The version the whole archive was last matched with (None: never).
    matched_version: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class Match(Base):
    """An article matched a topic; `hits` says which term, where, with a snippet."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("article_id", "topic"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(200), ForeignKey("topics.name", ondelete="CASCADE"), index=True)
    topic_version: Mapped[str] = mapped_column(String(64))
    article_version: Mapped[int] = mapped_column(Integer)
    # [{"term", "field", "index", "start", "end", "snippet", "highlight", "negated"}]: Hit.to_dict()
    hits: Mapped[list[Hit]] = mapped_column(HitsJSON, default=list)
    matched_at: Mapped[datetime]

    # As for ArticleSource: lets a match be added with an article that has no key yet.
    article: Mapped[ArticleRow] = relationship(lazy="raise")


class OutboxMessage(Base):
    """One digest message for one recipient: pending -> sending -> sent | failed (| cancelled: the reader stopped)."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("digest_key", "recipient"), Index(None, "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest_key: Mapped[str] = mapped_column(String(64))
    digest_date: Mapped[date] = mapped_column(Date, index=True)
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    subject: Mapped[str] = mapped_column(Text)
    # The exact bytes handed to SMTP, so a resend after a crash is the same message.
    raw_message: Mapped[bytes] = mapped_column(LargeBinary)
    # [[article key (articles.id), article_version], ...] that this message delivers
    items: Mapped[list[DeliveredVersion]] = mapped_column(DeliveredVersionsJSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    kind: Mapped[str] = mapped_column(String(16), default="digest")
    # Cluster mode: which sender holds the row, until when (renewed while it sends). A 'sending' row
    # is recovered only once its claim has expired; None: never claimed (one machine, as before).
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claim_expires_at: Mapped[datetime | None] = mapped_column(index=True)


class Delivery(Base):
    """What each recipient has received: written in the same transaction that marks a message sent."""

    __tablename__ = "deliveries"

    recipient: Mapped[str] = mapped_column(String(320), primary_key=True)
    article_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    article_version: Mapped[int] = mapped_column(Integer)
    outbox_id: Mapped[int] = mapped_column(Integer, ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    delivered_at: Mapped[datetime]


class Lease(Base):
    """A named lock with an expiry, held by one process at a time (works across machines)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    acquired_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)


class JobRun(Base):
    """One run of a scheduled or manual job (crawl or digest) as the service saw it."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(32), index=True)
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")
    scheduled_for: Mapped[datetime | None]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # running | ok | failed | interrupted | skipped
    status: Mapped[str] = mapped_column(String(16), default="running")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ReaderPreference(Base):
    """A reader's own choices, made on their preferences page: they win over the file's.

    ``topics`` None means "as the file says"; a list is the reader's pick among the
    offered (configured) topics, by name.
    """

    __tablename__ = "reader_preferences"

    recipient: Mapped[str] = mapped_column(String(320), primary_key=True)
    topics: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    unsubscribed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class ReaderEvent(Base):
    """The audit trail of a reader's changes: what changed, when, and through which door."""

    __tablename__ = "reader_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    # unsubscribe | resubscribe | pause | resume | topics
    action: Mapped[str] = mapped_column(String(16))
    # one-click | preferences | admin
    via: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime]


class RevokedSession(Base):
    """An admin session ended by logging out, refused by every web process until its cookie expires anyway.

    The cookie is signed and stateless; this row is what makes a copy of it worthless after logout.
    ``expires_at`` is when the cookie would have expired: the row is pruned after that.
    """

    __tablename__ = "revoked_sessions"

    # The cookie's session id (crawler.web.security.new_session: 24 URL-safe characters).
    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime]
