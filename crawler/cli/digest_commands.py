"""`bantin digest`, `bantin smtp test` and `bantin demo`."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import click

from crawler.cli import App, pass_app
from crawler.errors import OutputError, UsageError


def _preview_dir(app: App, out: str | None) -> Path:
    if out:
        return Path(out).expanduser()
    if app.config.digest.preview_dir:
        return Path(app.config.digest.preview_dir).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("bantin")) / "previews"


def _safe_name(email: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", email)


def write_previews(previews, directory: Path, *, stamp: str) -> list[tuple[object, Path, Path]]:
    """Write each preview's .eml and .html; returns (preview, eml path, html path)."""
    written = []
    target: Path = directory
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for preview in previews:
            base = f"digest-{stamp}-{_safe_name(preview.recipient)}"
            eml, html = directory / f"{base}.eml", directory / f"{base}.html"
            target = eml
            eml.write_bytes(preview.eml_bytes)
            target = html
            html.write_text(preview.html, encoding="utf-8")
            written.append((preview, eml, html))
    except OSError as exc:
        # Read-only, full, or something else in the way: the user can fix that.
        raise OutputError(target, exc.strerror or type(exc).__name__) from None
    return written


def _print_results(run) -> None:
    for result in run.results:
        line = f"{result.email}: {result.status}"
        if result.status != "empty":
            line += f", {result.items} item{'s' if result.items != 1 else ''}"
        if result.digest_key:
            line += f" (digest {result.digest_key})"
        if result.error:
            line += f": {result.error}"
        click.echo(line, err=result.status in ("failed", "pending"))
    if run.recovered:
        click.echo(f"resent {run.recovered} message(s) left unconfirmed by an interrupted run", err=True)
    click.echo(f"sent {run.sent}, failed {run.failed}, pending {run.pending}")


@click.command()
@click.option("--preview", is_flag=True, help="Render without sending: write .eml and .html files.")
@click.option("--send", is_flag=True, help="Build and deliver the digest now.")
@click.option("--resend", "resend_date", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Send the digest of this date again (needs --to; the last one sent that day).")
@click.option("--to", "to", metavar="EMAIL", help="Only this recipient.")
@click.option("--out", metavar="DIR", help="Where --preview writes (default: digest.preview_dir or the user data dir).")
@pass_app
def digest(app: App, preview: bool, send: bool, resend_date: datetime | None, to: str | None, out: str | None) -> None:
    """Preview, send or resend the digest e-mails.

    Exactly one of --preview, --send, --resend. Exit status: 0 when every
    message was accepted (or nothing was owed), 1 when any failed or is still
    waiting for a retry, 2 for bad usage.
    """
    if sum([preview, send, resend_date is not None]) != 1:
        raise UsageError("give exactly one of --preview, --send, --resend DATE")
    if out and not preview:
        raise UsageError("--out only goes with --preview")
    config, database = app.config, app.database
    now = datetime.now(timezone.utc)
    if preview:
        from reports.delivery import build_previews

        previews = build_previews(config, database, now=now, only=to)
        stamp = now.astimezone(config.schedule.tz).strftime("%Y-%m-%d")
        for item, eml, html in write_previews(previews, _preview_dir(app, out), stamp=stamp):
            note = "" if item.would_send else " (nothing owed: would not be sent)"
            click.echo(f"{item.recipient}: {item.items} items, {len(item.html.encode()) / 1024:.1f} KB HTML — "
                       f"{item.subject}{note}")
            click.echo(f"  {eml}")
            click.echo(f"  {html}")
        if not previews:
            click.echo("no recipients configured: add [[recipients]] to the configuration")
        return
    if send:
        if to:
            raise UsageError("--send delivers to every recipient; use --preview --to EMAIL to look at one")
        from reports.delivery import run_digest

        run = run_digest(config, database, now=now)
    else:
        if not to:
            raise UsageError("--resend needs --to EMAIL")
        from reports.delivery import resend_digest

        run = resend_digest(config, database, resend_date.date(), to, now=now)
    _print_results(run)
    if not run.ok:
        sys.exit(1)


@click.group()
def smtp() -> None:
    """Check the SMTP settings."""


@smtp.command("test")
@click.option("--to", "to", required=True, metavar="EMAIL", help="Where to send the test message.")
@pass_app
def smtp_test(app: App, to: str) -> None:
    """Send a short test message with the configured SMTP settings."""
    from crawler.config import _check_email
    from reports.mailer import send_test_message

    try:
        _check_email(to)
    except ValueError as exc:
        raise UsageError(f"--to: {exc}") from None
    config = app.config
    security = config.smtp.security + ("" if config.smtp.verify_tls else ", certificate NOT verified")
    click.echo(f"connecting to {config.smtp.host}:{config.smtp.port} ({security})"
               f"{' as ' + config.smtp.username if config.smtp.username else ''}")
    msg_id = send_test_message(config, to, now=datetime.now(timezone.utc))
    click.echo(f"accepted by the server: {msg_id} to {to}")


def demo_config(base_url: str, database_url: str, preview_dir: Path) -> str:
    from crawler.samplesite import topics_toml

    topics = topics_toml()
    return f'''# Written by `bantin demo`: a throw-away configuration for the bundled sample site.
[site]
base_url = "{base_url}"
[storage]
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
sender = "Bản tin NDO <bantin@example.org>"
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
    from sqlalchemy import func, select

    from crawler.config import load_config
    from crawler.crawl import crawl_child_command
    from crawler.db import Database
    from crawler.db.models import Article, Match
    from crawler.samplesite.model import generate_site
    from crawler.samplesite.server import SampleSite
    from reports.delivery import build_previews

    started = time.monotonic()
    workdir = Path(directory).expanduser() if directory else Path(tempfile.mkdtemp(prefix="bantin-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    step = _stepper(started)

    site = SampleSite(generate_site(days=days))
    base_url = site.start()
    try:
        step(f"sample site with {len(site.model.articles)} articles serving at {base_url}")
        config_path = workdir / "bantin.toml"
        database_path = workdir / "bantin.sqlite3"
        preview_dir = workdir / "previews"
        config_path.write_text(
            demo_config(base_url, f"sqlite:///{database_path}", preview_dir), encoding="utf-8"
        )
        step(f"configuration written: {config_path}")
        step("crawling (bantin crawl, in a child process) ...")
        child = subprocess.run(
            crawl_child_command(config_path, "--no-progress", "--trigger", "demo", quiet=True),
            capture_output=True, text=True, timeout=300,
        )
        for line in child.stdout.splitlines():
            click.echo(f"    {line}")
        if child.returncode != 0:
            for line in child.stderr.strip().splitlines()[-10:]:
                click.echo(f"    {line}", err=True)
            raise click.ClickException(f"the crawl failed (exit status {child.returncode})")
    finally:
        site.stop()
    config = load_config(config_path)
    database = Database(config.storage.url)
    try:
        with database.session() as session:
            stored = session.scalar(select(func.count()).select_from(Article))
            per_topic = dict(session.execute(select(Match.topic, func.count()).group_by(Match.topic)).all())
        step(f"{stored} articles stored in {database_path}")
        for topic in config.topics:
            name = topic.name
            step(f"topic {name!r}: {per_topic.get(name, 0)} matching articles")
        previews = build_previews(config, database, now=datetime.now(timezone.utc))
        stamp = datetime.now(config.schedule.tz).strftime("%Y-%m-%d")
        for preview, eml, html in write_previews(previews, preview_dir, stamp=stamp):
            step(f"digest for {preview.recipient}: {preview.items} items — {preview.subject}")
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
