"""The one Vietnamese text normaliser: queries and articles both go through it.

Three layers of keys, all derived from the same text:

* ``Normalized.key`` -- invisible characters deleted, U+00D0/U+00F0 mapped to
  Đ/đ, NFC, every run of Unicode white space collapsed to one space, lower case.
* ``Normalized.exact`` -- ``key`` with the tone mark of each vowel group moved to
  one fixed vowel, so "hoà"/"hòa" and "thuỷ"/"thủy" give the same key while
  different tones stay apart. Same length as ``key``.
* ``Normalized.folded`` -- ``exact`` with every combining mark stripped and đ
  mapped to d. Usually the same length too; when it is not, a private index map
  carries offsets back.

Keys are for matching only; display text is never rebuilt from them. Spans in
any key map back to the original characters with ``to_original`` /
``fold_to_original``, so highlights land on what the reader sees even when the
source was decomposed (NFD) or full of non-breaking and zero-width spaces.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable
from typing import TypeVar

_K = TypeVar("_K")
_V = TypeVar("_V")

__all__ = [
    "ETH_AS_D",
    "INVISIBLE",
    "Memo",
    "RECENT_CHARACTERS",
    "Normalized",
    "clean_display",
    "fold",
    "has_vietnamese_diacritics",
    "is_word_char",
    "normalize",
    "term_keys",
    "tone_canonical",
    "tone_canonical_token",
    "tone_fixed_stretch",
]

# The one table of what text clean-up deletes or reads differently: the page objects
# (spiders.pages.textutil) and the matcher below both take it from here.
# Characters that show nothing: zero-width space, non-joiner and joiner, word joiner, BOM, soft hyphen.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
# Ð (U+00D0, Icelandic eth) and ð are typed for Đ/đ on some Vietnamese pages; no Vietnamese text means eth.
ETH_AS_D = str.maketrans({"\u00d0": "\u0110", "\u00f0": "\u0111"})
# INVISIBLE inside a regex character class.
_INV = re.escape(INVISIBLE)

# A white-space run that does not already read as one plain space, or a run of
# invisible characters alone (deleted). A single " " between words is left to
# the plain path so ordinary prose produces no edits at all.
# Every alternative starts with a required character (never an optional
# invisible), so the regex engine skips letters without trying the pattern:
# the same runs as [INV]*(?:\s[INV]*){2,} | [INV]*[^\S ][INV]* | [INV]+.
_IRREGULAR_RUN = re.compile(
    rf"[{_INV}][{_INV}]*(?:\s[{_INV}]*){{2,}}|\s[{_INV}]*(?:\s[{_INV}]*)+"
    rf"|[{_INV}][{_INV}]*[^\S ][{_INV}]*|[^\S ][{_INV}]*|[{_INV}][{_INV}]*"
)


def _irregular_runs(text: str) -> list[tuple[int, int]]:
    """Spans of ``_IRREGULAR_RUN`` in ``text``, without a regex pass for the commonest shape.

    Every white-space or invisible character except " " is unprintable, so
    printable text without a double space has no runs at all.
    """
    if "  " not in text and text.isprintable():
        return []
    return [m.span() for m in _IRREGULAR_RUN.finditer(text)]


def _paragraphs(text: str) -> list[str] | None:
    """The paragraphs of a text whose only irregular runs are its paragraph breaks, else None.

    That is an article body's usual shape: printable paragraphs without a double space or a
    space at either end, one "\n\n" between each two. Each break is then one run of two
    characters, read as one space.
    """
    if "\n\n" not in text or "  " in text or " \n" in text or "\n " in text:
        return None
    paragraphs = text.split("\n\n")
    if len(paragraphs) == 1 or "" in paragraphs or not all(map(str.isprintable, paragraphs)):
        return None
    return paragraphs


def _is_attacher(char: str) -> bool:
    """A character that NFC may merge into the character before it."""
    code = ord(char)
    # Hangul vowel/trailing jamo compose with the preceding syllable but are Lo.
    if 0x1160 <= code <= 0x11FF or 0xD7B0 <= code <= 0xD7FF:
        return True
    return unicodedata.category(char)[0] == "M"


class _WordChars(dict):
    """char -> is it a letter, digit or combining mark (cached on first sight)."""

    def __missing__(self, char: str) -> bool:
        value = char.isalnum() or unicodedata.category(char)[0] == "M"
        self[char] = value
        return value


_WORD_CHARS = _WordChars()


def is_word_char(char: str) -> bool:
    """True for letters, digits and combining marks: what a syllable boundary may not touch."""
    return _WORD_CHARS[char]


_NO_EDITS: list[int] = []


class Normalized:
    """A text, its match keys and the way back from key offsets to the text.

    ``edits`` records, in order, every place where key and original do not
    correspond one to one: ``(key_start, key_end, orig_start, orig_end)``.
    Between edits, key characters map to original characters with a constant
    shift, so plain prose costs nothing.
    """

    __slots__ = ("original", "key", "_ks", "_ke", "_os", "_oe", "_exact", "_folded", "_fold_map", "_pieces")

    def __init__(self, original: str, key: str, edits: list[tuple[int, int, int, int]]):
        self.original = original
        self.key = key
        if edits:
            self._ks, self._ke, self._os, self._oe = map(list, zip(*edits, strict=True))
        else:  # most titles, sapos and tags: one shared empty list each, never written to
            self._ks = self._ke = self._os = self._oe = _NO_EDITS
        self._exact: str | None = None
        self._folded: str | None = None
        self._fold_map: tuple[list[int], list[int]] | None = None
        self._pieces: list[str] | None = None

    def __repr__(self) -> str:
        return f"Normalized(key={self.key!r})"

    @property
    def exact(self) -> str:
        if self._exact is None:
            self._exact = tone_canonical(self.key)
        return self._exact

    @property
    def pieces(self) -> list[str]:
        """``key`` split at its spaces: what tone placement and folding work on one at a time.

        Kept, so that the story fingerprint and the archive index walk the same strings (each hashed once).
        """
        if self._pieces is None:
            self._pieces = self.key.split(" ")
        return self._pieces

    @property
    def folded(self) -> str:
        if self._folded is None:
            # Folding strips every mark, so where a tone sits cannot change it: folding ``key`` gives the
            # folded ``exact`` (offsets too, the two being of one length) without placing a single tone.
            self._folded, self._fold_map = _fold_with_map(self.key)
        return self._folded

    def _start(self, pos: int) -> int:
        i = bisect_right(self._ks, pos) - 1
        if i >= 0 and self._ks[i] <= pos < self._ke[i]:
            return self._os[i]
        j = bisect_right(self._ke, pos) - 1
        return pos if j < 0 else self._oe[j] + (pos - self._ke[j])

    def _end(self, pos: int) -> int:
        """Original end offset of the key character at ``pos`` (exclusive)."""
        i = bisect_right(self._ks, pos) - 1
        if i >= 0 and self._ks[i] <= pos < self._ke[i]:
            return self._oe[i]
        return self._start(pos) + 1

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a span [start, end) of ``key``/``exact`` to the span of ``original``."""
        if not 0 <= start <= end <= len(self.key):
            raise ValueError(f"span {start}:{end} outside key of length {len(self.key)}")
        if start == end:
            point = self._start(start) if start < len(self.key) else len(self.original)
            return point, point
        return self._start(start), self._end(end - 1)

    def fold_to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a span [start, end) of ``folded`` to the span of ``original``."""
        folded = self.folded
        if self._fold_map is None:
            return self.to_original(start, end)
        if not 0 <= start < end <= len(folded):
            raise ValueError(f"span {start}:{end} outside folded key of length {len(folded)}")
        starts, ends = self._fold_map
        return self.to_original(starts[start], ends[end - 1])


# Storing a batch of articles normalises each field three times (the matcher, the story
# fingerprint, the archive index) and every topic test over it again: keep the results
# of about one batch (a whole batch of 50 articles, with room). Budgeted in characters,
# not texts: a body's result, with its pieces and its exact and folded keys, costs some
# 25 bytes a character (Vietnamese articles), so this holds some 25 MB at most.
# A writer storing more at once flushes every half of this (``crawler.imports``): each
# flush costs a dozen statements and the unit of work's rounds whatever it holds, and an
# import flushing every 40 articles spent a tenth of its time there (every 170 now).
RECENT_CHARACTERS = 1_000_000
_RECENT: dict[str, Normalized] = {}
_recent_characters = 0


def normalize(text: str) -> Normalized:
    """Normalise ``text`` for matching (see the module docstring)."""
    global _recent_characters
    found = _RECENT.get(text)
    if found is None:
        found = _normalize(text)
        if _recent_characters + len(text) > RECENT_CHARACTERS:
            _RECENT.clear()
            _recent_characters = 0
        _RECENT[text] = found
        _recent_characters += len(text)
    return found


def _normalize(text: str) -> Normalized:
    edits: list[tuple[int, int, int, int]] = []
    paragraphs = _paragraphs(text)
    runs = _irregular_runs(text) if paragraphs is None else []
    if paragraphs is not None:
        # What the loop below makes of them, in two C-speed passes instead of two slices a break.
        cleaned = " ".join(paragraphs)
        pos = kpos = 0
        for paragraph in paragraphs[:-1]:
            pos += len(paragraph)
            kpos += len(paragraph)
            edits.append((kpos, kpos + 1, pos, pos + 2))
            pos += 2
            kpos += 1
    elif runs:
        pieces: list[str] = []
        pos = kpos = 0
        for start, end in runs:
            pieces.append(text[pos:start])
            kpos += start - pos
            replacement = " " if text[start:end].strip(INVISIBLE) else ""
            pieces.append(replacement)
            edits.append((kpos, kpos + len(replacement), start, end))
            kpos += len(replacement)
            pos = end
        pieces.append(text[pos:])
        cleaned = "".join(pieces)
    else:
        cleaned = text
    if "\u00d0" in cleaned or "\u00f0" in cleaned:
        cleaned = cleaned.translate(ETH_AS_D)
    # Plain path only when NFC and lower-casing are one-to-one; otherwise
    # (decomposed text, an invisible between a letter and its mark, İ) go
    # character cluster by cluster.
    if not unicodedata.is_normalized("NFC", cleaned):
        return _normalize_slow(text)
    key = cleaned.lower()
    if len(key) != len(cleaned):
        return _normalize_slow(text)
    if "ς" in key:  # Python lower-cases Σ by context; one sigma for matching
        key = key.replace("ς", "σ")
    return Normalized(text, key, edits)


def _cluster_key(chars: str) -> str:
    key = unicodedata.normalize("NFC", chars.translate(ETH_AS_D)).lower()
    return key.replace("ς", "σ") if "ς" in key else key


def _normalize_slow(text: str) -> Normalized:
    out: list[str] = []
    edits: list[tuple[int, int, int, int]] = []
    kpos = 0
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in INVISIBLE or char.isspace():
            j = i
            has_space = False
            while j < n and (text[j] in INVISIBLE or text[j].isspace()):
                has_space = has_space or text[j].isspace()
                j += 1
            if text[i:j] != " ":
                replacement = " " if has_space else ""
                out.append(replacement)
                edits.append((kpos, kpos + len(replacement), i, j))
                kpos += len(replacement)
            else:
                out.append(" ")
                kpos += 1
            i = j
            continue
        # A base character plus every mark that follows it, even across
        # invisible characters (deleted before NFC, so they must not split it).
        j = i + 1
        while True:
            k = j
            while k < n and text[k] in INVISIBLE:
                k += 1
            if k < n and _is_attacher(text[k]):
                j = k + 1
            else:
                break
        cluster = text[i:j]
        if j - i > 1:
            cluster = "".join(c for c in cluster if c not in INVISIBLE)
        key = _cluster_key(cluster)
        out.append(key)
        if j - i != 1 or len(key) != 1:
            edits.append((kpos, kpos + len(key), i, j))
        kpos += len(key)
        i = j
    return Normalized(text, "".join(out), edits)


# --- tone placement -------------------------------------------------------------

_VOWELS = "aăâeêioôơuưy"
_TONE_MARKS = "\u0300\u0301\u0309\u0303\u0323"  # huyền, sắc, hỏi, ngã, nặng
_QUALITY = frozenset("ăâêôơư")
_SPLIT: dict[str, tuple[str, int]] = {}
_COMPOSE: dict[tuple[str, int], str] = {}
for _vowel in _VOWELS:
    _SPLIT[_vowel] = (_vowel, -1)
    _COMPOSE[(_vowel, -1)] = _vowel
    for _tone, _mark in enumerate(_TONE_MARKS):
        _toned = unicodedata.normalize("NFC", _vowel + _mark)
        _SPLIT[_toned] = (_vowel, _tone)
        _COMPOSE[(_vowel, _tone)] = _toned
_ALL_VOWELS = "".join(_SPLIT)
_TONED_VOWELS = "".join(c for c, (_, tone) in _SPLIT.items() if tone >= 0)
# Only a toned vowel next to another vowel can have its mark in two places.
_AMBIGUOUS_GROUP = re.compile(
    rf"[{_ALL_VOWELS}]*(?:[{_ALL_VOWELS}][{_TONED_VOWELS}]|[{_TONED_VOWELS}][{_ALL_VOWELS}])[{_ALL_VOWELS}]*"
)
_GROUP_CACHE: dict[tuple[str, str, bool], str] = {}


def _tone_index(bases: list[str], has_final: bool) -> int:
    """Where the tone sits in a toneless vowel group (the "new" style)."""
    if len(bases) == 1:
        return 0
    quality = [i for i, base in enumerate(bases) if base in _QUALITY]
    if quality:
        return quality[-1]  # ươ -> ơ, iê -> ê, uô -> ô
    if has_final or len(bases) >= 3:
        return len(bases) - 1 if has_final else 1
    return 1 if "".join(bases) in ("oa", "oe", "uy") else 0


def _canonical_group(group: str, before: str, has_final: bool) -> str:
    split = [_SPLIT[c] for c in group]
    tones = [tone for _, tone in split if tone >= 0]
    if len(tones) != 1:
        return group  # not a well-formed syllable; leave it as it is on both sides
    bases = [base for base, _ in split]
    skip = 0
    if len(bases) > 1 and ((before == "q" and bases[0] == "u") or (before == "g" and bases[0] == "i")):
        skip = 1  # the u of qu- and the i of gi- belong to the initial consonant
    target = skip + _tone_index(bases[skip:], has_final)
    return "".join(_COMPOSE[(base, tones[0] if i == target else -1)] for i, base in enumerate(bases))


def _replace_group(m: re.Match[str]) -> str:
    text, start, end = m.string, m.start(), m.end()
    before = text[start - 1] if start and text[start - 1] in "qg" else ""
    has_final = end < len(text) and text[end].isalpha()
    cache_key = (m.group(), before, has_final)
    value = _GROUP_CACHE.get(cache_key)
    if value is None:
        if len(_GROUP_CACHE) > 50_000:
            _GROUP_CACHE.clear()
        value = _GROUP_CACHE[cache_key] = _canonical_group(m.group(), before, has_final)
    return value


class Memo(dict[_K, _V]):
    """``compute(key)`` remembered on first sight, for keys of which a language has few (syllables, tokens):
    emptied when it holds ``limit`` of them, so that it stays bounded whatever the input."""

    def __init__(self, compute: Callable[[_K], _V], limit: int):
        super().__init__()
        self.compute, self.limit = compute, limit

    def __missing__(self, key: _K) -> _V:
        if len(self) >= self.limit:
            self.clear()
        value = self[key] = self.compute(key)
        return value


# Space-free token -> its tone-canonical form. A vowel group never spans a space and its context (a q/g
# before, a letter after) stops at one, so each token can be done alone. Unchanged tokens map to themselves
# (``re.sub`` returns its input when nothing matched).
_TOKENS: Memo[str, str] = Memo(lambda token: _AMBIGUOUS_GROUP.sub(_replace_group, token), 50_000)


# One space-free piece of a normalised key (a token or a syllable), its tones placed.
tone_canonical_token = _TOKENS.__getitem__


def tone_canonical(key: str) -> str:
    """Move each syllable's tone mark to one fixed vowel; same length as ``key``.

    ``key`` must already be normalised (NFC, lower case).
    """
    return " ".join(map(tone_canonical_token, key.split(" ")))


# A run of two vowels or more: where tone placement may move a mark (see _AMBIGUOUS_GROUP).
_VOWEL_RUN = re.compile(rf"[{_ALL_VOWELS}]{{2,}}")


def tone_fixed_stretch(exact: str) -> tuple[str, int]:
    """The longest stretch of an exact key that tone placement leaves alone, and its offset in it.

    Placing tones changes only vowel runs of two or more that carry a tone, and the
    neighbours that decide how stay inside a whole-syllable match: wherever ``exact``
    occurs whole in ``tone_canonical(key)``, ``key`` itself holds this stretch at that
    offset. The matcher looks a rare term up by it without placing the tones of a
    whole article.
    """
    pieces, start = [], 0
    for run in _VOWEL_RUN.finditer(exact):
        if any(_SPLIT[char][1] >= 0 for char in run.group()):
            pieces.append((exact[start : run.start()], start))
            start = run.end()
    pieces.append((exact[start:], start))
    return max(pieces, key=lambda piece: len(piece[0]))


# --- folding ----------------------------------------------------------------------


class _FoldTable(dict):
    """str.translate table: code point -> the letter without its marks (cached)."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char in "đĐ":
            value = "d"
        elif unicodedata.category(char)[0] == "M":
            value = ""  # a mark that did not compose with its letter
        else:
            decomposed = unicodedata.normalize("NFD", char)
            stripped = "".join(c for c in decomposed if unicodedata.category(c)[0] != "M")
            value = stripped if stripped != decomposed else char
        self[code] = value
        return value


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """Strip every combining mark and map đ to d (input: a normalised key)."""
    return text.translate(_FOLD)


