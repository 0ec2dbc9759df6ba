from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.errors import QueryError
from crawler.query import And, Node, Not, Or, Term, parse_query, positive_terms, render, terms


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("Quảng Ninh", Term("Quảng Ninh")),
        ('"công nghiệp hỗ trợ"', Term("công nghiệp hỗ trợ")),
        ("Hà Nội và Hải Phòng", Term("Hà Nội và Hải Phòng")),
        ("mưa hoặc bão không ngớt", Term("mưa hoặc bão không ngớt")),
        ("and or not", Term("and or not")),  # lower-case operators are words
        ("a AND b", And((Term("a"), Term("b")))),
        ('"a" b', And((Term("a"), Term("b")))),  # implicit AND between terms
        ('a "b c" d', And((Term("a"), Term("b c"), Term("d")))),
        ("a OR b c", Or((Term("a"), Term("b c")))),
        ("a OR b AND c", Or((Term("a"), And((Term("b"), Term("c")))))),
        ("(a OR b) AND c", And((Or((Term("a"), Term("b"))), Term("c")))),
        ("a AND b AND c", And((Term("a"), Term("b"), Term("c")))),
        ("a NOT b", And((Term("a"), Not(Term("b"))))),
        ("a AND NOT b", And((Term("a"), Not(Term("b"))))),
        ("a -b", And((Term("a"), Not(Term("b"))))),
        ('a -"b c"', And((Term("a"), Not(Term("b c"))))),
        ("a -(b OR c)", And((Term("a"), Not(Or((Term("b"), Term("c"))))))),
        ("covid-19", Term("covid-19")),  # a hyphen inside a word is text
        ("Hà Nội - Hải Phòng", Term("Hà Nội - Hải Phòng")),  # a lone hyphen too
        ("title:Quảng Ninh", Term("Quảng Ninh", "title")),
        ('sapo:"a b"', Term("a b", "sapo")),
        ("body:x", Term("x", "body")),
        ("tag:bóng đá", Term("bóng đá", "tag")),
        ("category:Kinh tế", Term("Kinh tế", "category")),
        ("Title:x", Term("x", "title")),
        ("title:(a OR b)", Or((Term("a", "title"), Term("b", "title")))),
        ("title: a", Term("a", "title")),
        ('-tag:x "y"', And((Not(Term("x", "tag")), Term("y")))),
        ("title:Quảng Ninh than", Term("Quảng Ninh than", "title")),  # a scope takes the whole run
        ('"Lưu ý: a"', Term("Lưu ý: a")),
        ("Lưu ý: a", Term("Lưu ý: a")),  # only ASCII names before ':' are fields
        ("  Quảng\u00a0Ninh  ", Term("Quảng Ninh")),
        ("((a))", Term("a")),
    ],
)
def test_grammar(query: str, tree: object) -> None:
    assert parse_query(query) == tree


@pytest.mark.parametrize(
    ("query", "position", "fragment"),
    [
        ("", 0, "empty query"),
        ("   ", 0, "empty query"),
        ("(a OR b", 0, "never closed"),
        ("a AND (b", 6, "never closed"),
        ("a)", 1, "no matching '('"),
        ("(a))", 3, "no matching '('"),
        (")a", 0, "no matching '('"),
        ('"a b', 0, "unbalanced quote"),
        ('a "b', 2, "unbalanced quote"),
        ("a AND", 2, "dangling operator 'AND'"),
        ("a OR", 2, "dangling operator 'OR'"),
        ("OR a", 0, "dangling operator 'OR'"),
        ("AND a", 0, "dangling operator 'AND'"),
        ("a AND OR b", 2, "dangling operator 'AND'"),
        ("a OR OR b", 2, "dangling operator 'OR'"),
        ("a NOT", 2, "dangling operator 'NOT'"),
        ("(a OR) b", 3, "dangling operator 'OR'"),
        ('""', 0, "empty phrase"),
        ('a "  "', 2, "empty phrase"),
        ('"\u200b"', 0, "empty phrase"),
        ("()", 0, "empty parentheses"),
        ("NOT a", 0, "NOT-only"),
        ("-a", 0, "NOT-only"),
        ("NOT a NOT b", 0, "NOT-only"),
        ("NOT (a OR b)", 0, "NOT-only"),
        ("a OR NOT b", 5, "NOT-only"),
        ("(a OR -b) OR c", 6, "NOT-only"),
        ("-tag:x y", 0, "NOT-only"),  # "x y" is one phrase, so nothing is left outside the NOT
        ("NOT NOT a", 0, "NOT-only"),
        ("foo:bar", 0, "unknown field 'foo'"),
        ("a http://x", 2, "unknown field 'http'"),
        ("title:", 0, "needs a phrase"),
        ("title:-x", 0, "needs a phrase"),
        ("title:(body:x)", 12, "cannot be nested"),
        ("x AND -", 6, "dangling operator '-'"),
        ("x -", 2, "dangling operator '-'"),
        ("(x -) y", 3, "dangling operator '-'"),
        ('"-"', 0, "needs a letter or a digit"),
        ('a "…?!"', 2, "needs a letter or a digit"),
    ],
)
def test_malformed_queries_are_refused(query: str, position: int, fragment: str) -> None:
    with pytest.raises(QueryError) as excinfo:
        parse_query(query, topic="Biển Đông")
    error = excinfo.value
    assert fragment in error.detail
    assert error.position == position
    assert error.topic == "Biển Đông" and error.query == query
    assert "Biển Đông" in str(error) and f"position {position}" in str(error)


