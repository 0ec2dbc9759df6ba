"""`bantin init`, `crawl`, `extract` and `articles`."""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import click

from crawler.cli import App, pass_app
from crawler.cli.output import DISPLAY_TZ, dumps, emit_json, emit_rows, format_option, json_default, local_time
from crawler.clock import utcnow
from crawler.errors import BantinError, LockBusyError, UsageError
from crawler.store.archive import article_matches, sources_by_article, story_copies, topics_by_article


@click.command()
@click.option(
    "--config", "local_config", metavar="PATH", help="Where to write the file (same as `bantin --config PATH init`)."
)
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
@click.option("--site-url", metavar="URL", help="Write this site.base_url, NDO's address (e.g. the sample site's).")
@click.option("--database-url", metavar="URL", help="Write this storage.database_url.")
@pass_app
def init(app: App, local_config: str | None, force: bool, site_url: str | None, database_url: str | None) -> None:
    """Write a commented starter configuration and create the database.

    The file goes to --config PATH, else $BANTIN_CONFIG, else the user config dir.
    """
    import os

    from crawler.config import CONFIG_ENV, DEFAULT_SITE, default_config_path, parse_config, starter_config
    from crawler.store import Database
    from spiders.registry import sites

    chosen = local_config or app.config_path
    path = Path(chosen or os.environ.get(CONFIG_ENV) or default_config_path()).expanduser()
    if path.exists() and not force:
        raise UsageError(f"{path} already exists (use --force to overwrite it)")
    registry = sites()
    # The [site] table is NDO's entry: its address and feed names are its site package's.
    site = registry[DEFAULT_SITE]
    text = starter_config(database_url, site_url=site_url or site.base_url, feed_example=site.feed_example)
    config = parse_config(text, path=path, known_sites=registry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    database = Database(config.storage.url)
    click.echo(f"wrote {path}")
    click.echo(f"database ready: {database.describe()}")
    database.dispose()
    hint = f" --config {path}" if chosen else ""
    click.echo(f"next: edit the topics and recipients, then run `bantin{hint} crawl`")


@click.command()
@click.option(
    "--site", "site_ids", multiple=True, metavar="ID", help="Crawl this site (repeatable; default: every enabled site)."
)
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Back-fill from this date using the monthly news sitemaps.",
)
@click.option("--site-url", metavar="URL", help="Crawl this origin instead of the site's base_url (one site only).")
@click.option(
    "--search", is_flag=True, help="Also use the site search, one query per topic term (back-fill a new topic)."
)
@click.option(
    "--wait",
    type=float,
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="If a site is being crawled already, wait this long for it instead of skipping it.",
)
@click.option("--trigger", type=click.Choice(["manual", "service", "demo", "cluster"]), default="manual", hidden=True)
@click.option("--job", "job_id", type=int, hidden=True, help="The cluster job running this crawl (its ledger rows).")
@click.option("--worker", "worker_name", default="", hidden=True, help="The cluster worker running this crawl.")
@click.option("--lifeline", is_flag=True, hidden=True, help="Stop when stdin closes: the parent worker died.")
@click.option("--now", "now_text", metavar="ISO", hidden=True, help="Pretend it is this instant (tests, demo).")
@click.option("--fast", is_flag=True, hidden=True, help="No politeness delays (loopback sample site only).")
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    metavar="MINUTES",
    help="Stop the crawl after this long (default: none).",
)
@click.option("--no-progress", is_flag=True, help="No progress line, even on a terminal.")
@pass_app
def crawl(
    app: App,
    site_ids: tuple[str, ...],
    since: datetime | None,
    site_url: str | None,
    search: bool,
    wait: float,
    trigger: str,
    job_id: int | None,
    worker_name: str,
    lifeline: bool,
    now_text: str | None,
    fast: bool,
    time_limit: float | None,
    no_progress: bool,
) -> None:
    """Crawl the sites into the archive: new articles, and changed ones again.

    Every chosen site runs at once in this process, with its own ledger run and
    its own `crawl:<site>` lock: a site already being crawled is skipped (or
    waited for, --wait). Feeds, listings and the Google News sitemap are read
    every run; an article already stored is downloaded again only when a
    source says it changed. Exit status: 0 when every crawled site is ok or
    degraded, 1 when any failed or was interrupted, 75 when every chosen site
    was busy.
    """
    from crawler.crawl.run import CrawlOptions, run_crawl, watch_lifeline

    if lifeline:
        watch_lifeline()
    config = app.config
    entries = app.chosen_sites(site_ids)
    if site_url:
        if len(entries) != 1:
            raise UsageError("--site-url goes with one site: add --site ID")
        from crawler.config import SiteConfig

        try:
            site_url = SiteConfig(base_url=site_url).base_url
        except ValueError as exc:
            raise UsageError(f"--site-url: {exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc}") from None
        entries = [entries[0].model_copy(update={"base_url": site_url})]
    if now_text:
        _parse_instant(now_text)
    options = CrawlOptions(
        since=since.date() if since else None,
        search=search,
        trigger=trigger,
        now=now_text,
        polite=not fast,
        progress=not no_progress,
        time_limit_minutes=time_limit,
    )
    if job_id is not None:
        options.extra_settings.update(BANTIN_JOB_ID=job_id, BANTIN_WORKER=worker_name)
    info = {"purpose": "`bantin crawl`", "trigger": trigger}
    with contextlib.ExitStack() as held:
        # The leases first: resolving sites loads the site packages (and Scrapy), which takes a while.
        # In cluster mode a lease is renewed as often as the worker beats: a crawl whose lease another worker
        # took over (this one was frozen or cut off for longer than the lease lasts) learns it, and stops, soon.
        beat = config.cluster.heartbeat_seconds if config.cluster.enabled else None
        leases, busy = _hold_site_leases(held, app.database, entries, wait=wait, info=info, heartbeat_seconds=beat)
        free = [entry for entry in entries if entry.id in leases]
        for site_id, reason in busy:
            click.echo(f"{site_id}: skipped: {reason}", err=True)
        if not free:
            raise LockBusyError("every chosen site is being crawled already; try again later")
        from spiders.registry import spider_modules

        # Sites packaged outside bantin bring their spiders in their own modules.
        options.extra_settings["SPIDER_MODULES"] = spider_modules()
        outcomes = run_crawl(
            config, [app.crawl_site(entry) for entry in free], options, database=app.database, leases=leases
        )
    _print_crawl_summary(outcomes, busy)
    if not all(outcome.ok for outcome in outcomes):
        sys.exit(1)


