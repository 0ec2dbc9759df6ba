"""Named leases in the database: one holder at a time, across processes and machines.

A lease is a row in ``leases`` with an owner ("host:pid:uuid") and an expiry.
Taking one is a single conditional statement (an INSERT that does nothing on
conflict, or an UPDATE whose WHERE clause only matches a free row), so of two
racers exactly one sees a changed row: PostgreSQL re-checks the WHERE clause
after waiting for the other writer's row lock, and SQLite runs one writer at a
time. A background thread renews the expiry; a holder that dies stops renewing
and its lease can be taken once it expires, or at once by a process on the same
host that can see the holder's pid is gone.

Expiry compares times written by different machines' clocks: keep clocks in
sync (NTP) and the TTL well above any skew.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from crawler.clock import utcnow
from crawler.errors import LockBusyError
from crawler.store import Database
from crawler.store.models import Lease

log = logging.getLogger("bantin.locks")

Clock = Callable[[], datetime]

DEFAULT_TTL = timedelta(minutes=2)
# How often a waiting acquirer tries again.
POLL_SECONDS = 0.25


CRAWL_LEASE_PREFIX = "crawl:"


def crawl_lease(site: str) -> str:
    """The lease one site's crawl holds: a site never overlaps itself, different sites may run together."""
    return f"{CRAWL_LEASE_PREFIX}{site}"


def this_host() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def make_owner() -> str:
    return f"{this_host()}:{os.getpid()}:{uuid.uuid4().hex}"


