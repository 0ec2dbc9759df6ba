"""Shared fixtures: databases (SQLite always, PostgreSQL when BANTIN_TEST_POSTGRES_URL is set) and configs."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis' per-example deadline is a timed assertion: on a loaded 2-core CI machine it
# fails tests that are merely slow. Correctness is what the properties check.
settings.register_profile("bantin", deadline=None)
settings.load_profile("bantin")

POSTGRES_ENV = "BANTIN_TEST_POSTGRES_URL"


def _postgres_server_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def _fresh_postgres_database(server_url: str):
    """Create an empty database on the test server; returns (url, drop)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"bantin_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bantin.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path: Path):
    """A fresh, empty database URL: SQLite always; PostgreSQL when the test server is configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bantin.sqlite3'}"
        return
    server = _postgres_server_url()
    if not server:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    url, drop = _fresh_postgres_database(server)
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def database(database_url):
    from crawler.store import Database

    db = Database(database_url)
    yield db
    db.dispose()


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path_factory):
    """No test reads the developer's own config or writes into their data dir."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.delenv("BANTIN_CONFIG", raising=False)
    monkeypatch.delenv("BANTIN_SMTP_PASSWORD", raising=False)
