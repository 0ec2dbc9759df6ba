"""Opening the database: engine, migrations, short-lived sessions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from crawler.errors import DatabaseTooNewError, StorageError

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option marking the engine of read-only sessions.
READ_ONLY = "bantin_read_only"


class Database:
    """An engine plus a session factory. Open one per process; sessions are short and per thread."""

    def __init__(self, url: str, *, migrate: bool = True):
        self.url = url
        self.engine = _create_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
        if migrate:
            upgrade(self.engine)

    @contextlib.contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        """One short transaction: commits on success, rolls back on error.

        `read_only` is for long scans that never write (an export piped into a
        pager): on SQLite they do not take the write lock, so they never hold
        up a crawl.
        """
        with (self._readers if read_only else self._sessions).begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def describe(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return make_url(self.url).render_as_string(hide_password=True)


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            try:
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create the database folder: {exc}") from None
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take it over, and
        # take the write lock up front: a deferred transaction that read and
        # then writes after another connection wrote gets SQLITE_BUSY at once,
        # which the busy timeout does not cover ("database is locked").
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_begin(connection) -> None:
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy issue BEGIN itself (see the "begin" listener).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL + busy timeout let the service and a manual command share one file.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _alembic_config(connection):
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(resources.files("crawler.db") / "migrations"))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Bring a new or older database to this code's schema; refuse a newer one."""
    from alembic import command
    from alembic.util import CommandError
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    try:
        with engine.begin() as connection:
            config = _alembic_config(connection)
            script = ScriptDirectory.from_config(config)
            heads = set(script.get_heads())
            current = set(MigrationContext.configure(connection).get_current_heads())
            if current == heads:
                return
            unknown = {rev for rev in current if _known_revision(script, rev) is None}
            if unknown:
                raise DatabaseTooNewError(
                    f"the database is at schema {', '.join(sorted(unknown))}, newer than this bantin "
                    f"knows (head {', '.join(sorted(heads))}): upgrade bantin"
                )
            command.upgrade(config, "head")
    except (SQLAlchemyError, CommandError) as exc:
        raise StorageError(f"cannot open or migrate the database: {_first_line(exc)}") from exc


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _known_revision(script, revision: str):
    try:
        return script.get_revision(revision)
    except Exception:  # alembic raises its own ResolutionError for unknown ids
        return None


def table_names(engine: Engine) -> list[str]:
    return inspect(engine).get_table_names()
