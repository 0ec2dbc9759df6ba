"""The service and the CLI sharing one database: a crawl, sends and previews at once, as real processes."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from crawler.store.models import Delivery, OutboxMessage
from tests.crawl_helpers import make_env
from tests.digest_support import Sink, free_port

pytestmark = pytest.mark.slow

ROUNDS = 3
PREVIEWS = 3
SENDS = 2
# Each round adds a topic, so every process that opens the database re-matches the archive first.
NEW_TOPICS = [("Hà Nội", '"Hà Nội"'), ("Doanh nghiệp", '"doanh nghiệp"'), ("Kinh tế", '"kinh tế"')]
PROCESS_TIMEOUT = 120


def bantin(config, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, what: str) -> tuple[str, int, str]:
    try:
        _out, err = process.communicate(timeout=PROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        _out, err = process.communicate()
    return what, process.returncode, err


@pytest.fixture
def sink():
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


def test_a_crawl_sends_and_previews_at_once_neither_crash_nor_duplicate(tmp_path, database_url, sink):
    handler, port = sink
    env = make_env(
        tmp_path,
        database_url,
        days=2,
        per_day=10,
        extra=f"""
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
sender = "Bản tin NDO <bantin@example.org>"
max_attempts = 1
[digest]
send_empty = false
[[recipients]]
email = "an@example.org"
[[recipients]]
email = "binh@example.org"
""",
    )
    try:
        env.crawl()
        outcomes = []
        for round_number in range(ROUNDS):
            new = env.site.publish_next_day(count=6)
            env.site.edit_article(new[0].article_id)
            name, query = NEW_TOPICS[round_number]
            with env.config_path.open("a", encoding="utf-8") as config:
                config.write(f"\n[[topics]]\nname = \"{name}\"\nquery = '{query}'\n")
            crawl = env.start_crawl()
            previews = [
                bantin(env.config_path, "digest", "--preview", "--out", str(tmp_path / f"preview-{i}"))
                for i in range(PREVIEWS)
            ]
            # Sends one after another (a second at once would rightly refuse: the outbox lease),
            # while the crawl stores and the previews re-match.
            for send in range(SENDS):
                outcomes.append(finish(bantin(env.config_path, "digest", "--send"), f"send {round_number}.{send}"))
            outcomes.append(finish(crawl, f"crawl {round_number}"))
            outcomes += [finish(preview, f"preview {round_number}.{i}") for i, preview in enumerate(previews)]
        # One last send after everything settled: nothing owed may be left behind.
        outcomes.append(finish(bantin(env.config_path, "digest", "--send"), "final send"))
        failures = [
            (what, code, [line[:200] for line in err.splitlines() if line.startswith("bantin:")])
            for what, code, err in outcomes
            if code != 0
        ]
        assert failures == []
        for run in env.runs():
            assert run.status == "ok" and not [e for e in run.errors if "storage" in e.get("reason", "")], run.errors

        message_ids = Counter(message["Message-ID"] for message in handler.parsed())
        assert message_ids and max(message_ids.values()) == 1, message_ids.most_common(3)
        database = env.database()
        try:
            with database.session() as session:
                rows = list(session.scalars(select(OutboxMessage)))
                assert {row.status for row in rows} == {"sent"}
                assert set(message_ids) == {row.message_id for row in rows}
                # Every delivery points at a message the server actually received.
                sent_ids = {row.id for row in rows}
                assert set(session.scalars(select(Delivery.outbox_id))) <= sent_ids
        finally:
            database.dispose()
        assert len(env.articles()) == len(env.site.model.visible())
    finally:
        env.site.stop()
