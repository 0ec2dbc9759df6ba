"""Several processes opening one new PostgreSQL database at once (a cluster's first start, or its upgrade):
one migrates, the others wait for it and find the schema done. SQLite's BEGIN IMMEDIATE already serialises them."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import text

from crawler.store import Database, schema_head
from tests.cluster_support import pg_url  # noqa: F401 - fixture

pytestmark = pytest.mark.postgres

OPEN_ON_CUE = """
import sys
from crawler.store import Database
print("ready", flush=True)
sys.stdin.readline()
Database(sys.argv[1]).dispose()
"""


def test_processes_opening_a_new_database_together_migrate_it_once_without_failing(pg_url):  # noqa: F811
    # Each process first imports everything, then all open the database at one cue: the race is in the migration.
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_ON_CUE, pg_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for opener in openers:
            assert opener.stdout is not None and opener.stdout.readline().strip() == "ready"
        for opener in openers:
            assert opener.stdin is not None
            opener.stdin.write("go\n")
            opener.stdin.flush()
        outcomes = [(opener.wait(timeout=120), opener.stderr.read() if opener.stderr else "") for opener in openers]
    finally:
        for opener in openers:
            if opener.poll() is None:
                opener.kill()
    assert [code for code, _ in outcomes] == [0, 0, 0], [error for _, error in outcomes]
    database = Database(pg_url)
    try:
        with database.session() as session:
            assert session.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [schema_head()]
    finally:
        database.dispose()