def test_anchored_negations_are_fine() -> None:
    assert parse_query("(a OR b) -c -d")
    assert parse_query("a OR (b NOT c)")
    assert parse_query('NOT b "a"')
    assert parse_query("(a OR -b) c")


def test_terms_and_positive_terms() -> None:
    tree = parse_query('Quảng Ninh OR (title:"than" -tag:bóng đá)')
    assert [t.text for t in terms(tree)] == ["Quảng Ninh", "than", "bóng đá"]
    assert [t.text for t in positive_terms(tree)] == ["Quảng Ninh", "than"]
    assert terms(tree)[2].scope == "tag"


def test_positions_point_at_terms() -> None:
    tree = parse_query('abc "de f"')
    assert [t.position for t in terms(tree)] == [0, 5]


def test_render() -> None:
    tree = parse_query("Quảng Ninh OR title:(than -HÒA  bình) công nghiệp")
    assert render(tree) == '"Quảng Ninh" OR title:"than" AND NOT title:"HÒA bình" AND "công nghiệp"'
    assert render(tree, canonical=True) == '"quảng ninh" OR title:"than" AND NOT title:"hoà bình" AND "công nghiệp"'
    assert render(parse_query("(a OR b) c -(d OR e)")) == '("a" OR "b") AND "c" AND NOT ("d" OR "e")'


def test_canonical_render_ignores_spelling_variants() -> None:
    assert render(parse_query("Hòa  Bình"), canonical=True) == render(parse_query('"hoà bình"'), canonical=True)
    assert render(parse_query("quý"), canonical=True) != render(parse_query("quỹ"), canonical=True)


# --- round trip on generated trees -------------------------------------------------------

_WORDS = st.sampled_from(
    [
        "Hà Nội",
        "quý",
        "công nghiệp hỗ trợ",
        "và",
        "hoặc",
        "không",
        "and",
        "or",
        "CNHT",
        "covid-19",
        "Lưu ý",
        "a",
        "Đà Nẵng",
    ]
)
_SCOPES = st.sampled_from([None, None, "title", "sapo", "body", "tag", "category"])
_terms = st.builds(Term, _WORDS, _SCOPES)


def _anchored_trees() -> st.SearchStrategy:
    def extend(children: st.SearchStrategy) -> st.SearchStrategy:
        return st.one_of(
            st.lists(children, min_size=2, max_size=3).map(lambda cs: Or(tuple(cs))),
            st.tuples(children, st.lists(st.one_of(children, children.map(Not)), min_size=1, max_size=2)).map(
                lambda t: And((t[0], *t[1]))
            ),
        )

    return st.recursive(_terms, extend, max_leaves=8)


def _flat(node: Node) -> Node:
    """The parser flattens nested AND/OR; do the same to a generated tree."""
    if isinstance(node, (And, Or)):
        kind = type(node)
        out: list[Node] = []
        for child in node.children:
            flat = _flat(child)
            out.extend(flat.children if isinstance(flat, kind) else (flat,))
        return kind(tuple(out))
    if isinstance(node, Not):
        return Not(_flat(node.child))
    return node


@settings(max_examples=120, deadline=None)
@given(_anchored_trees())
def test_render_parse_round_trip(tree: Node) -> None:
    assert parse_query(render(tree)) == _flat(tree)
