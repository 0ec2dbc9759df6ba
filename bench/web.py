"""Web benchmark: page, search and feed latency of `bantin web` under concurrent clients on loopback.

    python -m bench.web [--articles 100000] [--clients 20] [--requests 200] [--workers 1] [--database-url URL]
                        [--keep | --reuse FOLDER]

Fills a throw-away archive with N synthetic articles (bench.archive's generator, with its index),
matches one topic over it, starts `bantin web` in its own process (`--workers` uvicorn workers,
one by default), logs in, then runs `--clients` threads on keep-alive connections that together send
`--requests` requests of each kind, interleaved:

* page: an archive page at a random keyset position (50 articles) or an article page;
* search: the archive search with the topic query language (a common phrase, a rare one, a folded word);
* feed: the topic's Atom feed, built in full (no If-None-Match).

Prints per kind the server's own time (its Server-Timing header: from the request's arrival to the
response's start) against the targets, and the end-to-end latency a client saw, queueing behind the
other clients included. `--reuse FOLDER` fills an archive there the first time and serves that
same archive on later runs (a run that changes only the app need not fill 100,000 articles again).
A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from bench.archive import COMMON, NOW, RARE, fill
from crawler.config import parse_config, topic_key
from crawler.store import Database
from crawler.tokens import make_key
from crawler.topics import prepare_topics
from crawler.web.security import hash_password

TARGETS_MS = {"page": 50, "search": 250, "feed": 100}
TOPIC = "Công nghiệp hỗ trợ"
SEARCHES = [COMMON, RARE, "cong nghiep ho tro", '"Quảng Ninh" OR "Hạ Long"']
SECRET = "bench-signing-secret-" + "x" * 24
PASSWORD = "bench admin password"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config_text(url: str, port: int) -> str:
    return (
        f'[storage]\ndatabase_url = "{url}"\n'
        f'[web]\npublic_url = "http://127.0.0.1:{port}"\nsecret_env = "BENCH_WEB_SECRET"\n'
        'admin_password_env = "BENCH_WEB_ADMIN_HASH"\n'
        f"[[topics]]\nname = \"{TOPIC}\"\nquery = '{COMMON}'\n"
    )


def _start(config_path: Path, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "BENCH_WEB_SECRET": SECRET, "BENCH_WEB_ADMIN_HASH": hash_password(PASSWORD)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler",
            "--config",
            str(config_path),
            "-q",
            "web",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(600):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            if process.poll() is not None:
                assert process.stderr is not None  # stderr=PIPE
                raise SystemExit(f"bantin web did not start: {process.stderr.read().decode()[-1000:]}") from None
            time.sleep(0.1)
    raise SystemExit("bantin web did not answer in 60 s")


def _login(port: int) -> str:
    """The session cookie header of a logged-in admin."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/login")
    response = connection.getresponse()
    page = response.read().decode()
    nonce = re.search(r"bantin_login=([^;]+)", response.getheader("set-cookie", ""))
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    if nonce is None or token is None:
        raise SystemExit(f"the login page set no login cookie or has no form token: {response.status}")
    body = urlencode({"csrf": token.group(1), "password": PASSWORD, "next": "/admin"})
    connection.request(
        "POST",
        "/login",
        body=body,
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "cookie": f"bantin_login={nonce.group(1)}",
            "origin": f"http://127.0.0.1:{port}",
        },
    )
    response = connection.getresponse()
    response.read()
    session = re.search(r"bantin_admin=([^;]+)", response.getheader("set-cookie", ""))
    if response.status != 303 or session is None:
        raise SystemExit(f"login failed: {response.status}")
    return f"bantin_admin={session.group(1)}"


def _plan(count: int, requests: int, feed_path: str, rng: random.Random) -> list[tuple[str, str]]:
    plan = []
    for number in range(requests):
        if number % 2:
            plan.append(("page", f"/admin/articles/{rng.randint(1, count)}"))
        else:
            plan.append(("page", f"/admin/articles?before={rng.randint(2, count)}"))
        plan.append(("search", "/admin/articles?q=" + quote(SEARCHES[number % len(SEARCHES)])))
        plan.append(("feed", feed_path))
    rng.shuffle(plan)
    return plan


