"""One clock and one display zone for the whole house.

Instants are aware and in UTC everywhere inside bantin; people see them in
Vietnam time. A site's own zone (for reading its pages) belongs to the site.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

# Where bantin's readers are: dates on the CLI, in e-mail and on the web are shown here.
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def utcnow() -> datetime:
    """Now, aware, in UTC (tests inject their own instants instead of patching this)."""
    return datetime.now(UTC)
