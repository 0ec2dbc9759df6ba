"""Real crawls of the loopback sample site, each in a child process, as `bantin crawl` runs them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.store.models import Match
from tests.crawl_helpers import make_env
from tests.service_support import wait_for

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(tmp_path, database_url):
    environment = make_env(tmp_path, database_url)
    yield environment
    environment.site.stop()


def expected_articles(env):
    return {a.article_id: a for a in env.site.model.visible()}


def test_first_crawl_stores_every_article_with_every_field(env):
    result = env.crawl()
    assert "crawl run 1: ok" in result.stdout
    # A clean crawl of a healthy site warns of nothing (the log's warnings are for the reader to act on).
    assert " WARNING " not in result.stdout + result.stderr
    stored = env.articles()
    expected = expected_articles(env)
    assert set(stored) == set(expected)
    for article_id, truth in expected.items():
        row = stored[article_id]
        want = truth.expected(env.site.base_url)
        assert row.url == want["url"]
        assert row.title == want["title"]
        assert row.sapo == want["sapo"]
        assert row.body == want["body"], article_id
        assert row.author == want["author"]
        assert row.category == want["category"]
        assert row.tags == want["tags"]
        assert row.images == want["images"]
        assert row.published_at == truth.published_at
        assert row.extractor == "site"
    # Each article was downloaded once, although several sources announced it.
    requests = env.article_requests()
    assert len(requests) == len(set(requests)) == len(expected)
    assert all(sources & {"google_news", "rss", "latest"} for sources in env.sources().values())
    run = env.runs()[-1]
    assert run.status == "ok" and run.finished_at is not None
    assert run.counts.totals()["new"] == len(expected)
    assert {"google_news", "rss", "latest"} <= set(run.counts.sources)
    # Every request identified itself and stayed on the site; robots.txt was read first.
    log = env.site.request_log
    assert log[0].path == "/robots.txt"
    assert all(r.user_agent.startswith("bantin/") for r in log)


def test_matches_are_stored_with_the_crawl(env):
    env.crawl()
    db = env.database()
    with db.session() as session:
        matches = list(session.scalars(select(Match)))
    db.dispose()
    post_ids = {row.id: post_id for post_id, row in env.articles().items()}
    by_topic: dict[str, set[int]] = {}
    for match in matches:
        by_topic.setdefault(match.topic, set()).add(post_ids[match.article_id])
    assert by_topic.get("Quảng Ninh") and by_topic.get("Công nghiệp hỗ trợ")
    for article_id in by_topic["Quảng Ninh"]:
        truth = env.site.model.by_id[article_id]
        text = " ".join([truth.title, truth.sapo, truth.body, *truth.tag_names])
        assert "Quảng Ninh" in text


def test_second_day_fetches_only_new_and_changed_articles(env):
    env.crawl()
    first = expected_articles(env)
    edited_id = sorted(first)[-3]
    env.site.clear_log()
    new_articles = env.site.publish_next_day(count=5)
    env.site.edit_article(edited_id)
    result = env.crawl()
    fetched = {int(path.split("-post")[1].split(".")[0]) for path in env.article_requests()}
    assert fetched == {a.article_id for a in new_articles} | {edited_id}
    # Feeds and listings were read again.
    paths = {r.path for r in env.site.request_log}
    assert {"/sitemaps/google-news.xml", "/rss/home.rss", "/tin-moi.html"} <= paths
    stored = env.articles()
    assert stored[edited_id].version == 2
    assert stored[edited_id].body == env.site.model.by_id[edited_id].body
    run = env.runs()[-1]
    totals = {key: run.counts.totals()[key] for key in ("new", "updated")}
    assert totals == {"new": 5, "updated": 1}
    assert "updated" in result.stdout


def test_third_run_with_nothing_new_downloads_no_article(env):
    env.crawl()
    env.site.clear_log()
    env.crawl()
    assert env.article_requests() == []


def hang_some_articles(env, how_many: int = 3) -> None:
    """A few article pages never answer (within the crawl's timeout): the crawl cannot
    finish before the test stops it, however loaded the machine."""
    ids = sorted(expected_articles(env))[-how_many:]
    env.site.inject_fault(re.compile(rf"-post({'|'.join(map(str, ids))})\.html"), "timeout", seconds=600)


def test_killed_crawl_loses_nothing_and_the_next_run_finishes(env):
    hang_some_articles(env)
    env.site.inject_fault("/*-post*.html", "slow", seconds=0.4)
    process = env.start_crawl()
    wait_for(lambda: len(env.articles()) >= 5, timeout=60, what="five stored articles", process=process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    partial = env.articles()
    assert 0 < len(partial) < len(expected_articles(env))
    env.site.clear_faults()
    env.site.clear_log()
    env.crawl()
    stored = env.articles()
    assert set(stored) == set(expected_articles(env))
    # The second run fetched only what the first had not stored.
    fetched = {int(p.split("-post")[1].split(".")[0]) for p in env.article_requests()}
    assert fetched == set(stored) - set(partial)
    runs = env.runs()
    assert [run.status for run in runs] == ["interrupted", "ok"]
    assert "without closing" in runs[0].message


def test_sigterm_stops_cleanly_and_records_interrupted(env):
    hang_some_articles(env)
    env.site.inject_fault("/*-post*.html", "slow", seconds=0.5)
    process = env.start_crawl()
    wait_for(lambda: len(env.articles()) >= 2, timeout=60, what="two stored articles", process=process)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, err
    assert "interrupted" in out
    assert env.runs()[-1].status == "interrupted"


def test_server_errors_are_retried_then_recorded_and_fetched_next_run(env):
    articles = sorted(expected_articles(env))
    flaky, broken = articles[-1], articles[-2]
    env.site.inject_fault(f"/*-post{flaky}.html", 503, count=1)
    env.site.inject_fault(f"/*-post{broken}.html", 500)
    result = env.crawl()
    stored = env.articles()
    assert flaky in stored  # retried after one 503
    assert broken not in stored
    run = env.runs()[-1]
    assert run.status == "ok"
    assert any(str(broken) in error["url"] and "500" in error["reason"] for error in run.errors)
    assert "failed" in result.stdout
    broken_requests = [p for p in env.article_requests() if f"post{broken}" in p]
    assert len(broken_requests) == 3  # the first try and two retries
    env.site.clear_faults()
    env.crawl()
    assert broken in env.articles()


def test_rate_limit_is_honoured(env):
    target = sorted(expected_articles(env))[-1]
    env.site.inject_fault(f"/*-post{target}.html", 429, count=1, retry_after=1)
    env.crawl()
    requests = [r for r in env.site.request_log if f"post{target}" in r.path]
    assert [r.status for r in requests] == [429, 200]
    assert requests[1].time - requests[0].time >= 0.9  # waited for Retry-After


@pytest.mark.parametrize("kind", ["truncated", "malformed"])
def test_broken_pages_are_failed_not_half_stored(env, kind):
    target = sorted(expected_articles(env))[-1]
    env.site.inject_fault(f"/*-post{target}.html", kind)
    env.crawl()
    stored = env.articles()
    if target in stored:
        # A page cut after the body still has a title and body; it must then be complete.
        assert kind == "truncated"
        assert stored[target].title and stored[target].body
    else:
        run = env.runs()[-1]
        assert any(str(target) in error["url"] for error in run.errors)


def test_timeouts_are_failures_not_hangs(env):
    target = sorted(expected_articles(env))[-1]
    env.site.inject_fault(f"/*-post{target}.html", "timeout", seconds=30)
    # The crawl ends (env.crawl's own deadline would fail the test otherwise): a held
    # connection costs the download timeout and its retries, not the whole crawl.
    env.crawl("--time-limit", "2")
    assert target not in env.articles()
    assert any(str(target) in error["url"] for error in env.runs()[-1].errors)


def test_unreachable_site_fails_with_non_zero_exit(tmp_path, database_url):
    env = make_env(tmp_path, database_url)
    env.site.stop()
    result = env.crawl(check=False)
    assert result.returncode == 1
    assert env.runs()[-1].status == "failed"
    assert "no discovery source could be read" in result.stdout
    # Scrapy's own tracebacks (robots.txt, downloads) are folded into one line each.
    assert "Traceback" not in result.stderr


def test_layout_drift_marks_the_run_degraded(tmp_path, database_url):
    env = make_env(tmp_path, database_url, drifted=12)
    try:
        result = env.crawl()
    finally:
        env.site.stop()
    assert result.returncode == 0
    run = env.runs()[-1]
    assert run.status == "degraded"
    assert "layout may have changed" in run.message
    assert run.fallback_pages >= 12
    assert all(row.body for row in env.articles().values())


def test_backfill_reads_monthly_sitemaps(tmp_path, database_url):
    env = make_env(tmp_path, database_url, days=6, per_day=6, lookback_days=1)
    try:
        env.crawl()
        recent = set(env.articles())
        assert len(recent) < len(expected_articles(env))
        earliest = min(a.published_at for a in env.site.model.visible()).date()
        env.crawl("--since", earliest.isoformat())
        assert set(env.articles()) == set(expected_articles(env))
        assert any(r.path.startswith("/sitemaps/news-") for r in env.site.request_log)
    finally:
        env.site.stop()


def test_search_backfills_a_topic(tmp_path, database_url):
    env = make_env(tmp_path, database_url, days=6, per_day=6, lookback_days=1)
    try:
        env.crawl("--search")
        searched = [r.path for r in env.site.request_log if r.path.startswith("/tim-kiem/")]
        assert searched, "site search was not used"
        sources = env.sources()
        assert any("search" in s for s in sources.values())
    finally:
        env.site.stop()


def test_robots_txt_is_obeyed(tmp_path, sqlite_url):
    env = make_env(tmp_path, sqlite_url)
    try:
        disallowed = env.site.model  # the sample site's robots.txt disallows /admin and similar paths
        env.crawl()
        assert not any(r.path.startswith(("/admin", "/_sample")) for r in env.site.request_log)
        assert disallowed is not None
    finally:
        env.site.stop()


def test_manual_crawl_refuses_while_another_holds_the_lock(env):
    # The first crawl's article pages never answer: it holds the lock until
    # stopped, however slowly the second one starts (a slow page raced it).
    env.site.inject_fault("/*-post*.html", "timeout", seconds=600)
    first = env.start_crawl()
    try:
        wait_for(
            lambda: env.runs() and any(r.fault == "timeout" for r in env.site.request_log),
            timeout=60,
            what="the first crawl waiting on an article",
            process=first,
        )
        second = env.crawl(check=False)
        assert second.returncode == 75
        assert "bantin: error:" in second.stderr and "crawl" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)


def test_scrapy_cli_lists_and_crawls_from_the_repo_root(env, tmp_path):
    listed = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert listed.stdout.split() == ["baoquangninh", "nhandan", "tienphong", "vietnamplus"], listed.stderr
    environment = {**os.environ, "BANTIN_CONFIG": str(env.config_path)}
    crawled = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "nhandan",
            "-s",
            "DOWNLOAD_DELAY=0",
            "-s",
            f"BANTIN_NOW={env.site.model.now.isoformat()}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=environment,
        timeout=180,
    )
    assert crawled.returncode == 0, crawled.stderr
    assert set(env.articles()) == set(expected_articles(env))


def test_the_crawl_child_never_imports_from_the_working_directory(env, tmp_path):
    # `python -m` puts the working directory first on sys.path: the user's own
    # secrets.py or json.py beside their files would run inside every crawl.
    workdir = tmp_path / "user files"
    workdir.mkdir()
    marker = tmp_path / "imported"
    for name in ("secrets", "json", "crawler", "spiders"):
        payload = f"open({str(marker)!r}, 'a').write({name!r} + '\\n')\n"
        if name in ("crawler", "spiders"):
            (workdir / name).mkdir()
            (workdir / name / "__init__.py").write_text(payload, encoding="utf-8")
        else:
            (workdir / f"{name}.py").write_text(payload, encoding="utf-8")
    result = subprocess.run(env.command(), capture_output=True, text=True, cwd=workdir, timeout=180)
    assert result.returncode == 0, result.stderr
    assert not marker.exists(), marker.read_text()
    assert env.runs()[-1].status == "ok" and env.articles()


def hung_site_env(tmp_path, database_url):
    """A crawl whose article pages never answer, with a download timeout far beyond any grace."""
    environment = make_env(tmp_path, database_url)
    text = environment.config_path.read_text(encoding="utf-8")
    environment.config_path.write_text(text.replace("timeout_seconds = 5", "timeout_seconds = 600"), encoding="utf-8")
    environment.site.inject_fault("/*-post*.html", "timeout", seconds=600)
    return environment


@pytest.fixture
def hung(tmp_path, database_url):
    environment = hung_site_env(tmp_path, database_url)
    yield environment
    environment.site.stop()


def test_sigterm_while_a_request_hangs_closes_the_row_interrupted_at_once(hung):
    process = hung.start_crawl()
    wait_for(hung.article_requests, timeout=60, what="an article request in flight", process=process)
    process.send_signal(signal.SIGTERM)
    # Closed while the request still hangs, not once it times out.
    wait_for(lambda: hung.runs()[-1].status == "interrupted", what="the row closed interrupted", process=process)
    # The stop is then forced after the crawl's own short grace: no SIGKILL needed.
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    assert "interrupted" in out
    [run] = hung.runs()
    assert run.status == "interrupted" and "stopped by SIGTERM" in run.message


def test_the_service_stops_a_hung_crawl_as_interrupted_within_its_grace(hung):
    import threading

    from scheduler import jobs

    stop = threading.Event()
    database = hung.database()
    try:

        def stop_when_requesting():
            wait_for(hung.article_requests, timeout=60, what="an article request in flight")
            stop.set()

        stopper = threading.Thread(target=stop_when_requesting)
        stopper.start()
        outcome = jobs.run_crawl_child(hung.command(), database=database, time_limit=3600, stop=stop)
        stopper.join()
    finally:
        database.dispose()
    # Not SIGKILLed: the default grace covers the child's own.
    assert outcome.returncode == 1 and outcome.status == "interrupted", outcome
    assert [run.status for run in hung.runs()] == ["interrupted"]


def test_a_full_disk_mid_crawl_is_one_line_per_record_and_a_failed_run(tmp_path, sqlite_url):
    import re
    import resource

    from crawler.store import Database

    environment = make_env(tmp_path, sqlite_url)
    try:
        Database(sqlite_url).dispose()  # migrated: the crawl starts, then the disk fills
        limit = (tmp_path / "bantin.sqlite3").stat().st_size + 30_000

        def small_disk():
            # Writes past the limit fail with EFBIG (Python ignores SIGXFSZ), as on a full disk.
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        result = subprocess.run(
            environment.command(), capture_output=True, text=True, timeout=180, preexec_fn=small_disk
        )
    finally:
        environment.site.stop()
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "disk I/O error" in result.stderr
    record = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ |  error: |  \.\.\. and )")
    assert [line for line in result.stderr.splitlines() if not record.match(line)] == []
    # Whether the ledger's last write still fits or not, the run says failed and why.
    # "SITE: crawl run N: failed in Ts — reason" on one line.
    first, _, reason = result.stdout.splitlines()[0].partition(" — ")
    assert first.startswith("nhandan: crawl run 1: failed"), result.stdout
    assert "could not be stored" in reason or "could not record the end of the run" in reason
    assert "disk I/O error" in reason
    # Once the disk has room again, the row says how the run ended: failed when its last write still fitted,
    # else left running with no process behind it, which every reader of the ledger closes as interrupted.
    from datetime import datetime

    from sqlalchemy import select

    from crawler.store.models import CrawlRun
    from crawler.store.runs import orphan_reason

    database = Database(sqlite_url)
    try:
        with database.session(write=False) as session:
            (run,) = session.scalars(select(CrawlRun)).all()
            assert run.status == "failed" or (
                run.status == "running" and orphan_reason(run, datetime.now(UTC)) is not None
            ), (run.status, run.message)
    finally:
        database.dispose()