def _hold_site_leases(
    stack: contextlib.ExitStack, database, entries, *, wait: float, info: dict, heartbeat_seconds: float | None
):
    """Take each site's crawl lease: ({site id: its lease}, [(busy site, why)]), all waits within one deadline."""
    import time

    from crawler.locks import crawl_lease, hold_lease

    deadline = time.monotonic() + max(wait, 0.0)
    held, busy = {}, []
    for site in entries:
        try:
            held[site.id] = stack.enter_context(
                hold_lease(
                    database,
                    crawl_lease(site.id),
                    wait=max(deadline - time.monotonic(), 0.0),
                    info={**info, "site": site.id},
                    heartbeat_seconds=heartbeat_seconds,
                )
            )
        except LockBusyError as exc:
            busy.append((site.id, str(exc)))
    return held, busy


def _parse_instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--now: {text!r} is not an ISO 8601 instant") from None
    if value.tzinfo is None:
        raise UsageError("--now: give a time zone offset, e.g. 2026-03-27T08:00:00+07:00")
    return value


COUNT_COLUMNS = ["discovered", "fetched", "new", "updated", "unchanged", "failed"]


def _print_crawl_summary(outcomes, busy: list[tuple[str, str]]) -> None:
    from crawler.cli.output import table

    for outcome in outcomes:
        run = outcome.run
        if run is None:
            click.echo(f"{outcome.site}: failed: {outcome.error}")
            continue
        duration = f" in {(run.finished_at - run.started_at).total_seconds():.1f}s" if run.finished_at else ""
        click.echo(
            f"{run.site}: crawl run {run.run_id}: {run.status}{duration}" + (f" — {run.message}" if run.message else "")
        )
    for site_id, _reason in busy:
        click.echo(f"{site_id}: skipped (being crawled already)")
    runs = [outcome.run for outcome in outcomes if outcome.run is not None]
    if len(runs) == 1:
        counts = runs[0].counts
        rows = [{"source": source, **counts.source(source)} for source in counts.sources]
        if rows:
            rows.append({"source": "total", **counts.totals()})
            click.echo(table(rows, ["source", *COUNT_COLUMNS]))
    elif runs:
        from crawler.store.records import RunCounts

        rows = [{"site": run.site, "status": run.status, **run.totals()} for run in runs]
        rows.append({"site": "total", "status": "", **RunCounts.combined(run.counts for run in runs).totals()})
        click.echo(table(rows, ["site", "status", *COUNT_COLUMNS]))
    for run in runs:
        prefix = f"{run.site}: " if len(runs) > 1 else ""
        for error in run.errors[:5]:
            click.echo(f"  {prefix}error: {error.get('url')}: {error.get('reason')}", err=True)
        if run.error_total > 5:
            click.echo(f"  {prefix}... and {run.error_total - 5} more (see `bantin status --format json`)", err=True)


