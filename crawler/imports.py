"""Importing an exported archive (`articles export --format jsonl`) through the crawl's own storage path.

Each article goes through ``store_article``, its sources through the same
records as a crawl, its index entry through the session events, and its topic
matches through ``match_article`` — batch by batch, one transaction each, so
an import stopped at any point leaves whole articles. A line that cannot be
read is reported with its number and skipped before anything of it is
stored; a batch the database refuses is retried article by article to find
the culprit. Importing the same file again changes nothing.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy.exc import SQLAlchemyError

from crawler.clock import utcnow
from crawler.items import ExtractedArticle, Image
from crawler.store import Database
from crawler.store.articles import StoreOutcome, add_sources, load_articles, record_sources_of, store_article
from crawler.store.models import ArticleRow, CrawlRun
from crawler.store.records import RunCounts
from crawler.text import RECENT_CHARACTERS
from crawler.topics import TopicSet, match_article

log = logging.getLogger("bantin.import")

IMPORT_BATCH = 500
SOURCE = "import"


@dataclass
class ImportReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    # (line number, why), for lines that were not stored
    skipped: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0
    runs: list[int] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.new + self.updated + self.unchanged


@dataclass
class _Record:
    line: int
    item: ExtractedArticle
    # source -> (first seen, last seen, lastmod), as the exporting archive had them
    sources: dict[str, tuple[datetime | None, datetime | None, datetime | None]]
    first_seen_at: datetime | None
    changed_at: datetime | None
    version: int | None


class _BadLine(ValueError):
    pass


def _instant(data: Mapping[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _BadLine(f"{key} must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _BadLine(f"{key}: {value!r} is not an ISO 8601 instant") from None
    if parsed.tzinfo is None:
        raise _BadLine(f"{key}: {value!r} has no time zone offset")
    return parsed


def _text(data: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise _BadLine(f"{key} must be a {'non-empty ' if required else ''}string")
    return value


def _strings(data: Mapping[str, Any], key: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
        raise _BadLine(f"{key} must be a list of strings")
    return value


def parse_line(number: int, line: str) -> _Record:
    """One exported article, fully checked (raises _BadLine with the reason)."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _BadLine(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise _BadLine("not a JSON object")
    images = data.get("images") or []
    if not isinstance(images, list) or not all(
        isinstance(image, dict) and isinstance(image.get("url"), str) for image in images
    ):
        raise _BadLine("images must be a list of {url, caption}")
    version = data.get("version")
    if version is not None and (not isinstance(version, int) or version < 1):
        raise _BadLine("version must be a positive integer")
    sources: dict[str, tuple[datetime | None, datetime | None, datetime | None]] = {}
    for entry in data.get("sources") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("source"), str) or not entry["source"]:
            raise _BadLine("sources must be a list of {source, first_seen_at, last_seen_at, lastmod}")
        sources[entry["source"][:32]] = (
            _instant(entry, "first_seen_at"),
            _instant(entry, "last_seen_at"),
            _instant(entry, "lastmod"),
        )
    item = ExtractedArticle(
        site=_text(data, "site", required=True),
        external_id=_text(data, "external_id", required=True),
        url=_text(data, "url", required=True),
        title=_text(data, "title", required=True),
        body=_text(data, "body", required=True),
        sapo=_text(data, "sapo"),
        author=_text(data, "author"),
        published_at=_instant(data, "published_at"),
        modified_at=_instant(data, "modified_at"),
        category=_strings(data, "category"),
        tags=_strings(data, "tags"),
        images=[Image(image["url"], image.get("caption") or "") for image in images],
        extractor=_text(data, "extractor") or "site",
    )
    if len(item.site) > 32 or len(item.external_id) > 64 or len(item.url) > 1000:
        raise _BadLine("site, external_id or url is too long")
    return _Record(number, item, sources, _instant(data, "first_seen_at"), _instant(data, "changed_at"), version)


