"""`bantin sites`: the registered sites, which of them are followed, and how their crawls went."""

from __future__ import annotations

import click

from crawler.cli import App, pass_app
from crawler.cli.output import emit_json, emit_rows, format_option

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


@sites.command("check")
@click.option(
    "--site",
    "site_ids",
    multiple=True,
    metavar="ID",
    help="Check this registered site (repeatable; default: every enabled site of the configuration).",
)
@format_option("table", "json")
@click.option("--now", "now_text", metavar="ISO", hidden=True, help="Pretend it is this instant (tests).")
@pass_app
def check_sites(app: App, site_ids: tuple[str, ...], output_format: str, now_text: str | None) -> None:
    """Read each site's sources once and one recent article per source; store nothing.

    Reports per source whether it parsed and how many entries it listed, and per article which
    layer served each field. Exits 1 when a source is unreadable or an article fell back past
    the site's own selectors (or could not be read at all). Polite as a crawl: robots.txt, delay.
    """
    from datetime import datetime

    from crawler.config import SiteEntry
    from crawler.crawl.addon import CrawlSite
    from crawler.crawl.check import run_check
    from crawler.errors import UsageError
    from spiders.registry import sites as registered

    config = app.config
    known = registered()
    if site_ids:
        unknown = [site_id for site_id in site_ids if site_id not in known]
        if unknown:
            raise UsageError(f"--site {unknown[0]}: not a registered site (known sites: {', '.join(known)})")
        entries = [
            config.site_entry(site_id) or SiteEntry.model_validate({"id": site_id})
            for site_id in dict.fromkeys(site_ids)
        ]
    else:
        entries = config.enabled_sites()
        if not entries:
            raise UsageError("no site is enabled: give --site ID")
    try:
        now = datetime.fromisoformat(now_text) if now_text else None
    except ValueError:
        raise UsageError(f"--now {now_text!r}: not an ISO instant") from None
    chosen = [
        CrawlSite.from_entry(entry, spider=known[entry.id].spider, base_url=known[entry.id].base_url)
        for entry in entries
    ]
    reports = run_check(config, chosen, now=now)
    if output_format == "json":
        emit_json({"ok": all(report.ok for report in reports), "sites": [report.to_dict() for report in reports]})
    else:
        for report in reports:
            click.echo(_check_text(report))
    if not all(report.ok for report in reports):
        click.get_current_context().exit(1)


def _check_text(report) -> str:
    """One site's check as the terminal shows it: sources, then articles with the layer of each field."""
    from crawler.cli.output import table
    from spiders.pages.textutil import clean_text

    lines = [f"{report.site} ({report.base_url}): {'ok' if report.ok else 'PROBLEMS'}"]
    if report.sources:
        rows = [
            {
                "source": page.source,
                "url": page.url,
                "read": "ok" if page.ok else "FAILED",
                "entries": "" if page.entries is None else page.entries,
                "error": clean_text(page.error),
            }
            for page in report.sources
        ]
        lines.append(_indent(table(rows, ["source", "read", "entries", "url", "error"], max_width=90)))
    for article in report.articles:
        if not article.ok:
            state = "FAILED: " + clean_text(article.error)
        else:
            served = ", ".join(f"{name} {layer}" for name, layer in article.layers.items())
            fell = f"; fell back: {', '.join(article.fallbacks)}" if article.fallbacks else ""
            state = f"extractor {article.extractor}{fell}; {served}"
        lines.append(f"  article from {article.source}: {clean_text(article.url)}")
        lines.append(f"    {state}")
    lines += [f"  problem: {clean_text(problem)}" for problem in report.problems]
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
