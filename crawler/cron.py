"""Cron strings as people write them, read by APScheduler 3 in a chosen time zone."""

from __future__ import annotations

from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def make_trigger(expression: str, zone: str) -> CronTrigger:
    """A cron trigger in the configured zone, whatever the machine's TZ (ValueError if malformed).

    The day-of-week field is read as cron reads it (0 or 7 = Sunday, 1 =
    Monday): APScheduler 3 numbers days from Monday = 0, so numbers are
    turned into day names first.
    """
    from zoneinfo import ZoneInfo

    fields = expression.split()
    if len(fields) == 5:
        fields[4] = cron_day_of_week(fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=ZoneInfo(zone))


def cron_day_of_week(field: str) -> str:
    """A cron day-of-week field with its numbers (0-7, Sunday = 0 or 7) as day names."""
    parts = []
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        if base == "*" and not step_text:
            parts.append("*")
            continue
        if not any(ch.isdigit() for ch in base) and base != "*":
            parts.append(part)  # already names, e.g. mon-fri
            continue
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                first, last = 0, 6
            elif "-" in base:
                first, last = (int(value) for value in base.split("-", 1))
            else:
                first = int(base)
                last = 6 if step_text else first
        except ValueError:
            parts.append(part)  # let APScheduler report it
            continue
        if not (0 <= first <= 7 and 0 <= last <= 7 and first <= last and step > 0):
            parts.append(part)
            continue
        parts.extend(DAY_NAMES[day % 7] for day in range(first, last + 1, step))
    unique = list(dict.fromkeys(parts))
    return ",".join(unique)


def next_fire(expression: str, zone: str, now: datetime) -> datetime | None:
    """The first time the cron string fires strictly after `now`."""
    return make_trigger(expression, zone).get_next_fire_time(None, now + timedelta(microseconds=1))
