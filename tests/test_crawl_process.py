"""One crawl process, one database handle: the ArchiveStore extension owns it, everything else finds it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.crawl_helpers import make_env

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

# Runs one crawl in a fresh process (the reactor cannot restart) and counts Database() constructions.
COUNTING_CRAWL = """
import json, sys
import crawler.store

opened = []
original = crawler.store.Database.__init__

def counting(self, *args, **kwargs):
    opened.append(args[0] if args else kwargs.get("url"))
    original(self, *args, **kwargs)

crawler.store.Database.__init__ = counting

from crawler.config import load_config
from crawler.crawl.addon import CrawlSite
from crawler.crawl.run import CrawlOptions, run_crawl

config = load_config(sys.argv[1])
site = CrawlSite.from_entry(config.site_entries()[0], spider="nhandan")
[outcome] = run_crawl(config, [site], CrawlOptions(now=sys.argv[2], polite=False, progress=False))
result = outcome.run
print(json.dumps({"opened": len(opened), "run_id": result.run_id, "status": result.status,
                  "counts": result.counts.as_json(), "error_total": result.error_total,
                  "started_at": result.started_at.isoformat(), "finished_at": result.finished_at.isoformat()}))
"""


def test_a_crawl_opens_the_database_once_and_reports_what_the_ledger_wrote(tmp_path, database_url):
    env = make_env(tmp_path, database_url, days=2, per_day=6)
    try:
        done = subprocess.run(
            [sys.executable, "-c", COUNTING_CRAWL, str(env.config_path), env.site.model.now.isoformat()],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        env.site.stop()
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # The pipeline, the ledger and the archive filter share the ArchiveStore's one handle,
    # and the result comes from the ledger, not from reopening the database.
    assert result["opened"] == 1
    [run] = env.runs()
    assert (result["run_id"], result["status"]) == (run.id, run.status) == (run.id, "ok")
    # Which source an article is counted under depends on which listing answered first: count them all.
    assert result["counts"] == run.counts and sum(source["new"] for source in result["counts"].values()) > 0
    assert result["error_total"] == 0
    assert result["finished_at"] == run.finished_at.isoformat()
    assert result["started_at"] == run.started_at.isoformat()
