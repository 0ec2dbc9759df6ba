"""`bantin serve` for real: the sample site, the real crawl child, a real SMTP server — all on loopback."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from crawler.samplesite import topics_toml
from crawler.samplesite.model import generate_site
from crawler.samplesite.server import SampleSite
from crawler.store import Database
from crawler.store.models import CrawlRun, OutboxMessage
from tests.digest_support import Sink, free_port
from tests.service_support import PATIENCE, cron_at, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def loopback(tmp_path, database_url):
    site = SampleSite(generate_site(seed=3, days=3, per_day=10))
    base_url = site.start()
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    due = cron_at(datetime.now(UTC) - timedelta(seconds=20))
    config = tmp_path / "bantin.toml"
    config.write_text(
        f"""
[site]
base_url = "{base_url}"
[storage]
database_url = "{database_url}"
[crawl]
lookback_days = 7
download_delay = 0
concurrency = 8
autothrottle = false
[schedule]
crawl = "{due}"
digest = "{due}"
digest_wait_minutes = 5
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
sender = "Bản tin NDO <bantin@example.org>"
{topics_toml()}
[[recipients]]
email = "an@example.org"
[[recipients]]
email = "binh@example.org"
topics = ["Quảng Ninh"]
""",
        encoding="utf-8",
    )
    yield config, site, sink, database_url
    controller.stop()
    site.stop()


def serve(config, log_path):
    log = open(log_path, "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(config), "serve"], stdout=log, stderr=subprocess.STDOUT
    )


def sent_rows(database_url: str) -> list[OutboxMessage]:
    database = Database(database_url)
    try:
        with database.session() as session:
            return list(session.scalars(select(OutboxMessage).where(OutboxMessage.status == "sent")))
    finally:
        database.dispose()


def crawl_runs(database_url: str) -> list[CrawlRun]:
    database = Database(database_url)
    try:
        with database.session() as session:
            return list(session.scalars(select(CrawlRun)))
    finally:
        database.dispose()


def test_due_service_crawls_and_delivers_once_across_restarts(loopback, tmp_path):
    config, site, sink, database_url = loopback
    log_path = tmp_path / "serve.log"
    service = serve(config, log_path)
    try:
        wait_for(lambda: len(sent_rows(database_url)) == 2, timeout=120, what="both digests sent", process=service)
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=PATIENCE) == 0, log_path.read_text(errors="replace")
    runs = crawl_runs(database_url)
    assert [run.status for run in runs] == ["ok"] and runs[0].trigger == "service"
    assert len(sink.messages) == 2
    recipients = sorted(message["To"] for message in sink.parsed())
    assert recipients == ["an@example.org", "binh@example.org"]
    assert all("Bản tin NDO" in message["Subject"] for message in sink.parsed())

    # A restart within the same scheduled day neither crawls nor sends again.
    site.clear_log()
    service = serve(config, log_path)
    try:
        wait_for(
            lambda: log_path.read_text(errors="replace").count("job=service event=started") == 2,
            timeout=PATIENCE,
            what="the second start",
            process=service,
        )
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=PATIENCE) == 0
    assert len(crawl_runs(database_url)) == 1
    assert len(sink.messages) == 2
    assert not any("-post" in record.path for record in site.request_log)
