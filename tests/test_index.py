"""The archive index: it narrows, the matcher decides (same answers as a scan), and it never drifts."""

from __future__ import annotations

import itertools
import sys
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, inspect, select, text

from crawler.items import ExtractedArticle
from crawler.matching import ArticleFields, Matcher, TopicSpec, match_query
from crawler.query import parse_query
from crawler.store import Database
from crawler.store import archive as archive_module
from crawler.store import index as archive_index
from crawler.store.archive import article_query, matching_articles, matching_rows
from crawler.store.articles import store_article
from crawler.store.index import (
    candidate_subquery,
    field_tokens,
    index_available,
    index_status,
    narrowing,
    term_tokens,
)
from crawler.store.models import ArticleRow, Match
from crawler.text import fold, is_word_char, normalize
from crawler.topics import TopicSet, prepare_topics, rematch

NOW = datetime(2026, 3, 27, 1, 0, tzinfo=UTC)
NFD = lambda text: unicodedata.normalize("NFD", text)  # noqa: E731

# (title, body, tags, category): each a case the index must not get wrong.
HARD_CASES = [
    ("Phát triển công nghiệp hỗ trợ", "Doanh nghiệp cần vốn.", [], ["Kinh tế"]),
    (NFD("Công nghiệp hỗ trợ ở Quảng Ninh"), NFD("Tỉnh Quảng Ninh thu hút đầu tư."), ["Quảng Ninh"], ["Kinh tế"]),
    ("Phát triển công nghiệp. Hỗ trợ doanh nghiệp nhỏ", "Không phải cụm từ liền nhau.", [], ["Kinh tế"]),
    ("Namibia và Việt Nam hợp tác", "Namibia ký thỏa thuận.", [], ["Thế giới"]),
    ("Đội tuyển Namibia", "Namibia thắng.", [], ["Thể thao"]),
    ("Hoà bình và thuỷ lợi", "Công trình thuỷ lợi hoà thuận.", [], ["Xã hội"]),
    ("Hòa bình, thủy lợi", "Thúy và Thuý.", [], ["Xã hội"]),
    ("Hạ Long đón khách", "Du khách đến Hạ Long, Quảng Ninh.", [], ["Du lịch"]),
    ("Hà Nội mùa thu", "ha noi khong dau.", ["Hà Nội"], ["Xã hội"]),
    ("Chuyển đổi số ở địa phương", "Bài viết.", ["Chuyển đổi số"], ["Kinh tế", "Thị trường"]),
    ("Một bài khác", "Nói về chuyển đổi số trong thân bài.", [], ["Thị trường"]),
    ("Thẻ tách rời", "Không có cụm từ.", ["Việt", "Nam"], ["Xã hội"]),
    ("Quảng\u00a0Ninh\u200b mùa mưa", "Quảng\u2009Ninh\tmưa lớn.", [], ["Thời tiết"]),
    ("\u00d0à Nẵng phát triển", "Ðà Nẵng và Da Nang.", [], ["Kinh tế"]),
    ("Zalo và 北京大学", "zalo mở văn phòng ở 北京.", ["Zalo"], ["Công nghệ"]),
    ("Dịch covid-19 giảm 3,5%", "snake_case và covid 19.", [], ["Y tế"]),
    ("Quảng Nam đón khách", "Du lịch Quảng Nam tăng trưởng.", ["Quảng Nam"], ["Du lịch"]),
    # Over PostgreSQL's 16,383 positions and 256 positions per lexeme: matched without phrase positions.
    ("Bài rất dài", "lorem ipsum " * 9000 + "công nghiệp hỗ trợ ở cuối bài. lorem", [], ["Kinh tế"]),
]

