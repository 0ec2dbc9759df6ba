"""`articles import` (an export moves an archive between databases) and `articles search` paging, --site, --count."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crawler.items import ExtractedArticle
from crawler.store import Database
from crawler.store.articles import record_sources, store_article
from crawler.store.index import index_status
from crawler.store.models import ArticleRow, ArticleSource, CrawlRun, Match
from tests.cli_support import run
from tests.conftest import POSTGRES_ENV, _fresh_postgres_database

NOW = datetime(2026, 3, 27, 1, 0, tzinfo=UTC)
TOPICS = '\n[[topics]]\nname = "QN"\nquery = \'"Quảng Ninh"\'\n'


def _config(tmp_path, url: str, name: str) -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'[storage]\ndatabase_url = "{url}"\n{TOPICS}', encoding="utf-8")
    return str(path)


def _fill(url: str, count: int = 12) -> None:
    database = Database(url)
    with database.session() as session:
        for number in range(1, count + 1):
            title = f"Quảng Ninh tin số {number}" if number % 3 else f"Hà Nội tin số {number}"
            outcome, row = store_article(
                session,
                ExtractedArticle(
                    site="nhandan" if number % 4 else "other",
                    external_id=str(number),
                    url=f"https://nhandan.vn/a-post{number}.html",
                    title=title,
                    body=f"Nội dung {number}.",
                    tags=["Quảng Ninh"] if number == 5 else [],
                    category=["Kinh tế"],
                    published_at=NOW - timedelta(hours=number),
                ),
                now=NOW,
            )
            record_sources(session, row, {"rss": NOW}, now=NOW, new=True)
    database.dispose()


@pytest.fixture
def target_url(request, tmp_path, database_url):
    """Export from the other kind of database than the test's own: SQLite <-> PostgreSQL when both run."""
    import os

    if database_url.startswith("sqlite") and os.environ.get(POSTGRES_ENV):
        url, drop = _fresh_postgres_database(os.environ[POSTGRES_ENV])
        yield url
        drop()
    else:
        yield f"sqlite:///{tmp_path / 'target.sqlite3'}"


def test_export_then_import_moves_the_archive(tmp_path, capsys, database_url, target_url):
    _fill(database_url)
    source, target = _config(tmp_path, database_url, "source"), _config(tmp_path, target_url, "target")
    dump = tmp_path / "dump.jsonl"
    code, _, _ = run(capsys, "--config", source, "articles", "export", "--out", str(dump))
    assert code == 0
    lines = dump.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["sources"][0]["source"] == "rss"
    # A malformed line is reported with its number and skipped; the others are stored.
    lines.insert(3, '{"site": "nhandan", "external_id": "99", "url": "https://x/1", "title": "T"}')
    lines.insert(5, "{not json")
    dump.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "--config", target, "articles", "import", str(dump))
    assert code == 1
    assert "line 4: skipped: body must be a non-empty string" in err and "line 6: skipped: not JSON" in err
    assert "12 new, 0 updated, 0 unchanged, 2 skipped" in out
    code, out, _ = run(capsys, "--config", target, "articles", "import", str(dump))
    assert "0 new, 0 updated, 12 unchanged, 2 skipped" in out
    moved, original = Database(target_url), Database(database_url)

    def fields(db):
        with db.session(write=False) as session:
            return {
                (r.site, r.external_id): (
                    r.url,
                    r.title,
                    r.body,
                    r.tags,
                    r.category,
                    r.published_at,
                    r.first_seen_at,
                    r.changed_at,
                    r.version,
                )
                for r in session.scalars(select(ArticleRow))
            }

    assert fields(moved) == fields(original)
    with moved.session() as session:
        assert index_status(session).complete
        assert session.scalar(select(func.count()).select_from(Match)) == 8
        assert {s.source for s in session.scalars(select(ArticleSource))} == {"rss"}
        runs = list(session.scalars(select(CrawlRun)))
        assert {run_.trigger for run_ in runs} == {"import"} and {run_.site for run_ in runs} == {"nhandan", "other"}
    moved.dispose()
    original.dispose()


def test_search_pages_newest_first_with_site_and_count(tmp_path, capsys, database_url):
    _fill(database_url)
    config = _config(tmp_path, database_url, "c")
    code, out, _ = run(capsys, "--config", config, "articles", "search", '"Quảng Ninh"', "--count")
    # Per outlet, then the total.
    assert code == 0 and [line.split() for line in out.strip().splitlines()[2:]] == [
        ["nhandan", "NDO", "6"],
        ["other", "other", "2"],
        ["total", "8"],
    ]
    code, out, _ = run(capsys, "--config", config, "articles", "search", '"Quảng Ninh"', "--count", "--format", "json")
    assert json.loads(out) == {"query": '"Quảng Ninh"', "matches": 8, "per_site": {"nhandan": 6, "other": 2}}
    code, out, err = run(
        capsys, "--config", config, "articles", "search", '"Quảng Ninh"', "--limit", "3", "--format", "json"
    )
    first = [item["external_id"] for item in json.loads(out)]
    assert first == ["1", "2", "4"]
    code, out, err = run(capsys, "--config", config, "articles", "search", '"Quảng Ninh"', "--limit", "3")
    assert "next page: --before other:4" in err
    code, out, _ = run(
        capsys,
        "--config",
        config,
        "articles",
        "search",
        '"Quảng Ninh"',
        "--limit",
        "3",
        "--before",
        "other:4",
        "--format",
        "json",
    )
    assert [item["external_id"] for item in json.loads(out)] == ["5", "7", "8"]
    code, out, _ = run(
        capsys, "--config", config, "articles", "search", '"Quảng Ninh"', "--site", "other", "--format", "json"
    )
    assert [item["external_id"] for item in json.loads(out)] == ["4", "8"]
    code, _, err = run(capsys, "--config", config, "articles", "search", '"Quảng Ninh"', "--site", "nope")
    assert code == 2 and "unknown site 'nope'" in err
    code, _, err = run(capsys, "--config", config, "articles", "search", '("Quảng Ninh"')
    assert code == 2 and "position 0" in err


def test_an_import_sets_the_heap_before_it_aside_from_the_collector_and_back_after(database):
    import gc

    from crawler.imports import import_articles
    from crawler.topics import TopicSet

    seen = []
    article = {"site": "nhandan", "url": "https://nhandan.vn/a1.html", "title": "Tin", "body": "Nội dung."}

    def lines(external_id: str):
        seen.append(gc.get_freeze_count())
        yield json.dumps({**article, "external_id": external_id, "url": f"https://nhandan.vn/a{external_id}.html"})

    assert gc.get_freeze_count() == 0
    assert import_articles(database, lines("1"), TopicSet.from_config([]), now=NOW).new == 1
    # Frozen while the import ran, nothing left frozen after it.
    assert seen[0] > 0 and gc.get_freeze_count() == 0
    gc.freeze()
    try:
        frozen, seen[:] = gc.get_freeze_count(), []
        assert import_articles(database, lines("2"), TopicSet.from_config([]), now=NOW).new == 1
        # A caller's own freeze is neither added to nor undone (frozen objects freed since have left it).
        assert seen == [frozen] and 0 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
