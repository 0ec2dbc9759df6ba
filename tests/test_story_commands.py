"""`topics test` and `articles search` per outlet, over an archive holding one story on several outlets."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bench.stories import load_labelled
from crawler.store import Database
from crawler.store.articles import store_article
from crawler.store.models import ArticleRow
from reports.outlets import outlet
from tests.cli_support import run

# The FDI wire story on VietnamPlus, NDO and Tiền Phong, the province paper's own report, and the
# Hạ Long Bay story (NDO's, copied by VietnamPlus) with the province paper's own angle (which does not
# name the province), and a gold price report.
KEYS = ("vnp-fdi", "ndo-fdi", "tpo-fdi", "bqn-fdi", "ndo-bay", "vnp-bay", "bqn-bay", "vnp-gold-26")


@pytest.fixture
def config(tmp_path, database_url):
    labelled = {entry.key: entry for entry in load_labelled()}
    database = Database(database_url)
    with database.session() as session:
        for key in KEYS:
            item = labelled[key].item
            assert item.published_at is not None
            store_article(session, item, now=item.published_at)
    with database.session() as session:
        stories = dict(session.execute(select(ArticleRow.external_id, ArticleRow.story_id)).all())
    database.dispose()
    path = tmp_path / "bantin.toml"
    path.write_text(f'[storage]\ndatabase_url = "{database_url}"\n', encoding="utf-8")
    return str(path), stories


def test_topics_test_reports_per_outlet_and_counts_stories(capsys, config):
    path, stories = config
    code, out, _ = run(capsys, "--config", path, "topics", "test", '"Quảng Ninh"', "--all", "--format", "json")
    report = json.loads(out)
    assert code == 0
    # Articles match one by one; the digest would show the stories.
    assert (report["scanned"], report["matched"], report["stories"]) == (8, 6, 3)
    assert report["per_site"] == {
        "baoquangninh": {"scanned": 2, "matched": 1, "stories": 1},
        "nhandan": {"scanned": 2, "matched": 2, "stories": 2},
        "tienphong": {"scanned": 1, "matched": 1, "stories": 1},
        "vietnamplus": {"scanned": 3, "matched": 2, "stories": 2},
    }
    assert {row["external_id"]: row["story_id"] for row in report["articles"]} == {
        key: stories[key] for key in KEYS if key not in ("vnp-gold-26", "bqn-bay")
    }
    code, out, _ = run(capsys, "--config", path, "topics", "test", '"Quảng Ninh"', "--all")
    assert "6 of 8 articles in the whole archive match '\"Quảng Ninh\"' (3 stories)" in out
    lines = out.split("per outlet:")[1].split("per day:")[0].strip().splitlines()
    # outlet, site, matched, scanned, stories; the province paper by whatever name its registry entry gives it.
    rows = {line.split()[-4]: (line.rsplit(maxsplit=4)[0].strip(), line.split()[-3:]) for line in lines[2:]}
    assert rows == {
        "baoquangninh": (outlet("baoquangninh").short_name, ["1", "2", "1"]),
        "nhandan": ("NDO", ["2", "2", "2"]),
        "tienphong": ("Tiền Phong", ["1", "1", "1"]),
        "vietnamplus": ("VietnamPlus", ["2", "3", "2"]),
    }
    assert "[VietnamPlus] «Quảng Ninh» thu hút hơn 1,2 tỷ USD" in out


def test_articles_search_lists_every_copy_with_its_other_outlets(capsys, config):
    path, stories = config
    code, out, _ = run(capsys, "--config", path, "articles", "search", "FDI", "--format", "json")
    found = {row["external_id"]: row for row in json.loads(out)}
    assert code == 0 and set(found) == {"vnp-fdi", "ndo-fdi", "tpo-fdi", "bqn-fdi"}
    assert found["ndo-fdi"]["also_on"] == ["vietnamplus", "tienphong"]
    assert found["vnp-fdi"]["also_on"] == ["nhandan", "tienphong"]
    assert found["bqn-fdi"]["also_on"] == [] and found["bqn-fdi"]["story_id"] == stories["bqn-fdi"]
    code, out, _ = run(capsys, "--config", path, "articles", "search", "FDI")
    assert "also_on" in out.splitlines()[0] and "nhandan, tienphong" in out
    code, out, _ = run(capsys, "--config", path, "articles", "search", "FDI", "--count", "--format", "json")
    assert json.loads(out)["per_site"] == {"baoquangninh": 1, "nhandan": 1, "tienphong": 1, "vietnamplus": 1}
    code, out, _ = run(capsys, "--config", path, "articles", "search", "FDI", "--count", "--format", "csv")
    assert out.splitlines() == [
        "site,outlet,matches",
        f"baoquangninh,{outlet('baoquangninh').short_name},1",
        "nhandan,NDO,1",
        "tienphong,Tiền Phong,1",
        "vietnamplus,VietnamPlus,1",
        "total,,4",
    ]


def test_articles_show_names_the_other_outlets_of_its_story(capsys, config):
    path, stories = config
    code, out, _ = run(capsys, "--config", path, "articles", "show", "tienphong:tpo-fdi", "--format", "json")
    shown = json.loads(out)
    assert code == 0 and shown["story_id"] == stories["tpo-fdi"]
    assert shown["also_on"] == ["vietnamplus", "nhandan"]
    code, out, _ = run(capsys, "--config", path, "articles", "show", "tienphong:tpo-fdi")
    assert "the same story on: vietnamplus, nhandan" in out
    code, out, _ = run(capsys, "--config", path, "articles", "show", "baoquangninh:bqn-fdi")
    assert "the same story on" not in out
