"""Migration 0004 (readers' own choices) on a database made by the release before it (schema 0003)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import MetaData, Table, inspect, select, text

from crawler.config import parse_config
from crawler.readers import effective_readers, unsubscribe
from crawler.store import Database, _alembic_config, _create_engine, schema_head
from tests import release_0001

NOW = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
OLD_TABLES = (
    "articles",
    "article_sources",
    "topics",
    "matches",
    "outbox",
    "deliveries",
    "crawl_runs",
    "job_runs",
    "leases",
)


def _previous_release(url: str) -> None:
    from alembic import command

    release_0001.build(url)
    engine = _create_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "0003")
    finally:
        engine.dispose()


def _rows(url: str, columns: dict[str, set[str]] | None = None) -> dict[str, list[dict]]:
    """Every row of the tables schema 0003 had, as the database has them (reflected: later migrations add
    columns), keeping to ``columns`` per table when given, so that a later schema's additions are not compared."""
    engine = _create_engine(url)
    try:
        with engine.connect() as connection:
            rows = {}
            for name in OLD_TABLES:
                table = Table(name, MetaData(), autoload_with=connection)
                kept = [column for column in table.c if columns is None or column.name in columns[name]]
                rows[name] = sorted((dict(row._mapping) for row in connection.execute(select(*kept))), key=repr)
            return rows
    finally:
        engine.dispose()


def _columns(url: str) -> dict[str, set[str]]:
    engine = _create_engine(url)
    try:
        return {name: {column["name"] for column in inspect(engine).get_columns(name)} for name in OLD_TABLES}
    finally:
        engine.dispose()


def test_upgrading_from_0003_adds_the_reader_tables_and_changes_nothing_else(database_url):
    _previous_release(database_url)
    columns_0003 = _columns(database_url)
    before = _rows(database_url)
    database = Database(database_url)
    try:
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == schema_head()
        tables = set(inspect(database.engine).get_table_names())
        assert {"reader_preferences", "reader_events"} <= tables
        if database.dialect == "postgresql":
            indexes = {index["name"] for index in inspect(database.engine).get_indexes("articles")}
            assert "ix_articles_newest_first" in indexes
        assert _rows(database_url, columns_0003) == before
        # Every reader of the file is as the file says until they choose otherwise.
        recipients = "".join(
            f'[[recipients]]\nemail = "{address}"\n'
            for address in (release_0001.SENT_TO, release_0001.PENDING_TO, release_0001.FAILED_TO)
        )
        config = parse_config(f'[storage]\ndatabase_url = "{database_url}"\n{recipients}')
        with database.session() as session:
            readers = effective_readers(config, session)
            assert [(r.state, r.source) for r in readers] == [("active", "file")] * 3
            unsubscribe(session, release_0001.FAILED_TO, now=NOW, via="one-click")
        with database.session() as session:
            assert [r.state for r in effective_readers(config, session)] == ["active", "active", "unsubscribed"]
    finally:
        database.dispose()
