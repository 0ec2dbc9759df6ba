"""`bantin sites`: the registered sites, which of them are followed, and how their crawls went."""

from __future__ import annotations

import click

from crawler.cli import App, pass_app
from crawler.cli.output import emit_rows, format_option

COLUMNS = ["id", "name", "base_url", "enabled", "last_crawl", "last_status", "articles"]


@click.group()
def sites() -> None:
    """The sites bantin can follow."""


@sites.command("list")
@format_option()
@pass_app
def list_sites(app: App, output_format: str) -> None:
    """Every registered site: its address, whether it is followed, its last crawl and the articles stored."""
    from crawler.store.archive import articles_per_site, last_crawl_per_site
    from spiders.registry import sites as registered

    config = app.config
    with app.database.session() as session:
        stored = articles_per_site(session)
        last = last_crawl_per_site(session)
    rows = []
    for site in registered().values():
        entry = config.site_entry(site.id)
        run = last.get(site.id)
        rows.append(
            {
                "id": site.id,
                "name": site.name,
                "base_url": (entry.base_url if entry is not None else None) or site.base_url,
                "enabled": entry is not None and entry.enabled,
                "last_crawl": run.started_at if run is not None else None,
                "last_status": run.status if run is not None else None,
                "last_run": run.id if run is not None else None,
                "articles": stored.get(site.id, 0),
            }
        )
    emit_rows(rows, COLUMNS if output_format != "json" else list(rows[0]) if rows else COLUMNS, output_format)
