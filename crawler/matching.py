"""The matching engine: every topic's terms in two automata, one pass per field.

All terms of all topics are compiled once into two Aho-Corasick automata (one
over exact keys, one over folded keys). An article field is normalised once,
each automaton runs once over it, every occurrence is checked for syllable
boundaries, and each topic's query tree is then evaluated over the set of
(term, field) pairs found. Only topics with at least one of their positive
terms present are evaluated: the parser guarantees that nothing else can match.

A matcher of a few exact terms and no folded one (a back-test, a search, the re-match
of one topic: every candidate the archive index gives it) skips the automata: each term
is looked up in the field's key by its longest stretch that tone placement cannot move,
and tones are placed in the few spans holding it only (``_local_scan``), which finds the
spans the automaton would.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

from crawler.errors import ConfigError
from crawler.query import FIELDS, And, Node, Not, Or, Term, parse_query, render
from crawler.text import (
    Normalized,
    clean_display,
    is_word_char,
    normalize,
    term_keys,
    tone_canonical,
    tone_fixed_stretch,
)

__all__ = [
    "ACCENT_MODES",
    "MATCHER_VERSION",
    "ArticleFields",
    "Hit",
    "MatchResult",
    "Matcher",
    "TopicSpec",
    "make_snippet",
    "match_query",
    "query_version",
]

# Bump when the normaliser or matching rules change, so stored matches are redone.
MATCHER_VERSION = 1
ACCENT_MODES = ("auto", "exact", "fold")
SNIPPET_WORDS = 12  # on each side of the hit: about 25 words in all

_BIT = {name: 1 << i for i, name in enumerate(FIELDS)}
_DEFAULT_SCOPE = _BIT["title"] | _BIT["sapo"] | _BIT["body"] | _BIT["tag"]
_FIELD_ORDER = {name: i for i, name in enumerate(FIELDS)}
# A matcher of this few exact patterns (and no folded one) -- a query, a topic being re-matched -- finds
# each in a field by a stretch that tone placement cannot change, placing the tones of the few places that
# hold it instead of the whole field's; a stretch met more often than this sends the field the usual way.
_LOCAL_PATTERNS = 8
_LOCAL_OCCURRENCES = 24


def query_version(query: str, accents: str = "auto") -> str:
    """A stable hash of the normalised query and accent mode (changes => re-match)."""
    canonical = render(parse_query(query), canonical=True)
    payload = f"{MATCHER_VERSION}\n{accents}\n{canonical}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class TopicSpec:
    name: str
    query: str
    accents: str = "auto"

    def __post_init__(self) -> None:
        if self.accents not in ACCENT_MODES:
            raise ConfigError(
                f"topic {self.name!r}: accents must be one of {', '.join(ACCENT_MODES)}, not {self.accents!r}",
                key="accents",
            )

    @property
    def version(self) -> str:
        return query_version(self.query, self.accents)


@dataclass(slots=True)
class ArticleFields:
    """The text a topic is matched against. Tags and categories match one by one."""

    title: str = ""
    sapo: str = ""
    body: str = ""
    tags: Sequence[str] = ()
    category: Sequence[str] = ()

    @classmethod
    def from_article(cls, article: Any) -> ArticleFields:
        """From anything with title/sapo/body/tags/category attributes (Article, a DB row)."""
        return cls(
            article.title or "",
            article.sapo or "",
            article.body or "",
            tuple(article.tags or ()),
            tuple(article.category or ()),
        )

    def units(self) -> Iterator[tuple[str, int, str]]:
        """(field, index within the field, text) for each piece of text to scan."""
        yield "title", 0, self.title
        yield "sapo", 0, self.sapo
        yield "body", 0, self.body
        for index, tag in enumerate(self.tags):
            yield "tag", index, tag
        for index, category in enumerate(self.category):
            yield "category", index, category


@dataclass(frozen=True, slots=True)
class Hit:
    """One place a term was found.

    ``start``/``end`` are character offsets in the original field text (for
    ``tag``/``category``: in the ``index``-th tag or category). ``snippet`` is
    display text around the hit and ``highlight`` the hit's span within the
    snippet, so a template can escape the three parts separately (see
    ``snippet_parts``) instead of trusting markup built from scraped text.
    """

    term: str
    field: str
    start: int
    end: int
    snippet: str
    highlight: tuple[int, int]
    index: int = 0
    negated: bool = False

    @property
    def snippet_parts(self) -> tuple[str, str, str]:
        """(before, hit, after): render as ``{{ before }}<mark>{{ hit }}</mark>{{ after }}``."""
        start, end = self.highlight
        return self.snippet[:start], self.snippet[start:end], self.snippet[end:]

    def to_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "field": self.field,
            "index": self.index,
            "start": self.start,
            "end": self.end,
            "snippet": self.snippet,
            "highlight": list(self.highlight),
            "negated": self.negated,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hit:
        """The inverse of ``to_dict`` (a stored match's hits)."""
        highlight = data.get("highlight") or (0, 0)
        return cls(
            term=str(data["term"]),
            field=str(data["field"]),
            start=int(data["start"]),
            end=int(data["end"]),
            snippet=str(data.get("snippet") or ""),
            highlight=(int(highlight[0]), int(highlight[1])),
            index=int(data.get("index", 0)),
            negated=bool(data.get("negated", False)),
        )


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Did the query match, and which term hits made it (or, if not, which were found)."""

    matched: bool
    hits: list[Hit] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"matched": self.matched, "hits": [hit.to_dict() for hit in self.hits]}


_TOKEN = re.compile(r"\S+")


def _cut_before(text: str, start: int, words: int) -> tuple[int, bool]:
    """Where ``words`` whole words before ``start`` begin, and whether text precedes them."""
    window = words * 8 + 16  # Vietnamese syllables average under 5 letters
    while True:
        lo = max(0, start - window)
        tokens = list(_TOKEN.finditer(text, lo, start))
        # The first token may be cut by the window edge: only rely on it at the text's start.
        if len(tokens) > words or lo == 0:
            break
        window *= 4
    if len(tokens) > words:
        return tokens[-words].start(), True
    return 0, False


def _cut_after(text: str, end: int, words: int) -> tuple[int, bool]:
    """Where ``words`` whole words after ``end`` stop, and whether text follows them."""
    window = words * 8 + 16
    while True:
        hi = min(len(text), end + window)
        tokens = list(_TOKEN.finditer(text, end, hi))
        if len(tokens) > words or hi == len(text):
            break
        window *= 4
    if len(tokens) > words:
        return tokens[words - 1].end(), True
    return len(text), False


def make_snippet(text: str, start: int, end: int, words: int = SNIPPET_WORDS) -> tuple[str, tuple[int, int]]:
    """About ``words`` words either side of text[start:end], and the hit's span in it."""
    cut_before, truncated_before = _cut_before(text, start, words)
    cut_after, truncated_after = _cut_after(text, end, words)
    before = clean_display(text[cut_before:start]).lstrip()
    hit = clean_display(text[start:end])
    after = clean_display(text[end:cut_after]).rstrip()
    if truncated_before:
        before = "… " + before
    if truncated_after:
        after += " …"
    return before + hit + after, (len(before), len(before) + len(hit))


# A compiled query: ("t", term_index) | ("and"|"or", children) | ("not", child)
_Program = tuple


@dataclass(slots=True)
class _TermRef:
    pid: int
    scope_bits: int
    text: str
    negated: bool


@dataclass(slots=True)
class _Topic:
    spec: TopicSpec
    tree: Node
    program: _Program
    terms: list[_TermRef]
    version: str


@dataclass(slots=True)
class _Scan:
    units: list[tuple[str, int, Normalized]]
    found: dict[int, int]  # pattern id -> field bits where it occurs
    first: dict[tuple[int, int], tuple[int, int, bool]]  # (pid, unit) -> key span, folded?
    # (pid, unit) -> original span, snippet, highlight: shared by every topic using the term
    located: dict[tuple[int, int], tuple[int, int, str, tuple[int, int]]] = field(default_factory=dict)

    def locate(self, pid: int, unit: int) -> tuple[int, int, str, tuple[int, int]] | None:
        found = self.located.get((pid, unit))
        if found is None:
            span = self.first.get((pid, unit))
            if span is None:
                return None
            start, end, folded = span
            norm = self.units[unit][2]
            ostart, oend = (norm.fold_to_original if folded else norm.to_original)(start, end)
            snippet, highlight = make_snippet(norm.original, ostart, oend)
            found = self.located[(pid, unit)] = (ostart, oend, snippet, highlight)
        return found


class Matcher:
    """All topics compiled together. ``match`` is pure: no I/O, no shared mutable state."""

    def __init__(self, topics: Iterable[TopicSpec]):
        self._patterns: dict[tuple[bool, str], int] = {}
        self._pattern_topics: list[list[int]] = []
        self._topics: list[_Topic] = []
        self._exact = ahocorasick.Automaton()
        self._fold = ahocorasick.Automaton()
        seen: set[str] = set()
        for spec in topics:
            if spec.name in seen:
                raise ConfigError(f"topic {spec.name!r} is defined twice", key="topics")
            seen.add(spec.name)
            self._add_topic(spec)
        for (folded, key), pid in self._patterns.items():
            (self._fold if folded else self._exact).add_word(key, (pid, len(key)))
        # Fields no term can look at are neither normalised nor scanned.
        self._scanned_bits = 0
        for topic in self._topics:
            for ref in topic.terms:
                self._scanned_bits |= ref.scope_bits
        self._has_exact = len(self._exact) > 0
        self._has_fold = len(self._fold) > 0
        # (pid, exact key, stretch, its offset) of each pattern, when every field can be looked up by them.
        self._stretches: list[tuple[int, str, str, int]] | None = None
        exact_patterns = [(pid, key) for (folded, key), pid in self._patterns.items() if not folded]
        if not self._has_fold and len(exact_patterns) <= _LOCAL_PATTERNS:
            stretches = [(pid, key, *tone_fixed_stretch(key)) for pid, key in exact_patterns]
            if all(stretch for _, _, stretch, _ in stretches):
                self._stretches = stretches
        if self._has_exact:
            self._exact.make_automaton()
        if self._has_fold:
            self._fold.make_automaton()

    @property
    def topics(self) -> list[TopicSpec]:
        return [topic.spec for topic in self._topics]

    @property
    def pattern_count(self) -> int:
        """Distinct (key, mode) patterns in the automata."""
        return len(self._patterns)

    def versions(self) -> dict[str, str]:
        """Topic name -> query version (see ``query_version``)."""
        return {topic.spec.name: topic.version for topic in self._topics}

    def _add_topic(self, spec: TopicSpec) -> None:
        tree = parse_query(spec.query, topic=spec.name)
        refs: list[_TermRef] = []
        program = self._compile(tree, spec.accents, refs, negated=False)
        index = len(self._topics)
        for pid in {ref.pid for ref in refs if not ref.negated}:
            self._pattern_topics[pid].append(index)
        version = query_version(spec.query, spec.accents)
        self._topics.append(_Topic(spec, tree, program, refs, version))

    def _pattern(self, text: str, accents: str) -> int:
        exact, folded = term_keys(text)
        use_fold = accents == "fold" or (accents == "auto" and exact == folded)
        ident = (use_fold, folded if use_fold else exact)
        pid = self._patterns.get(ident)
        if pid is None:
            pid = self._patterns[ident] = len(self._pattern_topics)
            self._pattern_topics.append([])
        return pid

    def _compile(self, node: Node, accents: str, refs: list[_TermRef], *, negated: bool) -> _Program:
        if isinstance(node, Term):
            bits = _BIT[node.scope] if node.scope else _DEFAULT_SCOPE
            refs.append(_TermRef(self._pattern(node.text, accents), bits, node.text, negated))
            return ("t", len(refs) - 1)
        if isinstance(node, Not):
            return ("not", self._compile(node.child, accents, refs, negated=not negated))
        kind = "and" if isinstance(node, And) else "or"
        assert isinstance(node, (And, Or))
        return (kind, tuple(self._compile(child, accents, refs, negated=negated) for child in node.children))

    # --- scanning -----------------------------------------------------------------

    def _scan(self, fields: ArticleFields) -> _Scan:
        units: list[tuple[str, int, Normalized]] = []
        found: dict[int, int] = {}
        first: dict[tuple[int, int], tuple[int, int, bool]] = {}
        automata = []
        if self._has_exact:
            automata.append((self._exact, False))
        if self._has_fold:
            automata.append((self._fold, True))
        scanned = self._scanned_bits
        for name, index, text in fields.units():
            bit = _BIT[name]
            if not bit & scanned:
                continue
            unit = len(units)
            norm = normalize(text)
            units.append((name, index, norm))
            if not norm.key:
                continue
            local = self._local_scan(norm.key) if self._stretches is not None else None
            if local is not None:
                for pid, start, end in local:
                    first[(pid, unit)] = (start, end, False)
                    found[pid] = found.get(pid, 0) | bit
                continue
            for automaton, folded in automata:
                key = norm.folded if folded else norm.exact
                last = len(key) - 1
                for end, (pid, length) in automaton.iter(key):
                    if (pid, unit) in first:
                        continue
                    start = end - length + 1
                    # Whole syllables only; a rejected occurrence does not stop the scan.
                    if (start and is_word_char(key[start - 1])) or (end < last and is_word_char(key[end + 1])):
                        continue
                    first[(pid, unit)] = (start, end + 1, folded)
                    found[pid] = found.get(pid, 0) | bit
        return _Scan(units, found, first)

    def _local_scan(self, key: str) -> list[tuple[int, int, int]] | None:
        """(pid, start, end) of each pattern's first whole-syllable occurrence in ``key`` (a field's
        unplaced key), the spans ``_scan`` finds in its exact key; None when a stretch is too common to pay.

        Whole syllables at both ends leave the tones of the span to the span alone, so placing them
        in the slice tells whether the pattern is there.
        """
        found: list[tuple[int, int, int]] = []
        last = len(key)
        seen = 0
        for pid, pattern, stretch, offset in self._stretches or ():
            at = key.find(stretch)
            while at >= 0:
                seen += 1
                if seen > _LOCAL_OCCURRENCES:
                    return None
                start = at - offset
                end = start + len(pattern)
                if (
                    start >= 0
                    and end <= last
                    and not (start and is_word_char(key[start - 1]))
                    and not (end < last and is_word_char(key[end]))
                    and tone_canonical(key[start:end]) == pattern
                ):
                    found.append((pid, start, end))
                    break
                at = key.find(stretch, at + 1)
        return found

    @staticmethod
    def _evaluate(program: _Program, topic: _Topic, found: dict[int, int]) -> bool:
        kind = program[0]
        if kind == "t":
            ref = topic.terms[program[1]]
            return bool(found.get(ref.pid, 0) & ref.scope_bits)
        if kind == "and":
            return all(Matcher._evaluate(child, topic, found) for child in program[1])
        if kind == "or":
            return any(Matcher._evaluate(child, topic, found) for child in program[1])
        return not Matcher._evaluate(program[1], topic, found)

    @staticmethod
    def _witnesses(program: _Program, topic: _Topic, found: dict[int, int]) -> Iterator[int]:
        """Indexes of the present positive terms that make a true node true."""
        kind = program[0]
        if kind == "t":
            yield program[1]
        elif kind == "and":
            for child in program[1]:
                yield from Matcher._witnesses(child, topic, found)
        elif kind == "or":
            for child in program[1]:
                if Matcher._evaluate(child, topic, found):
                    yield from Matcher._witnesses(child, topic, found)

    def _hits(self, scan: _Scan, topic: _Topic, refs: Iterable[int]) -> list[Hit]:
        hits: list[Hit] = []
        seen: set[tuple[int, int]] = set()
        for ref_index in refs:
            ref = topic.terms[ref_index]
            for unit, (name, index, _) in enumerate(scan.units):
                if not _BIT[name] & ref.scope_bits or (ref.pid, unit) in seen:
                    continue
                located = scan.locate(ref.pid, unit)
                if located is None:
                    continue
                seen.add((ref.pid, unit))
                ostart, oend, snippet, highlight = located
                hits.append(Hit(ref.text, name, ostart, oend, snippet, highlight, index, ref.negated))
        hits.sort(key=lambda hit: (_FIELD_ORDER[hit.field], hit.index, hit.start))
        return hits

    def match(self, fields: ArticleFields) -> dict[str, list[Hit]]:
        """Topic name -> the hits that made it match; topics that do not match are absent."""
        scan = self._scan(fields)
        candidates = sorted({t for pid in scan.found for t in self._pattern_topics[pid]})
        result: dict[str, list[Hit]] = {}
        for index in candidates:
            topic = self._topics[index]
            if self._evaluate(topic.program, topic, scan.found):
                result[topic.spec.name] = self._hits(scan, topic, self._witnesses(topic.program, topic, scan.found))
        return result

    def carried(self, fields: ArticleFields, topic_name: str) -> list[str] | None:
        """The positive terms that make one topic match (None: no match), without locating hits.

        The same terms as the non-negated hits of ``explain``, at the cost of the scan alone.
        """
        topic = self._topic(topic_name)
        scan = self._scan(fields)
        if not self._evaluate(topic.program, topic, scan.found):
            return None
        return sorted({topic.terms[i].text for i in self._witnesses(topic.program, topic, scan.found)})

    def _topic(self, topic_name: str) -> _Topic:
        topic = next((t for t in self._topics if t.spec.name == topic_name), None)
        if topic is None:
            raise KeyError(topic_name)
        return topic

    def explain(self, fields: ArticleFields, topic_name: str) -> MatchResult:
        """Like ``match`` for one topic, but also says what was found when it does not match.

        A non-match lists every term found, negated ones flagged, so a reader
        can see which term was missing or which excluded term was present.
        """
        topic = self._topic(topic_name)
        scan = self._scan(fields)
        if self._evaluate(topic.program, topic, scan.found):
            return MatchResult(True, self._hits(scan, topic, self._witnesses(topic.program, topic, scan.found)))
        return MatchResult(False, self._hits(scan, topic, range(len(topic.terms))))


class QueryMatcher:
    """One ad-hoc query compiled once, to explain many articles (search, back-tests)."""

    NAME = "query"

    def __init__(self, query: str, mode: str = "auto"):
        parse_query(query)  # errors without a topic name in them
        self._matcher = Matcher([TopicSpec(self.NAME, query, mode)])

    def explain(self, fields: ArticleFields | str) -> MatchResult:
        """Match the query against these fields (a plain string is taken as the body)."""
        if isinstance(fields, str):
            fields = ArticleFields(body=fields)
        return self._matcher.explain(fields, self.NAME)

    def carried(self, fields: ArticleFields) -> list[str] | None:
        """The positive terms that make the query match (None: no match), without locating hits."""
        return self._matcher.carried(fields, self.NAME)


def match_query(query: str, fields: ArticleFields | str, mode: str = "auto") -> MatchResult:
    """Match one query against one text (a plain string is taken as the body)."""
    return QueryMatcher(query, mode).explain(fields)
