"""Trigger computation and catch-up decisions, with the machine's TZ set to UTC (no waiting)."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers beside this file

from service_support import VN, utc

from crawler.config import parse_config
from crawler.store.models import CrawlRun, JobRun
from scheduler.service import (
    Service,
    catch_up_due,
    make_trigger,
    next_fire_time,
    previous_fire_time,
)


@pytest.fixture(autouse=True)
def utc_machine(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_daily_crawl_fires_at_six_in_vietnam_on_a_utc_machine():
    assert time.strftime("%Z") == "UTC"
    trigger = make_trigger("0 6 * * *", "Asia/Ho_Chi_Minh")
    # 2025-03-26 22:00 UTC is 05:00 in Vietnam: the next run is 06:00 there, 23:00 UTC.
    fire = next_fire_time(trigger, utc(2025, 3, 26, 22, 0))
    assert fire == utc(2025, 3, 26, 23, 0)
    assert fire.astimezone(VN).hour == 6
    # Not 06:00 UTC (13:00 in Vietnam), the classic mistake.
    assert fire != utc(2025, 3, 27, 6, 0)


def test_next_fire_is_strictly_after_now():
    trigger = make_trigger("30 6 * * *", "Asia/Ho_Chi_Minh")
    at_fire = utc(2025, 3, 26, 23, 30)
    assert next_fire_time(trigger, at_fire) == utc(2025, 3, 27, 23, 30)


def test_previous_fire_time():
    trigger = make_trigger("0 6 * * *", "Asia/Ho_Chi_Minh")
    assert previous_fire_time(trigger, utc(2025, 3, 27, 2, 0)) == utc(2025, 3, 26, 23, 0)
    assert previous_fire_time(trigger, utc(2025, 3, 26, 23, 0)) == utc(2025, 3, 26, 23, 0)
    assert previous_fire_time(trigger, utc(2025, 3, 26, 22, 59)) == utc(2025, 3, 25, 23, 0)
    every_minute = make_trigger("* * * * *", "Asia/Ho_Chi_Minh")
    assert previous_fire_time(every_minute, utc(2025, 3, 27, 2, 0, 30)) == utc(2025, 3, 27, 2, 0)
    weekly = make_trigger("0 6 * * 1", "Asia/Ho_Chi_Minh")  # Mondays; 2025-03-24 was one
    assert previous_fire_time(weekly, utc(2025, 3, 27, 2, 0)) == utc(2025, 3, 23, 23, 0)


def test_catch_up_only_the_latest_missed_run_within_grace():
    trigger = make_trigger("0 6 * * *", "Asia/Ho_Chi_Minh")
    grace = timedelta(hours=12)
    never_done = lambda moment: False  # noqa: E731
    # Down for three days, back at 09:00 Vietnam time: one run, for today's 06:00.
    assert catch_up_due(trigger, now=utc(2025, 3, 27, 2, 0), last_done=never_done, grace=grace) == utc(
        2025, 3, 26, 23, 0
    )
    # Back at 19:00+: today's run is beyond the grace, so nothing (the next 06:00 does it).
    assert catch_up_due(trigger, now=utc(2025, 3, 27, 12, 0), last_done=never_done, grace=grace) is None
    # Already done.
    assert catch_up_due(trigger, now=utc(2025, 3, 27, 2, 0), last_done=lambda m: True, grace=grace) is None


def make_service(database, *, crawl="0 6 * * *", digest="30 6 * * *", clock=None):
    config = parse_config(f'''
[storage]
database_url = "{database.url}"
[schedule]
crawl = "{crawl}"
digest = "{digest}"
misfire_grace_hours = 12
''')
    return Service(config, database, clock=clock, install_signals=False)


def test_plan_catch_up_after_a_missed_morning(database):
    service = make_service(database)
    # 09:00 in Vietnam on the 27th; nothing has ever run.
    now = utc(2025, 3, 27, 2, 0)
    assert service.plan_catch_up(now) == {"crawl": utc(2025, 3, 26, 23, 0), "digest": utc(2025, 3, 26, 23, 30)}


def test_plan_catch_up_respects_what_ran(database):
    service = make_service(database)
    now = utc(2025, 3, 27, 2, 0)
    with database.session() as session:
        # Yesterday's digest ran, today's did not; a manual crawl finished after 06:00 today.
        session.add(
            JobRun(
                job="digest",
                trigger="schedule",
                scheduled_for=utc(2025, 3, 25, 23, 30),
                started_at=utc(2025, 3, 25, 23, 30),
                finished_at=utc(2025, 3, 25, 23, 31),
                status="ok",
            )
        )
        session.add(
            CrawlRun(
                site="nhandan",
                started_at=utc(2025, 3, 26, 23, 10),
                finished_at=utc(2025, 3, 26, 23, 20),
                status="degraded",
                trigger="manual",
                counts={},
                errors=[],
            )
        )
    assert service.plan_catch_up(now) == {"digest": utc(2025, 3, 26, 23, 30)}
    with database.session() as session:
        session.add(
            JobRun(
                job="digest",
                trigger="catch-up",
                scheduled_for=utc(2025, 3, 26, 23, 30),
                started_at=utc(2025, 3, 27, 1, 0),
                finished_at=utc(2025, 3, 27, 1, 1),
                status="ok",
            )
        )
    assert service.plan_catch_up(now) == {}


def test_failed_runs_do_not_count_as_done(database):
    service = make_service(database)
    now = utc(2025, 3, 27, 2, 0)
    with database.session() as session:
        session.add(
            JobRun(
                job="crawl",
                trigger="schedule",
                scheduled_for=utc(2025, 3, 26, 23, 0),
                started_at=utc(2025, 3, 26, 23, 0),
                finished_at=utc(2025, 3, 26, 23, 5),
                status="failed",
            )
        )
        session.add(
            CrawlRun(
                site="nhandan",
                started_at=utc(2025, 3, 26, 23, 0),
                finished_at=utc(2025, 3, 26, 23, 5),
                status="failed",
                trigger="service",
                counts={},
                errors=[],
            )
        )
    assert "crawl" in service.plan_catch_up(now)


def test_catch_up_runs_exactly_once_across_restarts(database):
    """Plan, 'run' (record success), restart: the second start plans nothing."""
    service = make_service(database)
    now = utc(2025, 3, 27, 2, 0)
    first = service.plan_catch_up(now)
    assert set(first) == {"crawl", "digest"}
    with database.session() as session:
        for job, due in first.items():
            session.add(
                JobRun(
                    job=job,
                    trigger="catch-up",
                    scheduled_for=due,
                    started_at=now,
                    finished_at=now + timedelta(minutes=1),
                    status="ok",
                )
            )
    restarted = make_service(database)
    assert restarted.plan_catch_up(now + timedelta(minutes=5)) == {}
    # The next day's run is a normal one again, and missable again.
    assert restarted.plan_catch_up(now + timedelta(days=1)) == {
        "crawl": utc(2025, 3, 27, 23, 0),
        "digest": utc(2025, 3, 27, 23, 30),
    }


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("*", "*"),
        ("1", "mon"),
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0,6", "sun,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("mon-fri", "mon-fri"),
    ],
)
def test_day_of_week_is_read_as_cron_reads_it(field, expected):
    from scheduler.service import cron_day_of_week

    assert cron_day_of_week(field) == expected


def test_weekday_schedule_skips_the_weekend():
    trigger = make_trigger("0 6 * * 1-5", "Asia/Ho_Chi_Minh")
    # Friday 2025-03-28 07:00 in Vietnam: the next run is Monday 06:00.
    fire = next_fire_time(trigger, utc(2025, 3, 28, 0, 0))
    assert fire is not None and fire.astimezone(VN).strftime("%a %H:%M") == "Mon 06:00"
