"""Extraction throughput: the NDO page object vs ``trafilatura.extract`` on the same pages, in one run.

    python -m bench.extract [--pages N] [--seed S]

Pages come from the sample site generator (``crawler.samplesite``) when it can render
article pages, else from the saved test fixtures repeated. A benchmark, not a test:
it prints figures and never fails on them.
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

FIXTURE_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ndo"
FIXTURE_PAGES = {
    "article_full.html": "https://nhandan.vn/siet-chat-quan-ly-cong-nghiep-ho-tro-tai-quang-ninh-post981234.html",
    "article_legacy_nfd.html": "https://nhandan.vn/doan-cong-tac-tham-ha-giang-post700001.html",
    "article_video.html": "https://nhandan.vn/video-le-thuong-co-post983000.html",
}
SAMPLE_BASE = "http://127.0.0.1:8000"


@dataclass
class Page:
    url: str
    html: str


def sample_site_pages(count: int, seed: int) -> list[Page] | None:
    """Render ``count`` article pages with the sample site generator, or ``None`` if it cannot."""
    try:
        from crawler.samplesite import render
        from crawler.samplesite.model import generate_site
    except ImportError:
        return None
    if not hasattr(render, "article_page"):
        return None
    per_day = 40
    model = generate_site(seed=seed, days=max(1, math.ceil(count / per_day)), per_day=per_day)
    articles = list(model.articles)[:count]
    by_zone: dict[object, list] = {}
    for article in articles:
        by_zone.setdefault(article.zone.zone_id, []).append(article)
    most_read = articles[:5]
    pages = []
    for article in articles:
        same_zone = [a for a in by_zone[article.zone.zone_id] if a is not article][:10]
        html = render.article_page(model, article, SAMPLE_BASE, same_zone, most_read)
        pages.append(Page(article.url(SAMPLE_BASE), html))
    return pages


def fixture_pages(count: int) -> list[Page]:
    loaded = [Page(url, (FIXTURE_DIR / name).read_text(encoding="utf-8")) for name, url in FIXTURE_PAGES.items()]
    return [loaded[i % len(loaded)] for i in range(count)]


def _time(pages: list[Page], run) -> tuple[float, Counter]:
    outcomes: Counter = Counter()
    gc.collect()
    start = time.perf_counter()
    for page in pages:
        outcomes[run(page)] += 1
    elapsed = time.perf_counter() - start
    return elapsed, outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.extract", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=400, help="number of article pages (default 400)")
    parser.add_argument("--seed", type=int, default=7, help="sample site seed (default 7)")
    parser.add_argument("--fixtures", action="store_true", help="use the saved fixtures even if the sample site works")
    args = parser.parse_args(argv)
    if args.pages < 1:
        parser.error("--pages must be at least 1")

    logging.getLogger("bantin.extract").setLevel(logging.WARNING)
    import trafilatura  # imported before timing: import cost is not extraction cost

    from crawler.errors import ExtractionError
    from spiders.nhandan import PROFILE
    from spiders.vendorcms.article import ArticlePage

    pages = None if args.fixtures else sample_site_pages(args.pages, args.seed)
    source = f"sample site (seed {args.seed})"
    if pages is None:
        pages = fixture_pages(args.pages)
        source = f"test fixtures x{math.ceil(args.pages / len(FIXTURE_PAGES))}"
    size = sum(len(p.html.encode("utf-8")) for p in pages) / len(pages)

    def page_object(page: Page) -> str:
        try:
            return ArticlePage(page.html, page.url, PROFILE).to_item().extractor
        except ExtractionError:
            return "failed"

    def generic(page: Page) -> str:
        return "text" if trafilatura.extract(page.html) else "empty"

    # One untimed pass each so caches (compiled selectors, trafilatura's setup) are warm for both.
    page_object(pages[0])
    generic(pages[0])
    ours, our_outcomes = _time(pages, page_object)
    theirs, their_outcomes = _time(pages, generic)

    n = len(pages)
    print(f"pages: {n} from {source}, mean {size / 1024:.1f} KiB of HTML")
    print(f"page object (ArticlePage.to_item): {n / ours:8.1f} pages/s  ({ours * 1000 / n:.2f} ms/page)  "
          f"layers: {dict(our_outcomes)}")
    print(f"trafilatura.extract:               {n / theirs:8.1f} pages/s  ({theirs * 1000 / n:.2f} ms/page)  "
          f"results: {dict(their_outcomes)}")
    print(f"ratio: {theirs / ours:.1f}x (target >= 5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
