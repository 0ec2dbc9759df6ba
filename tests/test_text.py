from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.text import (
    INVISIBLE,
    clean_display,
    has_vietnamese_diacritics,
    is_word_char,
    normalize,
    term_keys,
    tone_canonical,
)

NFD = lambda s: unicodedata.normalize("NFD", s)  # noqa: E731


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Hà Nội", "hà nội"),
        ("HÀ  NỘI", "hà nội"),
        ("Hà\u00a0Nội", "hà nội"),  # NBSP
        ("Hà\u202fNội\u2009x", "hà nội x"),  # narrow no-break and thin spaces
        ("Hà\t\n\r\n Nội", "hà nội"),
        ("Hà\u200bNội", "hànội"),  # zero-width space is deleted, not a space
        ("Hà \u200b Nội", "hà nội"),
        ("công\u00adnghiệp", "côngnghiệp"),  # soft hyphen
        ("\ufeffBOM", "bom"),
        ("\u00d0à Nẵng", "đà nẵng"),  # Icelandic eth standing in for Đ
        ("\u00f0ường", "đường"),
        (NFD("Thủ tướng Phạm Minh Chính"), "thủ tướng phạm minh chính"),
        ("a\u200b\u0301", "á"),  # an invisible between letter and mark does not stop NFC
        ("", ""),
    ],
)
def test_normalize_key(text: str, key: str) -> None:
    assert normalize(text).key == key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("hòa", "hoà"),
        ("thủy", "thuỷ"),
        ("Thúy", "Thuý"),
        ("khỏe", "khoẻ"),
        ("qúy", "quý"),
        ("hòa bình", "hoà bình"),
        ("tùy", "tuỳ"),
        ("lòe", "loè"),
        ("HÒA", "hoà"),
        ("gìa", "già"),
    ],
)
def test_tone_placement_is_ignored_in_exact_keys(a: str, b: str) -> None:
    assert normalize(a).exact == normalize(b).exact
    assert normalize(NFD(a)).exact == normalize(b).exact


@pytest.mark.parametrize(
    ("a", "b"),
    [("quý", "quỹ"), ("hòa", "hóa"), ("Hà", "Hạ"), ("đường", "dương"), ("thủy", "thùy"), ("hoà", "hoa")],
)
def test_different_tones_and_letters_stay_apart(a: str, b: str) -> None:
    assert normalize(a).exact != normalize(b).exact


def test_fold_conflates_as_documented() -> None:
    assert normalize("đường").folded == normalize("dương").folded == "duong"
    assert normalize("Hà").folded == normalize("Hạ").folded == "ha"
    assert normalize("\u00d0ẮK LẮK").folded == "dak lak"


def test_exact_keys_keep_length() -> None:
    text = "Hoà bình, thuỷ điện, khoẻ mạnh, Thuý Kiều, người, giữa, quý, qúy, ươi"
    norm = normalize(text)
    assert len(norm.exact) == len(norm.key) == len(norm.folded)


def test_tone_canonical_leaves_two_tone_groups_alone() -> None:
    assert tone_canonical("áé") == "áé"


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("Ha Noi", False),
        ("CNHT", False),
        ("covid-19", False),
        ("Hà", True),
        ("đ", True),
        ("\u00d0", True),
        ("ươ", True),
        (NFD("Hà"), True),
    ],
)
def test_has_vietnamese_diacritics(term: str, expected: bool) -> None:
    assert has_vietnamese_diacritics(term) is expected


def test_term_keys_trim_and_collapse() -> None:
    assert term_keys("  Quảng\u00a0 Ninh \u200b") == ("quảng ninh", "quang ninh")


def test_word_chars() -> None:
    assert is_word_char("a") and is_word_char("ệ") and is_word_char("7") and is_word_char("\u0301")
    assert not is_word_char(" ") and not is_word_char(".") and not is_word_char("-") and not is_word_char("_")


def test_offsets_of_decomposed_text_land_on_original_characters() -> None:
    original = NFD("Xin chào Hà Nội!")
    norm = normalize(original)
    start = norm.exact.index("hà nội")
    ostart, oend = norm.to_original(start, start + len("hà nội"))
    assert unicodedata.normalize("NFC", original[ostart:oend]) == "Hà Nội"


def test_offsets_skip_invisible_characters_at_the_edges() -> None:
    original = "x \u200bHà\u00a0\u00a0Nội\u200b y"
    norm = normalize(original)
    assert norm.key == "x hà nội y"
    ostart, oend = norm.to_original(2, 8)
    assert original[ostart:oend] == "Hà\u00a0\u00a0Nội"


def test_folded_offsets_when_a_lone_mark_is_dropped() -> None:
    original = "q\u0301 Hà"  # q with acute has no precomposed form: the fold key is shorter
    norm = normalize(original)
    assert norm.folded == "q ha"
    assert norm.fold_to_original(2, 4) == (3, 5)
    assert norm.fold_to_original(0, 1) == (0, 2)