@click.command()
@click.argument("file_or_url")
@click.option("--url", "page_url", metavar="URL", help="The page's address, when FILE_OR_URL is a saved file.")
@format_option("json", "text", default="json")
def extract(file_or_url: str, page_url: str | None, output_format: str) -> None:
    """Extract one article page (a saved file, or a URL to download) and print the item.

    The first thing to run when a page looks wrong: it shows every field and
    which extraction layer served it.
    """
    from spiders.registry import site_for_url, sites

    if file_or_url.startswith(("http://", "https://")):
        html = _download(file_or_url)
        page_url = page_url or file_or_url
    else:
        path = Path(file_or_url)
        try:
            html = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
        page_url = page_url or path.resolve().as_uri()
    # A saved file is read by the site its own og:url or canonical link names, else by the first one (NDO).
    site = site_for_url(page_url) or _site_of_saved_page(html, page_url) or next(iter(sites().values()))
    if site.extract is None:
        raise UsageError(f"site {site.id} has no article page reader")
    item = site.extract(html, page_url)
    data = item.to_dict()
    if output_format == "json":
        emit_json(data)
        return
    for key, value in data.items():
        if key == "body":
            click.echo(f"{key}:\n{value}\n")
        else:
            click.echo(f"{key}: {value}")


def _site_of_saved_page(html: bytes, page_url: str):
    from crawler.errors import ExtractionError
    from spiders.pages.html import link_canonical, meta_map, parse_html
    from spiders.registry import site_for_url

    try:
        root = parse_html(html, page_url)
    except ExtractionError:
        return None  # the site's page object says why
    claims = [*meta_map(root).get("og:url", []), link_canonical(root)]
    return next((site for claim in claims if claim and (site := site_for_url(claim))), None)


