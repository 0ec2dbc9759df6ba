"""Real crawls (child processes) of the loopback sample site serving hostile answers: robots.txt that
refuses or cannot be read, redirects off the site, poisoned feed entries, pages claiming to be other
articles, legacy encodings. What the README promises must hold: polite, never lost, never silent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crawler.samplesite.server import RSS, TEXT, SampleSite
from tests.crawl_helpers import make_env
from tests.service_support import wait_for
from tests.test_pages_hostile import to_cp1258

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path, sqlite_url):
    environment = make_env(tmp_path, sqlite_url)
    yield environment
    environment.site.stop()


def page_requests(env) -> list[str]:
    return [r.path for r in env.site.request_log if r.path != "/robots.txt"]


def html_of(env, article) -> str:
    return env.site.respond(article.path, accept_gzip=False).body.decode("utf-8")


@pytest.mark.parametrize("robots", ["disallow all", "503", "no answer"])
def test_robots_txt_refusing_or_unreachable_means_no_page_is_fetched(tmp_path, sqlite_url, robots):
    env = make_env(tmp_path, sqlite_url, timeout_seconds=1)
    try:
        if robots == "disallow all":
            env.site.serve("/robots.txt", "User-agent: *\nDisallow: /\n", content_type=TEXT)
        elif robots == "503":
            env.site.inject_fault("/robots.txt", 503)
        else:
            env.site.inject_fault("/robots.txt", "timeout", seconds=30)
        result = env.crawl(check=False)
        assert page_requests(env) == []
        assert result.returncode == 1
        run = env.runs()[-1]
        assert run.status == "failed" and "refused by robots.txt" in run.message, run.message
        assert env.articles() == {}
    finally:
        env.site.stop()


def test_robots_txt_answering_404_allows_everything(env):
    env.site.inject_fault("/robots.txt", 404)
    env.crawl()
    assert set(env.articles()) == {a.article_id for a in env.site.model.visible()}


def test_nothing_is_requested_or_stored_off_the_site_s_hosts(env):
    other = SampleSite(env.site.model)
    other.start(host="127.0.0.2")
    try:
        article = env.site.model.visible()[0]
        env.site.serve(article.path, status=302, headers={"Location": other.base_url + article.path})
        env.site.serve("/rss/home.rss", status=302, headers={"Location": other.base_url + "/rss/home.rss"})
        env.crawl()
        assert other.request_log == []
        stored = env.articles()
        assert article.article_id not in stored
        assert stored and all(row.url.startswith(env.site.base_url + "/") for row in stored.values())
        run = env.runs()[-1]
        # The feed that went elsewhere is in the ledger, failed with the reason, not absent.
        assert run.counts.source("rss")["pages_read"] == 0 and run.counts.source("rss")["failed"] == 1
        reasons = {error["source"]: error["reason"] for error in run.errors if "off the site" in error["reason"]}
        assert "rss" in reasons and len(reasons) == 2
        assert "source(s) not read: rss" in run.message
    finally:
        other.stop()


def test_a_poisoned_feed_entry_costs_only_itself_in_this_run_and_the_next(tmp_path, database_url):
    env = make_env(tmp_path, database_url)
    try:
        real = env.site.model.visible()[0]
        feed = env.site.respond("/rss/home.rss", accept_gzip=False).body.decode("utf-8")
        poison = (
            f"<item><title>x</title><link>{env.site.base_url}/x-post{'9' * 23}.html</link></item>"
            f"<item><title>y</title><link>{real.url(env.site.base_url)}</link>"
            "<pubDate>Fri, 31 Dec 9999 23:59:59 GMT</pubDate></item>"
        )
        env.site.serve("/rss/home.rss", feed.replace("<item>", poison + "<item>", 1), content_type=RSS)
        expected = {a.article_id for a in env.site.model.visible()}
        for run_number in (1, 2):
            env.crawl()
            run = env.runs()[-1]
            assert run.status == "ok", run.message
            rss = run.counts.source("rss")
            assert rss["pages_read"] == 1 and rss["skipped"] == 2 and rss["discovered"] > 0, (run_number, rss)
            assert set(run.counts.sources) >= {"google_news", "rss", "latest"}
        assert set(env.articles()) == expected
    finally:
        env.site.stop()


def test_identity_comes_from_the_announced_url_and_nothing_is_fetched_again(env):
    base = env.site.base_url
    claimer, victim, moved, target = env.site.model.visible()[:4]
    # A page whose og:url and canonical link name another article.
    env.site.serve(claimer.path, html_of(env, claimer).replace(claimer.url(base), victim.url(base)))
    # An article that redirects to a different id.
    env.site.serve(moved.path, status=302, headers={"Location": base + target.path})
    env.crawl()
    stored = env.articles()
    assert stored[victim.article_id].version == 1 and stored[victim.article_id].title == victim.title
    assert stored[claimer.article_id].title == claimer.title
    assert stored[claimer.article_id].url == claimer.url(base)
    assert stored[moved.article_id].url == moved.url(base)
    errors = env.runs()[-1].errors
    assert any(e["url"] == claimer.url(base) and victim.url(base) in e["reason"] for e in errors)
    assert any(e["url"] == moved.url(base) and "redirected" in e["reason"] for e in errors)
    env.site.clear_log()
    env.crawl()
    assert env.article_requests() == []


def test_legacy_encodings_are_read_and_an_undecodable_page_fails(env):
    legacy, undeclared, broken, deep = env.site.model.visible()[:4]

    def cp1258(article) -> bytes:
        return to_cp1258(html_of(env, article).replace('<meta charset="utf-8">', "", 1))

    env.site.serve(legacy.path, cp1258(legacy), content_type="text/html; charset=windows-1258")
    env.site.serve(undeclared.path, cp1258(undeclared), content_type="text/html")
    env.site.serve(broken.path, cp1258(broken).replace(b"</h1>", b"\x81</h1>", 1), content_type="text/html")
    nested = '<script type="application/ld+json">' + "[" * 50_000 + "]" * 50_000 + "</script></head>"
    env.site.serve(deep.path, html_of(env, deep).replace("</head>", nested, 1))
    env.crawl()
    stored = env.articles()
    for article in (legacy, undeclared, deep):
        want = article.expected(env.site.base_url)
        row = stored[article.article_id]
        assert (row.title, row.body) == (want["title"], want["body"])
    assert broken.article_id not in stored
    assert any(str(broken.article_id) in e["url"] and "cannot be decoded" in e["reason"] for e in env.runs()[-1].errors)


@pytest.mark.parametrize("when", ["start-up", "mid-crawl"])
def test_postgresql_connections_killed_while_the_crawl_runs_cost_one_line_each_and_lose_nothing(
    tmp_path, database_url, when
):
    # A PostgreSQL restart or an administrator's pg_terminate_backend, early (start-up) or throughout the crawl.
    import re
    import threading
    import time

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from crawler.store.models import CrawlRun

    if not database_url.startswith("postgresql"):
        pytest.skip("only PostgreSQL has server connections to lose")
    name = make_url(database_url).database
    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    env = make_env(tmp_path, database_url)
    try:
        env.database().dispose()  # migrated beforehand, like an installed archive
        stop = threading.Event()

        def terminate_backends() -> None:
            with admin.connect() as connection:
                while not stop.is_set():
                    connection.execute(
                        text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                        {"name": name},
                    )
                    time.sleep(0.02)

        killer = threading.Thread(target=terminate_backends)
        if when == "mid-crawl":
            env.site.inject_fault("/*-post*.html", "slow", seconds=0.6)
        process = env.start_crawl()
        if when == "mid-crawl":
            wait_for(lambda: len(env.articles()) >= 3, timeout=60, what="three stored articles", process=process)
        killer.start()
        time.sleep(1.5)
        stop.set()
        killer.join()
        _, stderr = process.communicate(timeout=180)
        assert "Traceback" not in stderr
        record = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ |  error: |  \.\.\. and |bantin: error: )")
        assert [line for line in stderr.splitlines() if not record.match(line)] == []
        assert process.returncode != 0 or " ERROR " not in stderr, stderr

        # The next crawl closes whatever the disturbed one left open and completes the archive, once each.
        env.site.clear_faults()
        env.crawl()
        assert set(env.articles()) == {a.article_id for a in env.site.model.visible()}
        db = env.database()
        try:
            with db.session(write=False) as session:
                statuses = [run.status for run in session.scalars(select(CrawlRun).order_by(CrawlRun.id))]
        finally:
            db.dispose()
        assert "running" not in statuses and statuses[-1] == "ok", statuses
    finally:
        env.site.stop()
        admin.dispose()
