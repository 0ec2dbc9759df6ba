"""`bantin digest` and `bantin smtp test`."""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from crawler.cli import App, pass_app
from crawler.clock import utcnow
from crawler.errors import OutputError, UsageError

if TYPE_CHECKING:
    from reports.delivery import Preview


def _preview_dir(app: App, out: str | None) -> Path:
    if out:
        return Path(out).expanduser()
    if app.config.digest.preview_dir:
        return Path(app.config.digest.preview_dir).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("bantin")) / "previews"


def _safe_name(email: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", email)


def write_previews(previews: list[Preview], directory: Path, *, stamp: str) -> list[tuple[Preview, Path, Path]]:
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
        if result.status not in ("empty", "paused", "unsubscribed", "no topics"):
            line += f", {result.item_count} item{'s' if result.item_count != 1 else ''}"
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
@click.option(
    "--resend",
    "resend_date",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Send the digest of this date again (needs --to; the last one sent that day).",
)
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
    now = utcnow()
    if preview:
        from reports.delivery import build_previews

        previews = build_previews(config, database, now=now, only=to)
        stamp = now.astimezone(config.schedule.tz).strftime("%Y-%m-%d")
        for item, eml, html in write_previews(previews, _preview_dir(app, out), stamp=stamp):
            note = "" if item.would_send else " (nothing owed: would not be sent)"
            click.echo(
                f"{item.recipient}: {item.item_count} items, {len(item.html.encode()) / 1024:.1f} KB HTML — "
                f"{item.subject}{note}"
            )
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

        assert resend_date is not None  # exactly one of the three was given
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
    from crawler.config import check_email
    from reports.mailer import send_test_message

    try:
        check_email(to)
    except ValueError as exc:
        raise UsageError(f"--to: {exc}") from None
    config = app.config
    security = config.smtp.security + ("" if config.smtp.verify_tls else ", certificate NOT verified")
    click.echo(
        f"connecting to {config.smtp.host}:{config.smtp.port} ({security})"
        f"{' as ' + config.smtp.username if config.smtp.username else ''}"
    )
    msg_id = send_test_message(config, to, now=utcnow())
    click.echo(f"accepted by the server: {msg_id} to {to}")
