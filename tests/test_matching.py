from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.errors import ConfigError, QueryError
from crawler.items import ExtractedArticle
from crawler.matching import (
    ArticleFields,
    Hit,
    Matcher,
    TopicSpec,
    make_snippet,
    match_query,
    query_version,
)

NFD = lambda s: unicodedata.normalize("NFD", s)  # noqa: E731


@pytest.mark.parametrize(
    ("query", "text", "mode", "matched"),
    [
        # syllable boundaries
        ("Nam", "Đội tuyển Namibia gặp Việt Nam", "auto", True),  # scanning continues after Namibia
        ("Nam", "Đội tuyển Namibia thắng", "auto", False),
        ("Nam", "Việt Nam.", "auto", True),
        ("Nam", "(Nam)", "auto", True),
        ("Nam", "Nam2024", "auto", False),  # digits are not a boundary
        ("Nam", "Nam_", "auto", True),  # underscore is punctuation
        ("Hà", "Hàn Quốc", "auto", False),
        ("Hà", "Hà", "auto", True),  # text start and end are boundaries
        ("CNHT", "Phát triển CNHT tại Bắc Ninh", "auto", True),
        ("CNHT", "Chương trình CNHTX", "auto", False),
        ("cnht", "Chương trình CNHT-2025", "auto", True),
        # punctuation is not a space; white space of any kind is
        ('"công nghiệp hỗ trợ"', "ngành công nghiệp. Hỗ trợ doanh nghiệp", "auto", False),
        ('"công nghiệp hỗ trợ"', "ngành công nghiệp, hỗ trợ", "auto", False),
        ('"công nghiệp hỗ trợ"', "ngành công\u00a0nghiệp\u00a0hỗ trợ", "auto", True),
        ('"công nghiệp hỗ trợ"', "ngành công nghiệp\n\nhỗ  trợ", "auto", True),
        ('"công nghiệp hỗ trợ"', "ngành công\u200b nghiệp hỗ\u202ftrợ", "auto", True),
        ('"công nghiệp hỗ trợ"', "ngành CÔNG NGHIỆP HỖ TRỢ", "auto", True),
        ('"công nghiệp hỗ trợ"', NFD("ngành công nghiệp hỗ trợ"), "auto", True),
        ("Hà Nội", "Hà\u200bNội", "auto", False),  # zero-width space deleted: one word "hànội"
        # exact: tone placement does not matter, tones do
        ("hòa bình", "Hoà Bình", "auto", True),
        ("hoà bình", "hòa bình", "exact", True),
        ("thủy điện", "Nhà máy thuỷ điện Sơn La", "auto", True),
        ("Thúy", "chị Thuý", "auto", True),
        ("khỏe", "sức khoẻ cộng đồng", "auto", True),
        ("quý", "Quỹ tiền tệ", "auto", False),
        ("quỹ", "quý I năm nay", "auto", False),
        ("quỹ", "Quỹ tiền tệ", "auto", True),
        ("hòa", "hóa chất", "auto", False),
        ("Hà", "Hạ Long", "auto", False),
        ("Hạ Long", "vịnh Hạ Long", "auto", True),
        ("đường", "dương cầm", "exact", False),
        ("dương", "con đường", "exact", False),
        ("Đà Nẵng", "\u00d0à Nẵng", "auto", True),  # U+00D0 in the text
        ("\u00d0à Nẵng", "Đà Nẵng", "auto", True),  # ... or in the query
        # auto: no diacritic in the term -> folded; any diacritic -> exact
        ("Ha Noi", "Hà Nội", "auto", True),
        ("Ha", NFD("Hà Nội"), "auto", True),
        ("Ha", NFD("Hà Nội"), "exact", False),  # decomposed Hà is not "Ha" in exact mode
        ("Ha", "Hạ Long", "auto", True),
        ("Ha", "Hạ Long", "exact", False),
        ("duong", "con đường", "auto", True),
        ("Đường", "dương", "fold", True),  # fold conflates, as documented
        ("Hà", "Hạ Long", "fold", True),
        ("quý", "Quỹ", "fold", True),
        ("quy", "quý", "exact", False),
        # operators
        ("Hà Nội AND bão", "Bão số 3 đổ bộ Hà Nội", "auto", True),
        ("Hà Nội bão", "Bão số 3 đổ bộ Hà Nội", "auto", False),  # one phrase "hà nội bão"
        ('"Hà Nội" bão', "Bão số 3 đổ bộ Hà Nội", "auto", True),  # implicit AND
        ('"Hà Nội" bão', "Hà Nội nắng", "auto", False),
        ("Hà Nội OR Hải Phòng", "mưa ở Hải Phòng", "auto", True),
        ("Hà Nội -bão", "Hà Nội nắng", "auto", True),
        ("Hà Nội -bão", "Hà Nội có bão", "auto", False),
        ("Hà Nội NOT bão", "Hà Nội có bão", "auto", False),
        ("Hà Nội -bão", "Hà Nội, cơn bão", "auto", False),
        ("(Hà Nội OR Huế) -(bão OR lũ)", "Huế nắng đẹp", "auto", True),
        ("(Hà Nội OR Huế) -(bão OR lũ)", "Huế có lũ", "auto", False),
        ("mưa và gió", "mưa và gió", "auto", True),  # "và" is a word
        ("mưa và gió", "mưa gió", "auto", False),
        ("mưa hoặc gió", "trời mưa", "auto", False),
    ],
)
def test_matching_table(query: str, text: str, mode: str, matched: bool) -> None:
    assert match_query(query, text, mode).matched is matched