QUERIES = [
    '"công nghiệp hỗ trợ"',
    "cong nghiep ho tro",
    "Nam",
    '"Việt Nam"',
    "Namibia",
    '"hòa bình"',
    '"hoà bình"',
    "thuy loi",
    '"Thủy lợi"',
    "Thuý",
    "Hà",
    "ha",
    "ha noi",
    'tag:"Chuyển đổi số"',
    'category:"Thị trường"',
    'category:"Kinh tế" AND tag:"Chuyển đổi số"',
    '"Quảng Ninh" NOT "Hạ Long"',
    'tag:"Việt Nam"',
    '"Đà Nẵng"',
    "da nang",
    "Zalo",
    "北京",
    "covid-19",
    '"3,5%"',
    "snake",
    'title:(Namibia OR "Việt Nam")',
    '-"Quảng Nam" "Quảng Ninh"',
    '("công nghiệp" OR CNHT) AND body:"hỗ trợ"',
    '"Quảng Ninh" OR "Quảng Nam"',
    "lorem ipsum",
    '"ipsum công nghiệp"',
    "body:(cuối bài) NOT title:dài",
]


def _item(number: int, title: str, body: str, tags, category, *, site: str = "nhandan") -> ExtractedArticle:
    return ExtractedArticle(
        site=site,
        external_id=str(number),
        url=f"https://nhandan.vn/a-post{number}.html",
        title=title,
        body=body,
        sapo="",
        tags=list(tags),
        category=list(category),
        published_at=NOW - timedelta(hours=number),
    )


@pytest.fixture
def hard_archive(database):
    with database.session() as session:
        for number, case in enumerate(HARD_CASES, start=1):
            store_article(session, _item(number, *case), now=NOW)
    return database


def _scan(session, query: str, mode: str) -> list[int]:
    matcher = Matcher([TopicSpec("q", query, mode)])
    return [
        row.id
        for row in session.scalars(article_query())
        if matcher.carried(ArticleFields.from_article(row), "q") is not None
    ]


def _indexed(session, query: str, mode: str) -> list[int]:
    matcher = Matcher([TopicSpec("q", query, mode)])
    return [
        row.id
        for row, _ in matching_articles(
            session,
            parse_query(query),
            lambda row: matcher.carried(ArticleFields.from_article(row), "q"),
            first_batch=2,  # as a caller that wants one page
        )
    ]


def _candidates(session, query: str) -> set[int]:
    expr = narrowing(parse_query(query))
    sub = candidate_subquery(session.get_bind().dialect.name, expr)
    return set(session.scalars(select(sub.c.id)))


@pytest.mark.parametrize("dense", [False, True, "too many to keep"])
@pytest.mark.parametrize("mode", ["auto", "exact", "fold"])
def test_index_and_scan_give_the_same_answers(hard_archive, mode, dense, monkeypatch):
    if dense:  # every query as one of many candidates: a page walks the date index (SQLite)
        monkeypatch.setattr("crawler.store.archive.DENSE_CANDIDATES", 0)
    if dense == "too many to keep":  # ... keeping to the candidates itself, not to a remembered set of them
        monkeypatch.setattr("crawler.store.archive.DENSE_KEYS_KEPT", 0)
    with hard_archive.session() as session:
        assert index_available(session)
        total = session.scalar(select(text("count(*)")).select_from(ArticleRow))
        for query in QUERIES:
            assert _indexed(session, query, mode) == _scan(session, query, mode), (query, mode)
        # ... and the index really narrowed: a phrase reads a few candidates, not the archive.
        assert len(_candidates(session, '"công nghiệp hỗ trợ"')) < total / 3
        assert _candidates(session, "Nam") == {4, 12, 17}  # Namibia is another syllable; 12 has the tag Nam


def test_the_hard_cases_are_decided_by_the_matcher(hard_archive):
    with hard_archive.session() as session:
        ids = lambda query, mode="auto": {number for number in _scan(session, query, mode)}  # noqa: E731
        assert ids('"công nghiệp hỗ trợ"') == {1, 2, 18}  # not 3: punctuation is not a space
        assert 3 in _candidates(session, '"công nghiệp hỗ trợ"')  # the index cannot tell; the matcher can
        assert ids("Nam") == {4, 12, 17} and ids('tag:"Việt Nam"') == set()
        assert ids('"hòa bình"') == {6, 7} and ids("Hà", "exact") == {9}
        assert ids("Hà", "fold") >= {8, 9}
        assert ids('"Quảng Ninh" NOT "Hạ Long"') == {2, 13}
        assert ids('category:"Thị trường"') == {10, 11} and ids('tag:"Chuyển đổi số"') == {10}


