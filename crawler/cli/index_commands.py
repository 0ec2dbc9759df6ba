"""`bantin index`: the archive's full-text index (state, rebuild)."""

from __future__ import annotations

import click

from crawler.cli import App, pass_app
from crawler.cli.output import emit_json, format_option


@click.group()
def index() -> None:
    """The archive index that search, topic tests and re-matching read candidates from."""


@index.command("status")
@format_option("text", "json", default="text")
@pass_app
def index_status_command(app: App, output_format: str) -> None:
    """Is the index complete (every article indexed, in this bantin's format)? Exit 1 when not."""
    from crawler.store.index import INDEX_VERSION, index_status

    with app.database.session() as session:
        state = index_status(session)
    if output_format == "json":
        emit_json(
            {
                "articles": state.articles,
                "indexed": state.indexed,
                "version": state.version,
                "code_version": INDEX_VERSION,
                "complete": state.complete,
            }
        )
    else:
        click.echo(f"archive index: {state.describe()}")
    raise SystemExit(0 if state.complete else 1)


@index.command("rebuild")
@click.option("--no-progress", is_flag=True, help="No progress line, even on a terminal.")
@pass_app
def rebuild(app: App, no_progress: bool) -> None:
    """Drop the index and build it again from every stored article (one transaction)."""
    from crawler.store.index import rebuild_index

    with app.database.engine.begin() as connection:
        count = rebuild_index(connection, progress=False if no_progress else None)
    click.echo(f"indexed {count} article(s)")
