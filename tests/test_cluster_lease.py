"""A crawl whose site lease another crawl took over stops at once: two crawls of one outlet never go on together.

A crawl child loses its lease when its process was frozen (or cut off from the database) for longer than
the lease lasts: another worker then finds the lease expired, takes it and crawls the outlet. The old
child learns it at its next renewal, which in cluster mode comes every worker heartbeat. PostgreSQL only.
"""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from crawler.clock import VIETNAM, utcnow
from crawler.crawl.run import crawl_child_command
from crawler.locks import crawl_lease, lease_holder
from crawler.samplesite.server import SampleNetwork
from crawler.store import Database
from crawler.store.models import Lease
from tests.cluster_support import cluster_toml, crawl_runs, pg_url  # noqa: F401 - fixture
from tests.service_support import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ELSEWHERE = "elsewhere.example.org:4242:the-crawl-that-took-over"


def test_a_crawl_whose_site_lease_was_taken_over_stops_and_says_why(tmp_path: Path, pg_url):  # noqa: F811
    yesterday = (datetime.now(VIETNAM) - timedelta(days=1)).date()
    with SampleNetwork.generate(("nhandan",), days=3, per_day=14, end_date=yesterday) as network:
        site = network.sites["nhandan"]
        article_paths = {article.path for article in site.model.articles}

        def articles_requested() -> int:
            return sum(1 for record in site.request_log if record.path in article_paths)

        config = tmp_path / "bantin.toml"
        # Politeness-bound: the crawl of 42 articles lasts well over ten seconds.
        config.write_text(cluster_toml(pg_url, sites=network.base_urls, delay=0.3), encoding="utf-8")
        database = Database(pg_url)
        with (tmp_path / "crawl.log").open("wb") as log:
            child = subprocess.Popen(
                crawl_child_command(config, "--site", "nhandan"), stdout=log, stderr=subprocess.STDOUT
            )
            try:
                wait_for(lambda: articles_requested() >= 5, timeout=90, what="the crawl fetching articles")
                # Another worker's crawl found the lease expired (this one was frozen) and took it.
                with database.session() as session:
                    session.execute(
                        update(Lease)
                        .where(Lease.name == crawl_lease("nhandan"))
                        .values(owner=ELSEWHERE, expires_at=utcnow() + timedelta(minutes=10))
                    )
                code = child.wait(timeout=60)
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
        output = (tmp_path / "crawl.log").read_text(encoding="utf-8", errors="replace")
        assert code == 1, output
        assert "lost the crawl:nhandan lease" in output
        [run] = crawl_runs(database, "nhandan")
        assert run.status == "interrupted"
        assert run.message.startswith("lost the crawl:nhandan lease: another crawl took the site over")
        # It stopped where it was, leaving the rest of the outlet to the crawl that holds the lease now ...
        assert articles_requested() < len(article_paths) / 2
        # ... whose lease it did not touch on its way out.
        holder = lease_holder(database, crawl_lease("nhandan"))
        assert holder is not None and holder.owner == ELSEWHERE
        database.dispose()
