"""Crawl benchmark: bantin's crawl vs a bare Scrapy download of the same pages, plus peak memory.

    python -m bench.crawl [--days 30 --per-day 70] [--repeats 2] [--outlet ID ...] [--quick]

One run prints everything issue 2 asks for:

(a) extraction throughput of the page object vs ``trafilatura.extract`` (``bench.extract``);
(b) a full ``bantin crawl --fast`` of the four look-alikes (NDO, VietnamPlus, Tiền Phong, Báo Quảng Ninh,
    each on its own origin, one crawler per site in one process; ``--outlet`` keeps to some of them) vs a
    bare Scrapy download of the same URLs with the same structure (one bare spider per site in one
    process, the same concurrency), pages/s and the ratio, each crawl in its own child process,
    alternating, the median reported;
(c) the peak RSS of each crawl child, and of the real crawl run over archives already holding 1x and
    2x the site's article count (memory must not grow with the archive).

The look-alikes are served by a separate process (``python -m crawler.samplesite serve --site ...``) so
they do not share a GIL with the crawler. Pages and seconds come from the sites' own request logs (first
to last request across all four), measured the same way for both crawls. A benchmark, not a test: it
never fails on its figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from crawler.clock import utcnow
from crawler.crawl.run import crawl_child_command
from crawler.samplesite import DEMO_TOPICS, topics_toml

REPO = Path(__file__).resolve().parent.parent
# Stored articles that the benchmarked site never announces: ids far above the site's.
PREFILL_ID_BASE = 900_000_000
PREFILL_BASE_URL = "https://nhandan.vn"
# Peak RSS within this much of the empty-archive figure counts as flat (allocator noise).
FLAT_TOLERANCE_KB = 8 * 1024
FLAT_TOLERANCE_SHARE = 0.05


# ------------------------------------------------------------------ the bare spider (child mode)


def run_bare(urls_file: str, settings_file: str) -> int:
    """Download every URL in ``urls_file`` ("site<TAB>url" lines) with Scrapy's defaults plus the given
    settings, one spider per site in one process (as the real crawl runs one crawler per site), and
    nothing else."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    by_site: dict[str, list[str]] = {}
    for line in Path(urls_file).read_text(encoding="utf-8").splitlines():
        if line.strip():
            site, _, url = line.strip().partition("\t")
            by_site.setdefault(site, []).append(url)
    overrides = json.loads(Path(settings_file).read_text(encoding="utf-8"))
    counts = {"responses": 0, "failures": 0}

    class BareDownloadSpider(scrapy.Spider):
        """Only downloads: no parsing, no items, no pipelines (the framework's own ceiling)."""

        name = "bare_download"

        def __init__(self, urls: list[str], **kwargs):
            super().__init__(**kwargs)
            self.urls = urls

        async def start(self):
            for url in self.urls:
                yield scrapy.Request(url, callback=self.parse, errback=self.failed, dont_filter=True)

        def parse(self, response):
            counts["responses"] += 1
            return None

        def failed(self, failure):
            counts["failures"] += 1

    settings = {
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "ITEM_PIPELINES": {},
        **overrides,
    }
    process = CrawlerProcess(settings, install_root_handler=True)
    for urls in by_site.values():
        process.crawl(BareDownloadSpider, urls=urls)
    process.start()
    print(json.dumps({"urls": sum(len(urls) for urls in by_site.values()), **counts}), flush=True)
    return 0 if counts["failures"] == 0 else 1


# ------------------------------------------------------------------ child processes and the site


@dataclass
class ChildRun:
    label: str
    exit_code: int
    wall_seconds: float
    # User + system CPU of the whole child, start-up and shutdown included (steadier than seconds
    # on a shared machine).
    cpu_seconds: float
    maxrss_kb: int
    pages: int
    span_seconds: float
    output: str

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.span_seconds if self.span_seconds > 0 else float("nan")


