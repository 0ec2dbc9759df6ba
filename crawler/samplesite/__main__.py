"""``python -m crawler.samplesite serve|save``: run the sample site or write fixtures."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import date

from crawler.clock import VIETNAM, utcnow
from crawler.samplesite.fixtures import FIXTURE_END_DATE, save_fixtures
from crawler.samplesite.outlets import OUTLETS
from crawler.samplesite.server import SampleNetwork
from crawler.samplesite.sisters import SISTER_IDS, SISTERS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m crawler.samplesite",
        description="Synthetic look-alikes of nhandan.vn and its sister outlets for tests, demos and benchmarks.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve the site; the first stdout line is its base URL "
        "(one line per --site, then per sister, in order, each on its own port)",
    )
    serve.add_argument(
        "--site",
        action="append",
        choices=list(OUTLETS),
        default=None,
        help="the outlet to imitate (repeatable; default nhandan)",
    )
    serve.add_argument(
        "--sisters",
        type=int,
        choices=range(len(SISTERS) + 1),
        default=0,
        metavar="N",
        help=f"also serve the first N of the {len(SISTERS)} sample-only sister outlets ({SISTERS[0].id}, ...: "
        "NDO's markup, articles of their own), after the --site ones",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 = a free port (with several --site: the first's)")
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument("--days", type=int, default=5)
    serve.add_argument("--per-day", type=int, default=14)
    serve.add_argument("--large", action="store_true", help="30 days x 70 articles (benchmarks)")
    serve.add_argument(
        "--end-date",
        type=date.fromisoformat,
        default=None,
        help="last publication day, YYYY-MM-DD (default: today in Vietnam)",
    )
    serve.add_argument("--drifted", type=int, default=0, help="newest N articles use an unknown layout")
    save = commands.add_parser("save", help="write sample pages and expected.json into DIR")
    save.add_argument("directory")
    save.add_argument("--seed", type=int, default=0)
    save.add_argument("--end-date", type=date.fromisoformat, default=FIXTURE_END_DATE)
    save.add_argument("--site", choices=list(OUTLETS), default="nhandan")
    save.add_argument("--base-url", default=None, help="default: the live outlet's origin")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "save":
        expected = save_fixtures(
            args.directory, seed=args.seed, end_date=args.end_date, base_url=args.base_url, site=args.site
        )
        print(f"wrote {len(expected['pages'])} pages and expected.json to {args.directory}")
        return 0
    days, per_day = (30, 70) if args.large else (args.days, args.per_day)
    end_date = args.end_date or utcnow().astimezone(VIETNAM).date()
    network = SampleNetwork.generate(
        [*(args.site or ["nhandan"]), *SISTER_IDS[: args.sisters]],
        seed=args.seed,
        days=days,
        per_day=per_day,
        end_date=end_date,
        drifted=args.drifted,
    )
    sites = list(network.sites.values())
    sites[0].start(args.host, args.port)
    for site in sites[1:]:
        site.start(args.host, 0)
    for outlet, site in network.sites.items():
        print(site.base_url, flush=True)
        print(
            f"{outlet}: {len(site.model.articles)} articles, now={site.model.now.isoformat()}",
            file=sys.stderr,
            flush=True,
        )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    network.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
