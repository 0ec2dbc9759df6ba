"""`bantin match` and `bantin topics`: trying queries, back-testing and re-matching topics."""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from crawler.cli import App, pass_app
from crawler.cli.output import DISPLAY_TZ, emit_json, emit_rows, format_option, local_time, table
from crawler.clock import utcnow
from crawler.errors import UsageError

MODES = click.Choice(["auto", "exact", "fold"])
# A query may start with "-" (NOT): unknown options are taken as the query, and
# -h is not a help alias here (it would fire inside a query such as -"Quảng Ninh").
QUERY_COMMAND = {"ignore_unknown_options": True, "help_option_names": ["--help"]}


@click.command(context_settings=QUERY_COMMAND)
@click.argument("query")
@click.option("--text", help="The text to match (default: --file, else standard input).")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), help="Read the text from this file.")
@click.option("--article", "article_key", metavar="ID_OR_URL", help="Match a stored article (all its fields).")
@click.option(
    "--mode",
    type=MODES,
    default="auto",
    show_default=True,
    help="auto: a term typed without diacritics ignores them; exact; fold.",
)
@format_option("json", "text", default="text")
@click.pass_obj
def match(
    app: App, query: str, text: str | None, path: str | None, article_key: str | None, mode: str, output_format: str
) -> None:
    """Check whether QUERY matches a text, and why: which term, which field, where.

    Exit status 0 when it matches, 1 when it does not, 2 for a malformed query.
    """
    from crawler.matching import ArticleFields, QueryMatcher

    sources = [given for given in (text, path, article_key) if given is not None]
    if len(sources) > 1:
        raise UsageError("give at most one of --text, --file and --article")
    article_identity = None
    if article_key:
        with app.database.session() as session:
            row = app.find_article(session, article_key)
            fields = ArticleFields.from_article(row)
            article_identity = {"site": row.site, "external_id": row.external_id, "url": row.url}
    elif path:
        with open(path, encoding="utf-8") as handle:
            fields = ArticleFields(body=handle.read())
    elif text is not None:
        fields = ArticleFields(body=text)
    else:
        if sys.stdin.isatty():
            raise UsageError("give --text, --file or --article, or pipe the text in")
        fields = ArticleFields(body=sys.stdin.read())
    result = QueryMatcher(query, mode).explain(fields)
    if output_format == "json":
        emit_json({**(article_identity or {}), **result.to_dict()})
    else:
        click.echo("matched" if result.matched else "no match")
        for hit in result.hits:
            flag = " (excluded by NOT)" if hit.negated else ""
            click.echo(f"  {hit.term!r} in {hit.field} [{hit.start}:{hit.end}]{flag}: {_highlight(hit)}")
    sys.exit(0 if result.matched else 1)


def _marked(text: str) -> str:
    """A highlighted span: coloured on a terminal, between «» when piped or saved."""
    if sys.stdout.isatty():
        return click.style(text, bold=True, fg="yellow")
    return f"«{text}»"


def _highlight(hit) -> str:
    before, found, after = hit.snippet_parts
    return before + _marked(found) + after


@click.group()
def topics() -> None:
    """List the configured topics, back-test a query on the archive, re-match the archive."""


@topics.command("list")
@format_option("table", "json")
@pass_app
def list_topics(app: App, output_format: str) -> None:
    """The configured topics, their match counts and whether the archive is up to date with them."""
    from crawler.matching import TopicSpec
    from crawler.store.archive import last_match_per_topic, matches_per_topic, stored_topics

    with app.database.session() as session:
        stored = stored_topics(session)
        counts = matches_per_topic(session)
        latest = last_match_per_topic(session)
    rows = []
    for topic in app.config.topics:
        version = TopicSpec(topic.name, topic.query, topic.accents).version
        row = stored.get(topic.name)
        state = "current" if row is not None and row.matched_version == version else "needs rematch"
        rows.append(
            {
                "name": topic.name,
                "query": topic.query,
                "accents": topic.accents,
                "matches": counts.get(topic.name, 0),
                "last_matched": latest.get(topic.name),
                "archive": state,
            }
        )
    if output_format == "table" and not rows:
        click.echo("no topics configured: add [[topics]] to the configuration")
        return
    emit_rows(rows, ["name", "query", "accents", "matches", "archive"], output_format)


