"""``python -m crawler.samplesite serve|save``: run the sample site or write fixtures."""

from __future__ import annotations

import argparse
import signal
import sys
from datetime import date

from crawler.samplesite.fixtures import FIXTURE_END_DATE, save_fixtures
from crawler.samplesite.model import generate_site
from crawler.samplesite.server import SampleSite


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m crawler.samplesite",
                                     description="A synthetic nhandan.vn for tests, demos and benchmarks.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the site; the first stdout line is its base URL")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 = a free port")
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument("--days", type=int, default=5)
    serve.add_argument("--per-day", type=int, default=14)
    serve.add_argument("--large", action="store_true", help="30 days x 70 articles (benchmarks)")
    serve.add_argument("--end-date", type=date.fromisoformat, default=None,
                       help="last publication day, YYYY-MM-DD (default: today in Vietnam)")
    serve.add_argument("--drifted", type=int, default=0, help="newest N articles use an unknown layout")
    save = commands.add_parser("save", help="write sample pages and expected.json into DIR")
    save.add_argument("directory")
    save.add_argument("--seed", type=int, default=0)
    save.add_argument("--end-date", type=date.fromisoformat, default=FIXTURE_END_DATE)
    save.add_argument("--base-url", default="https://nhandan.vn")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "save":
        expected = save_fixtures(args.directory, seed=args.seed, end_date=args.end_date, base_url=args.base_url)
        print(f"wrote {len(expected['pages'])} pages and expected.json to {args.directory}")
        return 0
    days, per_day = (30, 70) if args.large else (args.days, args.per_day)
    model = generate_site(seed=args.seed, days=days, per_day=per_day, end_date=args.end_date,
                          drifted=args.drifted)
    site = SampleSite(model)
    base_url = site.start(args.host, args.port)
    print(base_url, flush=True)
    print(f"{len(model.articles)} articles, now={model.now.isoformat()}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: site.stop())
    try:
        site.serve_forever()
    except KeyboardInterrupt:
        site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
