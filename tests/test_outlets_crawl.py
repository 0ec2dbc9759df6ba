"""Real crawls of the VietnamPlus and Tiền Phong look-alikes, each in a child process, into SQLite and PostgreSQL.

The child is ``bantin crawl --site <site>`` with a ``[[sites]]`` entry pointing at the look-alike's own origin.
"""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.samplesite import topics_toml
from crawler.samplesite.server import SampleNetwork
from crawler.store import Database
from crawler.store.models import ArticleRow, ArticleSource, CrawlRun
from tests.crawl_helpers import make_env

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def write_config(tmp_path: Path, database_url: str, base_url: str = "https://nhandan.vn") -> Path:
    path = tmp_path / "bantin.toml"
    path.write_text(
        f"""
[site]
base_url = "{base_url}"
[storage]
database_url = "{database_url}"
[crawl]
lookback_days = 7
download_delay = 0
autothrottle = false
concurrency = 8
timeout_seconds = 5
retries = 1
{topics_toml()}
""",
        encoding="utf-8",
    )
    return path


def scrapy_crawl(site: str, config: Path, base_url: str, now: str, *settings: str) -> subprocess.CompletedProcess:
    """`bantin crawl --site SITE` as a child, with the site pointed at its look-alike (a config of its own)."""
    from crawler.crawl.run import crawl_child_command

    text = config.read_text(encoding="utf-8")
    text = re.sub(r"^\[site\]\nbase_url = .*$", "", text, flags=re.M)
    site_config = config.with_name(f"bantin-{site}.toml")
    site_config.write_text(f'[[sites]]\nid = "{site}"\nbase_url = "{base_url}"\n' + text, encoding="utf-8")
    args = ["--site", site, "--now", now, "--no-progress", "--fast"]
    for setting in settings:
        name, _, value = setting.partition("=")
        assert name == "BANTIN_SINCE", setting
        args += ["--since", value]
    result = subprocess.run(
        crawl_child_command(site_config, *args), cwd=REPO, capture_output=True, text=True, timeout=180
    )
    if result.returncode != 0:
        raise AssertionError(f"crawl exited {result.returncode}\n{result.stdout}\n{result.stderr[-4000:]}")
    return result


def stored(database_url: str) -> dict[tuple[str, str], ArticleRow]:
    db = Database(database_url)
    try:
        with db.session() as session:
            return {(row.site, row.external_id): row for row in session.scalars(select(ArticleRow))}
    finally:
        db.dispose()


def sources_and_runs(database_url: str):
    db = Database(database_url)
    try:
        with db.session() as session:
            keys = dict(session.execute(select(ArticleRow.id, ArticleRow.external_id)).all())
            sources: dict[str, set[str]] = {}
            for row in session.scalars(select(ArticleSource)):
                sources.setdefault(keys[row.article_id], set()).add(row.source)
            return sources, list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))
    finally:
        db.dispose()


@pytest.fixture
def network():
    # August: a month whose name differs when padded.
    with SampleNetwork.generate(["vietnamplus", "tienphong"], days=3, per_day=10, end_date=date(2026, 8, 8)) as running:
        yield running


@pytest.mark.parametrize("site", ["vietnamplus", "tienphong"])
def test_first_crawl_of_each_look_alike_matches_its_ground_truth(tmp_path, database_url, network, site):
    sample = network[site]
    config = write_config(tmp_path, database_url)
    scrapy_crawl(site, config, sample.base_url, sample.model.now.isoformat())

    rows = stored(database_url)
    truth = {str(a.article_id): a for a in sample.model.visible()}
    assert set(rows) == {(site, external_id) for external_id in truth}
    for external_id, article in truth.items():
        row, want = rows[(site, external_id)], article.expected(sample.base_url)
        for field in ("url", "title", "sapo", "body", "author", "category", "tags", "images"):
            assert getattr(row, field) == want[field], (external_id, field)
        assert row.published_at == article.published_at
        assert row.extractor == "site"
    # Each article downloaded once, on the look-alike's own origin (it only serves its own extension).
    articles = [r.path for r in sample.request_log if "-post" in r.path]
    assert len(articles) == len(set(articles)) == len(truth)
    assert all(path.endswith("." + sample.model.outlet.ext) for path in articles)
    sources, runs = sources_and_runs(database_url)
    (run,) = runs
    assert (run.site, run.status) == (site, "ok")
    assert run.counts.totals()["new"] == len(truth)
    if site == "tienphong":
        # The zone API (JSON items) announced the articles of its zones.
        assert run.counts.source("latest")["discovered"] > 0
        in_zones = {
            str(a.article_id) for a in sample.model.visible() if {3, 166, 5} & {z.zone_id for z in a.zone.chain}
        }
        assert in_zones and all("latest" in sources[external_id] for external_id in in_zones)
    else:
        assert "latest" not in run.counts.sources  # no API, no latest page mapped for VietnamPlus