ARTICLE = ArticleFields(
    title="Quảng Ninh thu hút đầu tư",
    sapo="Tỉnh đẩy mạnh công nghiệp hỗ trợ.",
    body="Các doanh nghiệp than tại Hạ Long.",
    tags=["Kinh tế", "Quảng Ninh"],
    category=["Kinh tế", "Địa phương"],
)


@pytest.mark.parametrize(
    ("query", "matched"),
    [
        ("title:Quảng Ninh", True),
        ("sapo:Quảng Ninh", False),
        ("sapo:công nghiệp hỗ trợ", True),
        ("body:than", True),
        ("title:than", False),
        ("tag:Kinh tế", True),
        ("tag:Địa phương", False),
        ("category:Địa phương", True),
        ("Địa phương", False),  # categories are not in the default scope
        ("Kinh tế", True),  # tags are
        ("tag:tế", True),  # inside a tag, on syllable boundaries
        ("tag:Kinh tế Quảng Ninh", False),  # one tag at a time
        ("than -category:Kinh tế", False),
        ("title:(Hạ Long OR Quảng Ninh) body:than", True),
    ],
)
def test_field_scopes(query: str, matched: bool) -> None:
    assert match_query(query, ARTICLE).matched is matched


def test_hit_offsets_land_on_original_nfd_characters() -> None:
    body = NFD("Sáng nay, thủ tướng thăm Hà\u00a0Nội và Thuỷ Nguyên.")
    result = match_query('"Hà Nội" "thủy nguyên"', body)
    assert result.matched
    spans = [unicodedata.normalize("NFC", body[h.start : h.end]) for h in result.hits]
    assert spans == ["Hà\u00a0Nội", "Thuỷ Nguyên"]
    for hit in result.hits:
        before, marked, after = hit.snippet_parts
        assert marked == unicodedata.normalize("NFC", body[hit.start : hit.end]).replace("\u00a0", " ")
        assert before + marked + after == hit.snippet


def test_hits_report_fields_and_indexes() -> None:
    result = match_query("Quảng Ninh", ARTICLE)
    assert [(h.field, h.index, h.start, h.end) for h in result.hits] == [("title", 0, 0, 10), ("tag", 1, 0, 10)]


