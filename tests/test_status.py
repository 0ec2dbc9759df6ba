"""`bantin status` (text and JSON, health warnings, exit codes) and `bantin service unit`."""

from __future__ import annotations

import json
import socket
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers beside this file

from service_support import write_service_config

from crawler.cli import cli
from crawler.locks import hold_lease
from crawler.store.models import CrawlRun, JobRun, Lease, OutboxMessage

NOW = datetime.now(UTC)


@pytest.fixture
def config(tmp_path, database):
    return write_service_config(
        tmp_path / "bantin.toml",
        database.url,
        crawl="0 6 * * *",
        digest="30 6 * * *",
        extra="[crawl]\ntime_limit_minutes = 90\n",
    )


def status(config: Path, *extra: str):
    result = CliRunner().invoke(cli, ["--config", str(config), "status", *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def status_json(config: Path):
    result = status(config, "--format", "json")
    return result.exit_code, json.loads(result.output)


def add_crawl(database, *, hours_ago: float, status: str = "ok", counts=None, message: str = "", errors=(), **fields):
    started = NOW - timedelta(hours=hours_ago)
    finished = None if status == "running" else started + timedelta(minutes=3)
    fields.setdefault("site", "nhandan")
    with database.session() as session:
        session.add(
            CrawlRun(
                started_at=started,
                finished_at=finished,
                status=status,
                trigger="service",
                counts=counts
                if counts is not None
                else {
                    "rss": {"discovered": 10, "fetched": 4, "new": 3, "updated": 1, "failed": 0},
                    "google_news": {},
                    "latest": {},
                },
                errors=list(errors),
                message=message,
                **fields,
            )
        )


def codes(report) -> set[str]:
    return {warning["code"] for warning in report["warnings"]}


def test_status_on_a_fresh_database(config):
    code, report = status_json(config)
    assert code == 1
    assert report["service"] == {"running": False}
    assert codes(report) == {"no_crawl"}
    assert report["schedule"]["crawl"]["cron"] == "0 6 * * *"
    assert report["schedule"]["crawl"]["next"].endswith("+07:00") and "T06:00:00" in report["schedule"]["crawl"]["next"]
    text = status(config)
    assert text.exit_code == 1
    assert "Service: not running" in text.output and "no crawl has succeeded yet" in text.output


def test_healthy_status_exits_zero(config, database):
    add_crawl(database, hours_ago=2)
    code, report = status_json(config)
    assert code == 0 and report["healthy"] and report["warnings"] == []
    [crawl] = report["crawls"]
    assert crawl["totals"] == {
        "discovered": 10,
        "fetched": 4,
        "new": 3,
        "updated": 1,
        "unchanged": 0,
        "failed": 0,
        "skipped": 0,
    }
    assert crawl["duration_seconds"] == 180.0
    text = status(config).output
    assert "Health: OK" in text and "rss: discovered 10 fetched 4 new 3 updated 1 failed 0" in text


def test_old_degraded_and_failed_crawls_warn(config, database):
    add_crawl(database, hours_ago=30)
    _, report = status_json(config)
    assert codes(report) == {"no_recent_crawl"}
    add_crawl(database, hours_ago=1, status="degraded", message="the site's layout may have changed")
    code, report = status_json(config)
    assert code == 1 and codes(report) == {"crawl_degraded"}
    add_crawl(database, hours_ago=0.5, status="failed", message="no discovery source could be read")
    _, report = status_json(config)
    assert codes(report) == {"crawl_failed"}


def test_stale_running_rows_warn(config, database):
    add_crawl(database, hours_ago=3)
    add_crawl(
        database,
        hours_ago=1,
        status="running",
        pid=None,
        hostname="otherhost",
        heartbeat_at=NOW - timedelta(minutes=30),
    )
    # A live heartbeat is one from the real clock `status` reads (NOW was taken at import).
    add_crawl(
        database, hours_ago=0.01, status="running", pid=None, hostname="otherhost", heartbeat_at=datetime.now(UTC)
    )
    _, report = status_json(config)
    assert codes(report) == {"crawl_stale"}
    assert len(report["warnings"]) == 1


def test_silent_source_warns(config, database):
    busy = {"rss": {"discovered": 5}, "google_news": {"discovered": 5}, "latest": {"discovered": 5}}
    quiet = {**busy, "tin-moi": {"discovered": 0}}
    for days_ago in (6, 5, 4, 3, 2, 1):
        counts = {**busy, "tin-moi": {"discovered": 7}} if days_ago == 6 else quiet
        add_crawl(database, hours_ago=days_ago * 24 - 1, counts=counts)
    _, report = status_json(config)
    assert codes(report) == {"source_silent"}
    assert "'tin-moi'" in report["warnings"][0]["message"]
    result = status(config, "--format", "json", "--quiet-days", "7")
    assert json.loads(result.output)["warnings"] == [] and result.exit_code == 0


def test_a_source_missing_from_the_last_crawl_or_unread_in_it_warns(config, database):
    add_crawl(database, hours_ago=30)
    # The last crawl never mentions google_news, and could read no page of rss.
    add_crawl(
        database,
        hours_ago=1,
        counts={
            "rss": {"discovered": 0, "failed": 1, "pages_read": 0, "pages_failed": 1},
            "latest": {"discovered": 9, "pages_read": 2, "pages_failed": 0},
        },
        errors=[{"source": "rss", "url": "http://x/rss/home.rss", "reason": "HTTP 503"}],
    )
    code, report = status_json(config)
    assert code == 1
    assert codes(report) == {"source_missing", "source_failed"}
    messages = " | ".join(w["message"] for w in report["warnings"])
    assert "'google_news'" in messages and "'rss'" in messages and "HTTP 503" in messages
    assert "'latest'" not in messages


def test_failing_outbox_warns_and_digests_are_listed(config, database):
    add_crawl(database, hours_ago=1)
    with database.session() as session:
        for index, state in enumerate(("sent", "failed", "pending")):
            session.add(
                OutboxMessage(
                    digest_key="2025-03-27",
                    digest_date=date(2025, 3, 27),
                    recipient=f"r{index}@example.org",
                    message_id=f"<{index}@x>",
                    subject="s",
                    raw_message=b"x",
                    items=[],
                    status=state,
                    attempts=1,
                    last_error="550 mailbox unavailable" if state == "failed" else "421 try later",
                    created_at=NOW,
                    updated_at=NOW,
                    sent_at=NOW if state == "sent" else None,
                )
            )
        session.add(
            JobRun(
                job="digest",
                trigger="schedule",
                scheduled_for=NOW,
                started_at=NOW,
                finished_at=NOW,
                status="failed",
                detail={"sent": 1, "failed": 1, "pending": 1},
            )
        )
    code, report = status_json(config)
    assert code == 1
    assert codes(report) == {"outbox_failed", "outbox_retrying"}
    assert "550 mailbox unavailable" in " ".join(w["message"] for w in report["warnings"])
    assert report["digests"] == [{"date": "2025-03-27", "sent": 1, "failed": 1, "pending": 1}]
    assert report["digest_jobs"][0]["sent"] == 1
    assert report["outbox"]["failed"] == 1


def test_running_service_is_shown(config, database):
    add_crawl(database, hours_ago=1)
    with hold_lease(
        database,
        "service",
        info={"purpose": "`bantin serve`", "running": ["crawl"], "next_runs": {"crawl": "2025-03-28T06:00:00+07:00"}},
    ):
        code, report = status_json(config)
        text = status(config).output
    assert code == 0
    assert report["service"]["running"] is True
    assert report["service"]["host"] == socket.gethostname()
    assert report["service"]["running_jobs"] == ["crawl"]
    assert "Service: running on" in text and "now: crawl" in text


def test_crashed_service_lease_warns(config, database):
    add_crawl(database, hours_ago=1)
    beat = NOW - timedelta(minutes=10)
    with database.session() as session:
        session.add(
            Lease(
                name="service",
                owner="otherhost:77:x",
                acquired_at=beat,
                heartbeat_at=beat,
                expires_at=beat + timedelta(minutes=2),
                info={},
            )
        )
    code, report = status_json(config)
    assert code == 1 and codes(report) == {"service_stale"}
    assert report["service"]["running"] is False


def test_service_unit(config):
    result = CliRunner().invoke(cli, ["--config", str(config), "service", "unit", "--system"])
    assert result.exit_code == 0, result.output
    unit = result.output
    assert f"--config {config.resolve()} serve" in unit
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert Path(exec_start.split("=", 1)[1].split()[0]).is_absolute()
    assert "Restart=on-failure" in unit and "KillMode=mixed" in unit
    assert "TimeoutStopSec=5550" in unit  # 90 min + 30 s kill grace + 120 s
    assert "WantedBy=multi-user.target" in unit and "User=" in unit
    user = CliRunner().invoke(cli, ["--config", str(config), "service", "unit"]).output
    assert "WantedBy=default.target" in user and "systemctl --user" in user and "User=" not in user


def test_exit_status_through_the_real_command(config, database):
    import subprocess

    from service_support import REPO

    def run() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "crawler", "--config", str(config), "status"],
            capture_output=True,
            text=True,
            cwd=str(REPO),
            timeout=60,
        )

    assert run().returncode == 1
    add_crawl(database, hours_ago=1)
    healthy = run()
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "Health: OK" in healthy.stdout