def test_backfill_reads_the_monthly_sitemaps_named_in_each_index(tmp_path, database_url, network):
    for site in ("vietnamplus", "tienphong"):
        sample = network[site]
        sample.clear_log()
        config = write_config(tmp_path, database_url)
        first_day = sample.model.articles[0].published_at.date()
        scrapy_crawl(
            site, config, sample.base_url, sample.model.now.isoformat(), f"BANTIN_SINCE={first_day.isoformat()}"
        )
        monthly = [r for r in sample.request_log if r.path.startswith("/sitemaps/news-")]
        # VietnamPlus names them zero-padded, Tiền Phong not (and serves them gzip-compressed).
        assert monthly and all(r.status == 200 for r in monthly)
        name = "news-2026-08.xml" if sample.model.outlet.monthly_padded else "news-2026-8.xml"
        assert {r.path for r in monthly} == {f"/sitemaps/{name}"}
    _, runs = sources_and_runs(database_url)
    assert [(run.site, run.status) for run in runs] == [("vietnamplus", "ok"), ("tienphong", "ok")]
    assert all(run.counts.source("sitemap")["discovered"] > 0 for run in runs)


def test_the_same_number_on_ndo_and_tien_phong_is_two_articles(tmp_path, database_url):
    env = make_env(tmp_path, database_url, days=3, per_day=10)
    try:
        ndo = env.site.model
        with SampleNetwork.generate(["tienphong"], days=3, per_day=10, end_date=ndo.last_day) as network:
            tp = network["tienphong"]
            shared = sorted(set(ndo.by_id) & set(tp.model.by_id))
            assert shared, "the look-alikes share no id"
            env.crawl()
            scrapy_crawl("tienphong", env.config_path, tp.base_url, tp.model.now.isoformat())
            rows = stored(database_url)
        for number in shared:
            ours, theirs = rows[("nhandan", str(number))], rows[("tienphong", str(number))]
            assert ours.id != theirs.id
            assert ours.title == ndo.by_id[number].title and theirs.title == tp.model.by_id[number].title
            assert ours.url != theirs.url
        assert len(rows) == len(ndo.visible()) + len(tp.model.visible())
    finally:
        env.site.stop()


@pytest.mark.parametrize("site", ["vietnamplus", "tienphong", "baoquangninh"])
def test_scrapy_crawl_of_a_site_reads_that_sites_entry(tmp_path, database_url, site):
    """`scrapy crawl <site>` (README) crawls the site its spider names, with that site's `[[sites]]` entry."""
    with SampleNetwork.generate([site], days=2, per_day=6) as own:
        _scrapy_crawl_of(tmp_path, database_url, site, own[site])


def _scrapy_crawl_of(tmp_path, database_url, site, sample) -> None:
    import os
    import sys

    text = write_config(tmp_path, database_url).read_text(encoding="utf-8")
    text = re.sub(r"^\[site\]\nbase_url = .*$", "", text, flags=re.M)
    config = tmp_path / "sites.toml"
    # NDO's entry comes first and points nowhere: it must not be the one crawled.
    config.write_text(
        f'[[sites]]\nid = "nhandan"\nbase_url = "http://127.0.0.1:9"\n'
        f'[[sites]]\nid = "{site}"\nbase_url = "{sample.base_url}"\n' + text,
        encoding="utf-8",
    )
    crawled = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", site, "-s", f"BANTIN_NOW={sample.model.now.isoformat()}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "BANTIN_CONFIG": str(config)},
        timeout=180,
    )
    assert crawled.returncode == 0, crawled.stderr[-3000:]
    truth = {str(article.article_id) for article in sample.model.visible()}
    assert set(stored(database_url)) == {(site, external_id) for external_id in truth}
    _, runs = sources_and_runs(database_url)
    assert [(run.site, run.status) for run in runs] == [(site, "ok")]
