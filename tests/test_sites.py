"""Several sites: `[[sites]]` configuration, `bantin sites list`, per-site article commands, status and coverage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from crawler.config import parse_config
from crawler.crawl.addon import CrawlSite, scrapy_settings
from crawler.errors import ConfigError
from crawler.items import ExtractedArticle
from crawler.store import Database
from crawler.store.articles import store_article
from crawler.store.models import CrawlRun
from spiders.registry import sites as registered_sites
from tests.cli_support import run
from tests.site_support import OTHER, second_site  # noqa: F401 - a fixture

NOW = datetime(2026, 3, 27, 1, 0, tzinfo=UTC)


def two_sites(database_url: str, *, other_enabled: bool = True, extra: str = "") -> str:
    return f'''
[storage]
database_url = "{database_url}"
[[sites]]
id = "nhandan"
[[sites]]
id = "{OTHER}"
base_url = "http://127.0.0.1:9"
enabled = {"true" if other_enabled else "false"}
download_delay = 0.5
concurrency = 4
{extra}
'''


# -- configuration ---------------------------------------------------------------------------


def test_without_sites_bantin_follows_ndo_alone_and_site_is_its_entry():
    [entry] = parse_config("").site_entries()
    assert (entry.id, entry.base_url, entry.enabled) == ("nhandan", None, True)
    [entry] = parse_config(
        '[site]\nbase_url = "http://127.0.0.1:8000/"\ncategory_feeds = ["kinhte-1185"]\n'
    ).site_entries()
    assert (entry.id, entry.base_url, entry.category_feeds) == ("nhandan", "http://127.0.0.1:8000", ["kinhte-1185"])


@pytest.mark.parametrize(
    "text, key, message",
    [
        ('[site]\nbase_url = "https://nhandan.vn"\n[[sites]]\nid = "nhandan"\n', "site", "not both"),
        (
            '[[sites]]\nid = "nhandan"\n[[sites]]\nid = "nhandan"\n',
            "sites[1].id",
            "duplicate site 'nhandan' (also sites[0])",
        ),
        ('[[sites]]\nid = "nhandan"\nbase_url = "ftp://x"\n', "sites[0].base_url", "http(s) URL"),
        ('[[sites]]\nid = "nhandan"\nconcurrency = 0\n', "sites[0].concurrency", "greater than or equal to 1"),
        ('[[sites]]\nid = "nhandan"\ncategory_feeds = ["kinhte"]\n', "sites[0].category_feeds", "not a feed name"),
        # Each site's feeds have its own shape: Báo Quảng Ninh's are slugs without a zone id.
        (
            '[[sites]]\nid = "baoquangninh"\ncategory_feeds = ["xahoi/phapluat-327"]\n',
            "sites[0].category_feeds",
            "not a feed name of baoquangninh (such as 'than-khoang-san')",
        ),
        ('[[sites]]\nid = "nhandan"\ncategory_feeds = ["../admin"]\n', "sites[0].category_feeds", "not a feed name"),
        ('[[sites]]\nid = "nhandan"\nspeed = 1\n', "sites[0].speed", "unknown key"),
        # The [site] table is NDO's entry: its feeds are held to NDO's shape, which its site package knows.
        (
            '[site]\ncategory_feeds = ["kinhte"]\n',
            "site.category_feeds",
            "not a feed name of nhandan (such as 'kinhte-1185')",
        ),
        ('[site]\ncategory_feeds = ["../admin"]\n', "site.category_feeds", "not a feed name"),
    ],
)
def test_bad_sites_are_refused_with_the_key(text, key, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, path="f.toml", known_sites=registered_sites())
    assert caught.value.key == key and message in caught.value.detail


def test_an_unknown_site_is_refused_at_load_with_exit_2_naming_the_known_ones(capsys, tmp_path):
    path = tmp_path / "bantin.toml"
    path.write_text('[[sites]]\nid = "nhandan"\n[[sites]]\nid = "x"\n', encoding="utf-8")
    code, out, err = run(capsys, "--config", str(path), "articles", "list")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"bantin: error: {path}: sites[1].id: unknown site 'x' "
        "(known sites: nhandan, vietnamplus, tienphong, baoquangninh)"
    ]


def test_the_site_tables_feeds_are_checked_at_load_against_its_site_package(capsys, tmp_path):
    path = tmp_path / "bantin.toml"
    path.write_text('[site]\ncategory_feeds = ["kinhte-1185", "xahoi/phapluat"]\n', encoding="utf-8")
    code, out, err = run(capsys, "--config", str(path), "articles", "list")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"bantin: error: {path}: site.category_feeds: 'xahoi/phapluat' is not a feed name of nhandan "
        "(such as 'kinhte-1185')"
    ]


def test_each_site_crawler_gets_its_own_settings():
    config = parse_config("[crawl]\ndownload_delay = 2.0\nconcurrency = 3\n")
    own = scrapy_settings(
        config,
        site=CrawlSite(
            id=OTHER,
            spider="nhandan",
            base_url="http://127.0.0.1:9/",
            category_feeds=("kinhte-1185",),
            download_delay=0.5,
            concurrency=4,
        ),
    )
    assert own["BANTIN_SITE"] == OTHER and own["BANTIN_SITE_URL"] == "http://127.0.0.1:9"
    assert own["BANTIN_CATEGORY_FEEDS"] == ["kinhte-1185"]
    assert (own["DOWNLOAD_DELAY"], own["CONCURRENT_REQUESTS_PER_DOMAIN"]) == (0.5, 4)
    default = scrapy_settings(config, site=CrawlSite(id="nhandan", spider="nhandan"))
    assert (default["DOWNLOAD_DELAY"], default["CONCURRENT_REQUESTS_PER_DOMAIN"]) == (2.0, 3)
    assert "BANTIN_SITE_URL" not in default  # the spider's own address


def test_a_sites_own_politeness_and_feeds_reach_its_crawler_from_the_file(tmp_path):
    """From `[[sites]]` in the file to each site's Scrapy settings, as `bantin crawl` resolves them."""
    from crawler.cli import App
    from crawler.crawl.run import CrawlOptions, crawl_settings

    path = tmp_path / "bantin.toml"
    path.write_text(
        """
[crawl]
download_delay = 2.0
concurrency = 3
[[sites]]
id = "nhandan"
[[sites]]
id = "vietnamplus"
base_url = "http://127.0.0.1:9"
download_delay = 0.5
concurrency = 4
category_feeds = ["kinhte-311"]
[[sites]]
id = "tienphong"
enabled = false
""",
        encoding="utf-8",
    )
    app = App(str(path), debug=False)
    # Without --site: the enabled sites, in file order.
    chosen = app.chosen_sites()
    assert [entry.id for entry in chosen] == ["nhandan", "vietnamplus"]
    settings = {entry.id: crawl_settings(app.config, app.crawl_site(entry), CrawlOptions()) for entry in chosen}
    own = settings["vietnamplus"]
    assert (own.getfloat("DOWNLOAD_DELAY"), own.getint("CONCURRENT_REQUESTS_PER_DOMAIN")) == (0.5, 4)
    assert own.getlist("BANTIN_CATEGORY_FEEDS") == ["kinhte-311"] and own["BANTIN_SITE_URL"] == "http://127.0.0.1:9"
    default = settings["nhandan"]
    assert (default.getfloat("DOWNLOAD_DELAY"), default.getint("CONCURRENT_REQUESTS_PER_DOMAIN")) == (2.0, 3)
    # A disabled site is crawled only when asked for by name.
    assert [entry.id for entry in app.chosen_sites(("tienphong",))] == ["tienphong"]