OUTLETS = ("nhandan", "vietnamplus", "tienphong", "baoquangninh")


class SiteProcess:
    """``python -m crawler.samplesite serve --site ...`` in a child process (one origin per outlet), driven
    over each look-alike's admin endpoints."""

    def __init__(self, seed: int, days: int, per_day: int, end_date: date, outlets: tuple[str, ...] = OUTLETS):
        command = [
            sys.executable,
            "-m",
            "crawler.samplesite",
            "serve",
            "--seed",
            str(seed),
            "--days",
            str(days),
            "--per-day",
            str(per_day),
            "--end-date",
            end_date.isoformat(),
        ]
        for outlet in outlets:
            command += ["--site", outlet]
        self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        from crawler.samplesite.client import SampleSiteClient

        self.base_urls: dict[str, str] = {}
        assert self.process.stdout is not None  # stdout=PIPE
        for outlet in outlets:
            line = self.process.stdout.readline().strip()
            if not line.startswith("http://"):
                self.stop()
                raise RuntimeError(f"the sample site did not start (printed {line!r})")
            self.base_urls[outlet] = line
        self.clients = {outlet: SampleSiteClient(url, timeout=60) for outlet, url in self.base_urls.items()}
        # NDO's look-alike: the calendar and the articles the others share.
        self.base_url = self.base_urls[outlets[0]]
        self.client = self.clients[outlets[0]]

    def clear_logs(self) -> None:
        for client in self.clients.values():
            client.clear_log()

    def request_logs(self) -> dict[str, list]:
        return {outlet: client.request_log for outlet, client in self.clients.items()}

    def now(self) -> datetime:
        return max(client.now() for client in self.clients.values())

    def article_count(self) -> int:
        return sum(len(client.articles()) for client in self.clients.values())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


def run_child(label: str, command: list[str], site: SiteProcess, log_path: Path) -> ChildRun:
    """Run one crawl child; its peak RSS comes from wait4 (per child, unlike RUSAGE_CHILDREN)."""
    site.clear_logs()
    with open(log_path, "w", encoding="utf-8") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
    log = [record for records in site.request_logs().values() for record in records]
    times = [record.time for record in log]
    span = max(times) - min(times) if times else 0.0
    return ChildRun(
        label,
        process.returncode,
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss,
        len(log),
        span,
        log_path.read_text(encoding="utf-8", errors="replace"),
    )


def _checked(run: ChildRun) -> ChildRun:
    if run.exit_code != 0:
        tail = "\n".join(run.output.splitlines()[-20:])
        raise RuntimeError(f"{run.label}: the child exited {run.exit_code}:\n{tail}")
    return run


@dataclass
class Bench:
    site: SiteProcess
    workdir: Path
    now: datetime
    since: date
    lookback_days: int

    def config(self, name: str) -> Path:
        database = self.workdir / f"{name}.db"
        path = self.workdir / f"{name}.toml"
        sites = "".join(
            f'[[sites]]\nid = "{outlet}"\nbase_url = "{url}"\n' for outlet, url in self.site.base_urls.items()
        )
        path.write_text(
            f"""{sites}
[storage]
database_url = "sqlite:///{database}"
[crawl]
lookback_days = {self.lookback_days}
download_delay = 0
timeout_seconds = 30
retries = 2
{topics_toml()}
""",
            encoding="utf-8",
        )
        return path

    def real(self, label: str, name: str) -> ChildRun:
        command = crawl_child_command(
            self.config(name),
            "--fast",
            "--no-progress",
            "--now",
            self.now.isoformat(),
            "--since",
            self.since.isoformat(),
        )
        return _checked(run_child(label, command, self.site, self.workdir / f"{name}.log"))

    def bare(self, label: str, urls_file: Path, settings_file: Path) -> ChildRun:
        command = [
            sys.executable,
            "-m",
            "bench.crawl",
            "--bare",
            "--urls",
            str(urls_file),
            "--settings",
            str(settings_file),
        ]
        return _checked(run_child(label, command, self.site, self.workdir / f"{label.replace(' ', '_')}.log"))


