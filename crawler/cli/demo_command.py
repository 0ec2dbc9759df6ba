"""`bantin demo`: the whole chain offline on the bundled sample site, step by step."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import click

from crawler.cli.digest_commands import write_previews
from crawler.clock import VIETNAM, utcnow


def demo_config(base_urls: dict[str, str], database_url: str, preview_dir: Path) -> str:
    """The demo's configuration: one `[[sites]]` entry per look-alike, each on its own origin."""
    from crawler.samplesite import topics_toml

    topics = topics_toml()
    sites = "".join(f'[[sites]]\nid = "{site}"\nbase_url = "{url}"\n' for site, url in base_urls.items())
    return f'''# Written by `bantin demo`: a throw-away configuration for the bundled sample site's outlets.
{sites}[storage]
database_url = "{database_url}"
[crawl]
lookback_days = 7
obey_robots = true
download_delay = 0.0
concurrency = 8
autothrottle = false
retries = 1
timeout_seconds = 10.0
[smtp]
host = "127.0.0.1"
port = 25
security = "none"
sender = "Bản tin báo chí <bantin@example.org>"
[digest]
language = "vi"
unsubscribe_mailto = "unsubscribe@example.org"
preview_dir = "{preview_dir}"

{topics}
[[recipients]]
email = "ban-doc@example.org"
name = "Bạn đọc"

[[recipients]]
email = "reader@example.org"
name = "Reader"
topics = ["Quảng Ninh"]
language = "en"
'''


@click.command()
@click.option("--dir", "directory", metavar="DIR", help="Keep the demo's files here (default: a new temporary folder).")
@click.option("--days", type=click.IntRange(1, 30), default=5, show_default=True, help="Days of sample articles.")
def demo(directory: str | None, days: int) -> None:
    """Run the whole chain offline: sample site -> crawl -> match -> digest previews.

    Needs no network and no SMTP server: the bundled sample site is served on
    127.0.0.1, crawled into a throw-away SQLite database, and the digests that
    would be sent are written as .eml and .html files.
    """
    from crawler.config import load_config
    from crawler.crawl.run import crawl_child_command
    from crawler.samplesite.outlets import OUTLETS
    from crawler.samplesite.server import SampleNetwork
    from crawler.store import Database
    from crawler.store.archive import articles_per_site, matches_per_topic, stories_on_several_sites
    from reports.delivery import build_previews

    started = time.monotonic()
    workdir = Path(directory).expanduser() if directory else Path(tempfile.mkdtemp(prefix="bantin-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    step = _stepper(started)

    # Every outlet the sample site imitates, each look-alike on its own origin.
    network = SampleNetwork.generate(list(OUTLETS), days=days)
    base_urls = network.start()
    try:
        for outlet, sample in network.sites.items():
            step(f"sample {outlet} with {len(sample.model.articles)} articles serving at {sample.base_url}")
        config_path = workdir / "bantin.toml"
        database_path = workdir / "bantin.sqlite3"
        preview_dir = workdir / "previews"
        config_path.write_text(demo_config(base_urls, f"sqlite:///{database_path}", preview_dir), encoding="utf-8")
        step(f"configuration written: {config_path}")
        # A fresh archive: back-fill from the sample's first day. The everyday sources list only the
        # newest articles (VietnamPlus's feed 50, Google News 48 hours; Tiền Phong's API three zones), so
        # without it the first crawl stores 50 and 57 of the 70 each look-alike serves.
        first_day = min(
            article.published_at.astimezone(VIETNAM).date()
            for sample in network.sites.values()
            for article in sample.model.visible()
        )
        step(f"crawling (bantin crawl --since {first_day.isoformat()}, in a child process) ...")
        child = subprocess.run(
            crawl_child_command(
                config_path, "--no-progress", "--trigger", "demo", "--since", first_day.isoformat(), quiet=True
            ),
            capture_output=True,
            text=True,
            timeout=300,
        )
        for line in child.stdout.splitlines():
            click.echo(f"    {line}")
        if child.returncode != 0:
            for line in child.stderr.strip().splitlines()[-10:]:
                click.echo(f"    {line}", err=True)
            raise click.ClickException(f"the crawl failed (exit status {child.returncode})")
    finally:
        network.stop()
    config = load_config(config_path)
    database = Database(config.storage.url)
    try:
        with database.session() as session:
            per_site = articles_per_site(session)
            stored = sum(per_site.values())
            per_topic = matches_per_topic(session)
            shared = stories_on_several_sites(session)
        step(
            f"{stored} articles stored in {database_path} ("
            + ", ".join(f"{site} {per_site.get(site, 0)}" for site in base_urls)
            + ")"
        )
        # The look-alikes republish a few of each other's stories: the digest shows each once.
        step(f"{shared} stories carried by several outlets")
        for topic in config.topics:
            name = topic.name
            step(f"topic {name!r}: {per_topic.get(name, 0)} matching articles")
        previews = build_previews(config, database, now=utcnow())
        stamp = utcnow().astimezone(config.schedule.tz).strftime("%Y-%m-%d")
        for preview, eml, html in write_previews(previews, preview_dir, stamp=stamp):
            step(f"digest for {preview.recipient}: {preview.item_count} items — {preview.subject}")
            click.echo(f"    {html}")
            click.echo(f"    {eml}")
    finally:
        database.dispose()
    step("done: open the .html files in a browser, or the .eml files in a mail program")
    click.echo(f"  try: bantin --config {config_path} articles list --topic 'Quảng Ninh'")


def _stepper(started: float):
    def step(message: str) -> None:
        click.echo(f"[{time.monotonic() - started:5.1f}s] {message}")

    return step
