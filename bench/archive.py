"""Archive benchmark: search, topic tests and re-matching from the archive index vs today's full scan.

    python -m bench.archive [--articles 100000] [--database-url URL] [--scan-sample 2000] [--keep]
                            [--only search,month,whole,rematch,size,import] [--reuse] [--no-scan]
                            [--import-url URL]

Fills a throw-away archive (SQLite in a temporary folder unless --database-url names an empty
database) with N synthetic Vietnamese articles of ~2.5 KB by bulk inserts — a known share mentions
each test phrase, and some carry the "công nghiệp. Hỗ trợ" trap the matcher must reject — then
prints, for each question, the time with the index and the time of the full scan (the scan is timed
on a sample of articles and extrapolated when a full run would take too long), the archive's size
with and without the index, and the process's peak memory. The topic tests and the re-match time the
commands' own functions (``crawler.backtest.backtest``, ``crawler.topics.rematch``). ``--keep`` and
then ``--reuse`` with the kept URL ask the same archive again (another checkout's code, say) without
filling it anew.

``--only import`` (not asked by default) times `articles import`: the filled archive is exported by
`bantin articles export` (JSON Lines, every article) and imported through the command's own function
(``crawler.imports.import_articles``) into a new archive (a temporary SQLite file unless --import-url names
an empty database) with two topics (the common and the rare phrase), then imported again (every article
unchanged). It prints articles/s as the command reports it and the CPU time per article (this process's).
The issue's figure: ``python -m bench.archive --articles 20000 --only import``. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, insert, select, text

from bench.matching import _sentence, _vocabulary
from crawler.backtest import backtest
from crawler.matching import ArticleFields, Matcher, TopicSpec
from crawler.query import parse_query
from crawler.samplesite import texts
from crawler.store import Database
from crawler.store import index as archive_index
from crawler.store.archive import article_query, matching_articles
from crawler.store.models import ArticleRow, Match, Story, Topic
from crawler.topics import TopicSet, match_article, rematch, sync_topics

COMMON = '"công nghiệp hỗ trợ"'  # in ~5 % of the articles
RARE = '"vịnh Bái Tử Long"'  # in ~0.05 %
COMMON_SHARE, TRAP_SHARE, RARE_SHARE = 0.05, 0.02, 0.0005
PER_DAY = 150  # NDO publishes about this many articles a day
NOW = datetime(2026, 3, 27, 1, 0, tzinfo=UTC)
PAGE = 50
QUESTIONS = ("search", "month", "whole", "rematch", "size", "import")
DEFAULT_QUESTIONS = QUESTIONS[:-1]  # importing the whole archive again is asked for by name


def _pools(rng: random.Random):
    vocab = _vocabulary(rng, 3000)
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    generic = [
        sentence.replace("{nam}", "2025")
        .replace("{thang}", "6")
        .replace("{so2}", "120")
        .replace("{tinh}", rng.choice(texts.PROVINCES))
        .replace("{ten}", rng.choice(texts.PEOPLE))
        for sentence in texts.GENERIC
    ]

    def paragraph() -> str:
        sentences = [_sentence(rng, vocab, weights, rng.randint(10, 22)) for _ in range(rng.randint(2, 4))]
        if rng.random() < 0.3:
            sentences.insert(rng.randrange(len(sentences) + 1), rng.choice(generic))
        return " ".join(sentences)

    paragraphs = [paragraph() for _ in range(4000)]
    titles = [_sentence(rng, vocab, weights, rng.randint(8, 14)).rstrip(".?!") for _ in range(4000)]
    common = [
        f"Doanh nghiệp công nghiệp hỗ trợ {rng.choice(texts.PROVINCES)} cần thêm vốn và thị trường. "
        + _sentence(rng, vocab, weights, 12)
        for _ in range(200)
    ]
    trap = [
        f"Phát triển công nghiệp. Hỗ trợ doanh nghiệp nhỏ ở {rng.choice(texts.PROVINCES)}. "
        + _sentence(rng, vocab, weights, 12)
        for _ in range(200)
    ]
    rare = ["Du khách đến vịnh Bái Tử Long ngày càng đông. " + _sentence(rng, vocab, weights, 12) for _ in range(50)]
    return paragraphs, titles, common, trap, rare


def fill(database: Database, count: int, *, seed: int = 0, batch: int = 2000) -> dict[str, int]:
    """Bulk-insert ``count`` articles and their index entries (the session events are bypassed)."""
    rng = random.Random(seed)
    paragraphs, titles, common, trap, rare = _pools(rng)
    shares = {"common": 0, "trap": 0, "rare": 0}
    started = time.perf_counter()
    for first in range(0, count, batch):
        rows, stories, entries = [], [], []
        for number in range(first, min(count, first + batch)):
            body = rng.sample(paragraphs, rng.randint(6, 9))
            for kind, pool, share in (
                ("common", common, COMMON_SHARE),
                ("trap", trap, TRAP_SHARE),
                ("rare", rare, RARE_SHARE),
            ):
                if rng.random() < share:
                    body[rng.randrange(len(body))] = rng.choice(pool)
                    shares[kind] += 1
            title, sapo = rng.choice(titles), rng.choice(paragraphs[:500])
            tags = [rng.choice(texts.PROVINCES)]
            category = [rng.choice(["Kinh tế", "Xã hội", "Thế giới", "Văn hóa", "Thể thao"])]
            published = NOW - timedelta(days=number / PER_DAY, minutes=rng.randint(0, 60))
            # Each synthetic article is a story of its own (one outlet: nothing to group).
            stories.append({"id": number + 1, "created_at": published})
            rows.append(
                {
                    "id": number + 1,
                    "site": "nhandan",
                    "external_id": str(number + 1),
                    "url": f"https://nhandan.vn/bench-post{number + 1}.html",
                    "title": title,
                    "sapo": sapo,
                    "body": "\n\n".join(body),
                    "author": "",
                    "category": category,
                    "tags": tags,
                    "images": [],
                    "published_at": published,
                    "modified_at": None,
                    "first_seen_at": published,
                    "fetched_at": published,
                    "changed_at": published,
                    "version": 1,
                    "content_hash": f"{number:064x}",
                    "extractor": "site",
                    "story_id": number + 1,
                }
            )
            entries.append((number + 1, title, sapo, rows[-1]["body"], tags, category))
        with database.engine.begin() as connection:
            connection.execute(insert(Story), stories)
            connection.execute(insert(ArticleRow), rows)
            archive_index._write(connection, entries)
        done = min(count, first + batch)
        if done % (batch * 25) == 0 or done == count:
            print(f"  filled {done}/{count} ({done / (time.perf_counter() - started):.0f} articles/s)", flush=True)
    if database.dialect == "postgresql" and count:
        # The keys were given explicitly: what the archive stores next must not collide with them.
        with database.engine.begin() as connection:
            for table_name in ("articles", "stories"):
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table_name}', 'id'), :n)"), {"n": count}
                )
    return shares


def _timed(function, repeats: int = 1):
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _search_page(database: Database, query: str, *, use_index: bool, limit: int = PAGE, budget: int | None = None):
    """The `articles search` path: newest first until a page of matches (or, for the scan, `budget` rows)."""
    matcher = Matcher([TopicSpec("q", query)])
    tree = parse_query(query)
    found = read = 0
    with database.session() as session:
        if use_index:
            rows = matching_articles(
                session, tree, lambda row: matcher.carried(ArticleFields.from_article(row), "q"), first_batch=limit
            )
            for _ in rows:
                found += 1
                if found >= limit:
                    break
            return found, None
        for row in session.scalars(article_query().execution_options(yield_per=500)):
            read += 1
            if matcher.explain(ArticleFields.from_article(row), "q").matched:
                found += 1
                if found >= limit:
                    break
            if budget is not None and read >= budget:
                break
    return found, read


def _topic_test(database: Database, query: str, since: datetime | None, *, use_index: bool, budget: int | None = None):
    """`topics test`: the command's own back-test, or today's scan of the period (``budget`` rows at most)."""
    if use_index:
        with database.session() as session:
            return backtest(session, query, since=since, limit=30, zone=UTC).matched, None
    matcher = Matcher([TopicSpec("q", query)])
    matched = read = 0
    with database.session() as session:
        query_rows = article_query(published_from=since).execution_options(yield_per=500)
        for row in session.scalars(query_rows):
            read += 1
            matched += matcher.explain(ArticleFields.from_article(row), "q").matched
            if budget is not None and read >= budget:
                break
    return matched, read


def _forget_topic(database: Database, name: str) -> None:
    """A re-match of a *new* topic each time: no matches nor row of an earlier run."""
    with database.session() as session:
        session.execute(delete(Match).where(Match.topic == name))
        session.execute(delete(Topic).where(Topic.name == name))


def _scan_rematch_sample(database: Database, topic_set: TopicSet, sample: int) -> float:
    """Seconds per article of today's full re-match (match_article over every row), on a sample."""
    started = time.perf_counter()
    with database.session() as session:
        rows = list(session.scalars(select(ArticleRow).order_by(ArticleRow.id).limit(sample)))
        for row in rows:
            match_article(session, row, topic_set, now=NOW)
        session.rollback()
    return (time.perf_counter() - started) / max(1, len(rows))