def _run(port: int, cookie: str, plan: list[tuple[str, str]], clients: int):
    """(end-to-end ms, server ms from its Server-Timing header) per kind of request."""
    times: dict[str, list[float]] = {kind: [] for kind in TARGETS_MS}
    server: dict[str, list[float]] = {kind: [] for kind in TARGETS_MS}
    failures: list[str] = []
    lock = threading.Lock()
    work = iter(plan)

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                item = next(work, None)
            if item is None:
                break
            kind, path = item
            started = time.perf_counter()
            connection.request("GET", path, headers={"cookie": cookie})
            response = connection.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            timing = re.search(r"dur=([\d.]+)", response.getheader("server-timing", ""))
            with lock:
                if response.status != 200 or timing is None:
                    failures.append(f"{response.status} {path}")
                    continue
                times[kind].append(elapsed)
                server[kind].append(float(timing.group(1)))
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} request(s) failed, e.g. {failures[:3]}")
    return times, server


def _filled(database: Database, articles: int) -> bool:
    """Whether the archive holds the `articles` synthetic articles and the topic matched over them."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from crawler.store.archive import stored_topics
    from crawler.store.models import ArticleRow

    try:
        with database.session(write=False) as session:
            count = session.scalar(select(func.count()).select_from(ArticleRow))
            topic = stored_topics(session).get(TOPIC)
    except SQLAlchemyError:
        return False
    return count == articles and topic is not None and topic.matched_version is not None


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200, help="Requests of each kind, all clients together.")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of `bantin web`.")
    parser.add_argument("--database-url", help="An empty database to fill (default: SQLite in a temporary folder).")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder.")
    parser.add_argument(
        "--reuse", type=Path, metavar="FOLDER", help="Fill the SQLite archive in FOLDER once, then serve it as it is."
    )
    args = parser.parse_args(argv)

    folder = args.reuse or Path(tempfile.mkdtemp(prefix="bantin-bench-web-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{folder / 'archive.sqlite3'}"
    port = _free_port()
    config_path = folder / "bantin.toml"
    config_path.write_text(_config_text(url, port), encoding="utf-8")
    database = Database(url)
    # The topic is matched last: its stored version says the archive was filled in full.
    if args.reuse is not None and _filled(database, args.articles):
        print(f"reusing the {args.articles} articles of {database.describe()}", flush=True)
    else:
        print(f"filling {args.articles} articles into {database.describe()}", flush=True)
        fill(database, args.articles)
        started = time.perf_counter()
        prepare_topics(database, parse_config(config_path.read_text(encoding="utf-8")).topics, now=NOW)
        print(f"  matched the topic in {time.perf_counter() - started:.1f} s", flush=True)
    database.dispose()
    process = _start(config_path, port, args.workers)
    try:
        cookie = _login(port)
        feed_path = f"/feeds/topic/{make_key(SECRET.encode(), 'topic-feed', topic_key(TOPIC))}.atom"
        # One untimed round warms the caches (SQLite pages, compiled statements, templates).
        _run(port, cookie, _plan(args.articles, 5, feed_path, random.Random(1)), 1)
        # Side by side in one run: one client alone (the app's own cost), then all of them at once.
        for clients, requests in ((1, max(1, args.requests // 4)), (args.clients, args.requests)):
            began = time.perf_counter()
            times, server = _run(
                port, cookie, _plan(args.articles, requests, feed_path, random.Random(clients)), clients
            )
            _report(times, server, clients, time.perf_counter() - began, args.articles, args.workers)
    finally:
        process.terminate()
        process.wait(timeout=30)
    if args.keep or args.reuse is not None:
        print(f"kept {folder}")
    else:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    return 0


def _report(
    times: dict[str, list[float]],
    server: dict[str, list[float]],
    clients: int,
    wall: float,
    articles: int,
    workers: int,
) -> None:
    total = sum(len(values) for values in times.values())
    print(
        f"\n{clients} concurrent client(s), {total} requests in {wall:.1f} s ({total / wall:.0f}/s), "
        f"{workers} uvicorn worker(s), {articles} articles"
    )
    print(
        f"  {'kind':8} {'n':>5} {'server p50':>11} {'server p95':>11} {'target':>8}   "
        f"{'end-to-end p50':>15} {'p95':>8} {'max':>8}  (ms)"
    )
    for kind, values in times.items():
        p95 = _p95(server[kind])
        verdict = "ok" if p95 <= TARGETS_MS[kind] else "OVER"
        print(
            f"  {kind:8} {len(values):5d} {statistics.median(server[kind]):11.1f} {p95:11.1f} "
            f"{'<= ' + str(TARGETS_MS[kind]):>8} {verdict:4} {statistics.median(values):15.1f} {_p95(values):8.1f} "
            f"{max(values):8.1f}"
        )
    print(
        "  (server: the app's own time per request, Server-Timing; end-to-end: what a client waited, queueing included)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