@topics.command("test", context_settings=QUERY_COMMAND)
@click.argument("query")
@click.option("--days", type=click.IntRange(1), default=30, show_default=True, help="How far back to look.")
@click.option("--all", "whole", is_flag=True, help="Over the whole archive instead of --days.")
@click.option("--mode", type=MODES, default="auto", show_default=True)
@click.option("--limit", type=click.IntRange(0), default=30, show_default=True, help="Titles to list.")
@format_option("text", "json", default="text")
@pass_app
def test_topic(app: App, query: str, days: int, whole: bool, mode: str, limit: int, output_format: str) -> None:
    """Back-test QUERY on the archive before subscribing: matches per day and per outlet, titles, and the terms.

    The archive index finds the candidates and the matcher decides, as for a topic.
    Each outlet's copy of a story is matched on its own; the story count says how
    many items a digest would show.
    """
    from crawler.backtest import backtest

    since = None if whole else utcnow() - timedelta(days=days)
    with app.database.session(write=False) as session:
        result = backtest(session, query, mode=mode, since=since, limit=limit, zone=DISPLAY_TZ)
    scanned, total, per_day, terms = result.scanned, result.matched, result.per_day, result.terms
    scanned_per_site, per_site, stories, site_stories = (
        result.scanned_per_site,
        result.per_site,
        result.stories,
        result.site_stories,
    )
    matched = [(found.row, found.hits, found.terms) for found in result.articles]
    span = "in the whole archive" if whole else f"from the last {days} days"
    sites = sorted(set(scanned_per_site) | set(per_site))
    if output_format == "json":
        emit_json(
            {
                "query": query,
                "days": None if whole else days,
                "scanned": scanned,
                "matched": total,
                "stories": len(stories),
                "per_site": {
                    site: {
                        "scanned": scanned_per_site.get(site, 0),
                        "matched": per_site[site],
                        "stories": len(site_stories.get(site, ())),
                    }
                    for site in sites
                },
                "per_day": dict(sorted(per_day.items())),
                "terms": dict(terms.most_common()),
                "articles": [
                    {
                        "site": row.site,
                        "external_id": row.external_id,
                        "published_at": row.published_at,
                        "title": row.title,
                        "url": row.url,
                        "story_id": row.story_id,
                        "terms": carried,
                        "hits": [hit.to_dict() for hit in hits],
                    }
                    for row, hits, carried in matched
                ],
            }
        )
        return
    click.echo(
        f"{total} of {scanned} articles {span} match {query!r}"
        + (f" ({len(stories)} stories)" if len(stories) != total else "")
    )
    if not scanned:
        click.echo("the archive has no articles from that period: run `bantin crawl` (or `--since` to back-fill)")
        return
    from reports.outlets import outlet

    click.echo("\nper outlet:")
    rows = [
        {
            "outlet": outlet(site).short_name,
            "site": site,
            "matched": per_site[site],
            "scanned": scanned_per_site.get(site, 0),
            "stories": len(site_stories.get(site, ())),
        }
        for site in sites
    ]
    click.echo(table(rows, ["outlet", "site", "matched", "scanned", "stories"]))
    if per_day:
        width = max(per_day.values())
        click.echo("\nper day:")
        for day in sorted(per_day):
            click.echo(f"  {day}  {'█' * max(1, round(per_day[day] * 30 / width))} {per_day[day]}")
        click.echo("\nterms that carried the matches:")
        for term, count in terms.most_common():
            click.echo(f"  {count:4d}  {term}")
        click.echo("\narticles:")
        for row, hits, _ in matched:
            click.echo(
                f"  {local_time(row.published_at)}  [{outlet(row.site).short_name}] {_title_with_hits(row.title, hits)}"
            )
            if not any(hit.field == "title" for hit in hits):
                first = next((hit for hit in hits if not hit.negated), None)
                if first is not None:
                    click.echo(f"        {first.field}: {_highlight(first)}")
        if total > limit:
            click.echo(f"  ... and {total - limit} more")


def _title_with_hits(title: str, hits) -> str:
    spans = sorted((hit.start, hit.end) for hit in hits if hit.field == "title" and not hit.negated)
    out, position = [], 0
    for start, end in spans:
        if start < position:
            continue
        out += [title[position:start], _marked(title[start:end])]
        position = end
    out.append(title[position:])
    return "".join(out)


@topics.command("rematch")
@click.option("--topic", "names", multiple=True, help="Only this topic (repeatable; default: all).")
@pass_app
def rematch_topics(app: App, names: tuple[str, ...]) -> None:
    """Match the whole archive again against the configured topics."""
    from crawler.topics import TopicSet, rematch, sync_topics

    now = utcnow()
    topic_set = TopicSet.from_config(app.config.topics)
    if names:
        topic_set = topic_set.subset(app.resolve_topic(name) for name in names)
    if not topic_set.specs:
        raise UsageError("no topics configured: add [[topics]] to the configuration")
    with app.database.session() as session:
        sync_topics(session, TopicSet.from_config(app.config.topics), now=now)
    counts = rematch(app.database, topic_set, now=now)
    for name, count in counts.items():
        click.echo(f"{name}: {count} matching article(s)")
