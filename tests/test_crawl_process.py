"""One crawl process, one database handle: the ArchiveStore extension owns it, everything else finds it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crawler.samplesite import topics_toml
from crawler.samplesite.server import SampleNetwork
from crawler.store import Database
from crawler.store.models import ArticleRow, CrawlRun
from tests.crawl_helpers import make_env

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

# A fresh process (the reactor cannot restart) that counts Database() constructions.
COUNTING = """
import json, sys
import crawler.store

opened = []
original = crawler.store.Database.__init__

def counting(self, *args, **kwargs):
    opened.append(args[0] if args else kwargs.get("url"))
    original(self, *args, **kwargs)

crawler.store.Database.__init__ = counting
"""

# Runs one crawl through run_crawl.
COUNTING_CRAWL = (
    COUNTING
    + """

from crawler.config import load_config
from crawler.crawl.addon import CrawlSite
from crawler.crawl.run import CrawlOptions, run_crawl
from spiders.registry import get_site

config = load_config(sys.argv[1])
sites = [CrawlSite.from_entry(entry, spider=get_site(entry.id).spider) for entry in config.site_entries()]
outcomes = run_crawl(config, sites, CrawlOptions(now=sys.argv[2], polite=False, progress=False))
print(json.dumps({"opened": len(opened), "runs": [
    {"site": outcome.site, "run_id": outcome.run.run_id, "status": outcome.run.status,
     "counts": outcome.run.counts.as_json(), "error_total": outcome.run.error_total,
     "started_at": outcome.run.started_at.isoformat(), "finished_at": outcome.run.finished_at.isoformat()}
    for outcome in outcomes]}))
"""
)

# `bantin crawl` itself (its leases, then every site's crawler).
COUNTING_CLI_CRAWL = (
    COUNTING
    + """

from crawler.cli import main

try:
    main(["--config", sys.argv[1], "crawl", "--now", sys.argv[2], "--fast", "--no-progress"])
except SystemExit as exit:
    print(json.dumps({"opened": len(opened), "exit": exit.code}))
"""
)


def counting_crawl(config_path: Path, now: str, script: str = COUNTING_CRAWL) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script, str(config_path), now],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_crawl_opens_the_database_once_and_reports_what_the_ledger_wrote(tmp_path, database_url):
    env = make_env(tmp_path, database_url, days=2, per_day=6)
    try:
        result = counting_crawl(env.config_path, env.site.model.now.isoformat())
    finally:
        env.site.stop()
    # The pipeline, the ledger and the archive filter share the ArchiveStore's one handle,
    # and the result comes from the ledger, not from reopening the database.
    assert result["opened"] == 1
    [result] = result["runs"]
    [run] = env.runs()
    assert (result["run_id"], result["status"]) == (run.id, run.status) == (run.id, "ok")
    # Which source an article is counted under depends on which listing answered first: count them all.
    assert result["counts"] == run.counts and sum(source["new"] for source in result["counts"].values()) > 0
    assert result["error_total"] == 0
    assert run.finished_at is not None
    assert result["finished_at"] == run.finished_at.isoformat()
    assert result["started_at"] == run.started_at.isoformat()


def test_the_crawlers_of_several_sites_share_the_process_handle(tmp_path, database_url):
    """`bantin crawl` opens one handle for the process (its leases and every site's crawler), not one per site's
    crawler: each crawler's commit would otherwise leave the other crawlers' cached story fingerprints
    untrusted, and every crawler would check the schema again."""
    with SampleNetwork.generate(["nhandan", "vietnamplus", "tienphong"], days=2, per_day=6) as network:
        entries = "".join(f'[[sites]]\nid = "{site}"\nbase_url = "{url}"\n' for site, url in network.base_urls.items())
        config_path = tmp_path / "bantin.toml"
        config_path.write_text(
            f"""{entries}
[storage]
database_url = "{database_url}"
[crawl]
lookback_days = 7
download_delay = 0
timeout_seconds = 5
retries = 1
{topics_toml()}
""",
            encoding="utf-8",
        )
        result = counting_crawl(config_path, network["nhandan"].model.now.isoformat(), COUNTING_CLI_CRAWL)
    assert result == {"opened": 1, "exit": 0}
    database = Database(database_url)
    try:
        with database.session() as session:
            stored = dict(session.execute(select(ArticleRow.site, func.count()).group_by(ArticleRow.site)).all())
            runs = [(run.site, run.status) for run in session.scalars(select(CrawlRun).order_by(CrawlRun.site))]
    finally:
        database.dispose()
    assert runs == [("nhandan", "ok"), ("tienphong", "ok"), ("vietnamplus", "ok")]
    assert set(stored) == {"nhandan", "vietnamplus", "tienphong"} and all(count > 0 for count in stored.values())


def test_the_crawlers_of_one_process_tune_the_collector_once_and_the_last_puts_it_back():
    import gc

    from crawler.crawl.pipelines import GC_YOUNG_THRESHOLD, _CrawlCollector

    saved, frozen = gc.get_threshold(), gc.get_freeze_count()
    collector = _CrawlCollector()
    collector.acquire()
    collector.acquire()
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *saved[1:])
    collector.release()
    # Another site's crawler is still running: its tuning stays.
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *saved[1:])
    collector.release()
    assert gc.get_threshold() == saved
    assert gc.get_freeze_count() == frozen