def _sizes(database: Database) -> tuple[float, float]:
    """(archive MB, of which the index MB)."""
    with database.engine.connect() as connection:
        if database.dialect == "sqlite":
            assert database.engine.url.database is not None  # the bench's archive is a file
            path = Path(database.engine.url.database)
            # A checkpoint cannot run inside a transaction (every SQLAlchemy statement here opens one, see
            # crawler.store): to the driver itself, before the first one.
            driver = connection.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            total = path.stat().st_size
            try:
                indexed = (
                    connection.exec_driver_sql(
                        "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'article_index%'"
                    ).scalar()
                    or 0
                )
            except Exception:  # noqa: BLE001 - dbstat is a compile-time option
                indexed = 0
        else:
            total = connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            indexed = connection.execute(text("SELECT pg_total_relation_size('article_index')")).scalar_one()
    return total / 2**20, indexed / 2**20


def _import(source_url: str, target_url: str, folder: str) -> None:
    """Export the archive with `bantin articles export`, import it twice into ``target_url``; print the rates."""
    from crawler.cli import main as bantin
    from crawler.imports import import_articles
    from crawler.topics import prepare_topics

    config = Path(folder) / "export.toml"
    config.write_text(f'[storage]\ndatabase_url = "{source_url}"\n', encoding="utf-8")
    dump = Path(folder) / "export.jsonl"
    try:
        bantin(["--config", str(config), "articles", "export", "--out", str(dump)])
    except SystemExit as exc:
        if exc.code:
            raise
    target = Database(target_url)
    topics = prepare_topics(target, [{"name": "CNHT", "query": COMMON}, {"name": "BTL", "query": RARE}], now=NOW)
    for label in ("new", "unchanged"):
        cpu = time.process_time()
        with dump.open(encoding="utf-8") as lines:
            report = import_articles(target, lines, topics, now=NOW)
        cpu = time.process_time() - cpu
        stored = max(1, report.stored)
        print(
            f"  articles import, {report.stored} articles ({report.new} new, {report.unchanged} unchanged) into "
            f"{target.dialect}: {report.stored / max(1e-9, report.seconds):,.0f} articles/s, "
            f"CPU {cpu / stored * 1000:.3f} ms an article (target for new ones: >= 2,000/s)",
            flush=True,
        )
        if report.skipped or report.stored != (report.new if label == "new" else report.unchanged):
            raise SystemExit(f"the import stored something other than {label} articles: {report}")
    target.dispose()
    dump.unlink()
    config.unlink()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.archive", description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--database-url", help="An empty database to fill (default: a temporary SQLite file).")
    parser.add_argument("--scan-sample", type=int, default=2000, help="Articles the full scan is timed on.")
    parser.add_argument(
        "--repeats", type=int, default=5, help="Runs of each search and topic test (the median is shown)."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temporary SQLite file.")
    parser.add_argument(
        "--only", default=",".join(DEFAULT_QUESTIONS), help=f"The questions to ask, of {', '.join(QUESTIONS)}."
    )
    parser.add_argument("--import-url", help="An empty database to import into (default: a temporary SQLite file).")
    parser.add_argument("--reuse", action="store_true", help="Ask a --database-url filled (and kept) before.")
    parser.add_argument("--no-scan", action="store_true", help="Time the index alone, not today's scan.")
    args = parser.parse_args(argv)
    asked = set(args.only.split(","))
    if asked - set(QUESTIONS):
        parser.error(f"--only: unknown question(s) {', '.join(sorted(asked - set(QUESTIONS)))}")
    if args.reuse and not args.database_url:
        parser.error("--reuse needs --database-url")
    folder = tempfile.mkdtemp(prefix="bantin-bench-archive-")
    url = args.database_url or f"sqlite:///{folder}/archive.sqlite3"
    database = Database(url)
    if args.reuse:
        with database.session() as session:
            n = session.scalar(select(func.count()).select_from(ArticleRow)) or 0
        print(f"archive benchmark: {n} articles on {database.dialect} ({database.describe()}), filled before")
    else:
        n = args.articles
        print(f"archive benchmark: {n} articles on {database.dialect} ({database.describe()})")
        started = time.perf_counter()
        shares = fill(database, n)
        fill_seconds = time.perf_counter() - started
        with database.engine.begin() as connection:
            if database.dialect == "postgresql":
                connection.execute(text("ANALYZE"))
            else:
                connection.exec_driver_sql("ANALYZE")
        print(
            f"  filled in {fill_seconds:.0f} s; common phrase in {shares['common']}, trap in {shares['trap']}, "
            f"rare phrase in {shares['rare']} articles; peak memory {_peak_mb():.0f} MB"
        )
    sample = min(args.scan_sample, n)
    scan = not args.no_scan

    def row(name: str, indexed: float, scan_seconds: float | None, scan_note: str, target: str) -> None:
        scanned = f"scan {scan_seconds:9.1f} s{scan_note}" if scan_seconds is not None else "scan not timed"
        print(f"  {name:<44} index {indexed:9.3f} s   {scanned}   ({target})", flush=True)

    if "search" in asked:
        for label, query in (("rare", RARE), ("common", COMMON)):
            seconds, _ = _timed(lambda query=query: _search_page(database, query, use_index=True), args.repeats)
            scan_seconds, note = None, ""
            if scan:
                scan_seconds, (found, read) = _timed(
                    lambda query=query: _search_page(database, query, use_index=False, budget=sample)
                )
                if found >= PAGE:
                    note = " (measured)"
                else:  # the scan would read the whole archive before answering
                    scan_seconds, note = scan_seconds * n / max(1, read), f" (extrapolated from {read})"
            row(
                f"articles search, first page, {label} phrase", seconds, scan_seconds, note, "target p50 <= 0.3 s at 1M"
            )
    if "month" in asked:
        month = NOW - timedelta(days=30)
        seconds, matched = _timed(lambda: _topic_test(database, COMMON, month, use_index=True), args.repeats)
        with database.session() as session:
            in_month = session.scalar(
                select(text("count(*)")).select_from(ArticleRow).where(ArticleRow.published_at >= month)
            )
        scan_seconds, note = None, ""
        if scan:
            scan_seconds, (_, read) = _timed(
                lambda: _topic_test(database, COMMON, month, use_index=False, budget=sample)
            )
            scan_seconds = scan_seconds * in_month / max(1, read)
            note = f" ({'measured' if read >= in_month else f'extrapolated from {read}'})"
        row(
            f"topics test, 30 days ({in_month} articles, {matched[0]} match)",
            seconds,
            scan_seconds,
            note,
            "target <= 1 s at 1M",
        )
    if "whole" in asked:
        seconds, matched = _timed(lambda: _topic_test(database, COMMON, None, use_index=True), args.repeats)
        scan_seconds, note = None, ""
        if scan:
            scan_seconds, (_, read) = _timed(
                lambda: _topic_test(database, COMMON, None, use_index=False, budget=sample)
            )
            scan_seconds, note = scan_seconds * n / max(1, read), f" (extrapolated from {read})"
        row(f"topics test, whole archive ({matched[0]} match)", seconds, scan_seconds, note, "target <= 5 s at 1M")
    if "rematch" in asked:
        topic_set = TopicSet.from_config([{"name": "CNHT", "query": COMMON}])
        _forget_topic(database, "CNHT")
        with database.session() as session:
            sync_topics(session, topic_set, now=NOW)
        scan_seconds, note = None, ""
        if scan:
            scan_seconds, note = _scan_rematch_sample(database, topic_set, sample) * n, f" (extrapolated from {sample})"
        seconds, counts = _timed(lambda: rematch(database, topic_set, now=NOW))
        row(f"re-match one new topic ({counts['CNHT']} match)", seconds, scan_seconds, note, "target <= 60 s at 1M")
    if "size" in asked:
        total_mb, index_mb = _sizes(database)
        print(
            f"  archive on disk: {total_mb:.0f} MB with the index, {total_mb - index_mb:.0f} MB without "
            f"(index {index_mb:.0f} MB, {index_mb / max(1e-9, total_mb - index_mb):.0%})"
        )
    if "import" in asked:
        _import(url, args.import_url or f"sqlite:///{folder}/imported.sqlite3", folder)
    print(f"  peak memory (RSS) of this process: {_peak_mb():.0f} MB")
    database.dispose()
    if args.keep and not args.database_url:
        print(f"  kept {url}")
    else:
        for path in Path(folder).glob("*"):
            path.unlink()
        Path(folder).rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
