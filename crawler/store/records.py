"""Typed values that cross the storage boundary as JSON, and their column types.

Each JSON column that holds a structured value gets a TypeDecorator, so the ORM
attribute *is* the typed value and no reader guesses key names. The JSON
written stays exactly what schema 0001/0002 databases already hold: reading an
old row and writing it back changes no byte.

Nothing here imports Scrapy: the CLI, the health rules, the service and the
digest read run counts without loading the crawl runtime.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import JSON, TypeDecorator

from crawler.logs import one_line

COUNTERS = ("discovered", "fetched", "new", "updated", "unchanged", "failed", "skipped")
# Per source, beside the counters: its pages read and parsed, and its pages that could not be.
# A source with no page read was not read at all this run (`bantin status` warns about it).
PAGE_COUNTERS = ("pages_read", "pages_failed")
MAX_ERRORS = 200


class RunCounts:
    """Per-source counters of one crawl run (stored as ``crawl_runs.counts``) and, while it runs, its errors.

    The stored shape is ``{source: {counter: n}}``; errors and page tallies
    have their own columns and are only kept in memory here.
    """

    def __init__(self) -> None:
        self.by_source: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS + PAGE_COUNTERS, 0))
        self.errors: list[dict] = []
        self.error_total = 0
        self.article_pages = 0
        self.fallback_pages = 0
        self.source_pages_ok = 0
        self.source_pages_failed = 0
        # The sources the spider said it would read, in its order.
        self.expected: list[str] = []
        # source -> the first reason one of its pages could not be read
        self.source_reasons: dict[str, str] = {}
        self.robots_refused = 0
        self.robots_reason = ""
        # Articles fetched but not written (a full disk, a lost database) and the first such error.
        self.storage_failures = 0
        self.storage_error = ""

    @classmethod
    def from_json(cls, data: Any) -> RunCounts:
        """Read a stored ``counts`` value; anything that is not a source's integer counter is ignored."""
        if isinstance(data, RunCounts):
            return data
        counts = cls()
        if isinstance(data, Mapping):
            for source, per_source in data.items():
                if not isinstance(per_source, Mapping):
                    continue
                # Exactly the counters stored: an old row read and written back keeps its bytes.
                counts.by_source[str(source)] = {
                    str(key): value
                    for key, value in per_source.items()
                    if isinstance(value, int) and not isinstance(value, bool)
                }
        return counts

    @classmethod
    def combined(cls, runs: Iterable[RunCounts]) -> RunCounts:
        """Several runs' counts summed per source (e.g. every site of one crawl)."""
        total = cls()
        for counts in runs:
            for source, per_source in counts.by_source.items():
                for key, value in per_source.items():
                    total.add(source, key, value)
        return total

    def add(self, source: str, counter: str, amount: int = 1) -> None:
        self.by_source[source][counter] = self.by_source[source].get(counter, 0) + amount

    def error(self, source: str, url: str, reason: str) -> None:
        self.error_total += 1
        if len(self.errors) < MAX_ERRORS:
            # One line: reasons are printed one per line (database errors carry a second).
            self.errors.append({"source": source, "url": url, "reason": one_line(reason)})

    def expect(self, sources) -> None:
        for source in sources:
            if source not in self.expected:
                self.expected.append(source)
                self.by_source[source]  # noqa: B018 - present with zeros even if never read

    def unread_sources(self) -> list[str]:
        """Expected sources of which no page could be read."""
        return [source for source in self.expected if not self.by_source[source].get("pages_read", 0)]

    def close_sources(self) -> None:
        """An expected source that neither answered nor failed was dropped on the way: say so."""
        for source in self.expected:
            counts = self.by_source[source]
            if not counts.get("pages_read", 0) and not counts.get("pages_failed", 0):
                reason = "no page of this source was read (its request never reached the spider)"
                self.add(source, "pages_failed")
                self.add(source, "failed")
                self.source_pages_failed += 1
                self.source_reasons.setdefault(source, reason)
                self.error(source, "", reason)

    @property
    def sources(self) -> list[str]:
        return sorted(self.by_source)

    def source(self, name: str) -> dict[str, int]:
        """One source's counters (all zero when the run did not read it)."""
        return dict(self.by_source[name]) if name in self.by_source else dict.fromkeys(COUNTERS, 0)

    def totals(self) -> dict[str, int]:
        return {counter: sum(counts.get(counter, 0) for counts in self.by_source.values()) for counter in COUNTERS}

    def yielded(self, name: str) -> bool:
        """Whether a source announced or added anything in this run."""
        counts = self.by_source.get(name) or {}
        return bool(counts.get("discovered", 0) or counts.get("new", 0))

    def as_json(self) -> dict[str, dict[str, int]]:
        return {source: dict(counts) for source, counts in sorted(self.by_source.items())}

    def __bool__(self) -> bool:
        return bool(self.by_source)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RunCounts):
            return self.as_json() == other.as_json()
        if isinstance(other, Mapping):
            return self.as_json() == RunCounts.from_json(other).as_json()
        return NotImplemented

    def __repr__(self) -> str:
        return f"RunCounts({self.as_json()!r})"


@dataclass
class RunSummary:
    """One site's crawl run as its ledger closed it: what `bantin crawl` prints per site."""

    run_id: int
    site: str
    status: str
    message: str
    counts: RunCounts
    started_at: datetime
    finished_at: datetime | None
    errors: list[dict] = field(default_factory=list)
    error_total: int = 0

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "degraded")

    def totals(self) -> dict[str, int]:
        return self.counts.totals()


class DeliveredVersion(NamedTuple):
    """One article version an outbox message delivers; stored as the pair ``[article key, version]``."""

    article_id: int
    version: int


class RunCountsJSON(TypeDecorator):
    """``crawl_runs.counts``: a :class:`RunCounts` in Python, ``{source: {counter: n}}`` in the database."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, RunCounts):
            return value.as_json()
        return dict(value)

    def process_result_value(self, value: Any, dialect) -> RunCounts:
        return RunCounts.from_json(value)


class HitsJSON(TypeDecorator):
    """``matches.hits``: a list of :class:`crawler.matching.Hit`, stored as their ``to_dict()``."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect) -> Any:
        if value is None:
            return None
        return [hit if isinstance(hit, Mapping) else hit.to_dict() for hit in value]

    def process_result_value(self, value: Any, dialect) -> list:
        from crawler.matching import Hit

        return [Hit.from_dict(hit) for hit in value or () if isinstance(hit, Mapping)]


class DeliveredVersionsJSON(TypeDecorator):
    """``outbox.items``: a list of :class:`DeliveredVersion`, stored as ``[[article key, version], ...]``."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect) -> Any:
        if value is None:
            return None
        return [[int(article_id), int(version)] for article_id, version in value]

    def process_result_value(self, value: Any, dialect) -> list[DeliveredVersion]:
        return [DeliveredVersion(int(pair[0]), int(pair[1])) for pair in value or ()]
