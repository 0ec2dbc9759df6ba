"""`bantin crawl` over several sites: one child, one crawler, ledger row and lease per site."""

from __future__ import annotations

import socket
import subprocess

import pytest
from sqlalchemy import func, select

from crawler.locks import hold_lease
from crawler.samplesite import SampleSite, generate_site
from crawler.store.models import ArticleRow
from tests.crawl_helpers import make_env
from tests.site_support import OTHER, child_environment, write_second_site

pytestmark = pytest.mark.slow


def closed_port() -> int:
    """A loopback port nobody listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def env(tmp_path, database_url):
    environment = make_env(tmp_path, database_url, days=2, per_day=6)
    yield environment
    environment.site.stop()


def with_sites(env, other_url: str) -> None:
    """Replace the sample config's [site] table by two [[sites]] entries."""
    text = env.config_path.read_text(encoding="utf-8")
    text = text.replace(
        f'[site]\nbase_url = "{env.site.base_url}"\n',
        (
            f'[[sites]]\nid = "nhandan"\nbase_url = "{env.site.base_url}"\n'
            f'[[sites]]\nid = "{OTHER}"\nbase_url = "{other_url}"\n'
        ),
    )
    assert "[[sites]]" in text
    env.config_path.write_text(text, encoding="utf-8")


def crawl(env, tmp_path, *args: str) -> subprocess.CompletedProcess:
    package = write_second_site(tmp_path / "othersite-package")
    return subprocess.run(
        env.command(*args), capture_output=True, text=True, timeout=180, env=child_environment(package)
    )


def test_a_failing_site_does_not_stop_the_other_and_the_crawl_exits_1(env, tmp_path):
    with_sites(env, f"http://127.0.0.1:{closed_port()}")
    result = crawl(env, tmp_path)
    assert result.returncode == 1, result.stderr
    runs = {run.site: run for run in env.runs()}
    assert set(runs) == {"nhandan", OTHER}
    assert runs["nhandan"].status == "ok" and runs[OTHER].status == "failed"
    assert runs["nhandan"].pid == runs[OTHER].pid  # one process, two crawlers
    assert runs[OTHER].site_url.startswith("http://127.0.0.1:") and runs["nhandan"].site_url == env.site.base_url
    assert len(env.articles()) == 12
    lines = result.stdout.splitlines()
    assert f"nhandan: crawl run {runs['nhandan'].id}: ok" in "\n".join(lines)
    assert any(line.startswith(f"{OTHER}: crawl run {runs[OTHER].id}: failed") for line in lines)
    # One summary row per site, and the total.
    assert [line.split()[0] for line in lines if line.split() and line.split()[0] in ("nhandan", OTHER, "total")][
        -3:
    ] == ["nhandan", OTHER, "total"]


def test_a_site_being_crawled_is_skipped_and_the_others_run(env, tmp_path):
    with_sites(env, env.site.base_url)
    database = env.database()
    try:
        with hold_lease(database, "crawl:nhandan", info={"purpose": "another crawl"}):
            result = crawl(env, tmp_path)
            assert result.returncode == 0, result.stderr
            assert "nhandan: skipped: the crawl:nhandan lock is held by another crawl" in result.stderr
            assert [(run.site, run.status) for run in env.runs()] == [(OTHER, "ok")]
            # Only busy sites chosen: nothing to do but wait, exit 75 (EX_TEMPFAIL).
            busy = crawl(env, tmp_path, "--site", "nhandan")
            assert busy.returncode == 75
            assert busy.stderr.strip().splitlines()[-1].startswith("bantin: error: every chosen site is being crawled")
    finally:
        database.dispose()
    assert len(env.runs()) == 1


def test_site_url_goes_with_one_site_only(env, tmp_path):
    with_sites(env, env.site.base_url)
    result = crawl(env, tmp_path, "--site-url", env.site.base_url)
    assert result.returncode == 2 and "--site-url goes with one site" in result.stderr
    result = crawl(env, tmp_path, "--site", "nowhere")
    assert result.returncode == 2
    assert "--site nowhere: not a configured site (configured: nhandan, othersite)" in result.stderr
    assert env.runs() == []


def test_a_disabled_site_is_left_out_unless_named(env, tmp_path):
    # The other site on a look-alike of its own: two sites never serve one article URL.
    with SampleSite(generate_site(seed=1, days=2, per_day=6)) as other:
        with_sites(env, other.base_url)
        text = env.config_path.read_text(encoding="utf-8")
        entry = f'id = "{OTHER}"\nbase_url = "{other.base_url}"\n'
        assert entry in text
        env.config_path.write_text(text.replace(entry, entry + "enabled = false\n"), encoding="utf-8")
        result = crawl(env, tmp_path)
        assert result.returncode == 0, result.stderr
        assert [(run.site, run.status) for run in env.runs()] == [("nhandan", "ok")]
        named = crawl(env, tmp_path, "--site", OTHER)
        assert named.returncode == 0, named.stderr
    assert [(run.site, run.status) for run in env.runs()] == [("nhandan", "ok"), (OTHER, "ok")]
    # NDO's row reads the other site's pages as that site's articles, not NDO's.
    assert stored_per_site(env) == {"nhandan": 12, OTHER: 12}


def stored_per_site(env) -> dict[str, int]:
    database = env.database()
    try:
        with database.session() as session:
            rows = session.execute(select(ArticleRow.site, func.count()).group_by(ArticleRow.site)).all()
    finally:
        database.dispose()
    return {site: count for site, count in rows}