def test_init_site_url_writes_the_site_table_and_leaves_the_sites_example_commented(capsys, tmp_path):
    path = tmp_path / "bantin.toml"
    code, _, err = run(
        capsys,
        "init",
        "--config",
        str(path),
        "--site-url",
        "http://127.0.0.1:8000",
        "--database-url",
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    assert code == 0, err
    text = path.read_text(encoding="utf-8")
    assert '\nbase_url = "http://127.0.0.1:8000"\n' in text and "#   [[sites]]" in text
    [entry] = parse_config(text).site_entries()
    assert (entry.id, entry.base_url) == ("nhandan", "http://127.0.0.1:8000")


def test_init_writes_the_site_tables_address_and_feed_example_from_its_site_package(capsys, tmp_path):
    path = tmp_path / "bantin.toml"
    code, _, err = run(capsys, "init", "--config", str(path), "--database-url", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert code == 0, err
    text = path.read_text(encoding="utf-8")
    ndo = registered_sites()["nhandan"]
    assert f'\nbase_url = "{ndo.base_url}"\n' in text and f'example: ["{ndo.feed_example}"]' in text
    [entry] = parse_config(text, known_sites=registered_sites()).site_entries()
    assert (entry.id, entry.base_url) == ("nhandan", ndo.base_url)


# -- sites list, articles of several sites ---------------------------------------------------------


def store(database: Database, site: str, external_id: str, title: str, *, published: datetime = NOW) -> None:
    with database.session() as session:
        store_article(
            session,
            ExtractedArticle(
                site=site,
                external_id=external_id,
                url=f"https://{site}.example/bai-post{external_id}.html",
                title=title,
                sapo="Sapo.",
                body="Quảng Ninh phát triển công nghiệp hỗ trợ.",
                author="A",
                published_at=published,
                category=["Kinh tế"],
                tags=[],
            ),
            now=NOW,
        )


def add_run(database: Database, site: str, status: str, *, started: datetime, counts: dict | None = None) -> None:
    with database.session() as session:
        session.add(
            CrawlRun(
                site=site,
                started_at=started,
                finished_at=started + timedelta(minutes=2),
                status=status,
                trigger="manual",
                message="" if status == "ok" else "no discovery source could be read",
                counts=counts
                if counts is not None
                else {
                    "rss": {"discovered": 5, "fetched": 3, "new": 2, "updated": 1, "unchanged": 0, "failed": 0},
                    "google_news": {},
                    "latest": {},
                },
                errors=[],
            )
        )


@pytest.fixture
def archive(tmp_path, database_url, second_site):  # noqa: F811 - the imported fixture, injected by pytest
    database = Database(database_url)
    store(database, "nhandan", "985001", "Bài của Nhân Dân")
    store(database, OTHER, "985001", "Bài của báo thử", published=NOW - timedelta(hours=1))
    store(database, OTHER, "42", "Bài thứ hai của báo thử", published=NOW - timedelta(hours=2))
    add_run(database, "nhandan", "ok", started=datetime.now(UTC) - timedelta(hours=1))
    yield database
    database.dispose()


def config_file(tmp_path, database_url, **kwargs):
    path = tmp_path / "bantin.toml"
    path.write_text(two_sites(database_url, **kwargs), encoding="utf-8")
    return path


def test_sites_list_shows_every_registered_site_with_its_last_crawl_and_articles(
    capsys, tmp_path, database_url, archive
):
    path = config_file(tmp_path, database_url, other_enabled=False)
    code, out, err = run(capsys, "--config", str(path), "sites", "list", "--format", "json")
    assert code == 0, err
    rows = {row["id"]: row for row in json.loads(out)}
    assert rows["nhandan"]["name"] == "Báo Nhân Dân" and rows["nhandan"]["base_url"] == "https://nhandan.vn"
    assert rows["nhandan"]["enabled"] is True and rows["nhandan"]["last_status"] == "ok"
    assert rows["nhandan"]["articles"] == 1 and rows["nhandan"]["last_crawl"]
    assert rows[OTHER]["base_url"] == "http://127.0.0.1:9" and rows[OTHER]["enabled"] is False
    assert rows[OTHER]["articles"] == 2 and rows[OTHER]["last_crawl"] is None
    code, out, _ = run(capsys, "--config", str(path), "sites", "list", "--format", "csv")
    assert code == 0 and out.splitlines()[0] == "id,name,base_url,enabled,last_crawl,last_status,articles"
    code, out, _ = run(capsys, "--config", str(path), "sites", "list")
    assert code == 0 and "Báo Thử" in out and "http://127.0.0.1:9" in out


def test_articles_list_by_site(capsys, tmp_path, database_url, archive):
    path = config_file(tmp_path, database_url)
    code, out, _ = run(capsys, "--config", str(path), "articles", "list", "--site", OTHER, "--format", "json")
    assert code == 0
    assert [(row["site"], row["external_id"]) for row in json.loads(out)] == [(OTHER, "985001"), (OTHER, "42")]
    code, out, _ = run(
        capsys, "--config", str(path), "articles", "list", "--site", OTHER, "--site", "nhandan", "--format", "json"
    )
    assert code == 0 and len(json.loads(out)) == 3
    code, _, err = run(capsys, "--config", str(path), "articles", "list", "--site", "nowhere")
    assert code == 2 and "unknown site 'nowhere'" in err and len(err.strip().splitlines()) == 1


def test_articles_show_site_colon_id_and_an_ambiguous_bare_id(capsys, tmp_path, database_url, archive):
    path = config_file(tmp_path, database_url)
    code, out, _ = run(capsys, "--config", str(path), "articles", "show", f"{OTHER}:985001", "--format", "json")
    data = json.loads(out)
    assert code == 0 and (data["site"], data["external_id"], data["title"]) == (OTHER, "985001", "Bài của báo thử")
    assert data["url"] == f"https://{OTHER}.example/bai-post985001.html"
    code, out, err = run(capsys, "--config", str(path), "articles", "show", "985001")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"bantin: error: '985001' is an article id on several sites: nhandan:985001, {OTHER}:985001 "
        "(say SITE:ID or give the URL)"
    ]
    code, out, _ = run(capsys, "--config", str(path), "articles", "show", "42", "--format", "json")
    assert code == 0 and json.loads(out)["site"] == OTHER


def test_articles_show_reads_a_typed_id_as_its_site_stores_ids(capsys, tmp_path, database_url, archive):
    # Every registered site drops an id's leading zeros when it stores it: so does a typed id.
    path = config_file(tmp_path, database_url)
    code, out, _ = run(capsys, "--config", str(path), "articles", "show", f"{OTHER}:0985001", "--format", "json")
    assert code == 0 and (json.loads(out)["site"], json.loads(out)["external_id"]) == (OTHER, "985001")
    code, out, _ = run(capsys, "--config", str(path), "articles", "show", "0042", "--format", "json")
    assert code == 0 and (json.loads(out)["site"], json.loads(out)["external_id"]) == (OTHER, "42")
    code, out, err = run(capsys, "--config", str(path), "articles", "show", "0985001")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"bantin: error: '0985001' is an article id on several sites: nhandan:985001, {OTHER}:985001 "
        "(say SITE:ID or give the URL)"
    ]
    code, out, _ = run(
        capsys,
        "--config",
        str(path),
        "articles",
        "search",
        '"Quảng Ninh"',
        "--before",
        f"{OTHER}:0985001",
        "--format",
        "json",
    )
    assert code == 0 and [(row["site"], row["external_id"]) for row in json.loads(out)] == [(OTHER, "42")]