def test_every_non_word_character_folds_to_a_boundary():
    """An exact match is also a folded match, so one folded index serves both accent modes."""
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        if not is_word_char(char):
            folded = fold(char)
            assert folded and not any(c.isalnum() for c in folded), hex(code)


_SYLLABLES = [
    "hoà",
    "hòa",
    "Hoà",
    "thuỷ",
    "thủy",
    "công",
    "nghiệp",
    "hỗ",
    "trợ",
    "Việt",
    "Nam",
    "Namibia",
    "Đà",
    "\u00d0à",
    "da",
    "nẵng",
    "zalo",
    "z",
    "3",
    "19",
    "北京",
    "snake_case",
    "quý",
    "quỹ",
    "gìn",
    "ĐỨC",
]
_SEPARATORS = [" ", "  ", "\u00a0", ". ", ", ", "-", "\u200b ", "\n\n", "_", "", "\u200b"]


@st.composite
def _text_and_term(draw):
    words = draw(st.lists(st.sampled_from(_SYLLABLES), min_size=1, max_size=10))
    gaps = draw(st.lists(st.sampled_from(_SEPARATORS), min_size=len(words), max_size=len(words)))
    body = "".join(word + gap for word, gap in zip(words, gaps, strict=True))
    if draw(st.booleans()):
        body = NFD(body)
    if draw(st.booleans()):
        start = draw(st.integers(0, len(words) - 1))
        end = draw(st.integers(start + 1, len(words)))
        term = " ".join(words[start:end])
    else:
        term = " ".join(draw(st.lists(st.sampled_from(_SYLLABLES), min_size=1, max_size=3)))
    return body, term, draw(st.sampled_from(["auto", "exact", "fold"]))


def _contains_run(tokens: list[str], run: list[str]) -> bool:
    return any(tokens[i : i + len(run)] == run for i in range(len(tokens) - len(run) + 1))


@given(_text_and_term())
def test_whatever_the_matcher_matches_the_index_finds(case):
    body, term, mode = case
    if match_query(f'"{term}"', ArticleFields(body=body), mode).matched:
        assert _contains_run(field_tokens("", "", body, [], [])[2], term_tokens(term))


def test_no_character_lower_cases_and_folds_to_an_upper_case_ascii_letter():
    """Why a key's pieces can be tokenised alone: an ASCII piece's runs are the same whichever pattern cuts it."""
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        folded = fold(chr(code).lower())
        assert not any("A" <= c <= "Z" for c in folded), hex(code)


@given(_text_and_term())
def test_tokens_are_those_of_the_whole_folded_key(case):
    body = case[0] + " Zalo 北京 " + "a" * 70
    assert field_tokens("", "", body, [], [])[2] == archive_index._tokens(normalize(body).folded)


@given(_text_and_term())
def test_sqlite_is_given_each_fields_tokens_and_spaces_alone(case):
    """FTS5's ascii tokenizer reads back from each column text exactly the field's tokens."""
    body = case[0] + " Zalo 北京 - " + "a" * 70
    fields = ("Tiêu đề – " + case[1], "", body, ["Quảng Ninh", "—", "Hạ Long"], ["Kinh tế"])
    texts = archive_index._field_texts(*fields)
    assert all(set(text) <= set("abcdefghijklmnopqrstuvwxyz0123456789 ") for text in texts)
    assert [text.split() for text in texts] == field_tokens(*fields)


