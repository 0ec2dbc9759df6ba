"""Benchmark: build and render digests for 100 recipients over 2,000 matched articles.

    python -m bench.digest [--recipients 100] [--articles 2000]

Prints the time per digest (select + render + inline CSS + build the message)
and the HTML size distribution, and checks every message against the
[digest] max_html_kb budget (75 KB: Gmail clips at ~102 KB after base64).
Uses a throw-away SQLite database; sends nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

TOPICS = [
    ("Công nghiệp hỗ trợ", '"công nghiệp hỗ trợ" OR CNHT', "công nghiệp hỗ trợ"),
    ("Quảng Ninh", '"Quảng Ninh"', "Quảng Ninh"),
    ("Chuyển đổi số", '"chuyển đổi số"', "chuyển đổi số"),
    ("Năng lượng tái tạo", '"năng lượng tái tạo"', "năng lượng tái tạo"),
    ("Logistics", "logistics", "logistics"),
    ("Nông nghiệp", '"nông nghiệp"', "nông nghiệp"),
]
WORDS = (
    "doanh nghiệp phát triển kinh tế địa phương đầu tư hạ tầng sản xuất xuất khẩu chính sách thị trường "
    "lao động nâng cao năng lực cạnh tranh chuỗi cung ứng toàn cầu tỉnh thành phố dự án"
).split()


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize()


def _snippet(rng: random.Random, term: str) -> dict:
    before, after = _sentence(rng, 12), _sentence(rng, 12).lower()
    snippet = f"… {before} {term} {after} …"
    start = len(f"… {before} ")
    return {
        "term": term,
        "field": rng.choice(["body", "sapo", "title"]),
        "index": 0,
        "start": 100,
        "end": 100 + len(term),
        "snippet": snippet,
        "highlight": [start, start + len(term)],
        "negated": False,
    }


def populate(database, *, articles: int, now: datetime, seed: int = 7) -> None:
    from crawler.store.models import ArticleRow, CrawlRun, Match, Topic

    rng = random.Random(seed)
    with database.session() as session:
        for name, query, _term in TOPICS:
            session.add(
                Topic(name=name, query=query, accents="auto", version="b1", matched_version="b1", updated_at=now)
            )
        session.add(
            CrawlRun(
                site="nhandan",
                started_at=now - timedelta(hours=2),
                finished_at=now - timedelta(hours=1),
                status="ok",
                counts={"rss": {"discovered": 60, "fetched": 40, "new": 35, "updated": 5, "failed": 0}},
            )
        )
        session.flush()
        for n in range(articles):
            article_id = 1_000_000 + n
            published = now - timedelta(minutes=17 * n)
            chosen = rng.sample(TOPICS, rng.choice([1, 1, 2]))
            title = f"{_sentence(rng, 8)} {chosen[0][2]} {_sentence(rng, 4).lower()}"
            article = ArticleRow(
                site="nhandan",
                external_id=str(article_id),
                url=f"https://nhandan.vn/bai-viet-so-{n}-post{article_id}.html",
                title=title,
                sapo=_sentence(rng, 40) + ".",
                body=_sentence(rng, 300),
                author="Phóng viên " + rng.choice(WORDS).title(),
                category=["Kinh tế", rng.choice(["Doanh nghiệp", "Đầu tư", "Thị trường"])],
                tags=[],
                images=[],
                published_at=published,
                modified_at=None,
                first_seen_at=published,
                fetched_at=published,
                changed_at=published,
                version=1,
                content_hash="0" * 64,
            )
            session.add(article)
            for name, _query, term in chosen:
                session.add(
                    Match(
                        article=article,
                        topic=name,
                        topic_version="b1",
                        article_version=1,
                        hits=[_snippet(rng, term) for _ in range(rng.choice([1, 2, 3]))],
                        matched_at=published,
                    )
                )


def bench_config(database_url: str, recipients: int, seed: int = 7):
    from crawler.config import Config

    rng = random.Random(seed)
    return Config.model_validate(
        {
            "storage": {"database_url": database_url},
            "digest": {"unsubscribe_mailto": "unsubscribe@example.org"},
            "topics": [{"name": name, "query": query} for name, query, _ in TOPICS],
            "recipients": [
                {
                    "email": f"reader{n}@example.org",
                    "name": f"Bạn đọc số {n}",
                    "topics": [name for name, _q, _t in rng.sample(TOPICS, rng.randint(1, 4))],
                    "language": rng.choice(["vi", "vi", "en"]),
                }
                for n in range(recipients)
            ],
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100)
    parser.add_argument("--articles", type=int, default=2000)
    args = parser.parse_args(argv)

    from crawler.store import Database
    from reports.delivery import build_previews

    now = datetime(2025, 3, 27, 0, 30, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="bantin-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        database = Database(url)
        started = time.perf_counter()
        populate(database, articles=args.articles, now=now)
        print(
            f"archive: {args.articles} matched articles over {len(TOPICS)} topics "
            f"({time.perf_counter() - started:.1f}s to generate)"
        )
        config = bench_config(url, args.recipients)
        build_previews(config, database, now=now, only=config.recipients[0].email)  # warm templates and caches
        timings, sizes, owed, shown = [], [], [], []
        for recipient in config.recipients:
            started = time.perf_counter()
            (preview,) = build_previews(config, database, now=now, only=recipient.email)
            timings.append(time.perf_counter() - started)
            sizes.append(len(preview.html.encode("utf-8")))
            owed.append(preview.item_count)
            shown.append(preview.shown)
        database.dispose()
    budget = config.digest.max_html_kb * 1024
    kb = sorted(size / 1024 for size in sizes)
    ms = sorted(t * 1000 for t in timings)

    def pct(values: list[float], p: float) -> float:
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

    print(
        f"digests: {len(timings)} recipients, owed {min(owed)}–{max(owed)} articles each "
        f"(median {statistics.median(owed):.0f}), shown in HTML {min(shown)}–{max(shown)} "
        f"(max_items {config.digest.max_items})"
    )
    print(
        f"time per digest: mean {statistics.fmean(ms):.1f} ms, median {pct(ms, 50):.1f} ms, "
        f"p90 {pct(ms, 90):.1f} ms, max {ms[-1]:.1f} ms; total {sum(ms) / 1000:.2f} s"
    )
    print(
        f"HTML size: min {kb[0]:.1f} KB, median {pct(kb, 50):.1f} KB, p90 {pct(kb, 90):.1f} KB, "
        f"max {kb[-1]:.1f} KB (budget {config.digest.max_html_kb} KB)"
    )
    over = [size for size in sizes if size > budget]
    if over:
        print(f"FAIL: {len(over)} message(s) over the {config.digest.max_html_kb} KB budget", file=sys.stderr)
        return 1
    print(f"ok: every message is under the {config.digest.max_html_kb} KB budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
