"""The CLI's edge: a database that goes away under a command is one `bantin: error:` line, not an internal error."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

import crawler.cli as cli_module
from tests.cli_support import run


class AdminShutdown(Exception):
    """Stands for psycopg's error when an administrator (or a restart) terminates the connection."""


def test_a_database_gone_away_is_one_error_line_and_exit_1(capsys, monkeypatch):
    def terminated(*args, **kwargs):
        raise OperationalError(
            "INSERT INTO leases ...", {}, AdminShutdown("terminating connection due to administrator command\nmore")
        )

    monkeypatch.setattr(cli_module.cli, "main", terminated)
    code, out, err = run(capsys, "status")
    assert code == 1 and out == ""
    reason = "terminating connection due to administrator command"
    assert err.splitlines() == [f"bantin: error: the database failed: {reason}"]


def test_any_other_unexpected_error_is_still_an_internal_error(capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(cli_module.cli, "main", broken)
    code, _, err = run(capsys, "status")
    assert code == 1 and err.startswith("bantin: internal error: KeyError")