def bare_settings(config_path: Path) -> dict:
    """The download settings the real crawl runs with (`--fast`), so both use the same concurrency."""
    from crawler.config import load_config
    from crawler.crawl.addon import scrapy_settings

    real = scrapy_settings(load_config(config_path), polite=False)
    keys = (
        "USER_AGENT",
        "ROBOTSTXT_OBEY",
        "DOWNLOAD_TIMEOUT",
        "RETRY_TIMES",
        "DOWNLOAD_MAXSIZE",
        "CONCURRENT_REQUESTS",
        "CONCURRENT_REQUESTS_PER_DOMAIN",
        "DOWNLOAD_DELAY",
        "AUTOTHROTTLE_ENABLED",
    )
    return {key: real[key] for key in keys}


def prefill_archive(database_url: str, *, copies: int, seed: int, days: int, per_day: int, end_date: date) -> int:
    """Store ``copies`` x (days x per_day) articles the benchmarked site never lists, as if crawled before."""
    from crawler.samplesite.model import generate_site
    from crawler.store import Database
    from crawler.store.articles import record_sources, store_article
    from crawler.topics import prepare_topics

    model = generate_site(seed=seed, days=days, per_day=per_day, end_date=end_date)
    items = [article.as_item(PREFILL_BASE_URL) for article in model.articles]
    now = utcnow()
    database = Database(database_url)
    stored = 0
    try:
        for copy in range(copies):
            for start in range(0, len(items), 500):
                with database.session() as session:
                    for item in items[start : start + 500]:
                        post_id = PREFILL_ID_BASE + copy * 10_000_000 + int(item.external_id)
                        moved = dataclasses.replace(
                            item, external_id=str(post_id), url=f"{PREFILL_BASE_URL}/luu-tru-post{post_id}.html"
                        )
                        _, row = store_article(session, moved, now=now)
                        record_sources(session, row, {"sitemap": moved.modified_at}, now=now, new=True)
                        stored += 1
        # Match the archive now, so the crawl does not re-match it as for a new topic.
        topics = [{"name": name, "query": query} for name, query in DEMO_TOPICS]
        prepare_topics(database, topics, now=now)
    finally:
        database.dispose()
    return stored


# ------------------------------------------------------------------ (a) extraction


