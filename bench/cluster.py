"""Cluster benchmark: three `bantin worker`s against one on politeness-bound outlets, and the digest fan-out.

    python -m bench.cluster [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
                            [--per-day 20] [--delay 0.25] [--recipients 2000] [--quick]
                            [--crawl-only | --digest-only]

Prints, from one run on throw-away databases (created on the server given, dropped after):

(a) crawl speed-up: the issue's twelve outlets -- the four registered outlets' look-alikes and the sample
    site's eight sister outlets, registered as an outside site package that the workers' crawl children
    find through PYTHONPATH (``crawler.samplesite.sisters``), all served by one sample-site process --
    each crawl bound by `download_delay`, crawled once by one worker (concurrency 1) and once by three
    workers (concurrency 1 each), side by side: wall time from queueing to the last ledger row closed,
    and the ratio;
(b) death to retry: a worker SIGKILLed in the middle of a crawl; seconds from the kill to its job
    running again on another worker (its new ledger row), with the stall timeout and sweep period used
    (three of the outlets on three workers with a free slot each: with none free, the job waits for one);
(c) outbox rows built per second by one build job (in this process) for `--recipients` readers, set up as
    readers usually are: each with their own name (varied Vietnamese names, some with & < > " so escaping is
    paid for), spread over seven topic sets drawn from four topics (one in five readers in English), and
    signed per-reader unsubscribe and preferences links (``[web] public_url`` and a secret file) -- not
    identical nameless readers, which let the build compose and render one digest for all of them;
(d) messages per second sent by three sender workers to a loopback SMTP sink: ``LoopbackSink``, a lean
    asyncio SMTP server in this process (a real SMTP conversation over TCP, each message read to its final
    dot and counted with its Message-ID), not aiosmtpd (the tests' sink): on a 2-core machine aiosmtpd took
    two thirds of a core, as much as a sender, and the figure measured its CPU as much as the senders'.
    Every row must have reached the sink with its own Message-ID, or the run fails.

A benchmark, not a test: it never fails on its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from crawler.clock import utcnow
from crawler.crawl.run import python_module_command
from crawler.samplesite import DEMO_TOPICS, topics_toml
from crawler.samplesite.outlets import OUTLETS as REGISTERED
from crawler.samplesite.sisters import CLUSTER_OUTLETS, SISTER_IDS, child_environment, write_sister_sites

REPO = Path(__file__).resolve().parent.parent
OUTLETS = CLUSTER_OUTLETS


# The demo topics and two more the sample sites write about: seven topic sets readers spread over.
BENCH_TOPICS = [*DEMO_TOPICS, ("Chuyển đổi số", '"chuyển đổi số"'), ("Quảng Nam", '"Quảng Nam"')]
TOPIC_SETS = [None, [0], [1], [2, 3], [0, 1], [1, 2, 3], [0, 3]]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
MIDDLE = ["Văn", "Thị", "Minh", "Đức", "Ngọc", "Thanh", "Quốc", "Hữu"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Khánh", "Lan", "Mai", "Nam", "Phương", "Quân", "Thảo", "Yến"]
# Names a reader might give that HTML and headers must escape or encode.
ODD = ["Công ty A&B", "Tổ <Kinh tế>", 'Chị "Hoa"', "Phòng R&D <Hà Nội>"]


def bench_readers(count: int) -> str:
    """`[[recipients]]` tables: each reader named, on one of `TOPIC_SETS`, every fifth in English."""
    tables = []
    for index in range(count):
        name = (
            ODD[index // 11 % len(ODD)]
            if index % 11 == 0
            else (f"{FAMILY[index % len(FAMILY)]} {MIDDLE[index // 3 % len(MIDDLE)]} {GIVEN[index // 7 % len(GIVEN)]}")
        )
        topics = TOPIC_SETS[index % len(TOPIC_SETS)]
        table = f'[[recipients]]\nemail = "reader{index:05d}@example.org"\nname = {_toml_string(name)}\n'
        if topics is not None:
            table += "topics = [" + ", ".join(_toml_string(BENCH_TOPICS[topic][0]) for topic in topics) + "]\n"
        if index % 5 == 4:
            table += 'language = "en"\n'
        tables.append(table)
    return "".join(tables)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextmanager
def fresh_database(server_url: str):
    base = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"bantin_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def sample_sites(per_day: int, days: int):
    command = [*python_module_command(), "crawler.samplesite", "serve", "--days", str(days), "--per-day", str(per_day)]
    for outlet in REGISTERED:
        command += ["--site", outlet]
    command += ["--sisters", str(len(SISTER_IDS))]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    try:
        assert process.stdout is not None
        urls = [process.stdout.readline().strip() for _ in OUTLETS]
        yield dict(zip(OUTLETS, urls, strict=True))
    finally:
        process.terminate()
        process.wait(timeout=30)


def write_config(path: Path, database_url: str, sites: dict[str, str], delay: float, extra: str = "") -> Path:
    entries = "".join(
        f'[[sites]]\nid = "{site}"\nbase_url = "{url}"\ndownload_delay = {delay}\n' for site, url in sites.items()
    )
    path.write_text(
        f"""{entries}
