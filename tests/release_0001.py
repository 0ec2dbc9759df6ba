"""A database as the 0001 release left it: schema 0001, every table filled with realistic rows.

The rows are what a real run of that release wrote after crawling the bundled
sample site (articles with their sources and topic matches, digests sent,
waiting and refused, the ledger, the service's job runs and its leases). They
are written with SQLAlchemy Core against a frozen copy of the 0001 table
shapes below: the current ORM models describe a later schema.

As a script, for a person to inspect or to try an upgrade by hand::

    python -m tests.release_0001 sqlite:////tmp/release-0001.sqlite3
"""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    text,
)

from crawler.matching import ArticleFields
from crawler.samplesite import DEMO_TOPICS
from crawler.samplesite.model import SiteModel, generate_site
from crawler.store.models import UTCDateTime

REVISION = "0001"
UTC = UTC

# ---------------------------------------------------------------- the 0001 tables, frozen
# Columns only (no constraints): the 0001 migration created those; these are for inserting.

_meta = MetaData()
articles = Table(
    "articles",
    _meta,
    Column("article_id", BigInteger, primary_key=True, autoincrement=False),
    Column("url", String(1000)),
    Column("title", Text),
    Column("sapo", Text),
    Column("body", Text),
    Column("author", String(500)),
    Column("category", JSON),
    Column("tags", JSON),
    Column("images", JSON),
    Column("published_at", UTCDateTime),
    Column("modified_at", UTCDateTime),
    Column("first_seen_at", UTCDateTime),
    Column("fetched_at", UTCDateTime),
    Column("changed_at", UTCDateTime),
    Column("version", Integer),
    Column("content_hash", String(64)),
    Column("extractor", String(16)),
)
article_sources = Table(
    "article_sources",
    _meta,
    Column("article_id", BigInteger, primary_key=True),
    Column("source", String(32), primary_key=True),
    Column("first_seen_at", UTCDateTime),
    Column("last_seen_at", UTCDateTime),
    Column("lastmod", UTCDateTime),
)
topics = Table(
    "topics",
    _meta,
    Column("name", String(200), primary_key=True),
    Column("query", Text),
    Column("accents", String(8)),
    Column("version", String(64)),
    Column("matched_version", String(64)),
    Column("updated_at", UTCDateTime),
)
matches = Table(
    "matches",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("article_id", BigInteger),
    Column("topic", String(200)),
    Column("topic_version", String(64)),
    Column("article_version", Integer),
    Column("hits", JSON),
    Column("matched_at", UTCDateTime),
)
outbox = Table(
    "outbox",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("digest_key", String(64)),
    Column("digest_date", Date),
    Column("recipient", String(320)),
    Column("message_id", String(255)),
    Column("subject", Text),
    Column("raw_message", LargeBinary),
    Column("items", JSON),
    Column("status", String(16)),
    Column("attempts", Integer),
    Column("next_attempt_at", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime),
    Column("updated_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    Column("kind", String(16)),
)
deliveries = Table(
    "deliveries",
    _meta,
    Column("recipient", String(320), primary_key=True),
    Column("article_id", BigInteger, primary_key=True),
    Column("article_version", Integer),
    Column("outbox_id", Integer),
    Column("delivered_at", UTCDateTime),
)
crawl_runs = Table(
    "crawl_runs",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("status", String(16)),
    Column("trigger", String(16)),
    Column("site_url", String(500)),
    Column("since", Date),
    Column("counts", JSON),
    Column("errors", JSON),
    Column("article_pages", Integer),
    Column("fallback_pages", Integer),
    Column("message", Text),
    Column("pid", Integer),
    Column("hostname", String(255)),
    Column("heartbeat_at", UTCDateTime),
)
job_runs = Table(
    "job_runs",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("job", String(32)),
    Column("trigger", String(16)),
    Column("scheduled_for", UTCDateTime),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("status", String(16)),
    Column("detail", JSON),
)
leases = Table(
    "leases",
    _meta,
    Column("name", String(64), primary_key=True),
    Column("owner", String(255)),
    Column("acquired_at", UTCDateTime),
    Column("heartbeat_at", UTCDateTime),
    Column("expires_at", UTCDateTime),
    Column("info", JSON),
)
TABLES = (articles, article_sources, topics, matches, outbox, deliveries, crawl_runs, job_runs, leases)

# Recipients of the release's digests: one got everything, one waits for a retry, one was refused.
SENT_TO = "an@example.org"
PENDING_TO = "binh@example.org"
FAILED_TO = "cuong@example.org"
RECIPIENTS = (SENT_TO, PENDING_TO, FAILED_TO)
SENDER = "bantin@example.org"


@dataclass
class Release0001:
    """What was written, table by table, as the rows were inserted (for comparing after an upgrade)."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The article edited after SENT_TO received it: delivered at version 1, stored at version 2.
    edited_after_delivery: int = 0
    # An old crawl lease, held by a process that is gone.
    crawl_lease_owner: str = ""

    @property
    def article_ids(self) -> list[int]:
        return [row["article_id"] for row in self.rows["articles"]]


def build(url: str, model: SiteModel | None = None, base_url: str = "https://nhandan.vn") -> Release0001:
    """Create the 0001 schema at ``url`` (an empty database) and fill it; returns the rows written."""
    from alembic import command

    from crawler.store import _alembic_config, _create_engine

    engine = _create_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), REVISION)
        release = _rows(model or generate_site(seed=0, days=3, per_day=12, end_date=date(2026, 11, 20)), base_url)
        with engine.begin() as connection:
            for table in TABLES:
                if release.rows[table.name]:
                    connection.execute(insert(table), release.rows[table.name])
            if connection.dialect.name == "postgresql":
                # The rows carry their keys (other rows refer to them): move each SERIAL's
                # sequence past them, as the release's own inserts (or a restored dump) left it.
                for table in TABLES:
                    key = list(table.primary_key.columns)
                    if len(key) == 1 and isinstance(key[0].type, Integer) and table.name != "articles":
                        connection.execute(
                            text(
                                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{key[0].name}'), "
                                f"COALESCE(MAX({key[0].name}), 1)) FROM {table.name}"
                            )
                        )
        return release
    finally:
        engine.dispose()


def _rows(model: SiteModel, base_url: str) -> Release0001:
    from crawler.topics import TopicSet

    release = Release0001()
    rows = release.rows
    now = model.now.astimezone(UTC)
    visible = sorted(model.visible(), key=lambda a: a.article_id)
    crawled_at = now - timedelta(minutes=10)
    topic_set = TopicSet.from_config([{"name": name, "query": query} for name, query in DEMO_TOPICS])

    rows["topics"] = [
        dict(
            name=spec.name,
            query=spec.query,
            accents=spec.accents,
            version=spec.version,
            matched_version=spec.version,
            updated_at=crawled_at - timedelta(days=2),
        )
        for spec in topic_set.specs
    ]
    rows["articles"], rows["article_sources"], rows["matches"] = [], [], []
    matched_by_topic: dict[str, list[int]] = {spec.name: [] for spec in topic_set.specs}
    for article in visible:
        item = article.as_item(base_url)
        published = article.published_at.astimezone(UTC)
        modified = article.modified_at.astimezone(UTC)
        fetched = max(published, modified) + timedelta(minutes=7)
        rows["articles"].append(
            dict(
                article_id=article.article_id,
                url=item.url,
                title=item.title,
                sapo=item.sapo,
                body=item.body,
                author=item.author,
                category=list(item.category),
                tags=list(item.tags),
                images=[{"url": image.url, "caption": image.caption} for image in item.images],
                published_at=published,
                modified_at=modified,
                first_seen_at=fetched,
                fetched_at=fetched,
                changed_at=fetched,
                version=1,
                content_hash=item.content_hash(),
                extractor="site",
            )
        )
        # Feeds and listings announce an article with its publication or modification time.
        for source, lastmod in (("google_news", published), ("rss", published), ("latest", modified)):
            rows["article_sources"].append(
                dict(
                    article_id=article.article_id,
                    source=source,
                    first_seen_at=fetched,
                    last_seen_at=crawled_at,
                    lastmod=lastmod,
                )
            )
        fields = ArticleFields(title=item.title, sapo=item.sapo, body=item.body, tags=item.tags, category=item.category)
        for name, hits in topic_set.matcher.match(fields).items():
            if not hits:
                continue
            matched_by_topic[name].append(article.article_id)
            rows["matches"].append(
                dict(
                    id=len(rows["matches"]) + 1,
                    article_id=article.article_id,
                    topic=name,
                    topic_version=topic_set.versions[name],
                    article_version=1,
                    hits=[hit.to_dict() for hit in hits],
                    matched_at=fetched,
                )
            )
    if not all(matched_by_topic.values()):
        raise RuntimeError(f"the sample site matched no article for some topic: {matched_by_topic}")

    # An article edited after it was delivered: the release stored its second version.
    all_matched = sorted({key for keys in matched_by_topic.values() for key in keys})
    edited = all_matched[len(all_matched) // 2]
    release.edited_after_delivery = edited
    for row in rows["articles"]:
        if row["article_id"] == edited:
            row["version"], row["changed_at"] = 2, row["changed_at"] + timedelta(hours=1)
            row["body"] += "\n\nCập nhật: cơ quan chức năng cho biết sẽ tiếp tục thông tin."
    for row in rows["matches"]:
        if row["article_id"] == edited:
            row["article_version"] = 2

    # Digests: SENT_TO got every match (the edited one at version 1), PENDING_TO's waits for a
    # retry after a 451, FAILED_TO's was refused with a 550 (so its articles are owed again).
    day = (now - timedelta(hours=3)).date()
    rows["outbox"], rows["deliveries"] = [], []
    states = [
        (SENT_TO, "sent", 1, "", all_matched),
        (PENDING_TO, "pending", 2, "451 4.7.1 greylisted, try again later", matched_by_topic[DEMO_TOPICS[1][0]]),
        (FAILED_TO, "failed", 1, "550 5.1.1 <cuong@example.org>: mailbox unavailable", all_matched),
    ]
    sent_at = now - timedelta(hours=3)
    for index, (recipient, status, attempts, error, keys) in enumerate(states, start=1):
        items = [[key, 1] for key in keys]
        message_id = f"<bantin.{day.isoformat()}.{index:04x}@example.org>"
        rows["outbox"].append(
            dict(
                id=index,
                digest_key=day.isoformat(),
                digest_date=day,
                recipient=recipient,
                message_id=message_id,
                subject=f"Bản tin NDO {day:%d/%m/%Y}: {len(items)} bài mới",
                raw_message=_raw_message(recipient, message_id, len(items), sent_at),
                items=items,
                status=status,
                attempts=attempts,
                next_attempt_at=sent_at + timedelta(minutes=5) if status == "pending" else None,
                last_error=error,
                created_at=sent_at,
                updated_at=sent_at + timedelta(seconds=attempts),
                sent_at=sent_at + timedelta(seconds=1) if status == "sent" else None,
                kind="digest",
            )
        )
        if status == "sent":
            rows["deliveries"] += [
                dict(
                    recipient=recipient,
                    article_id=key,
                    article_version=version,
                    outbox_id=index,
                    delivered_at=sent_at + timedelta(seconds=1),
                )
                for key, version in items
            ]
    rows["outbox"].append(
        dict(
            id=len(rows["outbox"]) + 1,
            digest_key=f"test-{day.isoformat()}",
            digest_date=day,
            recipient=SENT_TO,
            message_id=f"<bantin.test.{day.isoformat()}@example.org>",
            subject="bantin: SMTP test",
            raw_message=_raw_message(SENT_TO, "<test@example.org>", 0, sent_at),
            items=[],
            status="sent",
            attempts=1,
            next_attempt_at=None,
            last_error="",
            created_at=sent_at,
            updated_at=sent_at,
            sent_at=sent_at,
            kind="test",
        )
    )

    # The ledger: an interrupted run, then the one that stored the archive.
    counts = {
        source: {"discovered": len(visible), "fetched": 0, "new": 0, "updated": 0, "unchanged": 0, "failed": 0}
        for source in ("google_news", "rss", "latest")
    }
    counts["latest"].update(fetched=len(visible), new=len(visible))
    rows["crawl_runs"] = [
        dict(
            id=1,
            started_at=crawled_at - timedelta(days=1),
            finished_at=None,
            status="interrupted",
            trigger="schedule",
            site_url=base_url,
            since=None,
            counts={"rss": {"discovered": 5, "fetched": 2, "new": 0, "updated": 0, "unchanged": 0, "failed": 2}},
            errors=[{"url": visible[0].url(base_url), "reason": "HTTP 503", "source": "rss"}],
            article_pages=2,
            fallback_pages=0,
            message="the crawl process died without closing its run",
            pid=2_000_001,
            hostname=socket.gethostname(),
            heartbeat_at=crawled_at - timedelta(days=1),
        ),
        dict(
            id=2,
            started_at=crawled_at - timedelta(minutes=3),
            finished_at=crawled_at,
            status="ok",
            trigger="manual",
            site_url=base_url,
            since=date(2026, 10, 1),
            counts=counts,
            errors=[{"url": base_url + "/rss/kinhte-1185.rss", "reason": "timeout after 30s", "source": "rss"}],
            article_pages=len(visible),
            fallback_pages=1,
            message="",
            pid=2_000_002,
            hostname=socket.gethostname(),
            heartbeat_at=crawled_at,
        ),
    ]
    rows["job_runs"] = [
        dict(
            id=1,
            job="crawl",
            trigger="schedule",
            scheduled_for=crawled_at - timedelta(days=1, minutes=5),
            started_at=crawled_at - timedelta(days=1),
            finished_at=crawled_at - timedelta(days=1) + timedelta(hours=1),
            status="failed",
            detail={"crawl": 1, "reason": "the crawl child exited with -9"},
        ),
        dict(
            id=2,
            job="digest",
            trigger="catch-up",
            scheduled_for=sent_at - timedelta(minutes=1),
            started_at=sent_at,
            finished_at=sent_at + timedelta(seconds=4),
            status="ok",
            detail={"sent": 1, "failed": 1, "pending": 1},
        ),
        dict(
            id=3,
            job="digest",
            trigger="manual",
            scheduled_for=None,
            started_at=now,
            finished_at=None,
            status="running",
            detail={},
        ),
    ]
    # Leases left by processes that are gone: a crawl and the service (pids that do not exist).
    release.crawl_lease_owner = f"{socket.gethostname()}:{_dead_pid()}:0001crawl"
    rows["leases"] = [
        dict(
            name="crawl",
            owner=release.crawl_lease_owner,
            acquired_at=crawled_at - timedelta(minutes=3),
            heartbeat_at=crawled_at,
            expires_at=crawled_at + timedelta(minutes=2),
            info={"purpose": "`bantin crawl`", "trigger": "manual"},
        ),
        dict(
            name="service",
            owner=f"{socket.gethostname()}:{_dead_pid()}:0001service",
            acquired_at=sent_at - timedelta(days=3),
            heartbeat_at=now,
            expires_at=now + timedelta(minutes=2),
            info={"pid": 1, "version": "0.1"},
        ),
    ]
    return release


def _raw_message(recipient: str, message_id: str, count: int, when: datetime) -> bytes:
    message = EmailMessage()
    message["From"] = f"Bản tin NDO <{SENDER}>"
    message["To"] = recipient
    message["Subject"] = f"Bản tin NDO: {count} bài mới"
    message["Message-ID"] = message_id
    message["Date"] = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
    message.set_content(f"{count} bài mới về Quảng Ninh và công nghiệp hỗ trợ.\n")
    message.add_alternative(f"<p>{count} bài mới về <b>Quảng Ninh</b></p>\n", subtype="html")
    return message.as_bytes()


def _dead_pid() -> int:
    """A pid no process has here (so the lease reads as left by a crashed process)."""
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="an empty database: sqlite:///PATH or postgresql+psycopg://...")
    parser.add_argument("--base-url", default="https://nhandan.vn", help="the site the articles were crawled from")
    args = parser.parse_args(argv)
    release = build(args.url, base_url=args.base_url)
    for name, table_rows in release.rows.items():
        print(f"{name}: {len(table_rows)} rows")


if __name__ == "__main__":
    main()
