"""Date strings as NDO pages, feeds and APIs write them -> aware datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from zoneinfo import ZoneInfo

import pytest

from spiders.pages import parse_datetime as parse_in_zone

# The zone is the site's (every outlet here is in Vietnam); the parser takes it from the caller.
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
parse_datetime = partial(parse_in_zone, default_tz=VN_TZ)

ICT = timezone(timedelta(hours=7))
EXPECTED = datetime(2025, 3, 27, 8, 15, tzinfo=ICT)


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-27T08:15:00+0700",
        "2025-03-27T08:15:00+07:00",
        "2025-03-27T08:15+07:00",
        "2025-03-27T01:15:00Z",
        "2025-03-27T01:15:00.000000Z",
        "2025-03-27 08:15:00",  # no offset: Vietnam time
        "Thu, 27 Mar 2025 08:15:00 +0700",  # RSS pubDate
        "Thu, 27 Mar 2025 01:15:00 GMT",
        "Thu, 27 Mar 2025 08:15:00",  # RFC 822 without a zone: Vietnam time
        "Thứ Năm, 27/03/2025 - 08:15",
        "27/03/2025 08:15",
        "27/3/2025 8:15",
        "Cập nhật: Thứ Năm, 27/03/2025 - 08:15 (GMT+7)",
        "Thứ Năm, 27/03/2025 08:15 (GMT +7)",
        "08:15 27/03/2025",
        "Thứ Năm, 27-03-2025, 08:15",
        "27/03/2025 08:15 (GMT+07:00)",
        "27/03/2025\u00a0-\u00a008:15",
    ],
)
def test_every_format_gives_the_same_instant(text):
    parsed = parse_datetime(text)
    assert parsed is not None and parsed.tzinfo is not None
    assert parsed == EXPECTED


def test_day_first_even_when_ambiguous():
    assert parse_datetime("03/02/2025 10:00") == datetime(2025, 2, 3, 10, 0, tzinfo=VN_TZ)


def test_date_only_is_local_midnight():
    assert parse_datetime("2026-08-08") == datetime(2026, 8, 8, tzinfo=VN_TZ)
    assert parse_datetime("08/08/2026") == datetime(2026, 8, 8, tzinfo=VN_TZ)


def test_explicit_other_gmt_offset_is_kept():
    assert parse_datetime("27/03/2025 08:15 GMT+0") == datetime(2025, 3, 27, 8, 15, tzinfo=UTC)


def test_rfc822_minus_zero_is_utc():
    assert parse_datetime("Thu, 27 Mar 2025 01:15:00 -0000") == EXPECTED


@pytest.mark.parametrize(
    "text",
    [None, "", "   ", "hôm qua", "32/13/2025 08:15", "2025-13-45T00:00:00+07:00", "0:00 / 0:00", "Thu, 99 Foo 2025"],
)
def test_unusable_input_gives_none(text):
    assert parse_datetime(text) is None


def test_a_value_without_offset_is_read_in_the_zone_the_caller_gives():
    assert parse_in_zone("27/03/2025 08:15", default_tz=UTC) == datetime(2025, 3, 27, 8, 15, tzinfo=UTC)
    assert parse_in_zone("2025-03-27T08:15:00+0700", default_tz=UTC) == EXPECTED