def _store(database: Database, batch: list[_Record], topics: TopicSet, now: datetime) -> list[StoreOutcome]:
    outcomes: list[StoreOutcome] = []
    with database.session() as session:
        stored: dict[tuple[str, str], ArticleRow] = {}
        seen: dict[int, dict[str, datetime | None]] = {}
        for site in {record.item.site for record in batch}:
            ids = [record.item.external_id for record in batch if record.item.site == site]
            stored.update(((site, key), row) for key, row in load_articles(session, site, ids).items())
        unflushed = 0
        for record in batch:
            item = record.item
            if unflushed > RECENT_CHARACTERS // 2:
                # The flush fingerprints and indexes what was matched since the last one while the
                # normaliser still remembers those texts: each field is normalised once, not three times.
                session.flush()
                unflushed = 0
            unflushed += len(item.title) + len(item.sapo) + len(item.body)
            identity = (item.site, item.external_id)
            outcome, row = store_article(session, item, now=now, existing=stored.get(identity))
            stored[identity] = row
            new = outcome == "new"
            if new:
                # The article's history is the exporting archive's, not this import's.
                row.first_seen_at = record.first_seen_at or row.first_seen_at
                row.changed_at = record.changed_at or row.changed_at
                row.version = record.version or row.version
                history = record.sources or {SOURCE: (None, None, None)}
                add_sources(
                    session,
                    row,
                    {source: (first or now, last or now, mod) for source, (first, last, mod) in history.items()},
                )
            else:
                sources = {source: lastmod for source, (_, _, lastmod) in record.sources.items()}
                seen[row.id] = sources or {SOURCE: None}
            if outcome != "unchanged":
                match_article(session, row, topics, now=now, new=new)
            outcomes.append(outcome)
        record_sources_of(session, seen, now=now)  # one query for the batch's known articles
    return outcomes


def import_articles(
    database: Database,
    lines: Iterable[str],
    topics: TopicSet,
    *,
    now: datetime,
    batch_size: int = IMPORT_BATCH,
    progress: TextIO | None = None,
) -> ImportReport:
    """Store every readable line; see the module docstring. ``progress``: a stream for a progress line."""
    with _heap_set_aside():
        return _import_articles(database, lines, topics, now=now, batch_size=batch_size, progress=progress)


@contextmanager
def _heap_set_aside() -> Iterator[None]:
    """Keep the objects that existed before (modules, caches) out of the collector's way while it lasts.

    Each batch's session leaves enough survivors to set off a full collection every few batches, and a
    full collection walked the whole heap each time: a tenth of an import's CPU time. What the import
    itself creates is collected as before; a caller that froze objects itself is left as it was.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _import_articles(
    database: Database,
    lines: Iterable[str],
    topics: TopicSet,
    *,
    now: datetime,
    batch_size: int,
    progress: TextIO | None,
) -> ImportReport:
    report = ImportReport()
    started = time.perf_counter()
    runs: dict[str, CrawlRun] = {}
    pending: list[_Record] = []
    last_shown = 0.0

    def flush() -> None:
        nonlocal pending
        batch, pending = pending, []
        if not batch:
            return
        try:
            outcomes = list(zip(batch, _store(database, batch, topics, now), strict=True))
        except SQLAlchemyError:
            outcomes = []
            for record in batch:
                try:
                    outcomes += list(zip([record], _store(database, [record], topics, now), strict=True))
                except SQLAlchemyError as exc:
                    report.skipped.append((record.line, f"the database refused it: {_first_line(exc)}"))
        for record, outcome in outcomes:
            setattr(report, outcome, getattr(report, outcome) + 1)
            counts = _run(record.item.site)
            for counter in ("discovered", "fetched", outcome):
                counts.add(SOURCE, counter)

    def _run(site: str) -> RunCounts:
        if site not in runs:
            runs[site] = CrawlRun(started_at=now, status="running", trigger="import", site=site, counts=RunCounts())
        return runs[site].counts

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            pending.append(parse_line(number, line))
        except _BadLine as exc:
            report.skipped.append((number, str(exc)))
            log.warning("line %d skipped: %s", number, exc)
        if len(pending) >= batch_size:
            flush()
            if progress is not None and time.perf_counter() - last_shown > 0.5:
                last_shown = time.perf_counter()
                rate = report.stored / max(1e-9, last_shown - started)
                print(f"\rimported {report.stored} article(s) ({rate:.0f}/s)", end="", file=progress, flush=True)
    flush()
    if progress is not None and report.stored:
        print(file=progress)
    report.seconds = time.perf_counter() - started
    finished = utcnow()
    with database.session() as session:
        for run in runs.values():
            run.status, run.finished_at = "ok", max(finished, now)
            run.message = f"imported; {len(report.skipped)} line(s) skipped" if report.skipped else "imported"
            session.add(run)
        session.flush()
        report.runs = [run.id for run in runs.values()]
    return report


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def open_input(path: str) -> TextIO:
    if path == "-":
        return sys.stdin
    return open(path, encoding="utf-8")