def test_clean_display() -> None:
    assert clean_display(NFD("Hà\u00a0\u200bNội\n\nthủy")) == "Hà Nội thủy"
    assert clean_display("plain text") == "plain text"
    # Typed for Đ/đ on some pages (and in imported archives): shown as the matcher reads it.
    assert clean_display("\u00d0ồng Nai, \u00f0ường") == "Đồng Nai, đường"


# --- properties ------------------------------------------------------------------------

_SYLLABLES = [
    "Hà",
    "Nội",
    "hoà",
    "hòa",
    "thuỷ",
    "thủy",
    "khỏe",
    "khoẻ",
    "Quảng",
    "Ninh",
    "quý",
    "quỹ",
    "đường",
    "dương",
    "người",
    "Việt",
    "Nam",
    "công",
    "nghiệp",
    "hỗ",
    "trợ",
    "Đà",
    "Nẵng",
    "Thuý",
    "Thúy",
    "giữa",
    "CNHT",
    "covid-19",
    "năm",
    "2024",
    "ươi",
]
_SEPARATORS = [" ", " ", " ", ", ", ". ", "\n", " - "]


@st.composite
def vietnamese_text(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from(_SYLLABLES), min_size=1, max_size=12))
    seps = draw(st.lists(st.sampled_from(_SEPARATORS), min_size=len(words), max_size=len(words)))
    return "".join(w + s for w, s in zip(words, seps, strict=True)).strip()


_OLD_NEW = {"hòa": "hoà", "thủy": "thuỷ", "khỏe": "khoẻ", "Thúy": "Thuý"}


@st.composite
def variant(draw: st.DrawFn, text: str) -> str:
    """The same text as another source might send it."""
    if draw(st.booleans()):
        for old, new in _OLD_NEW.items():
            text = text.replace(old, new) if draw(st.booleans()) else text.replace(new, old)
    spaces = draw(st.lists(st.sampled_from([" ", "\u00a0", "  ", "\u202f", " \u200b", "\t"]), min_size=1))
    parts = text.split(" ")
    text = "".join(p + spaces[i % len(spaces)] for i, p in enumerate(parts[:-1])) + parts[-1]
    if draw(st.booleans()):
        text = text.replace("Đ", "\u00d0").replace("đ", "\u00f0")
    if draw(st.booleans()):
        # zero-width characters between letters and their marks, after NFD
        text = NFD(text)
        positions = draw(st.lists(st.integers(0, len(text)), max_size=3))
        for pos in sorted(positions, reverse=True):
            text = text[:pos] + draw(st.sampled_from(INVISIBLE)) + text[pos:]
    if draw(st.booleans()):
        text = text.upper()
    return text


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_variants_have_the_same_exact_key(data: st.DataObject) -> None:
    text = data.draw(vietnamese_text())
    other = data.draw(variant(text))
    assert normalize(other).exact == normalize(text).exact
    assert normalize(other).folded == normalize(text).folded


def _reference_key(text: str) -> str:
    text = "".join(c for c in text if c not in INVISIBLE).translate({0xD0: 0x110, 0xF0: 0x111})
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"\s+", " ", text)
    return text.lower().replace("ς", "σ")


_ALPHABET = st.sampled_from(
    list("aAeEoOuUyYdĐđð Ðq.,-7")
    + [
        "\u0300",
        "\u0301",
        "\u0303",
        "\u0323",
        "\u0302",
        "\u0306",
        "\u031b",
        "\u00a0",
        "\n",
        "\u200b",
        "\u00ad",
        "\ufeff",
        "ệ",
        "İ",
        "Σ",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_ALPHABET, max_size=30).map("".join))
def test_key_equals_the_reference_pipeline(text: str) -> None:
    assert normalize(text).key == _reference_key(text)


@settings(max_examples=150, deadline=None)
@given(st.lists(_ALPHABET, max_size=30).map("".join), st.data())
def test_key_spans_map_to_original_text_with_the_same_key(text: str, data: st.DataObject) -> None:
    norm = normalize(text)
    if not norm.key:
        return
    start = data.draw(st.integers(0, len(norm.key) - 1))
    end = data.draw(st.integers(start + 1, len(norm.key)))
    ostart, oend = norm.to_original(start, end)
    assert 0 <= ostart < oend <= len(text)
    # The original span covers whole character clusters, so it normalises to at least the key span.
    assert norm.key[start:end] in normalize(text[ostart:oend]).key


@settings(max_examples=150, deadline=None)
@given(st.lists(vietnamese_text(), min_size=2, max_size=5).map("\n\n".join), st.data())
def test_paragraph_breaks_read_as_one_space_each(text: str, data: st.DataObject) -> None:
    # An article body's usual shape, which takes a path of its own.
    norm = normalize(text)
    assert norm.key == _reference_key(text)
    start = data.draw(st.integers(0, len(norm.key) - 1))
    end = data.draw(st.integers(start + 1, len(norm.key)))
    ostart, oend = norm.to_original(start, end)
    assert normalize(text[ostart:oend]).key.strip(" ") == norm.key[start:end].strip(" ")
