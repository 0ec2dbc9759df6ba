"""Cluster digests: fan-out to many recipients, three senders, one SIGKILLed mid-batch (aiosmtpd sink).

Every recipient has one outbox row; the sink gets at least one message per
recipient; duplicates are at most the rows the dead sender had in flight, with
the same Message-ID; a rerun sends nothing. PostgreSQL only.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import defer

from crawler.clock import VIETNAM
from crawler.config import load_config
from crawler.store import Database
from crawler.store.models import Delivery, OutboxMessage
from scheduler.cluster import queue
from scheduler.cluster.planner import ClusterService
from scheduler.service import previous_fire_time
from tests.cluster_support import Worker, cluster_toml, pg_url, smtp_sink  # noqa: F401 - fixture
from tests.digest_support import CNHT, QN, Sink, standard_archive
from tests.service_support import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

RECIPIENTS = 5000


class SlowSink(Sink):
    """Takes a little while per message, so that a sender can be killed in the middle of its batch."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def sink():
    with smtp_sink(SlowSink()) as running:
        yield running


def outbox(database: Database) -> list[OutboxMessage]:
    # Polled while 5,000 messages go out: their bytes are never looked at here.
    with database.session() as session:
        return list(
            session.scalars(select(OutboxMessage).options(defer(OutboxMessage.raw_message)).order_by(OutboxMessage.id))
        )


def sent_count(database: Database) -> int:
    with database.session() as session:
        return session.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
        ).scalar_one()


def digest_jobs_done(database: Database) -> bool:
    return not any(job.queue == queue.DIGEST_QUEUE for job in queue.active_jobs(database))


def test_many_recipients_three_senders_one_killed(tmp_path: Path, pg_url, sink):  # noqa: F811
    recipients = "".join(f'[[recipients]]\nemail = "reader{index:04d}@example.org"\n' for index in range(RECIPIENTS))
    extra = f"""
[schedule]
crawl = "0 4 * * *"
digest = "0 5 * * *"
digest_wait_minutes = 0
[smtp]
host = "127.0.0.1"
port = {sink.port}
security = "none"
retry_backoff_seconds = 0.0
[digest]
unsubscribe_mailto = "unsubscribe@example.org"
[[topics]]
name = "{CNHT}"
query = '"công nghiệp hỗ trợ" OR CNHT'
[[topics]]
name = "{QN}"
query = '"Quảng Ninh"'
{recipients}"""
    config_path = tmp_path / "bantin.toml"
    config_path.write_text(cluster_toml(pg_url, cluster="batch_size = 20", extra=extra), encoding="utf-8")
    config = load_config(config_path)
    database = Database(pg_url)
    standard_archive(database)
    workers = [
        Worker(f"s{index}", config_path, tmp_path / f"s{index}.log", ("--queues", "digest")) for index in (1, 2, 3)
    ]
    try:
        for worker in workers:
            worker.wait_output("event=started")
        planner = ClusterService(config, database, install_signals=False)
        due = previous_fire_time(planner.triggers["digest"], datetime.now(VIETNAM))
        assert due is not None
        assert planner.plan(due + timedelta(minutes=1))["digest"] == "queued"

        def sending_worker():
            if len(sink.received) < RECIPIENTS // 4:
                return None
            owners = {(row.claimed_by or "").partition(":")[0] for row in outbox(database) if row.status == "sending"}
            return next((worker for worker in workers if worker.name in owners), None)

        # Hang guards, not time limits: 5,000 readers take about a minute and a half to build and send here.
        victim = wait_for(sending_worker, timeout=600, what="a quarter sent and a sender in the middle of a batch")
        victim.kill()
        held = [
            row
            for row in outbox(database)
            if row.status != "sent" and (row.claimed_by or "").startswith(f"{victim.name}:")
        ]
        # Killed in the middle of a batch: rows claimed and not sent yet (they go to the other senders)...
        assert held
        # ... and at most those it had in flight (the one it was sending, and the accepted ones not yet marked
        # sent, MARK_SENT_EVERY at a time), which may reach the reader twice.
        in_flight = [row.recipient for row in held if row.status == "sending"]
        wait_for(
            lambda: sent_count(database) == RECIPIENTS and digest_jobs_done(database),
            timeout=600,
            what="every digest sent",
        )

        rows = outbox(database)
        assert sorted(row.recipient for row in rows) == sorted(f"reader{i:04d}@example.org" for i in range(RECIPIENTS))
        assert {row.status for row in rows} == {"sent"}
        received = Counter(rcpt for rcpts, _msg_id in sink.received for rcpt in rcpts)
        assert set(received) == {row.recipient for row in rows}
        duplicated = [rcpt for rcpt, times in received.items() if times > 1]
        assert len(duplicated) <= len(in_flight) and set(duplicated) <= set(in_flight)
        message_ids = {row.recipient: row.message_id for row in rows}
        for rcpts, msg_id in sink.received:
            assert msg_id == message_ids[rcpts[0]]
        # What each reader was sent is what the deliveries say they have.
        with database.session() as session:
            delivered = Counter(delivery.recipient for delivery in session.scalars(select(Delivery)))
        assert all(delivered[row.recipient] == len(row.items) > 0 for row in rows)
        # The senders' own accounts: the dead one's claims were taken over, nothing is left claimed.
        assert all(row.claim_expires_at is None or row.status == "sent" for row in rows)

        # A rerun (the same digest queued again, and a new one): nothing new is built or sent.
        before = len(sink.received)
        assert planner.plan(due + timedelta(minutes=2))["digest"] == "done before"
        planner_app = planner.app
        planner_app.open()
        try:
            queue.defer(planner_app, queue.PLAN_DIGEST_TASK, timestamp=int(due.timestamp()) + 1)
        finally:
            planner_app.close()
        wait_for(
            lambda: sum(w.output().count('event="fanned out"') for w in workers) == 2 and digest_jobs_done(database),
            timeout=60,
            what="the rerun",
        )
        assert len(sink.received) == before and len(outbox(database)) == RECIPIENTS

        for worker in workers:
            if worker is not victim:
                assert worker.stop() == 0, worker.output()[-3000:]
    finally:
        for worker in workers:
            worker.close()
        database.dispose()