def _download(url: str) -> bytes:
    import gzip
    import urllib.error
    import urllib.request

    from crawler.config import DEFAULT_USER_AGENT

    request = urllib.request.Request(url, headers={"User-Agent": DEFAULT_USER_AGENT, "Accept-Encoding": "gzip"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read(20 * 1024 * 1024)
            if response.headers.get("Content-Encoding") == "gzip" or body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            return body
    except (urllib.error.URLError, OSError, EOFError) as exc:
        raise BantinError(f"cannot download {url}: {getattr(exc, 'reason', exc)}") from None


# -- articles ------------------------------------------------------------------------------------

LIST_COLUMNS = ["site", "external_id", "published", "category", "title", "topics"]


@click.group()
def articles() -> None:
    """List, show, search and export the stored articles."""


def _date_options(func):
    func = click.option(
        "--until",
        type=click.DateTime(["%Y-%m-%d"]),
        metavar="YYYY-MM-DD",
        help="Published on or before this day (Vietnam time).",
    )(func)
    func = click.option(
        "--since",
        type=click.DateTime(["%Y-%m-%d"]),
        metavar="YYYY-MM-DD",
        help="Published on or after this day (Vietnam time).",
    )(func)
    return func


def _article_query(since: datetime | None, until: datetime | None, topic: str | None, site: tuple[str, ...] = ()):
    from crawler.store.archive import article_query

    return article_query(
        since=since.date() if since else None, until=until.date() if until else None, topic=topic, sites=site or None
    )


def _summary(article, topics: list[str]) -> dict:
    return {
        "site": article.site,
        "external_id": article.external_id,
        "published": article.published_at.astimezone(DISPLAY_TZ) if article.published_at else None,
        "category": article.category,
        "title": article.title,
        "url": article.url,
        "author": article.author,
        "topics": topics,
    }


@articles.command("list")
@click.option("--topic", help="Only articles that matched this topic.")
@click.option("--site", "site_ids", multiple=True, metavar="ID", help="Only articles of this site (repeatable).")
@_date_options
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@format_option()
@pass_app
def list_articles(
    app: App, topic: str | None, site_ids: tuple[str, ...], since, until, limit: int, output_format: str
) -> None:
    """The newest stored articles (filter by topic, site and publication date)."""
    topic = app.resolve_topic(topic)
    for site_id in site_ids:
        from spiders.registry import get_site

        try:
            get_site(site_id)
        except LookupError as exc:
            raise UsageError(f"--site: {exc}") from None
    with app.database.session() as session:
        rows = list(session.scalars(_article_query(since, until, topic, site_ids).limit(limit)))
        topics = topics_by_article(session, [row.id for row in rows])
        data = [_summary(row, topics.get(row.id, [])) for row in rows]
    if output_format == "table" and not data:
        click.echo(
            "no articles stored yet: run `bantin crawl`"
            if not (topic or site_ids or since or until)
            else "no articles match"
        )
        return
    emit_rows(
        data, LIST_COLUMNS if output_format == "table" else list(data[0]) if data else LIST_COLUMNS, output_format
    )


@articles.command("show")
@click.argument("article")
@format_option("text", "json", default="text")
@pass_app
def show_article(app: App, article: str, output_format: str) -> None:
    """One stored article in full: ARTICLE is its URL, SITE:ID, or the site's own id."""
    with app.database.session() as session:
        row = app.find_article(session, article)
        data = _full(row)
        data["sources"] = [_source(source) for source in sources_by_article(session, [row.id]).get(row.id, [])]
        data["matches"] = [
            {"topic": m.topic, "hits": [hit.to_dict() for hit in m.hits]} for m in article_matches(session, row.id)
        ]
        data["story_id"] = row.story_id
        data["also_on"] = story_copies(session, [row]).get(row.id, [])
    if output_format == "json":
        emit_json(data)
        return
    click.echo(data["title"])
    click.echo(data["url"])
    click.echo(f"published {local_time(row.published_at)}  ·  {' › '.join(row.category)}  ·  {row.author}")
    if row.sapo:
        click.echo(f"\n{row.sapo}")
    click.echo(f"\n{row.body}\n")
    for image in row.images:
        click.echo(f"[image] {image['url']}  {image.get('caption', '')}")
    if row.tags:
        click.echo(f"tags: {', '.join(row.tags)}")
    click.echo("sources: " + ", ".join(s["source"] for s in data["sources"]))
    if data["also_on"]:
        click.echo("the same story on: " + ", ".join(data["also_on"]))
    for match in data["matches"]:
        terms = sorted({hit["term"] for hit in match["hits"] if not hit["negated"]})
        click.echo(f"topic {match['topic']!r}: {', '.join(terms)}")


def _check_sites(session, wanted) -> None:
    """Refuse a site that is neither registered nor in the archive (a typo would just match nothing)."""
    from crawler.store.archive import sites_in_archive
    from spiders.registry import sites

    known = set(sites()) | sites_in_archive(session)
    unknown = [site for site in wanted if site not in known]
    if unknown:
        raise UsageError(f"unknown site {unknown[0]!r} (sites: {', '.join(sorted(known))})")


def _full(row) -> dict:
    return {
        "site": row.site,
        "external_id": row.external_id,
        "url": row.url,
        "title": row.title,
        "sapo": row.sapo,
        "body": row.body,
        "author": row.author,
        "published_at": row.published_at,
        "modified_at": row.modified_at,
        "category": row.category,
        "tags": row.tags,
        "images": row.images,
        "first_seen_at": row.first_seen_at,
        "changed_at": row.changed_at,
        "version": row.version,
        "extractor": row.extractor,
    }


@articles.command("search", context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]})
@click.argument("query")
@_date_options
@click.option("--site", "sites", multiple=True, metavar="SITE", help="Only this site's articles (repeatable).")
@click.option(
    "--mode",
    type=click.Choice(["auto", "exact", "fold"]),
    default="auto",
    show_default=True,
    help="Accent handling (auto: a term typed without diacritics ignores them).",
)
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True, help="Articles per page.")
@click.option(
    "--before",
    "before_key",
    metavar="ARTICLE",
    help="The next page: articles older than this one (SITE:ID or URL, as a full page ends with).",
)
@click.option("--count", "count_only", is_flag=True, help="Only say how many articles match.")
@format_option()
@pass_app
def search_articles(
    app: App,
    query: str,
    since,
    until,
    sites: tuple[str, ...],
    mode: str,
    limit: int,
    before_key: str | None,
    count_only: bool,
    output_format: str,
) -> None:
    """Search the archive with a topic query (same language and Vietnamese rules as topics), newest first.

    The archive index finds the candidates; the matcher decides, so the answer is
    the one a scan of every article would give. Every outlet's copy of a story is
    an article of its own; `also_on` names the outlets with another copy.
    `--count` counts per outlet.
    """
    from crawler.matching import ArticleFields, QueryMatcher
    from crawler.query import parse_query
    from crawler.store.archive import matches_per_site, matching_articles

    matcher = QueryMatcher(query, mode)
    tree = parse_query(query)
    first_day, last_day = since.date() if since else None, until.date() if until else None

    def accept(row) -> list[str] | None:
        return matcher.carried(ArticleFields.from_article(row))

    with app.database.session(write=False) as session:
        _check_sites(session, sites)
        after = None
        if before_key:
            after = app.find_article(session, before_key)
        if count_only:
            per_site = matches_per_site(
                session, tree, accept, since=first_day, until=last_day, sites=sites or None, after=after
            )
            _emit_per_outlet(query, per_site, output_format)
            return
        results = []
        rows = []
        last = None
        found = matching_articles(
            session, tree, accept, since=first_day, until=last_day, sites=sites or None, after=after, first_batch=limit
        )
        for row, carried in found:
            summary = _summary(row, [])
            summary["terms"] = carried
            results.append(summary)
            rows.append(row)
            last = row
            if len(results) >= limit:
                break
        copies = story_copies(session, rows)
        for summary, row in zip(results, rows, strict=True):
            summary["story_id"] = row.story_id
            summary["also_on"] = copies.get(row.id, [])
    if output_format == "table" and not results:
        click.echo("no articles match" if not after else "no more articles match")
        return
    emit_rows(
        results,
        ["site", "external_id", "published", "title", "terms", "also_on"]
        if output_format == "table"
        else list(results[0])
        if results
        else [],
        output_format,
    )
    if output_format == "table" and len(results) >= limit and last is not None:
        click.echo(f"next page: --before {last.site}:{last.external_id}", err=True)


