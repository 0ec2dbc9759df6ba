"""One story, several outlets: near-duplicate detection across sites.

Wire copy (TTXVN, VietnamPlus) is republished by other papers with light
edits: another headline, a dateline ("TP - ", "(Vietnam+)"), a sentence cut or
added, a byline, a footer. Two articles are one story when they come from
different outlets, were published within ``WINDOW`` of each other, and

* their bodies (sapo + body) share most of their word shingles: the MinHash
  estimate (rensa's R-MinHash) of the Jaccard similarity of their sets of
  ``SHINGLE``-syllable runs, over the matcher's own normalised text (case, NFC,
  tone placement and invisible characters do not count), is at least
  ``BODY_SAME``; or
* their headlines say the same thing (``TITLE_SAME``, rapidfuzz's token-sort
  ratio) and their bodies still clearly overlap (``BODY_WITH_TITLE``): a copy
  whose sentences were reworded keeps its headline more often than its shingles.

Headlines that name different days ("Giá vàng hôm nay 26/3" and "... 27/3")
are never one story: templated daily reports share most of their sentences.
Short bodies (fewer than ``MIN_SHINGLES`` shingles) give noisy estimates and
need both a similar body and a similar headline. The same event reported
independently shares names, places and numbers but not sentences, so its
shingle overlap stays low. The thresholds were chosen on the labelled set in
``tests/fixtures/stories`` (``python -m bench.stories`` reports precision and
recall on it). A story holds at most one article per outlet: an outlet's own
follow-up is its own story, even when it repeats its first report.

Nothing here touches storage: ``crawler.store.stories`` keeps the fingerprints
and story ids, and places each new article with a :class:`StoryPool` of its neighbours.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import chain

import numpy as np

from crawler.text import Memo, normalize, tone_canonical_token

# Bump when the shingles change. Stored with each fingerprint combined with the MinHash library's own
# algorithm version (signature_version()): signatures of another version are never compared with new ones.
FINGERPRINT_VERSION = 1
NUM_PERM = 128
# Shingles of three syllables: about one Vietnamese word and a half.
SHINGLE = 3
# Fixed: stored signatures are compared with new ones across processes and releases.
SEED = 20261202
# Copies of one story are published within this long of each other.
WINDOW = timedelta(hours=72)
BODY_SAME = 0.5
BODY_WITH_TITLE = 0.2
TITLE_SAME = 0.9
# Bodies this short give noisy estimates: they need a similar headline too (this similar).
MIN_SHINGLES = 25
TITLE_SHORT = 0.75

_WORD = re.compile(r"[^\W_]+")
# A day in a headline: 26/3, 26/03/2026.
_DAY = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:/\d{2,4})?(?![\d/])")
_SIGNATURE_DTYPE = np.dtype("<u4")


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What two articles are compared by: a MinHash signature of the body and the normalised headline.

    ``title`` is the headline's ``Normalized.exact`` key; ``shingles`` how many distinct shingles the body had.
    """

    signature: np.ndarray
    title: str
    shingles: int

    def to_bytes(self) -> bytes:
        return self.signature.astype(_SIGNATURE_DTYPE, copy=False).tobytes()

    @classmethod
    def from_stored(cls, signature: bytes, title: str, shingles: int) -> Fingerprint:
        return cls(np.frombuffer(signature, dtype=_SIGNATURE_DTYPE), title, shingles)


@lru_cache(maxsize=1)
def signature_version() -> int:
    """What stored signatures were computed with: this module's shingling and rensa's algorithm."""
    from rensa import RMinHash

    return FINGERPRINT_VERSION * 1000 + int(RMinHash.ALGORITHM_VERSION)


# A space-free piece of a normalised key -> its syllables, tones placed, in UTF-8. Tones are placed piece by
# piece in ``Normalized.exact`` and a syllable never spans a space, so a text's syllables are its pieces'
# syllables one after another. In UTF-8 because rensa hashes a text as its UTF-8 bytes: shingles joined from
# bytes are the same tokens to it, and joining bytes (no character width to find) cost half as much.
_PIECES: Memo[str, tuple[bytes, ...]] = Memo(
    lambda piece: tuple(syllable.encode() for syllable in _WORD.findall(tone_canonical_token(piece))), 200_000
)


def _syllables(text: str) -> list[bytes]:
    """The syllables of ``normalize(text).exact`` (UTF-8), without placing the tones of the whole text first."""
    return list(chain.from_iterable(map(_PIECES.__getitem__, normalize(text).pieces)))


def fingerprint(title: str, sapo: str, body: str) -> Fingerprint:
    """An article's fingerprint (the sapo counts as body: outlets move its first sentence in and out)."""
    from rensa import RMinHash

    # Field by field, as the matcher and the index normalise them (the normaliser remembers its last texts).
    words = _syllables(sapo) + _syllables(body)
    # A text shorter than a shingle is its one shingle.
    runs = zip(*(words[start:] for start in range(SHINGLE)), strict=False)
    # map() joins in C: a body has some 500 shingles, and a Python loop over them cost more than hashing them.
    shingles = list(map(b" ".join, runs)) or ([b" ".join(words)] if words else [])
    minhash = RMinHash(num_perm=NUM_PERM, seed=SEED)
    if shingles:
        # A repeated shingle cannot move a minimum per slot, so the list goes in as joined: rensa reads a list
        # several times faster than a set, and the set is only wanted for the count.
        minhash.update(shingles)
    return Fingerprint(np.array(minhash.digest(), dtype=_SIGNATURE_DTYPE), normalize(title).exact, len(set(shingles)))


