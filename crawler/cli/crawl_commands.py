"""`bantin init`, `crawl`, `extract` and `articles`."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime, time, timedelta
from pathlib import Path

import click
from sqlalchemy import select

from crawler.cli import App, pass_app
from crawler.cli.output import DISPLAY_TZ, dumps, emit_json, emit_rows, format_option, json_default, local_time
from crawler.errors import BantinError, UsageError


@click.command()
@click.option("--config", "local_config", metavar="PATH",
              help="Where to write the file (same as `bantin --config PATH init`).")
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
@click.option("--site-url", metavar="URL", help="Write this site.base_url (e.g. the sample site's address).")
@click.option("--database-url", metavar="URL", help="Write this storage.database_url.")
@pass_app
def init(app: App, local_config: str | None, force: bool, site_url: str | None, database_url: str | None) -> None:
    """Write a commented starter configuration and create the database.

    The file goes to --config PATH, else $BANTIN_CONFIG, else the user config dir.
    """
    from crawler.config import CONFIG_ENV, default_config_path, parse_config, starter_config
    from crawler.db import Database

    import os

    chosen = local_config or app.config_path
    path = Path(chosen or os.environ.get(CONFIG_ENV) or default_config_path()).expanduser()
    if path.exists() and not force:
        raise UsageError(f"{path} already exists (use --force to overwrite it)")
    text = starter_config(database_url)
    if site_url:
        text = text.replace('base_url = "https://nhandan.vn"', f"base_url = {json.dumps(site_url)}", 1)
    config = parse_config(text, path=path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    database = Database(config.storage.url)
    click.echo(f"wrote {path}")
    click.echo(f"database ready: {database.describe()}")
    database.dispose()
    hint = f" --config {path}" if chosen else ""
    click.echo(f"next: edit the topics and recipients, then run `bantin{hint} crawl`")


@click.command()
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Back-fill from this date using the monthly news sitemaps.")
@click.option("--site-url", metavar="URL", help="Crawl this origin instead of site.base_url.")
@click.option("--search", is_flag=True, help="Also use the site search, one query per topic term (back-fill a new topic).")
@click.option("--wait", type=float, default=0.0, show_default=True, metavar="SECONDS",
              help="If another crawl is running, wait this long for it instead of refusing at once.")
@click.option("--trigger", type=click.Choice(["manual", "service", "demo"]), default="manual", hidden=True)
@click.option("--now", "now_text", metavar="ISO", hidden=True, help="Pretend it is this instant (tests, demo).")
@click.option("--fast", is_flag=True, hidden=True, help="No politeness delays (loopback sample site only).")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), metavar="MINUTES",
              help="Stop the crawl after this long (default: none).")
@click.option("--no-progress", is_flag=True, help="No progress line, even on a terminal.")
@pass_app
def crawl(app: App, since: datetime | None, site_url: str | None, search: bool, wait: float, trigger: str,
          now_text: str | None, fast: bool, time_limit: float | None, no_progress: bool) -> None:
    """Crawl the site into the archive: new articles, and changed ones again.

    Feeds, listings and the Google News sitemap are read every run; an article
    already stored is downloaded again only when a source says it changed.
    Exit status: 0 when the run is ok or degraded, 1 when it failed or was
    interrupted, 75 when another crawl holds the lock.
    """
    from crawler.crawl import CrawlOptions, run_crawl
    from crawler.locks import hold_lease

    config = app.config
    if site_url:
        from crawler.config import SiteConfig

        try:
            site_url = SiteConfig(base_url=site_url).base_url
        except ValueError as exc:
            raise UsageError(f"--site-url: {exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc}") from None
    if now_text:
        _parse_instant(now_text)
    database = app.database
    options = CrawlOptions(
        site_url=site_url,
        since=since.date() if since else None,
        search=search,
        trigger=trigger,
        now=now_text,
        polite=not fast,
        progress=not no_progress,
        time_limit_minutes=time_limit,
    )
    with hold_lease(database, "crawl", wait=wait, info={"purpose": "`bantin crawl`", "trigger": trigger}):
        result = run_crawl(config, options)
    _print_crawl_summary(result)
    if not result.ok:
        sys.exit(1)


def _parse_instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--now: {text!r} is not an ISO 8601 instant") from None
    if value.tzinfo is None:
        raise UsageError("--now: give a time zone offset, e.g. 2026-03-27T08:00:00+07:00")
    return value


def _print_crawl_summary(result) -> None:
    duration = ""
    if result.finished_at:
        duration = f" in {(result.finished_at - result.started_at).total_seconds():.1f}s"
    click.echo(f"crawl run {result.run_id}: {result.status}{duration}")
    if result.message:
        click.echo(f"  {result.message}")
    columns = ["discovered", "fetched", "new", "updated", "unchanged", "failed"]
    rows = [{"source": source, **counts} for source, counts in sorted(result.counts.items())]
    if rows:
        rows.append({"source": "total", **result.totals()})
        from crawler.cli.output import table

        click.echo(table(rows, ["source", *columns]))
    for error in result.errors[:5]:
        click.echo(f"  error: {error.get('url')}: {error.get('reason')}", err=True)
    if result.error_total > 5:
        click.echo(f"  ... and {result.error_total - 5} more (see `bantin status --format json`)", err=True)


@click.command()
@click.argument("file_or_url")
@click.option("--url", "page_url", metavar="URL", help="The page's address, when FILE_OR_URL is a saved file.")
@format_option("json", "text", default="json")
def extract(file_or_url: str, page_url: str | None, output_format: str) -> None:
    """Extract one article page (a saved file, or a URL to download) and print the item.

    The first thing to run when a page looks wrong: it shows every field and
    which extraction layer served it.
    """
    from spiders.pages.nhandan import ArticlePage

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
    item = ArticlePage(html, page_url).to_item()
    data = item.to_dict()
    if output_format == "json":
        emit_json(data)
        return
    for key, value in data.items():
        if key == "body":
            click.echo(f"{key}:\n{value}\n")
        else:
            click.echo(f"{key}: {value}")


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

LIST_COLUMNS = ["article_id", "published", "category", "title", "topics"]


@click.group()
def articles() -> None:
    """List, show, search and export the stored articles."""


def _date_options(func):
    func = click.option("--until", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
                        help="Published on or before this day (Vietnam time).")(func)
    func = click.option("--since", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
                        help="Published on or after this day (Vietnam time).")(func)
    return func


def _article_query(since: datetime | None, until: datetime | None, topic: str | None):
    from crawler.db.models import Article, Match

    query = select(Article)
    if since:
        query = query.where(Article.published_at >= datetime.combine(since.date(), time(), DISPLAY_TZ))
    if until:
        query = query.where(Article.published_at < datetime.combine(until.date() + timedelta(days=1), time(), DISPLAY_TZ))
    if topic:
        query = query.where(Article.article_id.in_(select(Match.article_id).where(Match.topic == topic)))
    return query.order_by(Article.published_at.desc().nulls_last(), Article.article_id.desc())


def _resolve_topic(app: App, topic: str | None) -> str | None:
    if topic is None:
        return None
    from crawler.config import topic_key

    for configured in app.config.topics:
        if topic_key(configured.name) == topic_key(topic):
            return configured.name
    names = ", ".join(repr(t.name) for t in app.config.topics) or "none configured"
    raise UsageError(f"unknown topic {topic!r} (topics: {names})")


def _topics_by_article(session, ids: list[int]) -> dict[int, list[str]]:
    from crawler.db.models import Match

    found: dict[int, list[str]] = {}
    if ids:
        for article_id, name in session.execute(
            select(Match.article_id, Match.topic).where(Match.article_id.in_(ids)).order_by(Match.topic)
        ):
            found.setdefault(article_id, []).append(name)
    return found


def _summary(article, topics: list[str]) -> dict:
    return {
        "article_id": article.article_id,
        "published": article.published_at.astimezone(DISPLAY_TZ) if article.published_at else None,
        "category": article.category,
        "title": article.title,
        "url": article.url,
        "author": article.author,
        "topics": topics,
    }


@articles.command("list")
@click.option("--topic", help="Only articles that matched this topic.")
@_date_options
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@format_option()
@pass_app
def list_articles(app: App, topic: str | None, since, until, limit: int, output_format: str) -> None:
    """The newest stored articles (filter by topic and publication date)."""
    topic = _resolve_topic(app, topic)
    with app.database.session() as session:
        rows = list(session.scalars(_article_query(since, until, topic).limit(limit)))
        topics = _topics_by_article(session, [row.article_id for row in rows])
        data = [_summary(row, topics.get(row.article_id, [])) for row in rows]
    if output_format == "table" and not data:
        click.echo("no articles stored yet: run `bantin crawl`" if not (topic or since or until) else "no articles match")
        return
    emit_rows(data, LIST_COLUMNS if output_format == "table" else list(data[0]) if data else LIST_COLUMNS, output_format)


@articles.command("show")
@click.argument("article")
@format_option("text", "json", default="text")
@pass_app
def show_article(app: App, article: str, output_format: str) -> None:
    """One stored article in full: ARTICLE is its post id or URL."""
    from crawler.db.models import ArticleSource, Match

    with app.database.session() as session:
        row = _find_article(session, article)
        sources = list(session.scalars(select(ArticleSource).where(ArticleSource.article_id == row.article_id)))
        matches = list(session.scalars(select(Match).where(Match.article_id == row.article_id)))
        data = _full(row)
        data["sources"] = [
            {"source": s.source, "first_seen_at": s.first_seen_at, "last_seen_at": s.last_seen_at, "lastmod": s.lastmod}
            for s in sources
        ]
        data["matches"] = [{"topic": m.topic, "hits": m.hits} for m in matches]
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
    for match in data["matches"]:
        terms = sorted({hit["term"] for hit in match["hits"]})
        click.echo(f"topic {match['topic']!r}: {', '.join(terms)}")


def _find_article(session, key: str):
    from crawler.db.models import Article
    from spiders.pages.urls import article_id_from_url, canonical_url

    if key.isdigit():
        row = session.get(Article, int(key))
    else:
        article_id = article_id_from_url(key)
        row = session.get(Article, article_id) if article_id else None
        if row is None:
            row = session.scalar(select(Article).where(Article.url == canonical_url(key)))
    if row is None:
        raise UsageError(f"no stored article {key!r}")
    return row


def _full(row) -> dict:
    return {
        "article_id": row.article_id,
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
@click.option("--mode", type=click.Choice(["auto", "exact", "fold"]), default="auto", show_default=True,
              help="Accent handling (auto: a term typed without diacritics ignores them).")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@format_option()
@pass_app
def search_articles(app: App, query: str, since, until, mode: str, limit: int, output_format: str) -> None:
    """Search the archive with a topic query (same language and Vietnamese rules as topics)."""
    from crawler.cli.topic_commands import single_query_matcher
    from crawler.matching import ArticleFields

    matcher = single_query_matcher(query, mode)
    results = []
    with app.database.session(read_only=True) as session:
        for row in session.scalars(_article_query(since, until, None).execution_options(yield_per=500)):
            outcome = matcher.explain(ArticleFields.from_article(row), "query")
            if outcome.matched:
                summary = _summary(row, [])
                summary["terms"] = sorted({hit.term for hit in outcome.hits if not hit.negated})
                results.append(summary)
                if len(results) >= limit:
                    break
    if output_format == "table" and not results:
        click.echo("no articles match")
        return
    emit_rows(results, ["article_id", "published", "title", "terms"] if output_format == "table" else
              list(results[0]) if results else [], output_format)


@articles.command("export")
@click.option("--topic", help="Only articles that matched this topic.")
@_date_options
@format_option("jsonl", "json", "csv", default="jsonl")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write here instead of standard output.")
@pass_app
def export_articles(app: App, topic: str | None, since, until, output_format: str, out: str | None) -> None:
    """Export stored articles with every field (JSON Lines by default)."""
    topic = _resolve_topic(app, topic)
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
        with app.database.session(read_only=True) as session:
            rows = session.scalars(_article_query(since, until, topic).execution_options(yield_per=500))
            writer = None
            if output_format == "json":
                stream.write("[")
            for row in rows:
                data = _full(row)
                if output_format == "csv":
                    if writer is None:
                        writer = csv.DictWriter(stream, fieldnames=list(data))
                        writer.writeheader()
                    writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else
                                     v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()})
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
