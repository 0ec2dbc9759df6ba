"""Prometheus metrics, read from the ledger, the job runs and the outbox at each scrape.

The database is the truth (the crawls run in other processes), so every value is
collected when asked for, into a registry of its own.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from crawler.store import Database
from crawler.store.archive import articles_per_site
from crawler.store.models import CrawlRun, JobRun, OutboxMessage, ReaderPreference

OUTBOX_STATES = ("pending", "sending", "sent", "failed", "cancelled")


class _ArchiveCollector:
    def __init__(self, database: Database, now: datetime):
        self.database = database
        self.now = now

    def collect(self):
        with self.database.session(write=False) as session:
            crawls = session.execute(
                select(CrawlRun.site, CrawlRun.status, func.count()).group_by(CrawlRun.site, CrawlRun.status)
            ).all()
            last_success = session.execute(
                select(CrawlRun.site, func.max(CrawlRun.finished_at))
                .where(CrawlRun.status.in_(("ok", "degraded")))
                .group_by(CrawlRun.site)
            ).all()
            articles = articles_per_site(session)
            jobs = session.execute(
                select(JobRun.job, JobRun.status, func.count()).group_by(JobRun.job, JobRun.status)
            ).all()
            outbox = dict(
                session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
            )
            unsubscribed = session.scalar(
                select(func.count()).select_from(ReaderPreference).where(ReaderPreference.unsubscribed_at.is_not(None))
            )
            paused = session.scalar(
                select(func.count())
                .select_from(ReaderPreference)
                .where(ReaderPreference.paused.is_(True), ReaderPreference.unsubscribed_at.is_(None))
            )
        runs = CounterMetricFamily(
            "bantin_crawl_runs", "Crawl runs in the ledger, by site and outcome.", labels=["site", "status"]
        )
        for site, status, count in crawls:
            runs.add_metric([site, status], count)
        yield runs
        success = GaugeMetricFamily(
            "bantin_crawl_last_success_timestamp_seconds",
            "When each site's last successful crawl finished.",
            labels=["site"],
        )
        for site, finished in last_success:
            if finished is not None:
                success.add_metric([site], finished.timestamp())
        yield success
        stored = GaugeMetricFamily("bantin_articles", "Articles in the archive, by site.", labels=["site"])
        for site, count in articles.items():
            stored.add_metric([site], count)
        yield stored
        job_runs = CounterMetricFamily(
            "bantin_job_runs", "Service job runs (crawl, digest), by outcome.", labels=["job", "status"]
        )
        for job, status, count in jobs:
            job_runs.add_metric([job, status], count)
        yield job_runs
        messages = GaugeMetricFamily(
            "bantin_outbox_messages", "Digest messages in the outbox, by state.", labels=["status"]
        )
        for state in OUTBOX_STATES:
            messages.add_metric([state], outbox.get(state, 0))
        yield messages
        readers = GaugeMetricFamily("bantin_readers_opted_out", "Readers who paused or unsubscribed.", labels=["state"])
        readers.add_metric(["paused"], paused or 0)
        readers.add_metric(["unsubscribed"], unsubscribed or 0)
        yield readers


def exposition(database: Database, *, now: datetime) -> tuple[bytes, str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ArchiveCollector(database, now))
    return generate_latest(registry), CONTENT_TYPE_LATEST