def test_tokens_are_plain_ascii_and_escapes_are_unambiguous():
    tokens = field_tokens("Zalo zz 北京 " + "a" * 100, "", "", [], [])[0]
    assert all(token.isascii() and token.isalnum() and token == token.lower() for token in tokens)
    assert len(set(tokens)) == 4 and tokens[0] != "zalo" and tokens[1] != "zz"
    assert field_tokens("Hoà Thuỷ ĐÀ", "", "", [], [])[0] == ["hoa", "thuy", "da"]


# --- the index follows the archive in the same transaction -------------------------------------


def test_new_edited_and_refetched_articles(database, monkeypatch):
    with database.session() as session:
        store_article(session, _item(1, "Quảng Ninh", "một", [], []), now=NOW)
    with database.session() as session:
        assert _candidates(session, '"Quảng Ninh"') == {1}
    with database.session() as session:
        store_article(session, _item(1, "Quảng Nam", "hai", [], []), now=NOW)
    with database.session() as session:
        assert _candidates(session, '"Quảng Ninh"') == set() and _candidates(session, '"Quảng Nam"') == {1}
        assert index_status(session).complete
    writes = []
    monkeypatch.setattr(archive_index, "_write", lambda *args: writes.append(args))
    monkeypatch.setattr(archive_index, "_unindex", lambda *args: writes.append(args))
    with database.session() as session:
        assert store_article(session, _item(1, "Quảng Nam", "hai", [], []), now=NOW)[0] == "unchanged"
    assert writes == []


def test_a_failed_batch_leaves_neither_article_nor_index_entry(database):
    with database.session() as session:
        store_article(session, _item(1, "Quảng Ninh", "một", [], []), now=NOW)
    with pytest.raises(RuntimeError):
        with database.session() as session:
            store_article(session, _item(2, "Quảng Ninh mới", "hai", [], []), now=NOW)
            store_article(session, _item(1, "Đổi hẳn", "khác", [], []), now=NOW)
            session.flush()  # the index rows are written...
            raise RuntimeError("killed mid-batch")  # ... and rolled back with the articles
    with database.session() as session:
        assert _candidates(session, '"Quảng Ninh"') == {1} and _candidates(session, '"Đổi hẳn"') == set()
        assert index_status(session).complete and index_status(session).articles == 1


def test_deleting_an_article_takes_it_out_of_the_index(database):
    with database.session() as session:
        store_article(session, _item(1, "Quảng Ninh", "một", [], []), now=NOW)
        store_article(session, _item(2, "Quảng Ninh", "hai", [], []), now=NOW)
    with database.session() as session:
        session.delete(session.scalar(select(ArticleRow).where(ArticleRow.external_id == "1")))
    with database.session() as session:
        assert _candidates(session, '"Quảng Ninh"') == {2} and index_status(session).complete


def test_an_archive_without_an_index_gets_one_from_the_migration(database_url):
    from alembic import command

    from crawler.store import _alembic_config, _create_engine

    engine = _create_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0002")
        for number, (title, body, tags, category) in enumerate(HARD_CASES[:5], start=1):
            connection.execute(
                text(
                    "INSERT INTO articles (id, site, external_id, url, title, sapo, body, author, category, tags, "
                    "images, first_seen_at, fetched_at, changed_at, version, content_hash, extractor) "
                    "VALUES (:id, 'nhandan', :ext, :url, :title, '', :body, '', :category, :tags, '[]', "
                    ":now, :now, :now, 1, 'h', 'site')"
                ),
                {
                    "id": number,
                    "ext": str(number),
                    "url": f"https://nhandan.vn/a-post{number}.html",
                    "title": title,
                    "body": body,
                    "category": _json(category),
                    "tags": _json(tags),
                    "now": NOW.replace(tzinfo=None),
                },
            )
    assert "article_index" not in inspect(engine).get_table_names()
    engine.dispose()
    database = Database(database_url)
    with database.session() as session:
        state = index_status(session)
        assert state.complete and state.indexed == 5
        query = '"công nghiệp hỗ trợ"'
        assert _indexed(session, query, "auto") == _scan(session, query, "auto") == [2, 1]
    database.dispose()


