"""Opening the database: engine, migrations, short-lived sessions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from crawler.errors import DatabaseTooNewError, StorageError

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Set on the engine behind read-only sessions: their transactions may start deferred.
_READ_ONLY = "bantin_read_only"


class Database:
    """An engine plus a session factory. Open one per process; sessions are short and per thread."""

    def __init__(self, url: str, *, migrate: bool = True):
        self.url = url
        self.engine = _create_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False)
        if migrate:
            upgrade(self.engine)

    @contextlib.contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """One short transaction: commits on success, rolls back on error.

        On SQLite a writing transaction takes the write lock when it begins, so it
        waits (busy timeout) for another writer instead of failing at its first
        write after a read. ``write=False`` is for transactions that only read:
        they never wait for writers (WAL readers see a snapshot).
        """
        with (self._sessions if write else self._read_sessions).begin() as session:
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
        # pysqlite's own transaction handling defers BEGIN; take it over. A deferred
        # transaction that reads and then writes gets SQLITE_BUSY at once, without the
        # busy timeout, when another connection wrote in between (its snapshot is stale):
        # so every transaction takes the write lock up front, except read-only ones.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_begin(connection) -> None:
    read_only = connection.get_execution_options().get(_READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


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
    config.set_main_option("script_location", str(resources.files("crawler.store") / "migrations"))
    config.attributes["connection"] = connection
    return config


def schema_head() -> str:
    """The schema revision this code migrates every database to."""
    from alembic.script import ScriptDirectory

    (head,) = ScriptDirectory.from_config(_alembic_config(None)).get_heads()
    return head


# PostgreSQL advisory lock held while migrating ("bantin" in ASCII): one key for every bantin database's schema.
SCHEMA_LOCK_KEY = 0x62616E74696E


def upgrade(engine: Engine) -> None:
    """Bring a new or older database to this code's schema; refuse a newer one."""
    from alembic.util import CommandError

    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            driver = connection.connection.driver_connection
            if sqlite and driver is not None:
                # Rebuilding a table on SQLite drops the old one, which with foreign keys
                # on would cascade into every child row. The pragma only takes effect
                # outside a transaction, so it goes to the driver before SQLAlchemy begins.
                driver.execute("PRAGMA foreign_keys=OFF")
            try:
                with connection.begin():
                    if connection.dialect.name == "postgresql":
                        # Machines of a cluster starting at once would each migrate and all but one fail halfway
                        # (SQLite's BEGIN IMMEDIATE serialises them already): the others wait, then find it done.
                        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK_KEY})")
                    _upgrade_in(connection)
                    if sqlite:
                        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise StorageError(f"migration left {len(broken)} dangling reference(s); rolled back")
            finally:
                if sqlite and driver is not None:
                    driver.execute("PRAGMA foreign_keys=ON")
    except (SQLAlchemyError, CommandError) as exc:
        raise StorageError(f"cannot open or migrate the database: {_first_line(exc)}") from exc


def _upgrade_in(connection) -> None:
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

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


def outage_reason(exc: BaseException) -> str | None:
    """Why the database went away under a command, if that is what ``exc`` says (None for anything else).

    A server restarted, a connection an administrator terminated, a server out of reach: an outage to report in
    one line, not a bug; what was committed before it stays stored.
    """
    if not isinstance(exc, OperationalError):
        return None
    return _first_line(exc.orig if isinstance(exc.orig, Exception) else exc)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _known_revision(script, revision: str):
    try:
        return script.get_revision(revision)
    except Exception:  # alembic raises its own ResolutionError for unknown ids
        return None


def table_names(engine: Engine) -> list[str]:
    return inspect(engine).get_table_names()


# The index's and the stories' session events keep them in the transaction of every article write.
from crawler.store import index as _index  # noqa: E402,F401
from crawler.store import stories as _stories  # noqa: E402,F401