[storage]
database_url = "{database_url}"
[crawl]
autothrottle = false
concurrency = 1
lookback_days = 30
[schedule]
crawl = "0 4 * * *"
digest = "0 5 * * *"
[cluster]
enabled = true
heartbeat_seconds = 1
stalled_after_seconds = 3
sweep_seconds = 1
plan_seconds = 1
{extra}
""",
        encoding="utf-8",
    )
    return path


class Workers:
    def __init__(self, config: Path, names: list[str], *args: str):
        self.logs = tempfile.TemporaryDirectory()
        self.processes: dict[str, subprocess.Popen] = {}
        for name in names:
            log = open(Path(self.logs.name) / f"{name}.log", "wb")
            self.processes[name] = subprocess.Popen(
                [*python_module_command(), "crawler", "--config", str(config), "worker", "--name", name, *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        self.wait_started(names)

    def wait_started(self, names: list[str]) -> None:
        for name in names:
            path = Path(self.logs.name) / f"{name}.log"
            wait(lambda path=path: "event=started" in path.read_text(errors="replace"), 60)

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
        self.logs.cleanup()


def wait(predicate, timeout: float, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise SystemExit("bench.cluster: timed out (see the worker logs)")


def queue_crawls(config, database) -> None:
    """One crawl job per outlet, as `bantin serve` queues them at the crawl's fire time."""
    from crawler.locks import crawl_lease
    from scheduler.cluster import queue

    app = queue.make_app(database.url)
    app.open()
    try:
        for entry in config.enabled_sites():
            queue.defer(app, queue.CRAWL_TASK, queueing_lock=crawl_lease(entry.id), site=entry.id, reason="bench")
    finally:
        app.close()


def closed_runs(database) -> list:
    from crawler.store.models import CrawlRun

    with database.session() as session:
        return list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))


def crawl_round(server: str, sites: dict[str, str], delay: float, workers: int, tmp: Path) -> float:
    """Seconds from queueing every outlet's crawl to the last ledger row closed."""
    from crawler.config import load_config
    from crawler.store import Database

    with fresh_database(server) as url:
        config_path = write_config(tmp / f"crawl{workers}.toml", url, sites, delay)
        config = load_config(config_path)
        database = Database(url)
        running = Workers(
            config_path, [f"w{index}" for index in range(1, workers + 1)], "--concurrency", "1", "--queues", "crawl"
        )
        try:
            started = time.monotonic()
            queue_crawls(config, database)
            wait(lambda: len([run for run in closed_runs(database) if run.status != "running"]) == len(sites), 600)
            elapsed = time.monotonic() - started
            # A round timed on crawls that failed or were cut off would time less than the work.
            failed = {run.site: run.status for run in closed_runs(database) if run.status != "ok"}
            if failed:
                raise SystemExit(f"bench.cluster: crawls did not end ok: {failed}")
        finally:
            running.stop()
            database.dispose()
    return elapsed