def test_hit_to_dict_is_json_ready() -> None:
    data = match_query("than", ARTICLE).to_dict()
    text = json.dumps(data, ensure_ascii=False)
    assert json.loads(text) == {
        "matched": True,
        "hits": [
            {
                "term": "than",
                "field": "body",
                "index": 0,
                "start": 17,
                "end": 21,
                "snippet": "Các doanh nghiệp than tại Hạ Long.",
                "highlight": [17, 21],
                "negated": False,
            }
        ],
    }


def test_non_match_explains_what_was_found() -> None:
    result = match_query("Hà Nội -bão", "Hà Nội có bão")
    assert not result.matched
    assert [(h.term, h.negated) for h in result.hits] == [("Hà Nội", False), ("bão", True)]


def test_only_contributing_terms_are_reported() -> None:
    result = match_query("(Hà Nội OR Huế) -lũ", "Huế và Hà Nội")
    assert {h.term for h in result.hits} == {"Hà Nội", "Huế"}
    result = match_query("Huế OR (Hà Nội cháy)", "Huế và Hà Nội")
    assert {h.term for h in result.hits} == {"Huế"}


def test_snippet_is_about_25_words_and_marks_truncation() -> None:
    words = [f"từ{i}" for i in range(100)]
    text = " ".join(words[:50]) + " Hà Nội " + " ".join(words[50:])
    start = text.index("Hà Nội")
    snippet, (hs, he) = make_snippet(text, start, start + 6)
    assert snippet[hs:he] == "Hà Nội"
    assert snippet.startswith("… từ38 ") and snippet.endswith(" từ61 …")
    assert len(snippet.split()) == 12 + 2 + 12 + 2
    short, (hs, he) = make_snippet("Hà Nội mưa", 0, 6)
    assert (short, hs, he) == ("Hà Nội mưa", 0, 6)


def test_matcher_many_topics() -> None:
    matcher = Matcher(
        [
            TopicSpec("CNHT", '"công nghiệp hỗ trợ" OR CNHT'),
            TopicSpec("Quảng Ninh", "Quảng Ninh -bóng đá"),
            TopicSpec("Hạ Long exact", "Hạ Long", accents="exact"),
            TopicSpec("ha long folded", "Ha Long", accents="fold"),
            TopicSpec("Hà (trap)", "Hà", accents="exact"),
            TopicSpec("title only", "title:đầu tư"),
        ]
    )
    result = matcher.match(ARTICLE)
    assert set(result) == {"CNHT", "Quảng Ninh", "Hạ Long exact", "ha long folded", "title only"}
    assert all(isinstance(hit, Hit) for hits in result.values() for hit in hits)
    assert [h.field for h in result["Quảng Ninh"]] == ["title", "tag"]
    assert matcher.match(ArticleFields(title="Bóng đá Quảng Ninh")) == {}


def test_topic_errors_name_the_topic() -> None:
    with pytest.raises(QueryError) as excinfo:
        Matcher([TopicSpec("ok", "a"), TopicSpec("Biển Đông", "(Hoàng Sa")])
    assert excinfo.value.topic == "Biển Đông" and excinfo.value.position == 0
    with pytest.raises(ConfigError):
        TopicSpec("x", "a", accents="loose")
    with pytest.raises(ConfigError):
        Matcher([TopicSpec("x", "a"), TopicSpec("x", "b")])


def test_query_version_is_stable_and_tracks_meaning() -> None:
    base = TopicSpec("t", "Hòa Bình OR Sơn La").version
    assert TopicSpec("other name", '"hoà  bình" OR "SƠN LA"').version == base
    assert TopicSpec("t", "Hòa Bình OR Sơn La", accents="exact").version != base
    assert TopicSpec("t", "Hóa Bình OR Sơn La").version != base
    assert TopicSpec("t", "Hòa Bình Sơn La").version != base
    assert query_version("Hòa Bình OR Sơn La") == base
    assert len(base) == 16 and base == TopicSpec("t", "Hòa Bình OR Sơn La").version


