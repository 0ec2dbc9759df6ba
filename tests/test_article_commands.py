"""`bantin extract` and `bantin articles show|export`: what a user runs to look at pages and the archive."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.items import ExtractedArticle, Image
from crawler.store import Database
from crawler.store.articles import record_sources, store_article
from tests.cli_support import run

FIXTURES = Path(__file__).parent / "fixtures" / "ndo"
NOW = datetime(2026, 3, 27, 1, 0, tzinfo=UTC)


def test_extract_a_saved_page_prints_the_item_as_json(capsys):
    code, out, _ = run(capsys, "extract", str(FIXTURES / "article_full.html"))
    item = json.loads(out)
    assert code == 0
    assert (item["site"], item["external_id"]) == ("nhandan", "981234")
    assert item["url"].startswith("https://nhandan.vn/") and item["url"].endswith("-post981234.html")
    assert item["extractor"] == "site"
    assert item["published_at"].endswith("+07:00")
    assert "related" not in item["body"].lower()


def test_extract_text_format_and_errors(capsys, tmp_path):
    code, out, _ = run(capsys, "extract", str(FIXTURES / "article_full.html"), "--format", "text")
    assert code == 0 and out.startswith("site: nhandan\nexternal_id: 981234")
    code, _, err = run(capsys, "extract", str(tmp_path / "missing.html"))
    assert code == 2 and err.strip().splitlines() == [
        f"bantin: error: cannot read {tmp_path / 'missing.html'}: No such file or directory"
    ]
    broken = tmp_path / "broken-post5.html"
    broken.write_text("<html><body><p>no title here</p></body></html>", encoding="utf-8")
    code, _, err = run(capsys, "extract", str(broken), "--url", "https://nhandan.vn/x-post5.html")
    assert (
        code == 1
        and len(err.strip().splitlines()) == 1
        and err.startswith("bantin: error: https://nhandan.vn/x-post5.html")
    )


def test_extract_reads_a_saved_page_with_the_site_its_canonical_url_names(capsys):
    saved = Path(__file__).parent / "fixtures" / "baoquangninh" / "article-drifted.html"
    code, out, _ = run(capsys, "extract", str(saved))
    item = json.loads(out)
    assert code == 0 and item["site"] == "baoquangninh" and item["url"].startswith("https://baoquangninh.vn/")
    # Which layer served each field, and what fell past the paper's own selectors.
    assert item["layers"]["title"] == "jsonld" and item["layers"]["body"] == "generic"
    assert (item["extractor"], item["fallbacks"]) == ("generic", ["body"])


@pytest.fixture
def config_path(tmp_path, database_url):
    database = Database(database_url)
    with database.session() as session:
        _, row = store_article(
            session,
            ExtractedArticle(
                site="nhandan",
                external_id="985001",
                url="https://nhandan.vn/quang-ninh-post985001.html",
                title="Quảng Ninh phát triển công nghiệp hỗ trợ",
                sapo="Sapo.",
                body="Đoạn một.\n\nĐoạn hai.",
                author="VĂN CHÚC",
                published_at=NOW,
                category=["Kinh tế"],
                tags=["Quảng Ninh"],
                images=[Image("https://image.nhandan.vn/a.jpg", "Quang cảnh hội thảo.")],
            ),
            now=NOW,
        )
        record_sources(session, row, {"rss": NOW}, now=NOW, new=True)
    database.dispose()
    path = tmp_path / "bantin.toml"
    path.write_text(f'[storage]\ndatabase_url = "{database_url}"\n', encoding="utf-8")
    return path


def test_articles_show_by_id_or_url(capsys, config_path):
    code, out, _ = run(capsys, "--config", str(config_path), "articles", "show", "985001", "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert data["title"] == "Quảng Ninh phát triển công nghiệp hỗ trợ"
    assert [s["source"] for s in data["sources"]] == ["rss"]
    assert data["images"] == [{"url": "https://image.nhandan.vn/a.jpg", "caption": "Quang cảnh hội thảo."}]
    code, out, _ = run(
        capsys,
        "--config",
        str(config_path),
        "articles",
        "show",
        "https://nhandan.vn/quang-ninh-post985001.html?utm_source=x",
    )
    assert code == 0 and out.startswith("Quảng Ninh phát triển công nghiệp hỗ trợ")
    assert "published 2026-03-27 08:00" in out  # shown in Vietnam time
    code, _, err = run(capsys, "--config", str(config_path), "articles", "show", "1")
    assert code == 2 and "no stored article '1'" in err


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_articles_export_every_field(capsys, config_path, tmp_path, fmt):
    out_file = tmp_path / f"export.{fmt}"
    code, _, err = run(
        capsys, "--config", str(config_path), "articles", "export", "--format", fmt, "--out", str(out_file)
    )
    assert code == 0 and "exported 1 article(s)" in err
    text = out_file.read_text(encoding="utf-8")
    if fmt == "jsonl":
        rows = [json.loads(line) for line in text.splitlines()]
    elif fmt == "json":
        rows = json.loads(text)
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        rows[0]["category"] = json.loads(rows[0]["category"])
    assert len(rows) == 1
    assert rows[0]["title"] == "Quảng Ninh phát triển công nghiệp hỗ trợ"
    assert rows[0]["category"] == ["Kinh tế"]
    assert rows[0]["published_at"].startswith("2026-03-27T01:00:00")
