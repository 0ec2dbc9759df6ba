"""Typed values across storage: hits come back as Hit, run counts as RunCounts, outbox items as DeliveredVersion."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlalchemy import text

from crawler.matching import Hit, match_query
from crawler.store.models import CrawlRun, Match, OutboxMessage
from crawler.store.records import DeliveredVersion, RunCounts
from tests.test_topic_commands import archive  # noqa: F401 - a fixture

NOW = datetime(2026, 3, 27, 1, 0, tzinfo=UTC)
# What schema 0001/0002 databases hold today (the ledger writes every counter; older rows may lack some).
COUNTS_JSON = {
    "google_news": {"discovered": 4, "fetched": 2, "new": 2, "updated": 0, "unchanged": 0, "failed": 0},
    "rss": {"discovered": 3, "fetched": 1, "new": 1, "updated": 0, "failed": 1},
}


def test_hit_from_dict_inverts_to_dict():
    hit = match_query('"Quảng Ninh"', "Tỉnh Quảng Ninh công bố dự án.").hits[0]
    assert Hit.from_dict(hit.to_dict()) == hit
    assert Hit.from_dict(json.loads(json.dumps(hit.to_dict()))).snippet_parts[1] == "Quảng Ninh"


def test_run_counts_read_back_typed_and_written_back_unchanged(database):
    with database.session() as session:
        session.add(CrawlRun(site="nhandan", started_at=NOW, status="ok", counts=COUNTS_JSON, errors=[]))
    with database.session() as session:
        run = session.query(CrawlRun).one()
        assert isinstance(run.counts, RunCounts)
        assert run.counts.sources == ["google_news", "rss"]
        assert run.counts.totals() == {
            "discovered": 7,
            "fetched": 3,
            "new": 3,
            "updated": 0,
            "unchanged": 0,
            "failed": 1,
            "skipped": 0,
        }
        assert run.counts.source("search")["new"] == 0
        run.counts = RunCounts.from_json(run.counts.as_json())  # a reader writing its value back
    with database.engine.connect() as connection:
        stored = connection.execute(text("SELECT counts FROM crawl_runs")).scalar()
    assert (json.loads(stored) if isinstance(stored, str) else stored) == COUNTS_JSON


def test_match_hits_are_hits_and_outbox_items_are_delivered_versions(archive):  # noqa: F811
    from crawler.store import Database
    from crawler.topics import prepare_topics

    db = Database(archive)
    prepare_topics(db, [{"name": "QN", "query": '"Quảng Ninh"'}], now=NOW)
    with db.session() as session:
        match = session.query(Match).first()
        assert match is not None
        assert match.hits and all(isinstance(hit, Hit) for hit in match.hits)
        session.add(
            OutboxMessage(
                digest_key="k",
                digest_date=date(2026, 3, 27),
                recipient="a@example.org",
                message_id="<m@x>",
                subject="s",
                raw_message=b"x",
                items=[[match.article_id, 1]],
                created_at=NOW,
                updated_at=NOW,
            )
        )
    with db.session() as session:
        [item] = session.query(OutboxMessage).one().items
        assert item == DeliveredVersion(article_id=match.article_id, version=1)
    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT items FROM outbox")).scalar()
    assert (json.loads(stored) if isinstance(stored, str) else stored) == [[match.article_id, 1]]
    db.dispose()