# Space-free token -> ``fold(token)``: folding is per character and keeps " ", so tokens fold alone.
_FOLDED: Memo[str, str] = Memo(lambda token: token.translate(_FOLD), 50_000)


def _fold_with_map(text: str) -> tuple[str, tuple[list[int], list[int]] | None]:
    """Fold, plus (exact start, exact end) per folded character when lengths differ.

    A mark that folds to nothing is attributed to the character before it, so a
    highlight still covers it.
    """
    folded = " ".join(map(_FOLDED.__getitem__, text.split(" ")))
    if len(folded) == len(text):
        return folded, None
    starts: list[int] = []
    ends: list[int] = []
    for i, char in enumerate(text):
        out = _FOLD[ord(char)]
        if not out and ends:
            ends[-1] = i + 1
        for _ in out:
            starts.append(i)
            ends.append(i + 1)
    return folded, (starts, ends)


# --- helpers for terms and display ----------------------------------------------------


def term_keys(term: str) -> tuple[str, str]:
    """(exact key, folded key) of a query term, trimmed of surrounding space."""
    exact = tone_canonical(normalize(term).key.strip(" "))
    return exact, fold(exact)


def has_vietnamese_diacritics(term: str) -> bool:
    """Does the term carry any mark or đ? (accents="auto" then matches it exactly)."""
    key = normalize(term).key
    return fold(key) != key


_DISPLAY_SPACE = re.compile(rf"[\s{_INV}]*\s[\s{_INV}]*")
_DISPLAY_INVISIBLE = re.compile(rf"[{_INV}]+")
_DISPLAY_IRREGULAR = re.compile(rf"[{_INV}]|[^\S ]|  ")


def clean_display(text: str) -> str:
    """Text for showing: invisibles deleted, white-space runs as one space, Ð/ð as Đ/đ, NFC; case kept."""
    eth = "\u00d0" in text or "\u00f0" in text
    if not eth and not _DISPLAY_IRREGULAR.search(text) and unicodedata.is_normalized("NFC", text):
        return text
    if eth:
        text = text.translate(ETH_AS_D)
    text = _DISPLAY_SPACE.sub(" ", text)
    text = _DISPLAY_INVISIBLE.sub("", text)
    return unicodedata.normalize("NFC", text)