def test_from_article() -> None:
    article = ExtractedArticle(
        site="nhandan",
        external_id="1",
        url="https://nhandan.vn/x-post1.html",
        title="Đà Nẵng",
        body="biển",
        tags=["du lịch"],
        category=["Xã hội"],
    )
    fields = ArticleFields.from_article(article)
    assert match_query("tag:du lịch Đà Nẵng", fields).matched is False  # one phrase
    assert match_query('tag:"du lịch" "Đà Nẵng"', fields).matched is True


# --- properties: variants of a text match identically ------------------------------------

_WORDS = [
    "Hà",
    "Nội",
    "Hạ",
    "Long",
    "hòa",
    "bình",
    "thủy",
    "điện",
    "khỏe",
    "Thúy",
    "quý",
    "quỹ",
    "đường",
    "dương",
    "công",
    "nghiệp",
    "hỗ",
    "trợ",
    "Việt",
    "Nam",
    "Namibia",
    "CNHT",
    "Đà",
    "Nẵng",
    "và",
]
_QUERIES = [
    "Hà Nội",
    "Ha Noi",
    "hoà bình",
    "thuỷ điện",
    "khoẻ",
    "Thuý",
    "quý",
    "quỹ",
    "đường",
    "duong",
    '"công nghiệp hỗ trợ"',
    "Nam",
    "CNHT",
    "Đà Nẵng",
    "Hạ Long -Hà",
    "(Nam OR Hạ Long) quý",
]
_TONE_SWAPS = {"hòa": "hoà", "thủy": "thuỷ", "khỏe": "khoẻ", "Thúy": "Thuý"}


@st.composite
def texts_and_variants(draw: st.DrawFn) -> tuple[str, str]:
    words = draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=15))
    seps = draw(st.lists(st.sampled_from([" ", " ", " ", ". ", ", "]), min_size=len(words), max_size=len(words)))
    text = "".join(w + s for w, s in zip(words, seps, strict=True))
    variant = text
    for old, new in _TONE_SWAPS.items():
        if draw(st.booleans()):
            variant = variant.replace(old, new)
    variant = "".join(
        draw(st.sampled_from([" ", "\u00a0", "  ", "\u2009", "\n", " \u200b", "\u200b "])) if c == " " else c
        for c in variant
    )
    if draw(st.booleans()):
        variant = variant.replace("Đ", "\u00d0")
    if draw(st.booleans()):
        variant = NFD(variant)
    if draw(st.booleans()):
        variant = "\ufeff" + variant.upper()
    return text, variant


_MATCHER = Matcher(
    [
        TopicSpec(f"q{i}-{mode}", q, mode)
        for i, q in enumerate(_QUERIES)
        for mode in ("auto", "exact", "fold")
        if not (mode == "exact" and q == "Ha Noi")
    ]
)


@settings(max_examples=150, deadline=None)
@given(texts_and_variants(), st.sampled_from(["title", "sapo", "body"]))
def test_variants_match_identically(pair: tuple[str, str], field: str) -> None:
    text, variant = pair
    original = _MATCHER.match(ArticleFields(**{field: text}))
    changed = _MATCHER.match(ArticleFields(**{field: variant}))
    assert set(original) == set(changed)
    for name, hits in changed.items():
        assert [(h.term, h.field) for h in hits] == [(h.term, h.field) for h in original[name]]
        for hit in hits:
            # the highlight covers the same words, read back from the variant's own characters
            found = unicodedata.normalize("NFC", variant[hit.start : hit.end])
            twin = next(h for h in original[name] if h.term == hit.term)
            assert _same_words(found, text[twin.start : twin.end])


