"""`bantin sites check` against the four look-alikes, in a child process: sources, one article each, exit status.

Read-only: the database (SQLite and PostgreSQL) is byte- and row-identical afterwards. Polite: robots.txt
is read first on each origin and obeyed, and the configured delay and user agent are the crawl's.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, table

from crawler.samplesite.server import SampleNetwork
from crawler.store import Database

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SITES = ("nhandan", "vietnamplus", "tienphong", "baoquangninh")


@pytest.fixture
def network():
    with SampleNetwork.generate(SITES, days=2, per_day=6, end_date=date(2026, 8, 8)) as running:
        yield running


def write_config(tmp_path: Path, database_url: str, network: SampleNetwork, *, delay: float = 0) -> Path:
    entries = "".join(f'[[sites]]\nid = "{site}"\nbase_url = "{url}"\n' for site, url in network.base_urls.items())
    path = tmp_path / "bantin.toml"
    path.write_text(
        entries + f'[storage]\ndatabase_url = "{database_url}"\n'
        f"[crawl]\ndownload_delay = {delay}\nautothrottle = false\nretries = 0\ntimeout_seconds = 5\n",
        encoding="utf-8",
    )
    return path


def check(config: Path, network: SampleNetwork, *args: str) -> subprocess.CompletedProcess:
    now = max(sample.model.now for sample in network.sites.values()).isoformat()
    return subprocess.run(
        [sys.executable, "-P", "-m", "crawler", "--config", str(config), "sites", "check", "--now", now, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )


def snapshot(database_url: str) -> dict[str, object]:
    """Every table's row count, and for SQLite the file's bytes."""
    database = Database(database_url)
    try:
        with database.session(write=False) as session:
            bind = session.get_bind()
            names = inspect(bind).get_table_names()
            counts: dict[str, object] = {
                name: session.scalar(select(func.count()).select_from(table(name))) for name in names
            }
    finally:
        database.dispose()
    if database_url.startswith("sqlite:///"):
        counts["_file"] = hashlib.sha256(Path(database_url.removeprefix("sqlite:///")).read_bytes()).hexdigest()
    return counts


def test_every_source_and_one_article_per_source_of_each_site_and_nothing_stored(tmp_path, database_url, network):
    before = snapshot(database_url)
    done = check(write_config(tmp_path, database_url, network), network, "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["ok"] and [site["site"] for site in report["sites"]] == list(SITES)
    by_site = {site["site"]: site for site in report["sites"]}
    for site_id, site in by_site.items():
        sample = network[site_id]
        assert site["ok"] and site["problems"] == [] and site["base_url"] == sample.base_url
        assert all(page["ok"] and page["entries"] is not None for page in site["sources"])
        # One article per source that listed any, each a real article of the site, read with its own selectors.
        sources = {article["source"] for article in site["articles"]}
        assert len(sources) == len(site["articles"]) >= 1
        paths = {a.url(sample.base_url): a for a in sample.model.visible()}
        for article in site["articles"]:
            assert article["ok"] and article["extractor"] == "site" and article["fallbacks"] == []
            assert article["title"] == paths[article["url"]].title
            assert {"title", "body", "published_at"} <= set(article["layers"])
        # Each source page was read once; only the chosen articles were fetched; robots.txt came first.
        log = [record.path for record in sample.request_log]
        assert log[0] == "/robots.txt" and len(log) == len(set(log))
        fetched = [path for path in log if sample.base_url + path in paths]
        assert sorted(fetched) == sorted(article["url"].removeprefix(sample.base_url) for article in site["articles"])
    assert {page["source"] for page in by_site["nhandan"]["sources"]} == {"google_news", "rss", "latest", "sitemap"}
    # Báo Quảng Ninh: its feed index (listing feeds, not articles), then every feed it names.
    qn = by_site["baoquangninh"]
    index = qn["sources"][0]
    assert index["url"].endswith("/rss") and index["entries"] == len(qn["sources"]) - 1 > 10
    assert qn["articles"][0]["layers"]["title"] == "jsonld" and qn["articles"][0]["layers"]["body"] == "site"
    assert snapshot(database_url) == before


def test_a_drifted_look_alike_and_an_unreadable_source_exit_1_and_say_why(tmp_path, sqlite_url, network):
    network["baoquangninh"].drift()  # the paper's redesign: every article page
    network["tienphong"].inject_fault("/rss/home.rss", 503)
    done = check(write_config(tmp_path, sqlite_url, network), network)
    assert done.returncode == 1, done.stderr[-3000:]
    text = done.stdout
    assert "nhandan (" in text and f"nhandan ({network['nhandan'].base_url}): ok" in text
    assert f"baoquangninh ({network['baoquangninh'].base_url}): PROBLEMS" in text
    assert "fell back past the site's selectors (body)" in text and "body generic" in text
    assert f"tienphong ({network['tienphong'].base_url}): PROBLEMS" in text
    assert "source rss unreadable" in text and "HTTP 503" in text
    # Each site alone: the healthy one passes, the drifted one fails.
    assert check(write_config(tmp_path, sqlite_url, network), network, "--site", "vietnamplus").returncode == 0
    only = check(write_config(tmp_path, sqlite_url, network), network, "--site", "baoquangninh", "--format", "json")
    assert only.returncode == 1
    (site,) = json.loads(only.stdout)["sites"]
    assert site["articles"][0]["fallbacks"] == ["body"] and site["articles"][0]["extractor"] == "generic"


def test_robots_txt_is_obeyed(tmp_path, sqlite_url, network):
    sample = network["baoquangninh"]
    sample.serve("/robots.txt", "User-agent: *\nDisallow: /rss\n", content_type="text/plain")
    done = check(write_config(tmp_path, sqlite_url, network), network, "--site", "baoquangninh", "--format", "json")
    assert done.returncode == 1
    (site,) = json.loads(done.stdout)["sites"]
    assert not site["sources"][0]["ok"] and "robots.txt" in site["sources"][0]["error"]
    assert [record.path for record in sample.request_log] == ["/robots.txt"]


def test_the_check_is_as_polite_as_a_crawl_and_has_no_storage(tmp_path, sqlite_url, network):
    from crawler.config import load_config
    from crawler.crawl.addon import CrawlSite
    from crawler.crawl.check import check_settings

    config = load_config(write_config(tmp_path, sqlite_url, network, delay=2.5))
    site = CrawlSite(id="baoquangninh", spider="baoquangninh", base_url=network["baoquangninh"].base_url)
    settings = check_settings(config, site, network["baoquangninh"].model.now)
    assert settings.getfloat("DOWNLOAD_DELAY") == 2.5 and settings.getbool("ROBOTSTXT_OBEY")
    assert settings.get("USER_AGENT") == config.crawl.user_agent
    assert settings.get("BANTIN_DATABASE_URL") == "" and settings.getdict("ITEM_PIPELINES") == {}
    extensions, middlewares = settings.getdict("EXTENSIONS"), settings.getdict("SPIDER_MIDDLEWARES")
    assert extensions["crawler.crawl.archive.ArchiveStore"] is None
    assert extensions["crawler.crawl.ledger.CrawlLedger"] is None
    assert middlewares["crawler.crawl.archive.ArchiveFilter"] is None


def test_an_unknown_site_is_a_usage_error(tmp_path, sqlite_url, network):
    done = check(write_config(tmp_path, sqlite_url, network), network, "--site", "nowhere")
    assert done.returncode == 2 and "--site nowhere: not a registered site (known sites: nhandan" in done.stderr
