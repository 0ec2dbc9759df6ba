"""Cluster crawls: three `bantin worker`s, twelve outlets on loopback, one worker SIGKILLed mid-crawl.

The twelve are the four real outlets' look-alikes and the sample site's eight sister outlets, registered
as an outside site package (``crawler.samplesite.sisters``) that every worker's crawl child finds.

Then the next day: only new and edited articles are fetched. PostgreSQL only
(skipped without BANTIN_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crawler.clock import VIETNAM
from crawler.config import load_config
from crawler.samplesite.server import SampleNetwork
from crawler.samplesite.sisters import CLUSTER_OUTLETS, child_environment
from crawler.store import Database
from crawler.store.models import ArticleRow
from scheduler.cluster import queue
from scheduler.cluster.planner import ClusterService
from scheduler.service import previous_fire_time
from tests.cluster_support import REPO, Worker, cluster_toml, crawl_runs, jobs_of, pg_url, pid_gone  # noqa: F401 - fixture
from tests.service_support import wait_for
from tests.site_support import sister_sites  # noqa: F401 - a fixture

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

OUTLETS = CLUSTER_OUTLETS
# Few articles per outlet keep twelve crawls short; the kill still lands with this many still to fetch.
DAYS, PER_DAY, STILL_TO_FETCH = 2, 6, 4


def article_ids(site) -> dict[int, int]:
    """How often each article page of this look-alike was requested: {article id: count}."""
    # By the model's own paths: each outlet shapes them its own way (Báo Quảng Ninh's have no "-post").
    paths = {article.path: article.article_id for article in site.model.articles}
    counts: dict[int, int] = {}
    for record in site.request_log:
        if record.path in paths:
            article_id = paths[record.path]
            counts[article_id] = counts.get(article_id, 0) + 1
    return counts


def stored_count(database: Database, site: str) -> int:
    with database.session() as session:
        return session.execute(select(func.count()).select_from(ArticleRow).where(ArticleRow.site == site)).scalar_one()


def sample_network(outlets: tuple[str, ...], per_day: int) -> SampleNetwork:
    yesterday = (datetime.now(VIETNAM) - timedelta(days=1)).date()
    return SampleNetwork.generate(outlets, days=DAYS, per_day=per_day, end_date=yesterday)


@pytest.fixture
def network():
    with sample_network(OUTLETS, PER_DAY) as running:
        yield running


@pytest.fixture
def ndo_network():
    with sample_network(("nhandan",), 12) as running:
        yield running


def test_killed_worker_mid_crawl_then_the_next_day(tmp_path: Path, pg_url, network, sister_sites):  # noqa: F811
    config_path = tmp_path / "bantin.toml"
    # No digest is due (its last time is twelve hours ago, beyond the grace): a digest waiting for "the day's
    # crawl" queues the crawls of a five-minute tick that passes mid-test itself, which is its job but not
    # what this test counts.
    digest_at = datetime.now(VIETNAM) + timedelta(hours=12)
    # Politeness-bound: a few seconds per outlet, so a worker can be killed in the middle of one.
    config_path.write_text(
        cluster_toml(
            pg_url,
            sites=network.base_urls,
            delay=0.2,
            extra=(
                f'[schedule]\ncrawl = "*/5 * * * *"\ndigest = "{digest_at.minute} {digest_at.hour} * * *"\n'
                "misfire_grace_hours = 1\n"
            ),
        ),
        encoding="utf-8",
    )
    config = load_config(config_path)
    database = Database(pg_url)
    environment = child_environment(sister_sites)
    workers = [
        Worker(f"w{index}", config_path, tmp_path / f"w{index}.log", ("--concurrency", "1"), environment)
        for index in (1, 2, 3)
    ]
    try:
        for worker in workers:
            worker.wait_output("event=started")
        planner = ClusterService(config, database, install_signals=False)
        now = datetime.now(VIETNAM)
        planned = planner.plan(now)
        assert set(planned.values()) == {"queued"} and len(planned) == len(OUTLETS)
        # A second planning step (another `bantin serve`, or the same one again) queues nothing more.
        assert set(planner.plan(now).values()) == {"done before"}

        def victim_run():
            # Mid-crawl: articles stored (a batch written), and some not yet even requested. Once half the outlets
            # are done, so that three workers, not the two left, crawl most of the first day.
            runs = crawl_runs(database)
            if sum(run.status == "ok" for run in runs) < len(OUTLETS) // 2:
                return None
            return next(
                (
                    run
                    for run in runs
                    if run.status == "running"
                    and stored_count(database, run.site) >= 1
                    and len(article_ids(network[run.site])) <= DAYS * PER_DAY - STILL_TO_FETCH
                ),
                None,
            )

        victim = wait_for(victim_run, timeout=120, what="a worker crawling with a few articles stored")
        killed_worker = next(worker for worker in workers if worker.name == victim.worker)
        killed_worker.kill()
        # Every outlet is crawled to the end: the killed one by another worker, after its heartbeat stalled.
        wait_for(
            lambda: all(any(run.status == "ok" for run in crawl_runs(database, site)) for site in OUTLETS),
            timeout=240,
            what="every outlet crawled ok",
        )
        # A crawl's ledger row says ok before its worker has finished the job; until then the next day's
        # crawl of that outlet is (rightly) coalesced with it.
        wait_for(
            lambda: not any(status in ("todo", "doing") for _, status, _ in jobs_of(database, queue.CRAWL_TASK)),
            timeout=60,
            what="the day's crawl jobs finished",
        )
        killed = crawl_runs(database, victim.site)
        assert [run.status for run in killed] == ["interrupted", "ok"]
        assert killed[0].job_id == killed[1].job_id == victim.job_id
        assert killed[0].worker == victim.worker and killed[1].worker not in ("", victim.worker)
        # The killed worker's crawl child did not outlive it.
        wait_for(lambda: pid_gone(victim.pid), timeout=30, what="the orphaned crawl child to exit")
        for site in OUTLETS:
            runs = crawl_runs(database, site)
            for earlier, later in zip(runs, runs[1:], strict=False):
                assert earlier.finished_at is not None and earlier.finished_at <= later.started_at, (
                    f"{site}: runs {earlier.id} and {later.id} overlap"
                )
            # Every visible article stored once; nothing surfaced as failed (no duplicate-key errors).
            assert stored_count(database, site) == len(network[site].model.visible())
            assert runs[-1].counts.totals()["failed"] == 0
        with database.session() as session:
            urls = session.scalars(select(ArticleRow.url)).all()
        assert len(urls) == len(set(urls))

        # -- the next day: new articles and one edit per outlet; nothing else is fetched again.
        # Báo Quảng Ninh's feeds carry publication times only, so its edit goes unseen (README says so).
        sees_edits = {site: site != "baoquangninh" for site in OUTLETS}
        first_day = {site: set(article_ids(network[site])) for site in OUTLETS}
        expected: dict[str, set[int]] = {}
        for site in OUTLETS:
            network[site].clear_log()
            new = network[site].publish_next_day(count=4)
            edited = sorted(first_day[site])[-3]
            network[site].edit_article(edited)
            expected[site] = {article.article_id for article in new} | ({edited} if sees_edits[site] else set())
        before = {site: len(crawl_runs(database, site)) for site in OUTLETS}
        trigger = planner.triggers["crawl"]
        fired = previous_fire_time(trigger, datetime.now(VIETNAM) + timedelta(minutes=5))
        assert fired is not None
        next_day = planner.plan(fired)
        assert set(next_day.values()) == {"queued"} and len(next_day) == len(OUTLETS)
        wait_for(
            lambda: all(
                len(crawl_runs(database, site)) > before[site] and crawl_runs(database, site)[-1].status == "ok"
                for site in OUTLETS
            ),
            timeout=240,
            what="the next day's crawls",
        )
        for site in OUTLETS:
            fetched = article_ids(network[site])
            assert set(fetched) == expected[site], site
            assert all(count == 1 for count in fetched.values()), (site, fetched)
            totals = crawl_runs(database, site)[-1].counts.totals()
            assert (totals["new"], totals["updated"]) == (4, int(sees_edits[site])), site

        # `bantin status` across the cluster: the workers (the killed one gone), the queues, each outlet.
        status = subprocess.run(
            [sys.executable, "-m", "crawler", "--config", str(config_path), "status", "--format", "json"],
            capture_output=True,
            text=True,
            cwd=str(REPO),
            timeout=60,
            env=environment,
        )
        report = json.loads(status.stdout)["cluster"]
        alive = {worker["name"]: worker["alive"] for worker in report["workers"]}
        assert alive == {worker.name: worker is not killed_worker for worker in workers}
        assert report["queues"]["crawl"]["succeeded"] == 2 * len(OUTLETS) and report["stalled"] == []
        assert {site["site"]: (site["last_run"]["status"], site["crawling"]) for site in report["sites"]} == {
            site: ("ok", None) for site in OUTLETS
        }
        text_status = subprocess.run(
            [sys.executable, "-m", "crawler", "--config", str(config_path), "status"],
            capture_output=True,
            text=True,
            cwd=str(REPO),
            timeout=60,
            env=environment,
        )
        assert "Cluster: 2 worker(s) running" in text_status.stdout
        assert f"{killed_worker.name} on " in text_status.stdout and "GONE" in text_status.stdout

        for worker in workers:
            if worker is not killed_worker:
                assert worker.stop() == 0, worker.output()[-3000:]
    finally:
        for worker in workers:
            worker.close()
        database.dispose()


def test_sigterm_stops_a_worker_cleanly_and_its_crawl_runs_elsewhere(tmp_path: Path, pg_url, ndo_network):  # noqa: F811
    network = ndo_network
    sites = {"nhandan": network.base_urls["nhandan"]}
    config_path = tmp_path / "bantin.toml"
    config_path.write_text(cluster_toml(pg_url, sites=sites, delay=0.2), encoding="utf-8")
    database = Database(pg_url)
    # Both workers are up before the job is queued: on a loaded machine a worker can take longer to start than
    # the whole crawl takes, so the second one cannot be started once the first is crawling.
    workers = [
        Worker(name, config_path, tmp_path / f"{name}.log", ("--concurrency", "1", "--queues", "crawl"))
        for name in ("w1", "w2")
    ]
    try:
        for worker in workers:
            worker.wait_output("event=started")

        app = queue.make_app(pg_url)
        app.open()
        try:
            job_id = queue.defer(app, queue.CRAWL_TASK, queueing_lock="crawl:nhandan", site="nhandan")
        finally:
            app.close()
        running = wait_for(
            lambda: next(
                (
                    run
                    for run in crawl_runs(database)
                    if run.status == "running" and stored_count(database, "nhandan") >= 3
                ),
                None,
            ),
            timeout=60,
            what="a worker crawling",
        )
        stopped_worker = next(worker for worker in workers if worker.name == running.worker)
        other = next(worker for worker in workers if worker is not stopped_worker)
        # SIGTERM: the crawl child is stopped (its row says so), the job goes back to the queue, the worker exits 0.
        assert stopped_worker.stop() == 0, stopped_worker.output()[-3000:]
        wait_for(
            lambda: [run.status for run in crawl_runs(database)] == ["interrupted", "ok"],
            timeout=90,
            what=f"the crawl finished by {other.name}",
        )
        stopped, finished = crawl_runs(database)
        assert stopped.message.startswith("stopped by") and stopped.worker == stopped_worker.name
        assert (finished.worker, finished.job_id, stopped.job_id) == (other.name, job_id, job_id)
        assert stored_count(database, "nhandan") == len(network["nhandan"].model.visible())
        assert other.stop() == 0
    finally:
        for worker in workers:
            worker.close()
        database.dispose()
