"""Running `bantin` in-process, the way the console script does, and capturing what it prints."""

from __future__ import annotations

import pytest

from crawler.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `bantin ARGV`."""
    with pytest.raises(SystemExit) as exited:
        main([*argv])
        raise SystemExit(0)
    captured = capsys.readouterr()
    code = exited.value.code
    assert code is None or isinstance(code, int), f"bantin exited with a message, not a status: {code!r}"
    return code or 0, captured.out, captured.err