def extraction(pages: int) -> tuple[list[str], float | None]:
    """Run ``bench.extract`` in a child process; returns its lines and its ratio.

    A child, not this process: Linux keeps a process's peak RSS across exec, so every crawl child
    forked after the pages were rendered here would report this process's peak as its own.
    """
    done = subprocess.run(
        [sys.executable, "-m", "bench.extract", "--pages", str(pages)], cwd=REPO, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.extract exited {done.returncode}: {done.stderr.strip()[-500:]}")
    lines = done.stdout.splitlines()
    ratio = None
    for line in lines:
        match = re.match(r"ratio: ([\d.]+)x", line)
        if match:
            ratio = float(match.group(1))
    return lines, ratio


# ------------------------------------------------------------------ report


def _mb(kb: float) -> str:
    return f"{kb / 1024:7.1f} MB"


def run_benchmark(args: argparse.Namespace) -> int:
    print(f"bantin benchmark (python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    print()
    print(f"(a) extraction: page object vs trafilatura.extract, {args.extract_pages} sample pages")
    extract_lines, extract_ratio = extraction(args.extract_pages)
    for line in extract_lines:
        print(f"    {line}")
    print(flush=True)

    end_date = utcnow().date()
    site = SiteProcess(args.seed, args.days, args.per_day, end_date, tuple(args.outlets))
    try:
        with tempfile.TemporaryDirectory(prefix="bantin-bench-") as tmp:
            workdir = Path(tmp)
            now = site.now()
            articles = site.article_count()
            bench = Bench(site, workdir, now, since=now.date() - timedelta(days=args.days), lookback_days=args.days + 2)
            print(
                f"(b) crawl: {len(site.base_urls)} look-alikes, {articles} articles ({args.days} days x "
                f"{args.per_day} each), served by a separate process at " + ", ".join(site.base_urls.values())
            )
            print(
                "    politeness off (`bantin crawl --fast`), throw-away SQLite archives; pages and seconds "
                "from the site's request log (first to last request)",
                flush=True,
            )

            # Warm-up: one real crawl fills the site's page cache; its request log is the bare spider's URL list.
            warm = bench.real("warm-up (real)", "warm")
            print(f"    .. {warm.label}: {warm.pages} pages in {warm.span_seconds:.1f}s", flush=True)
            urls_file = workdir / "urls.txt"
            settings_file = workdir / "bare-settings.json"
            warm_paths = _warm_paths(bench, warm)
            urls_file.write_text("".join(f"{outlet}\t{url}\n" for outlet, url in warm_paths), encoding="utf-8")
            settings_file.write_text(json.dumps(bare_settings(workdir / "warm.toml")), encoding="utf-8")

            runs: list[ChildRun] = [warm]
            real_runs: list[ChildRun] = []
            bare_runs: list[ChildRun] = []
            for index in range(args.repeats):
                order = ("real", "bare") if index % 2 == 0 else ("bare", "real")
                for kind in order:
                    if kind == "real":
                        run = bench.real(f"real #{index + 1}", f"real{index + 1}")
                        real_runs.append(run)
                    else:
                        run = bench.bare(f"bare #{index + 1}", urls_file, settings_file)
                        bare_runs.append(run)
                    runs.append(run)
                    print(f"    .. {run.label}: {run.pages} pages in {run.span_seconds:.1f}s", flush=True)

            memory_runs: list[tuple[int, ChildRun]] = [(0, run) for run in [warm, *real_runs]]
            if not args.no_memory:
                for copies in args.archive_sizes:
                    name = f"archive{copies}x"
                    stored = prefill_archive(
                        f"sqlite:///{workdir / name}.db",
                        copies=copies,
                        seed=args.seed + 1,
                        days=args.days,
                        per_day=args.per_day,
                        end_date=now.date() - timedelta(days=args.days + 30),
                    )
                    run = bench.real(f"real, archive {stored}", name)
                    memory_runs.append((stored, run))
                    runs.append(run)
                    print(f"    .. {run.label}: {run.pages} pages, peak RSS {run.maxrss_kb / 1024:.1f} MB", flush=True)
    finally:
        site.stop()

    print()
    print(f"    {'run':<28} {'pages':>6} {'seconds':>8} {'pages/s':>8} {'process s':>9} {'CPU s':>6} {'peak RSS':>11}")
    for run in runs:
        print(
            f"    {run.label:<28} {run.pages:>6} {run.span_seconds:>8.2f} {run.pages_per_second:>8.1f} "
            f"{run.wall_seconds:>9.1f} {run.cpu_seconds:>6.1f} {_mb(run.maxrss_kb):>11}"
        )
    real_rate = statistics.median(run.pages_per_second for run in real_runs)
    bare_rate = statistics.median(run.pages_per_second for run in bare_runs)
    crawl_ratio = real_rate / bare_rate
    pages_note = "" if len({run.pages for run in real_runs + bare_runs}) == 1 else " (page counts differ!)"
    print(
        f"    median of {args.repeats}: real {real_rate:.1f} pages/s, bare Scrapy {bare_rate:.1f} pages/s{pages_note}"
    )
    print()

    print("(c) peak RSS of the real crawl by archive size (the same crawl of the same site each time)")
    print(f"    {'articles stored before':<24} {'peak RSS':>11}")
    by_size: dict[int, list[int]] = {}
    for stored, run in memory_runs:
        by_size.setdefault(stored, []).append(run.maxrss_kb)
    for stored, values in sorted(by_size.items()):
        print(f"    {stored:<24} {_mb(statistics.median(values)):>11}")
    base_kb = statistics.median(by_size[0])
    # Doubling the archive is the test; the step from an empty archive includes SQLite's
    # bounded per-connection page cache filling up, which does not grow further.
    sizes = sorted(by_size)
    largest = sizes[-1]
    reference = sizes[-2] if len(sizes) > 2 else 0
    reference_kb = statistics.median(by_size[reference])
    growth_kb = statistics.median(by_size[largest]) - reference_kb
    flat = largest == 0 or growth_kb <= max(FLAT_TOLERANCE_KB, FLAT_TOLERANCE_SHARE * reference_kb)
    bare_kb = statistics.median(run.maxrss_kb for run in bare_runs)
    print()

    print("summary")
    ratio_text = f"{extract_ratio:.1f}x" if extract_ratio is not None else "n/a"
    print(f"    extraction ratio: page object is {ratio_text} faster than trafilatura (target >= 5x)")
    print(f"    crawl ratio real/bare: {crawl_ratio:.2f} ({real_rate:.1f} vs {bare_rate:.1f} pages/s; target >= 0.8)")
    print(f"    peak memory: real crawl {_mb(base_kb).strip()}, bare Scrapy {_mb(bare_kb).strip()}")
    if largest:
        verdict = "flat" if flat else "GROWS"
        print(
            f"    memory vs archive size: {verdict} ({growth_kb / 1024:+.1f} MB from {reference} to {largest} "
            f"stored articles)"
        )
    return 0


def _warm_paths(bench: Bench, warm: ChildRun) -> list[tuple[str, str]]:
    """(site, URL) the warm-up crawl downloaded, minus robots.txt (the bare spider obeys robots itself)."""
    # run_child read the logs right after the warm-up; read them again (not cleared until the next child).
    paths = [
        (outlet, bench.site.base_urls[outlet] + record.path)
        for outlet, log in bench.site.request_logs().items()
        for record in log
        if record.method == "GET" and record.status == 200 and record.path != "/robots.txt"
    ]
    if len(paths) < warm.pages - len(bench.site.base_urls):  # one robots.txt per origin
        raise RuntimeError("the warm-up crawl had failed requests; its URL list is incomplete")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crawl", description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30, help="days of articles on the sample site (default 30)")
    parser.add_argument("--per-day", type=int, default=70, help="articles per day (default 70)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each crawl, alternating (default 2)")
    parser.add_argument("--extract-pages", type=int, default=400, help="pages for the extraction benchmark")
    parser.add_argument("--no-memory", action="store_true", help="skip the archive-size memory runs")
    parser.add_argument(
        "--outlet",
        dest="outlets",
        action="append",
        choices=OUTLETS,
        help="crawl only this look-alike (repeatable; default: all four, in this order: " + ", ".join(OUTLETS) + ")",
    )
    parser.add_argument("--quick", action="store_true", help="a small site and one run each (smoke test)")
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--urls", help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare:
        if not (args.urls and args.settings):
            parser.error("--bare needs --urls and --settings")
        return run_bare(args.urls, args.settings)
    args.archive_sizes = (1, 2)
    args.outlets = [outlet for outlet in OUTLETS if outlet in (args.outlets or OUTLETS)]
    if args.quick:
        args.days, args.per_day, args.repeats, args.extract_pages = 2, 10, 1, 20
        args.archive_sizes = (2,)
    if args.days < 1 or args.per_day < 1 or args.repeats < 1 or args.extract_pages < 1:
        parser.error("--days, --per-day, --repeats and --extract-pages must be at least 1")
    try:
        return run_benchmark(args)
    except RuntimeError as exc:
        print(f"bench_crawl: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