def _emit_per_outlet(query: str, per_site: Counter, output_format: str) -> None:
    """`search --count`: the matches of each outlet, then the total."""
    from reports.outlets import outlet

    total = sum(per_site.values())
    if output_format == "json":
        emit_json({"query": query, "matches": total, "per_site": dict(sorted(per_site.items()))})
        return
    rows = [
        {"site": site, "outlet": outlet(site).short_name, "matches": count} for site, count in sorted(per_site.items())
    ]
    rows.append({"site": "total", "outlet": "", "matches": total})
    emit_rows(rows, ["site", "outlet", "matches"], output_format)


@articles.command("export")
@click.option("--topic", help="Only articles that matched this topic.")
@_date_options
@format_option("jsonl", "json", "csv", default="jsonl")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write here instead of standard output.")
@pass_app
def export_articles(app: App, topic: str | None, since, until, output_format: str, out: str | None) -> None:
    """Export stored articles with every field (JSON Lines by default)."""
    topic = app.resolve_topic(topic)
    try:
        count = _export(app, topic, since, until, output_format, out)
    except OSError as exc:
        if not out or isinstance(exc, BrokenPipeError):
            raise
        # A full disk or a folder in the way: one line, not "internal error".
        from crawler.errors import OutputError

        raise OutputError(out, exc.strerror or type(exc).__name__) from None
    if out:
        click.echo(f"exported {count} article(s) to {out}", err=True)


