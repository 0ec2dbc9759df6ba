"""`bantin recipients`: each reader's effective subscription (the file, with the reader's own choices on top)."""

from __future__ import annotations

import click

from crawler.cli import App, pass_app
from crawler.cli.output import emit_rows, format_option


@click.group()
def recipients() -> None:
    """The recipients and what the next digest sends each of them."""


@recipients.command("list")
@format_option("table", "json", "csv")
@pass_app
def list_recipients(app: App, output_format: str) -> None:
    """Each recipient's effective state: active, paused or unsubscribed, and their topics.

    `source` says who decided: `file` (the configuration) or `reader` (their preferences page or a
    one-click unsubscribe, which win over the file).
    """
    from crawler.readers import effective_readers

    config = app.config
    with app.database.session(write=False) as session:
        readers = effective_readers(config, session)
    if output_format == "table" and not readers:
        click.echo("no recipients configured: add [[recipients]] to the configuration")
        return
    rows = [
        {
            "email": reader.email,
            "name": reader.recipient.name,
            "state": reader.state,
            "topics": list(reader.topics),
            "source": reader.source,
            "language": reader.recipient.language or config.digest.language,
            "unsubscribed_at": reader.unsubscribed_at,
            "updated_at": reader.updated_at,
        }
        for reader in readers
    ]
    emit_rows(rows, ["email", "name", "state", "topics", "source", "language", "updated_at"], output_format)
