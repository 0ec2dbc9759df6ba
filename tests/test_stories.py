"""One story across outlets: the grouping rule, the labelled set, and story ids kept wherever articles are stored."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bench.stories import LABELLED, evaluate, load_labelled
from crawler.imports import import_articles
from crawler.items import ExtractedArticle
from crawler.store import Database
from crawler.store.articles import store_article
from crawler.store.models import ArticleFingerprint, ArticleRow, Match, Story
from crawler.stories import Fingerprint, fingerprint, headline_days, same_story, signature_version
from crawler.topics import prepare_topics

NOW = datetime(2026, 4, 1, tzinfo=UTC)
# Floors, not the figures: the set is small, and a rule change may trade a pair for another.
MIN_PRECISION = 0.95
MIN_RECALL = 0.85


@pytest.fixture(scope="module")
def labelled():
    return load_labelled()


def by_key(labelled):
    return {entry.key: entry for entry in labelled}


def test_the_labelled_set_has_copies_and_near_misses(labelled):
    notes = [entry.note for entry in labelled]
    assert sum(note.startswith("copy") for note in notes) >= 10
    assert sum(note.startswith("near-miss") for note in notes) >= 8
    # Every near-miss shares its event, its template or its phrases with a story of another outlet.
    for entry in labelled:
        if entry.note.startswith("near-miss"):
            assert any(
                other.item.site != entry.item.site
                and other.story != entry.story
                and other.story.split("-")[0] == entry.story.split("-")[0]
                for other in labelled
            ), entry.key


@pytest.mark.parametrize("batch,seed", [(7, 1), (1, 5), (30, 2)])
def test_grouping_on_the_labelled_set_meets_the_floors(database_url, labelled, batch, seed):
    database = Database(database_url)
    try:
        result = evaluate(database, labelled, batch=batch, seed=seed)
        with database.session() as session:
            # Every article is still stored on its own, each fingerprinted.
            assert session.scalar(select(func.count()).select_from(ArticleRow)) == len(labelled)
            assert session.scalar(select(func.count()).select_from(ArticleFingerprint)) == len(labelled)
            # At most one article per outlet in a story.
            per_story = session.execute(
                select(ArticleRow.story_id, ArticleRow.site, func.count()).group_by(
                    ArticleRow.story_id, ArticleRow.site
                )
            ).all()
            assert all(count == 1 for _, _, count in per_story)
    finally:
        database.dispose()
    assert result.precision >= MIN_PRECISION, result.mistakes
    assert result.recall >= MIN_RECALL, result.mistakes
    assert result.true_pairs >= 12


def test_a_three_outlet_wire_story_is_one_story_and_its_independent_report_is_not(database, labelled):
    evaluate(database, labelled)
    with database.session() as session:
        story = dict(session.execute(select(ArticleRow.external_id, ArticleRow.story_id)).all())
    assert story["vnp-fdi"] == story["ndo-fdi"] == story["tpo-fdi"]
    assert story["bqn-fdi"] != story["vnp-fdi"]
    assert story["vnp-gold-26"] == story["ndo-gold-26"] != story["tpo-gold-27"] != story["vnp-gold-28"]
    assert story["ndo-vat"] == story["vnp-vat"] != story["tpo-vat"]


def test_headlines_naming_other_days_are_other_stories(labelled):
    gold = by_key(labelled)["vnp-gold-26"].item
    assert headline_days("Giá vàng hôm nay 26/3: tăng") == {(26, 3)}
    assert headline_days("ngày 26/03/2026") == {(26, 3)}
    first = fingerprint(gold.title, gold.sapo, gold.body)
    # The very same text, but a headline for another day: a templated report, not a copy.
    next_day = fingerprint(gold.title.replace("26/3", "27/3"), gold.sapo, gold.body)
    assert same_story(first, fingerprint(gold.title, gold.sapo, gold.body))
    assert not same_story(first, next_day)


def test_fingerprints_ignore_case_tone_placement_nfd_and_invisible_characters():
    import unicodedata

    text = "Hoà bình và phát triển bền vững là mục tiêu của cả khu vực " * 5
    plain = fingerprint("Tiêu đề", "", text)
    variant = fingerprint(
        "TIÊU ĐỀ", "", unicodedata.normalize("NFD", text.replace("Hoà", "Hòa").upper()).replace(" ", " \u200b")
    )
    assert (plain.signature == variant.signature).all() and plain.title == variant.title
    stored = Fingerprint.from_stored(plain.to_bytes(), plain.title, plain.shingles)
    assert (stored.signature == plain.signature).all()


def test_signatures_are_those_of_the_shingles_of_the_whole_placed_text(labelled):
    """Stored signatures stay comparable: the shingles are built piece by piece, as if from the whole exact key."""
    import re

    from rensa import RMinHash

    from crawler.stories import NUM_PERM, SEED, SHINGLE
    from crawler.text import normalize

    def reference(sapo: str, body: str) -> list[int]:
        words = [w for text in (sapo, body) for w in re.findall(r"[^\W_]+", normalize(text).exact)]
        shingles = {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)} or {" ".join(words)}
        minhash = RMinHash(num_perm=NUM_PERM, seed=SEED)
        minhash.update(sorted(shingles - {""}))
        return list(minhash.digest())

    odd = ("Quý khách (gìn giữ) thuỷ_lợi 2026/3 hoà-bình\u200b QUẢNG\u00a0NINH", "Ðà Nẵng, 北京 x² " * 3)
    for sapo, body in [(entry.item.sapo, entry.item.body) for entry in labelled] + [odd, ("", "một hai")]:
        assert list(fingerprint("", sapo, body).signature) == reference(sapo, body)


def _item(entry, **changes) -> ExtractedArticle:
    return replace(entry.item, **changes)


def test_an_edited_article_keeps_its_story_and_gets_a_fresh_fingerprint(database, labelled):
    entries = by_key(labelled)
    with database.session() as session:
        for key in ("vnp-cold", "ndo-cold"):
            store_article(session, entries[key].item, now=NOW)
    with database.session() as session:
        rows = {row.external_id: row for row in session.scalars(select(ArticleRow))}
        story = rows["ndo-cold"].story_id
        assert rows["vnp-cold"].story_id == story
        before = session.get(ArticleFingerprint, rows["ndo-cold"].id).signature
    edited = _item(entries["ndo-cold"], body=entries["ndo-cold"].item.body + "\n\nCập nhật: mưa lớn ở vùng núi.")
    with database.session() as session:
        outcome, row = store_article(session, edited, now=NOW + timedelta(hours=1))
        assert outcome == "updated"
    with database.session() as session:
        row = session.scalar(select(ArticleRow).where(ArticleRow.external_id == "ndo-cold"))
        assert row.story_id == story and row.version == 2
        fresh = session.get(ArticleFingerprint, row.id)
        assert fresh.signature != before and fresh.version == signature_version()


def test_the_same_outlet_never_joins_its_own_story_twice(database, labelled):
    entries = by_key(labelled)
    repeat = _item(entries["ndo-fdi"], external_id="ndo-fdi-again", url="https://nhandan.example/again.html")
    with database.session() as session:
        for item in (entries["vnp-fdi"].item, entries["ndo-fdi"].item, repeat):
            store_article(session, item, now=NOW)
    with database.session() as session:
        story = dict(session.execute(select(ArticleRow.external_id, ArticleRow.story_id)).all())
    assert story["vnp-fdi"] == story["ndo-fdi"] != story["ndo-fdi-again"]


def test_a_copy_more_than_the_window_later_is_its_own_story(database, labelled):
    entries = by_key(labelled)
    late = _item(entries["ndo-cnht"], published_at=entries["vnp-cnht"].item.published_at + timedelta(days=4))
    with database.session() as session:
        store_article(session, entries["vnp-cnht"].item, now=NOW)
    with database.session() as session:
        store_article(session, late, now=NOW)
    with database.session() as session:
        assert session.scalar(select(func.count(func.distinct(ArticleRow.story_id)))) == 2


def test_an_import_groups_as_a_crawl_does_and_each_copy_is_matched_on_its_own(database, labelled):
    lines = []
    for entry in labelled:
        data = entry.item.to_dict()
        lines.append(
            json.dumps(
                {key: data[key] for key in ("site", "external_id", "url", "title", "sapo", "body", "published_at")},
                ensure_ascii=False,
            )
        )
    topics = prepare_topics(database, [{"name": "QN", "query": '"Quảng Ninh"'}], now=NOW)
    report = import_articles(database, lines, topics, now=NOW, batch_size=8)
    assert report.new == len(labelled)
    with database.session() as session:
        story = dict(session.execute(select(ArticleRow.external_id, ArticleRow.story_id)).all())
        matched = set(session.scalars(select(ArticleRow.external_id).join(Match, Match.article_id == ArticleRow.id)))
        assert session.scalar(select(func.count()).select_from(Story)) == len(set(story.values()))
    assert story["vnp-fdi"] == story["ndo-fdi"] == story["tpo-fdi"] != story["bqn-fdi"]
    # Copies are matched one by one, like any article.
    assert {"vnp-fdi", "ndo-fdi", "tpo-fdi", "bqn-fdi"} <= matched


def test_the_labelled_file_is_what_its_builder_writes(tmp_path, monkeypatch):
    from tests.fixtures.stories import build

    monkeypatch.setattr(build, "HERE", tmp_path)
    build.main()
    assert (tmp_path / "labelled.json").read_text(encoding="utf-8") == LABELLED.read_text(encoding="utf-8")


def _wait_for_lock_waiter(database) -> None:
    """Until another session waits for the placement lock (PostgreSQL; SQLite writers queue on the file lock)."""
    import time

    from sqlalchemy import text

    if database.dialect != "postgresql":
        return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with database.engine.connect() as connection:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE '%pg_advisory_xact_lock%'"
                )
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError("the second writer never waited for the placement lock")


def test_two_writers_storing_copies_at_once_see_each_other(database_url, labelled):
    import threading

    entries = by_key(labelled)
    database = Database(database_url)
    errors = []

    def second_writer():
        try:
            with database.session() as session:
                store_article(session, entries["ndo-cold"].item, now=NOW)
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    first = database.session()
    try:
        session = first.__enter__()
        store_article(session, entries["vnp-cold"].item, now=NOW)
        session.flush()  # placed in its story, not committed yet
        thread = threading.Thread(target=second_writer)
        thread.start()
        try:
            _wait_for_lock_waiter(database)
        finally:
            first.__exit__(None, None, None)
            thread.join(timeout=120)
        assert not thread.is_alive() and not errors, errors
        with database.session() as session:
            assert session.scalar(select(func.count(func.distinct(ArticleRow.story_id)))) == 1
    finally:
        database.dispose()


def test_signatures_are_the_same_in_every_process():
    """Stored signatures are compared with ones computed by later processes: nothing may depend on the process."""
    import os
    import subprocess
    import sys

    code = (
        "from crawler.stories import fingerprint; "
        "print(fingerprint('Tiêu đề', 'Sapo ngắn.', 'Hà Nội đón khách quốc tế ' * 20).to_bytes().hex())"
    )
    here = fingerprint("Tiêu đề", "Sapo ngắn.", "Hà Nội đón khách quốc tế " * 20).to_bytes().hex()
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        assert out == here


# --- a process's cached fingerprints ------------------------------------------------------------
# Each Database is one engine, as each process has one: the second plays another process.


def _stories(database_url) -> dict[str, int]:
    database = Database(database_url)
    try:
        with database.session() as session:
            return dict(session.execute(select(ArticleRow.external_id, ArticleRow.story_id)).all())
    finally:
        database.dispose()


def _store(database, *items) -> None:
    with database.session() as session:
        for item in items:
            store_article(session, item, now=NOW)


def test_a_placement_sees_a_copy_another_process_stored_since_its_last_one(database_url, labelled):
    entries = by_key(labelled)
    first, second = Database(database_url), Database(database_url)
    try:
        _store(first, entries["vnp-fdi"].item)
        _store(second, entries["ndo-fdi"].item)
        # The first process founded the story; it must learn that NDO has joined it since.
        _store(first, _item(entries["ndo-fdi"], external_id="ndo-fdi-again", url="https://nhandan.example/again.html"))
    finally:
        first.dispose()
        second.dispose()
    story = _stories(database_url)
    assert story["vnp-fdi"] == story["ndo-fdi"] != story["ndo-fdi-again"]


@pytest.mark.parametrize("editor", ["another process", "the same process"])
def test_a_placement_compares_with_what_an_edited_article_says_now(database_url, labelled, editor):
    entries = by_key(labelled)
    first = Database(database_url)
    second = Database(database_url) if editor == "another process" else first
    rewritten = _item(
        entries["vnp-cold"], title=entries["bqn-fdi"].item.title, sapo="", body=entries["bqn-fdi"].item.body
    )
    try:
        _store(first, entries["vnp-cold"].item)
        with second.session() as session:
            assert store_article(session, rewritten, now=NOW + timedelta(hours=1))[0] == "updated"
        # A copy of what the VietnamPlus article used to say is no copy of what it says now.
        _store(first, entries["ndo-cold"].item)
    finally:
        first.dispose()
        second.dispose()
    story = _stories(database_url)
    assert story["ndo-cold"] != story["vnp-cold"]


@pytest.mark.parametrize("undone", ["transaction", "savepoint"])
def test_a_placement_undone_leaves_nothing_behind_for_the_next(database, labelled, undone):
    entries = by_key(labelled)
    _store(database, entries["vnp-fdi"].item)  # the process's fingerprints are trusted from here
    if undone == "transaction":
        with pytest.raises(RuntimeError), database.session() as session:
            store_article(session, entries["vnp-crash"].item, now=NOW)
            session.flush()  # placed (a new story founded), then the transaction fails
            raise RuntimeError("storage failed part-way")
    else:
        with database.session() as session:
            savepoint = session.begin_nested()
            store_article(session, entries["vnp-crash"].item, now=NOW)
            session.flush()
            savepoint.rollback()
            # The rest of the transaction places and commits.
            store_article(session, entries["ndo-fdi"].item, now=NOW)
    # The copy finds no story of the undone original: it founds one that exists.
    _store(database, entries["bqn-crash"].item)
    with database.session() as session:
        row = session.scalar(select(ArticleRow).where(ArticleRow.external_id == "bqn-crash"))
        assert session.get(Story, row.story_id) is not None
    assert "vnp-crash" not in _stories(database.url)


def test_a_placement_reads_what_it_lacks_of_a_window_its_process_has_not_seen(database_url, labelled):
    entries = by_key(labelled)
    first, second = Database(database_url), Database(database_url)
    original = entries["vnp-cnht"].item
    try:
        # Stored before the first process reads anything, six days after what it reads first.
        _store(second, original)
        _store(first, _item(entries["bqn-fdi"], published_at=original.published_at - timedelta(days=6)))
        # The copy's window reaches past everything the first process has read.
        _store(first, entries["ndo-cnht"].item)
    finally:
        first.dispose()
        second.dispose()
    story = _stories(database_url)
    assert story["ndo-cnht"] == story["vnp-cnht"]


@pytest.mark.parametrize(
    "sapo, body",
    [
        ("", ""),
        ("Một", ""),
        ("Một hai", "ba"),
        ("Hoà bình, thuỷ lợi", "Giá vàng hôm nay 26/3 tăng; Hòa bình và THỦY lợi. Một hai ba một hai ba."),
        ("北京 Zalo 😀 Ðà Nẵng", "Cafe\u0301 ở Hà Nội —\u00a0mọi người\u200b đều biết."),
    ],
)
def test_a_signature_is_the_minhash_of_the_texts_shingles(sapo, body):
    """What stored signatures were made of: the distinct three-syllable runs of the exact keys, as text."""
    import re

    import numpy as np
    from rensa import RMinHash

    from crawler.text import normalize

    words = [word for text in (sapo, body) for word in re.findall(r"[^\W_]+", normalize(text).exact)]
    shingles = {" ".join(words[start : start + 3]) for start in range(max(1, len(words) - 2))} - {""}
    minhash = RMinHash(num_perm=128, seed=20261202)
    minhash.update(shingles)
    found = fingerprint("Tiêu đề", sapo, body)
    assert found.shingles == len(shingles)
    if shingles:
        assert np.array_equal(found.signature, np.array(minhash.digest(), dtype="<u4"))