def parse_owner(owner: str) -> tuple[str, int | None]:
    """(host, pid) from an owner string; host names may themselves contain colons."""
    host, _, rest = owner.rpartition(":")
    host, _, pid = host.rpartition(":")
    try:
        return host, int(pid)
    except ValueError:
        return owner, None


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds a lease, as read from the database."""

    name: str
    owner: str
    acquired_at: datetime
    heartbeat_at: datetime
    expires_at: datetime
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return parse_owner(self.owner)[0]

    @property
    def pid(self) -> int | None:
        return parse_owner(self.owner)[1]

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    def holder_gone(self) -> bool:
        """True when the holder ran on this host and its process no longer exists."""
        return self.host == this_host() and self.pid is not None and not pid_alive(self.pid)

    def live(self, now: datetime) -> bool:
        return not self.expired(now) and not self.holder_gone()

    def describe(self, now: datetime | None = None) -> str:
        now = now or utcnow()
        what = self.info.get("purpose")
        age = max(0, int((now - self.heartbeat_at).total_seconds()))
        return (
            f"{what or 'another bantin process'} on host {self.host} (pid {self.pid}) since "
            f"{_format_time(self.acquired_at)}, last heartbeat {age} s ago"
        )


def _format_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _row_info(row: Lease) -> LeaseInfo:
    return LeaseInfo(
        name=row.name,
        owner=row.owner,
        acquired_at=row.acquired_at,
        heartbeat_at=row.heartbeat_at,
        expires_at=row.expires_at,
        info=dict(row.info or {}),
    )


def lease_holder(database: Database, name: str) -> LeaseInfo | None:
    """The current row for this lease (possibly expired: check `.live(now)`), or None."""
    with database.session(write=False) as session:
        row = session.get(Lease, name)
        return _row_info(row) if row is not None else None


def leases_named(database: Database, prefix: str) -> list[LeaseInfo]:
    """Every lease row whose name starts with ``prefix`` (e.g. ``crawl:``, one per site), by name."""

    with database.session(write=False) as session:
        rows = session.scalars(select(Lease).where(Lease.name.startswith(prefix, autoescape=True)).order_by(Lease.name))
        return [_row_info(row) for row in rows]


class HeldLease:
    """A lease this process holds; renewed by a background thread until released."""

    def __init__(
        self,
        database: Database,
        name: str,
        owner: str,
        *,
        ttl: timedelta,
        clock: Clock,
        info: dict[str, Any],
        heartbeat_seconds: float | None = None,
    ):
        self.database = database
        self.name = name
        self.owner = owner
        self.ttl = ttl
        self.clock = clock
        self.info = dict(info)
        self.heartbeat_seconds = heartbeat_seconds or max(ttl.total_seconds() / 3, 0.05)
        # Set when a renewal found the row no longer ours (another process took it over).
        self.lost = threading.Event()
        # Called (from the heartbeat thread) when the lease is found lost.
        self.on_lost: Callable[[], None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.name}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                if not self.renew():
                    log.error("lost the %s lease: another process took it over", self.name)
                    if self.on_lost is not None:
                        self.on_lost()
                    return
            except Exception:  # noqa: BLE001 - a database hiccup: try again next beat
                log.warning("could not renew the %s lease", self.name, exc_info=True)

    def renew(self, info: dict[str, Any] | None = None) -> bool:
        """Push the expiry forward (and optionally merge `info`); False if the lease was lost."""
        with self._lock:
            if info:
                self.info.update(info)
            now = self.clock()
            values: dict[str, Any] = {"heartbeat_at": now, "expires_at": now + self.ttl}
            if info:
                values["info"] = dict(self.info)
            with self.database.session() as session:
                result = session.execute(
                    update(Lease).where(Lease.name == self.name, Lease.owner == self.owner).values(**values)
                )
                ok = cast(CursorResult[Any], result).rowcount == 1
        if not ok:
            self.lost.set()
        return ok

    def update_info(self, **info: Any) -> bool:
        return self.renew(info)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        with self._lock, self.database.session() as session:
            session.execute(delete(Lease).where(Lease.name == self.name, Lease.owner == self.owner))


def try_acquire(
    database: Database,
    name: str,
    owner: str,
    *,
    ttl: timedelta = DEFAULT_TTL,
    info: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> LeaseInfo | None:
    """Take the lease if it is free; return None on success, else the current holder."""
    clock = clock or utcnow
    now = clock()
    values = {
        "owner": owner,
        "acquired_at": now,
        "heartbeat_at": now,
        "expires_at": now + ttl,
        "info": dict(info or {}),
    }
    # Each statement runs first in its own transaction: on SQLite a write that
    # follows a read in one transaction can fail instead of waiting its turn.
    with database.session() as session:
        if _insert_if_absent(session, database.dialect, name, values):
            return None
    holder = lease_holder(database, name)
    if holder is None:
        # Released between our INSERT and our read: try once more from the top.
        with database.session() as session:
            if _insert_if_absent(session, database.dialect, name, values):
                return None
        return lease_holder(database, name)
    if holder.owner == owner:
        return None
    if holder.live(now):
        return holder
    # Take over only the exact row we judged dead or expired: if someone else
    # renewed or took it meanwhile, the owner or expiry no longer match.
    condition = [Lease.name == name, Lease.owner == holder.owner]
    if not holder.holder_gone():
        condition.append(Lease.expires_at <= now)
    with database.session() as session:
        result = session.execute(update(Lease).where(*condition).values(**values))
        if cast(CursorResult[Any], result).rowcount == 1:
            log.info(
                "took over the %s lease from %s (%s)",
                name,
                holder.owner,
                "process gone" if holder.holder_gone() else "expired",
            )
            return None
    current = lease_holder(database, name)
    return current if current is not None else holder


def _insert_if_absent(session, dialect: str, name: str, values: dict[str, Any]) -> bool:
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(Lease).values(name=name, **values).on_conflict_do_nothing(index_elements=["name"])
    return session.execute(statement).rowcount == 1


@contextlib.contextmanager
def hold_lease(
    database: Database,
    name: str,
    *,
    ttl: timedelta = DEFAULT_TTL,
    wait: float = 0.0,
    info: dict[str, Any] | None = None,
    clock: Clock | None = None,
    heartbeat_seconds: float | None = None,
) -> Iterator[HeldLease]:
    """Hold the named lease for the block, renewing it in the background.

    Raises LockBusyError naming the holder if it is still held after `wait`
    seconds. The lease is released when the block ends, however it ends.
    """
    clock = clock or utcnow
    owner = make_owner()
    deadline = time.monotonic() + max(wait, 0.0)
    while True:
        holder = try_acquire(database, name, owner, ttl=ttl, info=info, clock=clock)
        if holder is None:
            break
        if time.monotonic() >= deadline:
            raise LockBusyError(
                f"the {name} lock is held by {holder.describe(clock())}"
                f"{f'; waited {wait:g} s' if wait else ''}; try again later"
            )
        time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.01)))
    lease = HeldLease(database, name, owner, ttl=ttl, clock=clock, info=info or {}, heartbeat_seconds=heartbeat_seconds)
    lease.start_heartbeat()
    try:
        yield lease
    finally:
        try:
            lease.release()
        except Exception:  # noqa: BLE001 - the row expires on its own; don't mask the block's error
            log.warning("could not release the %s lease; it expires by itself", name, exc_info=True)
