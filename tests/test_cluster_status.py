"""`bantin status` in cluster mode, on a cluster in trouble and on a healthy one (in-process, PostgreSQL).

The rows other machines leave are written as they write them: worker leases
naming their procrastinate worker ids, crawl leases, ledger rows, jobs taken
by a worker. The command's JSON, its text and its exit status are checked.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from crawler.clock import utcnow
from crawler.locks import crawl_lease
from scheduler.cluster import queue
from scheduler.cluster.tasks import WORKER_LEASE_PREFIX
from spiders.registry import everyday_sources
from tests import cluster_support
from tests.cli_support import run
from tests.cluster_support import (  # noqa: F401 - pg_url: a fixture
    ELSEWHERE,
    add_run,
    cluster_toml,
    crawl_job,
    hold,
    pg_url,
    register_worker,
    stall,
)

pytestmark = pytest.mark.postgres

# Fixtures, found by pytest as module attributes: a database and the App opened as a worker opens it.
cluster_db, app = cluster_support.cluster_db, cluster_support.app

A, B, C = "nhandan", "vietnamplus", "tienphong"
SITES = {site: f"http://127.0.0.1:9/{site}/" for site in (A, B, C)}
# `stall` leaves a heartbeat a minute old: stalled. A worker registered by the test beats "now", and stays
# un-stalled for half a minute, however slowly the test gets to `bantin status`.
STALLED_AFTER = 30


@pytest.fixture
def config(tmp_path, cluster_db):
    toml = cluster_toml(cluster_db.url, sites=SITES)
    assert "stalled_after_seconds = 2\n" in toml
    path = tmp_path / "bantin.toml"
    path.write_text(toml.replace("stalled_after_seconds = 2\n", f"stalled_after_seconds = {STALLED_AFTER}\n"))
    # Every outlet crawled an hour ago: the one-machine health rules have nothing to say.
    crawled = utcnow() - timedelta(hours=1)
    for site in SITES:
        counts = {source: {"discovered": 3, "fetched": 3, "new": 3} for source in everyday_sources(site)}
        add_run(
            cluster_db,
            site,
            status="ok",
            started_at=crawled,
            finished_at=crawled + timedelta(minutes=3),
            counts=counts,
        )
    return path


def status(capsys, config) -> tuple[int, dict, int, str]:
    """(exit status, JSON report, exit status, text) of `bantin status`, as JSON then as text."""
    code, out, err = run(capsys, "--config", str(config), "status", "--format", "json")
    assert err == "", err
    text_code, text, err = run(capsys, "--config", str(config), "status")
    assert err == "", err
    return code, json.loads(out), text_code, text


def worker_info(name: str, worker_id: int, running: list[str] | None = None) -> dict:
    """What a `bantin worker` publishes in its lease (scheduler/cluster/worker.py)."""
    return {
        "name": name,
        "queues": ["crawl", "digest"],
        "concurrency": 1,
        "worker_ids": [worker_id],
        "running": running or [],
    }


def test_a_cluster_in_trouble_is_reported_in_json_and_text_and_exits_1(capsys, config, cluster_db, app):
    now = utcnow()
    # w-dead was killed five minutes ago on another machine: its lease ran out, its procrastinate row is silent,
    # and the crawl of A it was running is stalled.
    dead = register_worker(app)
    hold(
        cluster_db,
        f"{WORKER_LEASE_PREFIX}dead",
        now=now - timedelta(minutes=5),
        ttl=timedelta(minutes=1),
        info=worker_info("w-dead", dead, [f"crawl {A}"]),
    )
    stalled = crawl_job(app, dead, A)
    stall(cluster_db, dead)
    # B is being crawled on another machine: its job taken by a procrastinate worker that beats (whose bantin
    # lease is not published yet), its crawl lease held, its ledger row running; its next crawl waits behind it.
    busy = register_worker(app)
    running_b = crawl_job(app, busy, B)
    hold(cluster_db, crawl_lease(B), now=now, ttl=timedelta(minutes=10))
    run_b = add_run(cluster_db, B, hostname=ELSEWHERE, pid=4242, started_at=now, heartbeat_at=now, job_id=running_b)
    queued_b = crawl_job(app, None, B)
    queued_c = crawl_job(app, None, C)

    code, report, text_code, text = status(capsys, config)
    assert (code, text_code) == (1, 1) and report["healthy"] is False
    cluster = report["cluster"]
    [gone] = cluster["workers"]
    assert (gone["name"], gone["host"], gone["alive"], gone["running"]) == ("w-dead", ELSEWHERE, False, [f"crawl {A}"])
    assert cluster["queues"] == {"crawl": {"doing": 2, "todo": 2}}
    [job] = cluster["stalled"]
    assert (job["id"], job["task"], job["args"], job["worker_id"]) == (stalled, queue.CRAWL_TASK, {"site": A}, dead)
    # procrastinate's id alone names no machine: the worker whose lease lists it does.
    assert job["worker"] == {"name": "w-dead", "host": ELSEWHERE, "pid": 4242}
    sites = {site["site"]: site for site in cluster["sites"]}
    assert {name: (site["queued"], site["running"]) for name, site in sites.items()} == {
        A: ([], [stalled]),
        B: ([queued_b], [running_b]),
        C: ([queued_c], []),
    }
    assert [name for name, site in sites.items() if site["crawling"]] == [B]
    assert (sites[B]["crawling"]["host"], sites[B]["crawling"]["pid"]) == (ELSEWHERE, 4242)
    assert (sites[B]["last_run"]["id"], sites[B]["last_run"]["status"]) == (run_b, "running")
    assert sites[B]["last_run"]["job_id"] == running_b
    # The cluster's warnings are the report's, and the only ones (every outlet was crawled an hour ago).
    assert report["warnings"] == cluster["warnings"]
    assert [warning["code"] for warning in report["warnings"]] == ["no_worker", "worker_gone", "job_stalled"]
    messages = [warning["message"] for warning in report["warnings"]]
    assert messages[0].startswith("no `bantin worker` is running")
    assert messages[1].startswith(f"worker w-dead on {ELSEWHERE} stopped without unregistering")
    assert messages[2].startswith(
        f"job #{stalled} ({queue.CRAWL_TASK}) is stalled: its worker w-dead on {ELSEWHERE} sends no heartbeat"
    )

    assert "Cluster: 0 worker(s) running" in text
    assert f"  w-dead on {ELSEWHERE} (pid 4242) GONE, queues crawl,digest x1" in text
    assert "Queues:\n  crawl        2 doing, 2 todo" in text
    assert (
        f"Stalled jobs:\n  #{stalled} {queue.CRAWL_TASK} {{'site': '{A}'}} "
        f"(worker w-dead on {ELSEWHERE}, procrastinate worker {dead}, started "
    ) in text
    assert f"  {A}: idle; 0 queued, 1 running; last run #" in text
    assert f"  {B}: crawling on {ELSEWHERE} (pid 4242) since " in text
    assert f"; 1 queued, 1 running; last run #{run_b} running (job {running_b})" in text
    assert "Health: 3 warning(s)" in text
    for message in messages:
        assert f"  ! {message}" in text


def test_a_stalled_job_of_an_unknown_worker_shows_procrastinate_s_id(capsys, config, cluster_db, app):
    # Its worker never published a lease (or the lease was pruned): nothing but the id to show.
    nameless = register_worker(app)
    stalled = crawl_job(app, nameless, A)
    stall(cluster_db, nameless)
    code, report, _text_code, text = status(capsys, config)
    assert code == 1
    [job] = report["cluster"]["stalled"]
    assert (job["id"], job["worker_id"], job["worker"]) == (stalled, nameless, None)
    assert "is stalled: its worker sends no heartbeat" in report["warnings"][-1]["message"]
    assert f"(worker procrastinate worker {nameless}, started " not in text
    assert f"(procrastinate worker {nameless}, started " in text


def test_a_healthy_cluster_exits_0(capsys, config, cluster_db, app):
    now = utcnow()
    alive = register_worker(app)
    hold(
        cluster_db,
        f"{WORKER_LEASE_PREFIX}alive",
        now=now,
        ttl=timedelta(hours=1),
        info=worker_info("w-live", alive, [f"crawl {B}"]),
    )
    running = crawl_job(app, alive, B)
    hold(cluster_db, crawl_lease(B), now=now, ttl=timedelta(minutes=10))
    add_run(cluster_db, B, hostname=ELSEWHERE, pid=4242, started_at=now, heartbeat_at=now, job_id=running)

    code, report, text_code, text = status(capsys, config)
    assert (code, text_code) == (0, 0), report["warnings"]
    assert report["healthy"] is True and report["warnings"] == []
    cluster = report["cluster"]
    assert [(worker["name"], worker["alive"]) for worker in cluster["workers"]] == [("w-live", True)]
    assert cluster["stalled"] == [] and cluster["queues"] == {"crawl": {"doing": 1}}
    assert "Cluster: 1 worker(s) running" in text and "Stalled jobs: none" in text
    assert f"  w-live on {ELSEWHERE} (pid 4242) running, queues crawl,digest x1, heartbeat " in text
    assert "Health: OK" in text