def test_articles_show_finds_an_article_of_a_site_no_longer_registered(capsys, tmp_path, database_url, archive):
    # An outlet's package was removed, its articles stay: SITE:ID still shows them, the id read as typed.
    store(archive, "gone", "0042", "Bài của báo đã thôi theo dõi")
    path = config_file(tmp_path, database_url)
    code, out, err = run(capsys, "--config", str(path), "articles", "show", "gone:0042", "--format", "json")
    assert code == 0, err
    assert (json.loads(out)["site"], json.loads(out)["external_id"]) == ("gone", "0042")


def test_a_bare_id_is_read_by_each_sites_own_rule(database):
    from crawler.store.archive import find_article
    from spiders.pages.urls import drop_leading_zeros

    store(database, "nhandan", "985001", "Bài của Nhân Dân")
    # A site whose ids keep their zeros: its 985001 is not the 0985001 typed.
    store(database, "zeros", "985001", "Bài của báo giữ số 0")

    def keep_as_typed(external_id: str) -> str:
        return external_id

    rules = {"nhandan": drop_leading_zeros, "zeros": keep_as_typed}
    with database.session(write=False) as session:
        row = find_article(session, "0985001", resolve_url=lambda url: None, id_rules=rules)
        assert (row.site, row.external_id) == ("nhandan", "985001")


