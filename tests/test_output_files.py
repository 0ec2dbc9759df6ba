"""Output files (`digest --preview`, `articles export --out`) that cannot be written.

One line and exit 1, never "internal error".
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
import time_machine

from tests.cli_support import run

NOW = datetime(2026, 3, 27, 1, 0, tzinfo=UTC)
EML = "digest-2026-03-27-an_example.org.eml"


@pytest.fixture
def config_path(tmp_path):
    path = tmp_path / "bantin.toml"
    path.write_text(
        f"""
[storage]
database_url = "sqlite:///{tmp_path / "db.sqlite3"}"
[[topics]]
name = "Quảng Ninh"
query = "Quảng Ninh"
[[recipients]]
email = "an@example.org"
""",
        encoding="utf-8",
    )
    return path


def preview(capsys, config_path, out):
    with time_machine.travel(NOW, tick=False):
        return run(capsys, "--config", str(config_path), "digest", "--preview", "--out", str(out))


def test_preview_files_are_written(capsys, config_path, tmp_path):
    status, out, _ = preview(capsys, config_path, tmp_path / "previews")
    assert status == 0 and (tmp_path / "previews" / EML).is_file() and EML in out


@pytest.mark.parametrize("obstacle", ["directory", "disk full", "out is a file"])
def test_an_unwritable_preview_is_one_line_and_exit_1(capsys, config_path, tmp_path, obstacle):
    out = tmp_path / "previews"
    if obstacle == "out is a file":
        out.write_text("not a folder")
    else:
        out.mkdir()
        if obstacle == "directory":
            (out / EML).mkdir()  # a directory where the file goes
        else:
            os.symlink("/dev/full", out / EML)  # every write: ENOSPC
    status, _, err = preview(capsys, config_path, out)
    [line] = err.strip().splitlines()
    assert status == 1, err
    assert line.startswith("bantin: error: cannot write ") and "internal error" not in line
    assert str(out) in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_preview_folder_is_one_line(capsys, config_path, tmp_path):
    out = tmp_path / "previews"
    out.mkdir()
    out.chmod(0o500)
    try:
        status, _, err = preview(capsys, config_path, out)
    finally:
        out.chmod(0o700)
    assert status == 1 and err.strip().startswith("bantin: error: cannot write ")


def test_an_export_onto_a_full_disk_is_one_line(capsys, config_path, tmp_path):
    target = tmp_path / "export.jsonl"
    os.symlink("/dev/full", target)
    from crawler.store import Database
    from tests.digest_support import standard_archive

    database = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    standard_archive(database)
    database.dispose()
    status, _, err = run(capsys, "--config", str(config_path), "articles", "export", "--out", str(target))
    [line] = err.strip().splitlines()
    assert status == 1 and line == f"bantin: error: cannot write {target}: No space left on device"