def _export(app: App, topic: str | None, since, until, output_format: str, out: str | None) -> int:
    stream = open(out, "w", encoding="utf-8", newline="") if out else sys.stdout
    count = 0
    try:
        with app.database.session(write=False) as session:
            rows = session.scalars(_article_query(since, until, topic).execution_options(yield_per=500))
            writer = None
            if output_format == "json":
                stream.write("[")
            for row, sources in _with_sources(session, rows):
                data = _full(row)
                data["sources"] = sources
                if output_format == "csv":
                    if writer is None:
                        writer = csv.DictWriter(stream, fieldnames=list(data))
                        writer.writeheader()
                    writer.writerow(
                        {
                            k: json.dumps(v, ensure_ascii=False, default=json_default)
                            if isinstance(v, (list, dict))
                            else v.isoformat()
                            if isinstance(v, datetime)
                            else v
                            for k, v in data.items()
                        }
                    )
                elif output_format == "json":
                    stream.write(("," if count else "") + "\n" + dumps(data))
                else:
                    stream.write(json.dumps(data, ensure_ascii=False, default=json_default) + "\n")
                count += 1
            if output_format == "json":
                stream.write("\n]\n")
    finally:
        if out:
            stream.close()
    return count


def _source(source) -> dict:
    return {
        "source": source.source,
        "first_seen_at": source.first_seen_at,
        "last_seen_at": source.last_seen_at,
        "lastmod": source.lastmod,
    }


def _with_sources(session, rows, batch: int = 500):
    """(row, [its sources as exported]) for each row, reading the sources a batch at a time."""

    def flush(chunk):
        found = sources_by_article(session, [row.id for row in chunk])
        return [(row, [_source(source) for source in found.get(row.id, [])]) for row in chunk]

    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= batch:
            yield from flush(chunk)
            chunk = []
    if chunk:
        yield from flush(chunk)


@articles.command("import")
@click.argument("path", metavar="FILE|-")
@click.option("--no-progress", is_flag=True, help="No progress line, even on a terminal.")
@pass_app
def import_articles_command(app: App, path: str, no_progress: bool) -> None:
    """Import what `articles export --format jsonl` wrote (another archive's, or a backup).

    Each article is stored as a crawl would store it (index and topic matches
    included) and the run is written to the crawl ledger with trigger `import`.
    Importing the same file again changes nothing. A line that cannot be read is
    reported with its number and skipped; the exit status is then 1.
    """

    from crawler.imports import import_articles, open_input
    from crawler.topics import prepare_topics

    now = utcnow()
    try:
        stream = open_input(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    topics = prepare_topics(app.database, app.config.topics, now=now)
    progress = sys.stderr if not no_progress and sys.stderr.isatty() else None
    try:
        report = import_articles(app.database, stream, topics, now=now, progress=progress)
    finally:
        if stream is not sys.stdin:
            stream.close()
    for line, reason in report.skipped[:20]:
        click.echo(f"line {line}: skipped: {reason}", err=True)
    if len(report.skipped) > 20:
        click.echo(f"... and {len(report.skipped) - 20} more skipped line(s)", err=True)
    rate = report.stored / report.seconds if report.seconds else 0
    click.echo(
        f"imported {report.stored} article(s) in {report.seconds:.1f}s ({rate:.0f}/s): {report.new} new, "
        f"{report.updated} updated, {report.unchanged} unchanged, {len(report.skipped)} skipped"
    )
    if report.skipped:
        sys.exit(1)
