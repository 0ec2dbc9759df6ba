"""Extraction throughput: each site's page object vs ``trafilatura.extract`` on the same pages, in one run.

    python -m bench.extract [--pages N] [--seed S] [--site ID ...]

NDO's figures come first (``bench.crawl`` reads its ``ratio:`` line), then one line per sister outlet.

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


SITES = ("nhandan", "vietnamplus", "tienphong", "baoquangninh")


def sample_site_pages(count: int, seed: int, site: str = "nhandan") -> list[Page] | None:
    """``count`` article pages of ``site``'s look-alike as its server answers them, or ``None`` if it cannot."""
    try:
        from crawler.samplesite.model import generate_site
        from crawler.samplesite.server import SampleSite
    except ImportError:
        return None
    per_day = 40
    model = generate_site(seed=seed, days=max(1, math.ceil(count / per_day)), per_day=per_day, outlet=site)
    server = SampleSite(model, cache=False)
    server.base_url = SAMPLE_BASE
    return [
        Page(article.url(SAMPLE_BASE), server.respond(article.path, accept_gzip=False).body.decode("utf-8"))
        for article in list(model.articles)[:count]
    ]


def fixture_pages(count: int, site: str = "nhandan") -> list[Page]:
    if site == "nhandan":
        loaded = [Page(url, (FIXTURE_DIR / name).read_text(encoding="utf-8")) for name, url in FIXTURE_PAGES.items()]
    else:
        import json

        directory = FIXTURE_DIR.parent / site
        pages = json.loads((directory / "expected.json").read_text(encoding="utf-8"))["pages"]
        loaded = [
            Page(page["url"], (directory / name).read_text(encoding="utf-8"))
            for name, page in pages.items()
            if page["kind"] == "article" and page["features"]["layout"] != "drifted"
        ]
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
    parser.add_argument(
        "--site",
        action="append",
        choices=SITES,
        default=None,
        help="the sites to measure (repeatable; default all, NDO first)",
    )
    args = parser.parse_args(argv)
    if args.pages < 1:
        parser.error("--pages must be at least 1")

    logging.getLogger("bantin.extract").setLevel(logging.WARNING)
    import trafilatura  # imported before timing: import cost is not extraction cost

    from crawler.errors import ExtractionError
    from spiders.registry import get_site

    sites = list(dict.fromkeys(args.site or SITES))
    for number, site_id in enumerate(sites):
        site = get_site(site_id)
        pages = None if args.fixtures else sample_site_pages(args.pages, args.seed, site_id)
        source = f"sample site (seed {args.seed})"
        if pages is None:
            pages = fixture_pages(args.pages, site_id)
            source = f"test fixtures x{math.ceil(args.pages / len(set(p.url for p in pages)))}"
        if number == 0:
            _report_in_full(pages, site, source, trafilatura, ExtractionError)
        else:
            _report_line(pages, site, trafilatura, ExtractionError)
    return 0


def _measure(pages: list[Page], site, trafilatura, extraction_error):
    def page_object(page: Page) -> str:
        try:
            return site.extract(page.html, page.url).extractor
        except extraction_error:
            return "failed"

    def generic(page: Page) -> str:
        return "text" if trafilatura.extract(page.html) else "empty"

    # One untimed pass each so caches (compiled selectors, trafilatura's setup) are warm for both.
    page_object(pages[0])
    generic(pages[0])
    ours, our_outcomes = _time(pages, page_object)
    theirs, their_outcomes = _time(pages, generic)
    return ours, our_outcomes, theirs, their_outcomes


def _report_line(pages: list[Page], site, trafilatura, extraction_error) -> None:
    ours, our_outcomes, theirs, _ = _measure(pages, site, trafilatura, extraction_error)
    n = len(pages)
    print(
        f"{site.id}: {n} pages, page object {n / ours:.1f} vs trafilatura {n / theirs:.1f} pages/s: "
        f"{theirs / ours:.1f}x  layers: {dict(our_outcomes)}"
    )


def _report_in_full(pages: list[Page], site, source: str, trafilatura, extraction_error) -> None:
    size = sum(len(p.html.encode("utf-8")) for p in pages) / len(pages)
    ours, our_outcomes, theirs, their_outcomes = _measure(pages, site, trafilatura, extraction_error)
    n = len(pages)
    print(f"pages: {n} from {source}, mean {size / 1024:.1f} KiB of HTML")
    print(
        f"page object (ArticlePage.to_item): {n / ours:8.1f} pages/s  ({ours * 1000 / n:.2f} ms/page)  "
        f"layers: {dict(our_outcomes)}"
    )
    print(
        f"trafilatura.extract:               {n / theirs:8.1f} pages/s  ({theirs * 1000 / n:.2f} ms/page)  "
        f"results: {dict(their_outcomes)}"
    )
    print(f"ratio: {theirs / ours:.1f}x (target >= 5x)")


if __name__ == "__main__":
    sys.exit(main())