def death_to_retry(server: str, sites: dict[str, str], delay: float, tmp: Path) -> tuple[float, str]:
    from crawler.config import load_config
    from crawler.store import Database

    # Three outlets on three workers' six slots, so that the others have a free slot: the figure is the recovery,
    # not the wait for a worker to finish a crawl (the twelve would keep every slot busy: 20 s on 2026-12-03).
    sites = dict(list(sites.items())[:3])
    with fresh_database(server) as url:
        config_path = write_config(tmp / "death.toml", url, sites, delay)
        config = load_config(config_path)
        database = Database(url)
        running = Workers(config_path, ["w1", "w2", "w3"], "--concurrency", "2", "--queues", "crawl")
        try:
            queue_crawls(config, database)
            victim = wait(
                lambda: next(
                    (run for run in closed_runs(database) if run.status == "running" and run.worker == "w2"), None
                ),
                120,
            )
            time.sleep(1.0)
            running.kill("w2")
            killed_at = time.monotonic()
            wait(
                lambda: any(run.job_id == victim.job_id and run.worker != "w2" for run in closed_runs(database)),
                300,
                poll=0.02,
            )
            elapsed = time.monotonic() - killed_at
        finally:
            running.stop()
            database.dispose()
    cluster = config.cluster
    return elapsed, f"stall timeout {cluster.stalled_after_seconds:g} s, sweep every {cluster.sweep_seconds} s"


def digest_rounds(server: str, sites: dict[str, str], recipients: int, tmp: Path) -> tuple[float, float, float, int]:
    """(outbox rows built per second by one build job, its CPU seconds per row, messages per second by three
    senders, rows)."""
    from crawler.config import load_config
    from crawler.store import Database
    from crawler.store.models import OutboxMessage
    from reports.fanout import build_shard, prepare_fanout
    from scheduler.cluster import queue
    from spiders.registry import sites as sites_registry

    sink = LoopbackSink().start()
    port = sink.port
    # A file, not the environment: the worker processes read the configuration too.
    secret = tmp / "web-secret"
    secret.write_text(uuid.uuid4().hex * 2, encoding="utf-8")
    extra = (
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n[digest]\n'
        f'unsubscribe_mailto = "u@example.org"\n[web]\npublic_url = "https://bantin.example.org"\n'
        f'secret_file = "{secret}"\n{topics_toml(BENCH_TOPICS)}{bench_readers(recipients)}'
    )
    try:
        with fresh_database(server) as url:
            config_path = write_config(tmp / "digest.toml", url, sites, 0.0, "batch_size = 50\n" + extra)
            config = load_config(config_path)
            database = Database(url)
            crawl = Workers(config_path, ["c1", "c2", "c3"], "--concurrency", "1", "--queues", "crawl")
            try:
                queue_crawls(config, database)
                wait(lambda: len([r for r in closed_runs(database) if r.status != "running"]) == len(sites), 600)
            finally:
                crawl.stop()
            now = utcnow()
            prepare_fanout(config, database, now=now)
            # A worker has the site registry loaded before any job (it checks [[sites]] against it when it reads
            # the configuration): its first load (every site package, Scrapy) is not the build's.
            sites_registry()
            started, cpu = time.perf_counter(), time.process_time()
            built = build_shard(config, database, now=now, shard=0, shards=1)
            build_rate = built.queued / (time.perf_counter() - started)
            build_cpu = (time.process_time() - cpu) / max(built.queued, 1)
            senders = Workers(config_path, ["s1", "s2", "s3"], "--concurrency", "1", "--queues", "digest")
            try:
                app = queue.make_app(url)
                app.open()
                started = time.perf_counter()
                for index in range(3):
                    queue.defer(app, queue.SEND_TASK, queueing_lock=f"bench:{index}")
                app.close()

                def sent() -> int:
                    with database.session() as session:
                        return session.execute(
                            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
                        ).scalar_one()

                wait(lambda: sent() == built.queued, 600, poll=0.02)
                send_rate = built.queued / (time.perf_counter() - started)
            finally:
                senders.stop()
                database.dispose()
    finally:
        sink.stop()
    if sink.received < built.queued or len(sink.message_ids) < built.queued:
        raise SystemExit(f"bench.cluster: the sink got {sink.received} messages for {built.queued} rows")
    return build_rate, build_cpu, send_rate, built.queued