def title_similarity(first: str, second: str) -> float:
    """How alike two normalised headlines are, 0..1, whatever their word order and punctuation."""
    from rapidfuzz import fuzz, utils

    return fuzz.token_sort_ratio(first, second, processor=utils.default_process) / 100.0


def body_similarities(signatures: np.ndarray, signature: np.ndarray) -> np.ndarray:
    """The estimated Jaccard similarity of one signature with each row of a matrix: the share of equal slots."""
    if not len(signatures):
        return np.zeros(0)
    return np.count_nonzero(signatures == signature, axis=1) / float(NUM_PERM)


def headline_days(title: str) -> set[tuple[int, int]]:
    """The (day, month) pairs a headline names."""
    return {
        (int(day), int(month)) for day, month in _DAY.findall(title) if 1 <= int(day) <= 31 and 1 <= int(month) <= 12
    }


def same_story(first: Fingerprint, second: Fingerprint, body: float | None = None) -> bool:
    """Whether two fingerprints (of articles of different outlets, close in time) are one story."""
    if body is None:
        body = float(body_similarities(first.signature[np.newaxis, :], second.signature)[0])
    if body < BODY_WITH_TITLE:
        return False
    days, other_days = headline_days(first.title), headline_days(second.title)
    if days and other_days and not days & other_days:
        return False
    if min(first.shingles, second.shingles) < MIN_SHINGLES:
        return body >= BODY_SAME and title_similarity(first.title, second.title) >= TITLE_SHORT
    return body >= BODY_SAME or title_similarity(first.title, second.title) >= TITLE_SAME


@dataclass(slots=True)
class Placed:
    """An article already in a story: its key, outlet, publication instant, fingerprint and story."""

    key: object
    site: str
    published_at: datetime
    fingerprint: Fingerprint
    story: int


class StoryPool:
    """Articles that a new article may join, and the outlets each of their stories already has.

    A story's other articles may lie outside the pool (published outside the
    window): ``sites_of(story)`` is asked once per story for the outlets it
    already has, when the pool did not place the story itself.
    """

    def __init__(self, placed: Iterable[Placed] = (), *, sites_of: Callable[[int], Iterable[str]] | None = None):
        self.placed: list[Placed] = []
        self._story_sites: dict[int, set[str]] = {}
        self._complete: set[int] = set()
        self.sites_of = sites_of
        # Rows 0..len(placed)-1 are the pool; grown by doubling, so adding an article costs one row.
        self._signatures = np.zeros((64, NUM_PERM), dtype=_SIGNATURE_DTYPE)
        self._moments = np.zeros(64, dtype=float)
        # Outlets as small integers: comparing them is what every placement does over the whole pool.
        self._sites = np.zeros(64, dtype=np.int32)
        self._site_codes: dict[str, int] = {}
        for entry in placed:
            self.add(entry)

    def add(self, entry: Placed, *, new_story: bool = False) -> None:
        """Put an article in the pool; ``new_story``: its story was just founded here (no outlet elsewhere)."""
        row = len(self.placed)
        if row == len(self._moments):
            self._signatures = np.concatenate([self._signatures, np.zeros_like(self._signatures)])
            self._moments = np.concatenate([self._moments, np.zeros_like(self._moments)])
            self._sites = np.concatenate([self._sites, np.zeros_like(self._sites)])
        self._signatures[row] = entry.fingerprint.signature
        self._moments[row] = entry.published_at.timestamp()
        self._sites[row] = self._site_codes.setdefault(entry.site, len(self._site_codes))
        self.placed.append(entry)
        self._story_sites.setdefault(entry.story, set()).add(entry.site)
        if new_story:
            self._complete.add(entry.story)

    def renumber(self, stories: dict[int, int], *, first: int = 0) -> None:
        """Give stories founded with a provisional number (``stories``: provisional -> real) their real id.

        Only entries from ``first`` on can hold a provisional number (they were added since it was given).
        """
        if not stories:
            return
        for entry in self.placed[first:]:
            real = stories.get(entry.story)
            if real is not None:
                entry.story = real
        for provisional, real in stories.items():
            sites = self._story_sites.pop(provisional, None)
            if sites is not None:
                self._story_sites.setdefault(real, set()).update(sites)
            if provisional in self._complete:
                self._complete.discard(provisional)
                self._complete.add(real)

    def __len__(self) -> int:
        return len(self.placed)

    def outlets(self, story: int) -> set[str]:
        known = self._story_sites.setdefault(story, set())
        if story not in self._complete:
            if self.sites_of is not None:
                known |= set(self.sites_of(story))
            self._complete.add(story)
        return known

    def story_for(self, site: str, published_at: datetime | None, fp: Fingerprint) -> int | None:
        """The story an article joins: the most similar one of another outlet that lacks this outlet, or None."""
        if published_at is None or not self.placed or not fp.shingles:
            return None
        count = len(self.placed)
        moments, sites = self._moments[:count], self._sites[:count]
        # An outlet the pool has never seen gets no code: every article in the pool is another outlet's.
        code = self._site_codes.get(site, -1)
        near = np.flatnonzero((sites != code) & (np.abs(moments - published_at.timestamp()) <= WINDOW.total_seconds()))
        if not len(near):
            return None
        scores = body_similarities(self._signatures[near], fp.signature)
        # Nothing below BODY_WITH_TITLE can be the same story: sort only the rest (usually a handful).
        kept = np.flatnonzero(scores >= BODY_WITH_TITLE)
        for order in kept[np.argsort(-scores[kept], kind="stable")]:
            score = float(scores[order])
            candidate = self.placed[int(near[order])]
            if same_story(fp, candidate.fingerprint, score) and site not in self.outlets(candidate.story):
                return candidate.story
        return None
