"""Date parsing for every shape Vietnamese news pages and feeds use, without dateparser.

Rules: ISO 8601 (with ``+0700`` or ``+07:00`` offsets), RFC 822 (RSS ``pubDate``),
and visible day-first text such as ``Thứ Năm, 27/03/2025 - 08:15``. A value without
an offset is local time in the site's zone, which the caller passes (it is the
site's fact, ``Site.timezone``). Results are always aware datetimes, between 1900
and 2200: anything else is no article's date, and near the ends of datetime's
range (``9999-12-31T23:59:59Z``) merely showing it in local time overflows.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class ImplausibleDate(ValueError):
    """A date that reads, but as an instant no page can mean (outside EARLIEST..LATEST)."""


_ISO = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[T ](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d+))?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2}|[+-]\d{2}\b)?"
)
_DMY = re.compile(r"(?<!\d)(?P<d>\d{1,2})[/.-](?P<mo>\d{1,2})[/.-](?P<y>\d{4})(?!\d)")
_TIME = re.compile(r"(?<![\d/.-])(?P<h>\d{1,2})\s*[:hg]\s*(?P<mi>\d{2})(?::(?P<s>\d{2}))?(?!\d)")
_GMT = re.compile(r"(?:GMT|UTC)\s*(?P<sign>[+-])\s*(?P<h>\d{1,2})(?::?(?P<mi>\d{2}))?", re.I)
_RFC822 = re.compile(r"[A-Za-z]{3},?\s+\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}|\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d")


def parse_datetime(value: str | None, *, default_tz: tzinfo, strict: bool = False) -> datetime | None:
    """Read any supported date string; ``None`` when nothing usable is found.

    A date that reads but is implausible is None as well, or raises :class:`ImplausibleDate`
    with ``strict`` (for callers that count such values as bad input).
    """
    if not value:
        return None
    text = " ".join(str(value).replace("\u00a0", " ").split())
    if not text:
        return None
    for parser in (_parse_iso, _parse_rfc822, _parse_day_first):
        try:
            result = parser(text, default_tz)
        except (ValueError, OverflowError, TypeError):
            result = None
        if result is not None:
            # Aware comparisons subtract as timedeltas: they cannot overflow, unlike a zone shift.
            if not EARLIEST <= result < LATEST:
                if strict:
                    raise ImplausibleDate(f"implausible date {text[:40]!r}")
                return None
            return result
    return None


def _offset(token: str | None) -> timezone | None:
    if not token:
        return None
    if token == "Z":
        return UTC
    sign = -1 if token[0] == "-" else 1
    digits = token[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 14 or minutes > 59:
        raise ValueError(token)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _parse_iso(text: str, default_tz) -> datetime | None:
    match = _ISO.search(text)
    if not match:
        return None
    g = match.groupdict()
    micro = int((g["frac"] or "0")[:6].ljust(6, "0"))
    naive = datetime(
        int(g["y"]), int(g["mo"]), int(g["d"]), int(g["h"] or 0), int(g["mi"] or 0), int(g["s"] or 0), micro
    )
    tz = _offset(g["tz"])
    return naive.replace(tzinfo=tz or default_tz)


def _parse_rfc822(text: str, default_tz) -> datetime | None:
    if not _RFC822.search(text):
        return None
    result = parsedate_to_datetime(text)
    if result.tzinfo is None:
        # RFC 5322: "-0000" means UTC with the local zone unknown; no zone at all means local time.
        result = result.replace(tzinfo=UTC if "-0000" in text else default_tz)
    return result


def _parse_day_first(text: str, default_tz) -> datetime | None:
    """``27/03/2025 08:15``, ``Thứ Năm, 27/03/2025 - 08:15``, ``08:15 27-03-2025 (GMT+7)``: always day first."""
    date_match = _DMY.search(text)
    if not date_match:
        return None
    rest = text[: date_match.start()] + " " + text[date_match.end() :]
    gmt = _GMT.search(rest)
    if gmt:
        rest = rest[: gmt.start()] + " " + rest[gmt.end() :]
    time_match = _TIME.search(rest)
    hour = minute = second = 0
    if time_match:
        hour, minute = int(time_match["h"]), int(time_match["mi"])
        second = int(time_match["s"] or 0)
    naive = datetime(int(date_match["y"]), int(date_match["mo"]), int(date_match["d"]), hour, minute, second)
    tz = default_tz
    if gmt:
        sign = -1 if gmt["sign"] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(gmt["h"]), minutes=int(gmt["mi"] or 0)))
    return naive.replace(tzinfo=tz)