class LoopbackSink:
    """A lean SMTP server on loopback for the send benchmark: the conversation smtplib holds (EHLO, MAIL, RCPT,
    DATA read to the terminating dot, RSET, QUIT) over TCP, counting the messages and their Message-IDs.

    aiosmtpd (the tests' sink) parses and dispatches every command through its own machinery: on a 2-core
    machine it took two thirds of a core, as much as a sender, so the figure was partly the sink's. This one
    reads each message with one buffered search for the final CRLF "." CRLF.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self.received = 0
        self.message_ids: set[str] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smtp-sink", daemon=True)

    def start(self) -> LoopbackSink:
        # A message is read whole into the stream's buffer: room for the largest digest (its HTML is budgeted).
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._session, self.host, self.port, limit=16 * 1024 * 1024), self._loop
        )
        self._thread.start()
        self._server = server.result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 bench ESMTP\r\n")
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"EHLO":
                    writer.write(b"250-bench\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 HELP\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 end with <CRLF>.<CRLF>\r\n")
                    self._count(await reader.readuntil(b"\r\n.\r\n"))
                    writer.write(b"250 OK\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                    writer.write(b"250 OK\r\n")
                else:
                    writer.write(b"500 unknown command\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _count(self, message: bytes) -> None:
        self.received += 1
        head = message.partition(b"\r\n\r\n")[0]
        found = re.search(rb"^Message-ID: *(\S+)", head, re.IGNORECASE | re.MULTILINE)
        if found:
            self.message_ids.add(found.group(1).decode("ascii", "replace"))


def register_sisters(directory: Path) -> None:
    """The sister outlets' sites, known to this process's registry (configurations name them) and to the workers
    and crawl children it starts (through PYTHONPATH, as an installed site package would be)."""
    from spiders import registry

    path = write_sister_sites(directory)
    sys.path.insert(0, str(path))
    registry.sites.cache_clear()
    os.environ["PYTHONPATH"] = child_environment(path)["PYTHONPATH"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BANTIN_TEST_POSTGRES_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="a PostgreSQL server (throw-away databases are created on it)",
    )
    parser.add_argument("--per-day", type=int, default=20, help="articles per outlet per day (2 days)")
    parser.add_argument("--delay", type=float, default=0.25, help="download_delay of every outlet (politeness)")
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="a small run (smoke test)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--crawl-only", action="store_true", help="only (a) and (b): the crawls")
    only.add_argument("--digest-only", action="store_true", help="only (c) and (d): the digest fan-out")
    args = parser.parse_args(argv)
    if args.quick:
        args.per_day, args.delay, args.recipients = 4, 0.1, 60
    with tempfile.TemporaryDirectory() as folder, sample_sites(args.per_day, 2) as sites:
        tmp = Path(folder)
        register_sisters(tmp / "sisters")
        print(
            f"cluster benchmark: {len(sites)} outlets x {2 * args.per_day} articles, download_delay "
            f"{args.delay:g} s, one sample-site process; PostgreSQL {make_url(args.database_url).host}"
        )
        if not args.digest_only:
            one = crawl_round(args.database_url, sites, args.delay, 1, tmp)
            three = crawl_round(args.database_url, sites, args.delay, 3, tmp)
            print(
                f"  crawl: 1 worker {one:.1f} s, 3 workers {three:.1f} s: speed-up {one / three:.2f}x "
                f"(ideal {min(3, len(sites))}x with {len(sites)} outlets)"
            )
            retry, settings = death_to_retry(args.database_url, sites, args.delay, tmp)
            print(f"  death to retry: {retry:.1f} s from SIGKILL to the job running on another worker ({settings})")
        if args.crawl_only:
            return 0
        build_rate, build_cpu, send_rate, rows = digest_rounds(args.database_url, sites, args.recipients, tmp)
        print(
            f"  digest build: {build_rate:.0f} outbox rows/s by one build job ({rows} readers), "
            f"{build_cpu * 1000:.2f} ms CPU per row"
        )
        print(f"  digest send: {send_rate:.0f} messages/s by 3 senders to a loopback SMTP sink")
    return 0


if __name__ == "__main__":
    sys.exit(main())
