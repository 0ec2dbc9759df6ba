"""Database leases: one holder, clear refusals, takeover of expired or dead holders, races."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers beside this file

from service_support import REPO, FakeClock, holder_of, utc

from crawler.errors import LockBusyError
from crawler.locks import hold_lease, lease_holder, make_owner, parse_owner, try_acquire
from crawler.store import Database
from crawler.store.models import Lease


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def plant(database: Database, name: str, owner: str, *, at: datetime, ttl: timedelta = timedelta(minutes=2)) -> None:
    with database.session() as session:
        session.add(Lease(name=name, owner=owner, acquired_at=at, heartbeat_at=at, expires_at=at + ttl, info={}))


def test_hold_and_release(database):
    with hold_lease(database, "crawl", info={"purpose": "`bantin crawl`"}) as lease:
        held = holder_of(database, "crawl")
        assert held.owner == lease.owner
        assert held.host == socket.gethostname()
        assert held.info == {"purpose": "`bantin crawl`"}
    assert lease_holder(database, "crawl") is None


def test_busy_lease_names_the_holder(database):
    with hold_lease(database, "crawl", info={"purpose": "`bantin serve`"}):
        with pytest.raises(LockBusyError) as caught:
            with hold_lease(database, "crawl"):
                pass
    message = str(caught.value)
    assert "crawl lock" in message and "`bantin serve`" in message
    assert f"host {socket.gethostname()}" in message and "pid" in message and "since" in message
    assert caught.value.exit_code == 75


def test_different_names_do_not_conflict(database):
    with hold_lease(database, "crawl"), hold_lease(database, "digest"):
        assert holder_of(database, "crawl").owner != holder_of(database, "digest").owner


def test_release_on_error(database):
    with pytest.raises(RuntimeError):
        with hold_lease(database, "digest"):
            raise RuntimeError("boom")
    assert lease_holder(database, "digest") is None


def test_expired_lease_of_another_host_is_taken_over(database):
    clock = FakeClock(utc(2025, 3, 27, 0, 0))
    plant(database, "crawl", "otherhost:4242:abc", at=clock.now - timedelta(minutes=5))
    with hold_lease(database, "crawl", clock=clock) as lease:
        assert holder_of(database, "crawl").owner == lease.owner


def test_live_lease_of_another_host_is_respected(database):
    clock = FakeClock(utc(2025, 3, 27, 0, 0))
    plant(database, "crawl", "otherhost:4242:abc", at=clock.now - timedelta(seconds=30))
    with pytest.raises(LockBusyError, match="otherhost"):
        with hold_lease(database, "crawl", clock=clock):
            pass
    clock.advance(120)  # its TTL runs out: no heartbeat came
    with hold_lease(database, "crawl", clock=clock):
        pass


def test_dead_process_on_this_host_is_taken_over_before_expiry(database):
    clock = FakeClock(utc(2025, 3, 27, 0, 0))
    plant(database, "crawl", f"{socket.gethostname()}:{dead_pid()}:abc", at=clock.now)
    with hold_lease(database, "crawl", clock=clock) as lease:
        assert holder_of(database, "crawl").owner == lease.owner


def test_wait_gets_the_lease_when_released(database):
    first = hold_lease(database, "digest")
    first.__enter__()
    timer = threading.Timer(0.3, first.__exit__, args=(None, None, None))
    timer.start()
    with hold_lease(database, "digest", wait=20) as lease:
        assert holder_of(database, "digest").owner == lease.owner
    timer.join()


def test_heartbeat_renews_and_detects_loss(database):
    clock = FakeClock(utc(2025, 3, 27, 0, 0))
    with hold_lease(database, "service", clock=clock, heartbeat_seconds=3600) as lease:
        clock.advance(90)
        assert lease.renew()
        assert holder_of(database, "service").expires_at == clock.now + timedelta(minutes=2)
        assert lease.update_info(next_runs={"crawl": "x"})
        assert holder_of(database, "service").info["next_runs"] == {"crawl": "x"}
        # Stalled past the TTL: someone else takes over; our next renewal notices.
        clock.advance(600)
        assert try_acquire(database, "service", "elsewhere:1:z", clock=clock) is None
        assert not lease.renew()
        assert lease.lost.is_set()
    # Releasing a lost lease leaves the new holder alone.
    assert holder_of(database, "service").owner == "elsewhere:1:z"


def test_owner_strings():
    host, pid = parse_owner(make_owner())
    assert host == socket.gethostname()
    assert pid is not None and pid > 0
    assert parse_owner("fe80::1:123:abcd") == ("fe80::1", 123)


def test_thread_race_has_one_winner(database_url):
    databases = [Database(database_url) for _ in range(8)]
    barrier = threading.Barrier(len(databases))
    winners: list[str] = []

    def contend(db: Database, index: int) -> None:
        owner = f"racer:{index}:x"
        barrier.wait()
        if try_acquire(db, "crawl", owner) is None:
            winners.append(owner)

    threads = [threading.Thread(target=contend, args=(db, i)) for i, db in enumerate(databases)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    assert holder_of(databases[0], "crawl").owner == winners[0]
    for db in databases:
        db.dispose()


def test_takeover_race_has_one_winner(database_url):
    """Several racers find the same expired lease: only one takes it over."""
    databases = [Database(database_url) for _ in range(6)]
    clock = FakeClock(utc(2025, 3, 27, 0, 0))
    plant(databases[0], "crawl", "gone:1:x", at=clock.now - timedelta(hours=1))
    barrier = threading.Barrier(len(databases))
    winners: list[int] = []

    def contend(db: Database, index: int) -> None:
        barrier.wait()
        if try_acquire(db, "crawl", f"racer:{index}:x", clock=clock) is None:
            winners.append(index)

    threads = [threading.Thread(target=contend, args=(db, i)) for i, db in enumerate(databases)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    for db in databases:
        db.dispose()


RACER = r"""
import sys, time
sys.path.insert(0, {repo!r})
from crawler.store import Database
from crawler.errors import LockBusyError
from crawler.locks import hold_lease
db = Database(sys.argv[1])
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
try:
    with hold_lease(db, "crawl"):
        print("won", flush=True)
        sys.stdin.readline()  # hold until the test closes stdin
except LockBusyError:
    print("busy", flush=True)
    sys.exit(75)
"""


def test_process_race_has_one_winner(database, tmp_path):
    import time

    script = tmp_path / "racer.py"
    script.write_text(RACER.format(repo=str(REPO)), encoding="utf-8")
    start = time.time() + 1.5
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), database.url, str(start)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    lines = []
    for process in processes:
        assert process.stdout is not None  # stdout=PIPE
        lines.append(process.stdout.readline().strip())
    for process in processes:
        assert process.stdin is not None  # stdin=PIPE
        process.stdin.close()
        process.wait(timeout=30)
    assert sorted(lines) == ["busy", "busy", "busy", "won"]
    assert sorted(process.returncode for process in processes) == [0, 75, 75, 75]
    assert lease_holder(database, "crawl") is None