# One matcher per query: few exact patterns, so fields are looked up by their tone-fixed stretches
# (the path of `topics test`, search and re-matching one topic) instead of the many-topic scan above.
_SINGLE = {
    f"q{i}-{mode}": Matcher([TopicSpec(f"q{i}-{mode}", q, mode)])
    for i, q in enumerate(_QUERIES)
    for mode in ("auto", "exact", "fold")
    if not (mode == "exact" and q == "Ha Noi")
}


@settings(max_examples=150, deadline=None)
@given(
    texts_and_variants(),
    st.sampled_from(["title", "sapo", "body", "tags"]),
    st.sampled_from([1, 1, 14, 27]),
    st.sampled_from([" ", "", "x", "à"]),
)
def test_a_single_query_finds_the_hits_of_the_full_scan(
    pair: tuple[str, str], field: str, copies: int, glue: str
) -> None:
    # Copies make some stretches common enough to send the field the usual way; the glue (also in front)
    # joins syllables, so that a stretch is found where the term is not a whole syllable.
    text = glue + glue.join([pair[1]] * copies) + glue
    fields = ArticleFields(tags=[text]) if field == "tags" else ArticleFields(**{field: text})
    everything = _MATCHER.match(fields)
    for name, single in _SINGLE.items():
        assert single.match(fields).get(name) == everything.get(name)


def test_the_tone_fixed_stretch_avoids_every_toned_vowel_run() -> None:
    from crawler.text import tone_fixed_stretch

    assert tone_fixed_stretch("công nghiệp hỗ trợ") == ("công ngh", 0)
    assert tone_fixed_stretch("hoà bình") == (" bình", 3)
    assert tone_fixed_stretch("hoa bình") == ("hoa bình", 0)  # no tone in the run: nothing to move
    assert tone_fixed_stretch("người") == ("ng", 0)


def _same_words(a: str, b: str) -> bool:
    from crawler.text import normalize

    return normalize(a).exact == normalize(b).exact


def _evaluate(node: object, present: set[str]) -> bool:
    from crawler.query import And, Not, Or, Term

    if isinstance(node, Term):
        return node.text in present
    if isinstance(node, Not):
        return not _evaluate(node.child, present)
    assert isinstance(node, (And, Or))
    results = [_evaluate(child, present) for child in node.children]
    return all(results) if isinstance(node, And) else any(results)


@settings(max_examples=120, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=12).map(" ".join), st.sampled_from(_QUERIES))
def test_engine_agrees_with_a_regex_per_term(text: str, query: str) -> None:
    import re

    from crawler.query import parse_query, terms
    from crawler.text import normalize, term_keys

    norm = normalize(text)
    tree = parse_query(query)
    present = set()
    for term in terms(tree):
        exact, folded = term_keys(term.text)
        key, haystack = (folded, norm.folded) if exact == folded else (exact, norm.exact)
        if re.search(r"(?<![^\W_])" + re.escape(key) + r"(?![^\W_])", haystack):
            present.add(term.text)
    result = match_query(query, text)
    assert result.matched is _evaluate(tree, present)
    if not result.matched:
        assert {h.term for h in result.hits} == present


def test_folded_hit_offsets_land_on_original_characters() -> None:
    body = NFD("Xin chào Hà\u00a0\u200bNội!")
    hit = match_query("Ha Noi", body).hits[0]
    assert unicodedata.normalize("NFC", body[hit.start : hit.end]) == "Hà\u00a0\u200bNội"
    assert hit.snippet_parts[1] == "Hà Nội"


@pytest.mark.parametrize("filler", ["x", "rất-dài-" * 30])
def test_snippet_counts_whole_words_whatever_their_length(filler: str) -> None:
    text = " ".join([filler] * 30) + " Hà Nội " + " ".join([filler] * 30)
    start = text.index("Hà Nội")
    snippet, (hs, he) = make_snippet(text, start, start + 6)
    assert snippet[hs:he] == "Hà Nội"
    assert snippet.split() == ["…"] + [filler] * 12 + ["Hà", "Nội"] + [filler] * 12 + ["…"]