def _json(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def test_without_a_usable_index_queries_scan(hard_archive, caplog):
    with hard_archive.engine.begin() as connection:
        connection.execute(text("UPDATE article_index_meta SET version = 0"))
    hard_archive.engine.dispose()  # forget the version each connection cached
    with hard_archive.session() as session:
        assert not index_available(session)
        assert _indexed(session, '"công nghiệp hỗ trợ"', "auto") == [1, 2, 18]
        assert "scanning every article" in caplog.text
        assert "format 0" in index_status(session).describe()


# --- re-matching visits only the candidates -----------------------------------------------------


def test_rematch_reads_only_the_candidates_and_drops_what_no_longer_matches(hard_archive, monkeypatch):
    import crawler.topics as topics_module

    visited: list[int] = []
    real = topics_module.match_stored

    def recording(session, articles, *args, **kwargs):
        visited.extend(article.id for article in articles)
        return real(session, articles, *args, **kwargs)

    monkeypatch.setattr(topics_module, "match_stored", recording)
    prepare_topics(hard_archive, [{"name": "QN", "query": '"Quảng Ninh"'}], now=NOW)
    assert sorted(visited) == sorted(_candidates_of(hard_archive, '"Quảng Ninh"')) == [2, 8, 13]
    assert _matched(hard_archive) == {"QN": {2, 8, 13}}
    visited.clear()
    # Changing one topic re-matches that topic alone, and only over its own candidates.
    prepare_topics(
        hard_archive,
        [{"name": "QN", "query": '"Quảng Ninh" NOT "Hạ Long"'}, {"name": "QNam", "query": '"Quảng Nam"'}],
        now=NOW,
    )
    assert sorted(visited) == [2, 8, 13, 17]
    assert _matched(hard_archive) == {"QN": {2, 13}, "QNam": {17}}
    visited.clear()
    prepare_topics(
        hard_archive, [{"name": "QN", "query": "Namibia"}, {"name": "QNam", "query": '"Quảng Nam"'}], now=NOW
    )
    assert sorted(visited) == [4, 5]
    assert _matched(hard_archive) == {"QN": {4, 5}, "QNam": {17}}


def test_rematch_with_the_index_equals_a_full_scan(hard_archive):
    topics = [{"name": f"t{i}", "query": query} for i, query in enumerate(QUERIES)]
    prepare_topics(hard_archive, topics, now=NOW)
    indexed = _matched(hard_archive)
    with hard_archive.engine.begin() as connection:
        connection.execute(text("UPDATE article_index_meta SET version = 0"))
    hard_archive.engine.dispose()
    rematch(hard_archive, TopicSet.from_config(topics), now=NOW + timedelta(hours=1))
    assert _matched(hard_archive) == indexed


def _candidates_of(database, query: str) -> list[int]:
    with database.session() as session:
        return sorted(_candidates(session, query))


def _matched(database) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    with database.session() as session:
        for topic, key in session.execute(select(Match.topic, Match.article_id)):
            found.setdefault(topic, set()).add(key)
    return found


def test_a_caller_that_wants_one_page_loads_few_rows_first_and_still_gets_them_all(database):
    with database.session() as session:
        for number in range(1, 13):
            store_article(session, _item(number, f"Tin {number}", "đón khách du lịch", [], []), now=NOW)
    with database.session(write=False) as session:
        found = matching_articles(session, parse_query("khách"), lambda row: True, batch=5, first_batch=2)
        first, _ = next(found)
        loaded = [key for key in session.identity_map.keys() if key[0] is ArticleRow]
        assert first.external_id == "1" and len(loaded) == 2
        # Then 2, 4, 5, … rows a read, in the archive's order, none lost.
        assert [first.external_id] + [row.external_id for row, _ in found] == [str(n) for n in range(1, 13)]


def test_a_caller_that_stops_after_a_page_matches_none_of_the_candidates_read_ahead(database):
    with database.session() as session:
        for number in range(1, 13):
            store_article(session, _item(number, f"Tin {number}", "đón khách du lịch", [], []), now=NOW)
    judged: list[int] = []

    def accept(row) -> bool:
        judged.append(row.id)
        return True

    with database.session(write=False) as session:
        found = matching_rows(session, parse_query("khách"), accept, batch=8, first_batch=8)
        first, _ = next(found)
        assert len(judged) == 1
        # The rest are still all there, in the archive's order.
        assert len([first, *(row for row, _ in found)]) == 12 and len(judged) == 12


def test_a_query_found_dense_is_walked_by_date_at_once_the_next_time(database, monkeypatch):
    with database.session() as session:
        for number in range(1, 5):
            store_article(session, _item(number, f"Tin {number}", "đón khách du lịch", [], []), now=NOW)
    monkeypatch.setattr("crawler.store.archive.DENSE_CANDIDATES", 1)
    asked: list[str] = []

    def page(session) -> list[str]:
        found = matching_rows(
            session, parse_query("khách"), lambda row: True, columns=(ArticleRow.title,), first_batch=2
        )
        return [row.title for row, _ in itertools.islice(found, 3)]

    with database.session(write=False) as session:
        if session.get_bind().dialect.name != "sqlite":
            pytest.skip("only SQLite counts a query's candidates before choosing how to read them")
        event.listen(session.get_bind(), "before_cursor_execute", lambda *a: asked.append(a[2]))
        first, asked_first = page(session), len([sql for sql in asked if "article_index MATCH" in sql])
        asked.clear()
        assert page(session) == first == ["Tin 1", "Tin 2", "Tin 3"]
    # The first page counted the candidates, then read them all for the date walk; the next one asks
    # the index nothing (the archive has not changed).
    assert asked_first == 2 and len([sql for sql in asked if "article_index MATCH" in sql]) == 0


@pytest.mark.parametrize("writer", ["same database", "another connection"])
def test_a_dense_query_asked_again_finds_an_article_stored_since(database, database_url, monkeypatch, writer):
    with database.session() as session:
        for number in range(1, 5):
            store_article(session, _item(number, f"Tin {number}", "đón khách du lịch", [], []), now=NOW)
    monkeypatch.setattr("crawler.store.archive.DENSE_CANDIDATES", 1)

    def page() -> list[str]:
        with database.session(write=False) as session:
            found = matching_rows(
                session, parse_query("khách"), lambda row: True, columns=(ArticleRow.title,), first_batch=2
            )
            return [row.title for row, _ in itertools.islice(found, 3)]

    assert page() == page() == ["Tin 1", "Tin 2", "Tin 3"]
    other = Database(database_url) if writer == "another connection" else database
    try:
        with other.session() as session:
            store_article(session, _item(0, "Tin 0", "khách đến sớm", [], []), now=NOW)
    finally:
        if other is not database:
            other.dispose()
    assert page() == ["Tin 0", "Tin 1", "Tin 2"]


def test_a_caller_that_stops_after_a_few_matches_reads_about_what_is_still_wanted(database, monkeypatch):
    with database.session() as session:
        for number in range(1, 13):
            store_article(session, _item(number, f"Tin {number}", "đón khách du lịch", [], []), now=NOW)
    sizes: list[int] = []
    archive_chunks = archive_module._candidate_chunks

    def recorded(*args, **kwargs):
        for rows in archive_chunks(*args, **kwargs):
            sizes.append(len(rows))
            yield rows

    monkeypatch.setattr(archive_module, "_candidate_chunks", recorded)

    def accept(row) -> bool | None:
        return True if int(row.title.split()[1]) % 2 else None  # half the candidates match

    with database.session(write=False) as session:
        found = matching_rows(session, parse_query("khách"), accept, batch=8, first_batch=4, limit=3)
        titles = [row.title for row, _ in itertools.islice(found, 3)]
    assert titles == ["Tin 1", "Tin 3", "Tin 5"]
    # Half of the first 4 matched: the one still wanted is about 2 rows away, read with room for 2 more (not 8).
    assert sizes == [4, 4]