def test_json_output_names_site_and_external_id_beside_the_url(capsys, tmp_path, database_url, archive):
    path = config_file(tmp_path, database_url)
    code, out, _ = run(
        capsys, "--config", str(path), "match", '"Quảng Ninh"', "--article", f"{OTHER}:42", "--format", "json"
    )
    data = json.loads(out)
    assert code == 0 and (data["site"], data["external_id"]) == (OTHER, "42") and data["url"].endswith("post42.html")
    # The hits are Hit.to_dict(), the same shape the archive stores.
    assert set(data["hits"][0]) == {"term", "field", "index", "start", "end", "snippet", "highlight", "negated"}
    code, out, _ = run(capsys, "--config", str(path), "articles", "search", '"Quảng Ninh"', "--format", "json")
    assert code == 0 and {(row["site"], row["external_id"]) for row in json.loads(out)} == {
        ("nhandan", "985001"),
        (OTHER, "985001"),
        (OTHER, "42"),
    }
    assert all(row["url"] for row in json.loads(out))
    code, out, _ = run(capsys, "--config", str(path), "articles", "export", "--format", "json")
    assert code == 0 and all({"site", "external_id", "url"} <= set(row) for row in json.loads(out))
    code, out, _ = run(
        capsys, "--config", str(path), "topics", "test", '"Quảng Ninh"', "--days", "3650", "--format", "json"
    )
    assert code == 0 and all({"site", "external_id", "url"} <= set(row) for row in json.loads(out)["articles"])


# -- status and the digest's coverage line, per site --------------------------------------------


