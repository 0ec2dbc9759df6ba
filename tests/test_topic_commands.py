"""Topics in the archive: re-matching on change, `bantin match`, `topics list|test|rematch`, `articles --topic`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crawler.items import ExtractedArticle
from crawler.matching import Hit
from crawler.store import Database
from crawler.store.articles import store_article
from crawler.store.models import ArticleRow, Match, Topic
from crawler.topics import prepare_topics
from tests.cli_support import run

NOW = datetime.now(UTC)

ARTICLES = [
    (1001, "Quảng Ninh phát triển công nghiệp hỗ trợ", "Tỉnh Quảng Ninh thu hút đầu tư.", ["Quảng Ninh"]),
    (1002, "Hội thảo về CNHT tại Hà Nội", "Doanh nghiệp CNHT kiến nghị chính sách.", []),
    (1003, "Quảng Nam đón khách du lịch", "Du lịch Quảng Nam tăng trưởng.", ["Quảng Nam"]),
    (1004, "Phát triển công nghiệp. Hỗ trợ doanh nghiệp nhỏ", "Không phải cụm từ liền nhau.", []),
    (1005, "Vịnh Hạ Long đón khách", "Du khách đến Hạ Long, Quảng Ninh ngày càng đông.", []),
]


def config_text(database_url: str, topics: list[tuple[str, str]]) -> str:
    blocks = "".join(f"\n[[topics]]\nname = \"{name}\"\nquery = '{query}'\n" for name, query in topics)
    return f'[storage]\ndatabase_url = "{database_url}"\n{blocks}'


@pytest.fixture
def archive(tmp_path, database_url):
    database = Database(database_url)
    with database.session() as session:
        for offset, (article_id, title, body, tags) in enumerate(ARTICLES):
            store_article(
                session,
                ExtractedArticle(
                    site="nhandan",
                    external_id=str(article_id),
                    url=f"https://nhandan.vn/a-post{article_id}.html",
                    title=title,
                    body=body,
                    tags=tags,
                    published_at=NOW - timedelta(days=offset),
                    category=["Kinh tế"],
                ),
                now=NOW,
            )
    database.dispose()
    return database_url


def stored_matches(database_url: str) -> dict[str, set[int]]:
    database = Database(database_url)
    with database.session() as session:
        found: dict[str, set[int]] = {}
        for match, post_id in session.execute(select(Match, ArticleRow.external_id).join(ArticleRow)):
            found.setdefault(match.topic, set()).add(int(post_id))
    database.dispose()
    return found


def test_adding_or_changing_a_topic_rematches_the_archive(archive):
    database = Database(archive)
    prepare_topics(database, [{"name": "QN", "query": '"Quảng Ninh"'}], now=NOW)
    assert stored_matches(archive) == {"QN": {1001, 1005}}
    # A new topic is matched over the existing archive at once: never empty.
    prepare_topics(
        database,
        [{"name": "QN", "query": '"Quảng Ninh"'}, {"name": "CNHT", "query": '"công nghiệp hỗ trợ" OR CNHT'}],
        now=NOW,
    )
    assert stored_matches(archive) == {"QN": {1001, 1005}, "CNHT": {1001, 1002}}
    # Changing a query replaces its matches; removing a topic removes them.
    prepare_topics(database, [{"name": "QN", "query": '"Quảng Ninh" NOT "Hạ Long"'}], now=NOW)
    assert stored_matches(archive) == {"QN": {1001}}
    with database.session() as session:
        assert [t.name for t in session.scalars(select(Topic))] == ["QN"]
    database.dispose()


def test_matches_record_term_field_offsets_and_snippet(archive):
    database = Database(archive)
    prepare_topics(database, [{"name": "QN", "query": '"Quảng Ninh"'}], now=NOW)
    with database.session() as session:
        match = session.scalar(select(Match).join(ArticleRow).where(ArticleRow.external_id == "1005"))
        assert match is not None
        hits = match.hits
        assert match.article_version == 1 and match.topic_version
    database.dispose()
    hit = hits[0]
    body = ARTICLES[4][2]
    assert isinstance(hit, Hit)
    assert hit.field == "body" and hit.term == "Quảng Ninh"
    assert body[hit.start : hit.end] == "Quảng Ninh"
    assert hit.snippet_parts[1] == "Quảng Ninh"


def test_topics_list_test_and_rematch(tmp_path, archive, capsys):
    path = tmp_path / "bantin.toml"
    path.write_text(config_text(archive, [("Quảng Ninh", '"Quảng Ninh"'), ("CNHT", '"công nghiệp hỗ trợ" OR CNHT')]))
    code, out, _ = run(capsys, "--config", str(path), "topics", "list", "--format", "json")
    assert code == 0
    listed = {row["name"]: row for row in json.loads(out)}
    assert listed["Quảng Ninh"]["archive"] == "needs rematch"
    code, out, _ = run(capsys, "--config", str(path), "topics", "rematch")
    assert code == 0 and "Quảng Ninh: 2 matching article(s)" in out and "CNHT: 2 matching" in out
    code, out, _ = run(capsys, "--config", str(path), "topics", "list", "--format", "json")
    assert {row["archive"] for row in json.loads(out)} == {"current"}
    assert {row["name"]: row["matches"] for row in json.loads(out)} == {"Quảng Ninh": 2, "CNHT": 2}

    code, out, _ = run(
        capsys, "--config", str(path), "topics", "test", '"quang ninh" OR "quang nam"', "--format", "json"
    )
    report = json.loads(out)
    assert code == 0
    assert report["scanned"] == 5 and report["matched"] == 3
    assert report["terms"] == {"quang ninh": 2, "quang nam": 1}
    assert sum(report["per_day"].values()) == 3
    code, out, _ = run(capsys, "--config", str(path), "topics", "test", "CNHT")
    assert "1 of 5 articles" in out and "Hội thảo về «CNHT» tại Hà Nội" in out  # highlighted when piped


def test_articles_list_filters_by_topic(tmp_path, archive, capsys):
    path = tmp_path / "bantin.toml"
    path.write_text(config_text(archive, [("Quảng Ninh", '"Quảng Ninh"')]))
    run(capsys, "--config", str(path), "topics", "rematch")
    code, out, _ = run(capsys, "--config", str(path), "articles", "list", "--topic", "quảng ninh", "--format", "json")
    assert code == 0
    assert [row["external_id"] for row in json.loads(out)] == ["1001", "1005"]
    code, _, err = run(capsys, "--config", str(path), "articles", "list", "--topic", "Hà Nội")
    assert code == 2 and "unknown topic 'Hà Nội'" in err


def test_articles_search_uses_vietnamese_rules(tmp_path, archive, capsys):
    path = tmp_path / "bantin.toml"
    path.write_text(config_text(archive, []))
    code, out, _ = run(capsys, "--config", str(path), "articles", "search", '"công nghiệp hỗ trợ"', "--format", "json")
    # "công nghiệp. Hỗ trợ" (1004) is not the phrase: punctuation is not a space.
    assert [row["external_id"] for row in json.loads(out)] == ["1001"]


@pytest.mark.parametrize(
    "argv, matched",
    [
        (["Ha", "--text", "Hà Nội"], True),
        (["Hạ", "--text", "Hà Nội"], False),
        (['"hòa bình"', "--text", "Thủ đô hoà bình"], True),
        (['"Quảng Ninh"', "--text", "Namibia và Quảng  Ninh"], True),
    ],
)
def test_match_command_json_and_exit_status(capsys, argv, matched):
    code, out, _ = run(capsys, "match", *argv, "--format", "json")
    data = json.loads(out)
    assert data["matched"] is matched
    assert code == (0 if matched else 1)
    if matched:
        assert set(data["hits"][0]) >= {"term", "field", "start", "end", "snippet"}


def test_match_command_reads_stdin_and_reports_bad_queries(capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("Công nghiệp hỗ trợ phát triển"))
    code, out, _ = run(capsys, "match", '"công nghiệp hỗ trợ"')
    assert code == 0 and out.startswith("matched")
    code, _, err = run(capsys, "match", '"unclosed', "--text", "x")
    assert code == 2 and err.startswith("bantin: error: query error at position")