def test_status_reports_each_site_and_warns_per_site(capsys, tmp_path, database_url, archive):
    add_run(archive, OTHER, "failed", started=datetime.now(UTC) - timedelta(minutes=30), counts={})
    path = config_file(tmp_path, database_url)
    code, out, _ = run(capsys, "--config", str(path), "status", "--format", "json")
    report = json.loads(out)
    assert code == 1
    sites = {entry["site"]: entry for entry in report["sites"]}
    assert sites["nhandan"]["warnings"] == [] and sites["nhandan"]["last_crawl"]["status"] == "ok"
    assert sites["nhandan"]["articles"] == 1 and sites[OTHER]["articles"] == 2
    # The failed run read none of the site's everyday sources: each is reported missing too.
    assert set(sites[OTHER]["warnings"]) == {"no_crawl", "crawl_failed", "source_missing"}
    assert {(warning["code"], warning.get("site")) for warning in report["warnings"]} == {
        ("no_crawl", OTHER),
        ("crawl_failed", OTHER),
        ("source_missing", OTHER),
    }
    assert [crawl["site"] for crawl in report["crawls"]] == [OTHER, "nhandan"]
    code, out, _ = run(capsys, "--config", str(path), "status")
    assert code == 1
    assert "  nhandan: 1 articles; last crawl" in out and f"  {OTHER}: 2 articles; last crawl" in out
    assert f"! {OTHER}: the last crawl" in out


def test_digest_coverage_line_is_per_site(tmp_path, database_url, archive):
    from reports.digest import crawl_coverage

    now = datetime.now(UTC)
    add_run(
        archive,
        OTHER,
        "failed",
        started=now - timedelta(minutes=30),
        counts={"rss": {"discovered": 0, "fetched": 0, "new": 0, "updated": 0, "unchanged": 0, "failed": 1}},
    )
    with archive.session() as session:
        coverage = crawl_coverage(session, since=None, now=now, tz=UTC, language="en", sites=["nhandan", OTHER])
    by_site = {entry.site: entry for entry in coverage.sites}
    assert (by_site["nhandan"].scanned, by_site["nhandan"].failures, by_site["nhandan"].warning) == (3, 0, None)
    other = by_site[OTHER]
    assert other.warning is not None
    assert (other.scanned, other.failures) == (0, 1) and "failed" in other.warning
    assert coverage.scanned == 3 and coverage.failures == 1 and coverage.runs == 2
    # Each outlet by the short name its items show (the test site's is "BT").
    assert coverage.line.startswith("NDO: Scanned 3 new or updated articles (1 crawl runs")
    assert " BT: Scanned 0 new or updated articles" in coverage.line
    assert coverage.warning is not None
    assert coverage.warning.startswith("BT: Warning: the last crawl")
    with archive.session() as session:
        alone = crawl_coverage(session, since=None, now=now, tz=UTC, language="en", sites=["nhandan"])
    assert alone.line.startswith("Scanned 3") and alone.warning is None


def test_digest_coverage_reads_every_site_in_three_queries(archive):
    from sqlalchemy import event

    from reports.digest import crawl_coverage

    now = datetime.now(UTC)
    add_run(archive, "nhandan", "failed", started=now - timedelta(days=2))
    add_run(archive, OTHER, "ok", started=now - timedelta(hours=40))
    add_run(archive, OTHER, "degraded", started=now - timedelta(minutes=10))
    add_run(archive, OTHER, "running", started=now - timedelta(minutes=1))
    add_run(archive, "vietnamplus", "ok", started=now - timedelta(hours=30))
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(archive.engine, "before_cursor_execute", record)
    try:
        with archive.session() as session:
            coverage = crawl_coverage(
                session, since=None, now=now, tz=UTC, language="en", sites=["nhandan", OTHER, "vietnamplus", "ghost"]
            )
    finally:
        event.remove(archive.engine, "before_cursor_execute", record)
    # The window's runs, each site's last finished run and its last good one: not three queries per site.
    assert len(statements) == 3
    by_site = {entry.site: entry for entry in coverage.sites}
    assert [entry.site for entry in coverage.sites] == ["nhandan", OTHER, "vietnamplus", "ghost"]
    assert (by_site["nhandan"].runs, by_site["nhandan"].warning) == (1, None)
    # The running crawl counts in the window but is not the last crawl: the degraded one before it is.
    other = by_site[OTHER]
    assert other.runs == 2 and other.warning is not None and "degraded" in other.warning
    assert other.last_crawl_at == now - timedelta(minutes=10)
    stale = by_site["vietnamplus"]
    assert (stale.runs, stale.line) == (0, "No crawl has run since the previous digest.")
    assert stale.warning is not None and stale.warning.startswith("Warning: the last successful crawl")
    assert by_site["ghost"].warning == "Warning: no crawl has finished yet." and by_site["ghost"].last_crawl_at is None
