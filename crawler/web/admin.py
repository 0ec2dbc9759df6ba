"""The team's pages, behind login: status, archive and search, an article, topics and back-test, readers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import bindparam, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crawler.errors import BantinError, QueryError
from crawler.matching import ArticleFields, Hit, QueryMatcher, TopicSpec
from crawler.store.models import ArticleRow, ArticleSource, Match
from crawler.store.revocations import revoke_session
from crawler.web.app import Form, WebApp
from crawler.web.security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    cookie_options,
    csrf_token,
    csrf_valid,
    new_session,
    password_matches,
    safe_next,
)
from reports.digest import safe_url

PAGE_SIZE = 50
# What a list shows besides the id and time: the bodies (most of a row's bytes) stay in the database.
LISTED_COLUMNS = (ArticleRow.site, ArticleRow.title, ArticleRow.url, ArticleRow.sapo)
# What a search result adds to the matched columns (id, title, sapo, ...) to be listed.
SEARCH_COLUMNS = (ArticleRow.site, ArticleRow.url, ArticleRow.published_at)
BACKTEST_TITLES = 50
BACKTEST_MAX_DAYS = 3660


# -- login ------------------------------------------------------------------------------------


def _login_page(web: WebApp, request: Request, *, nonce: str, next_path: str, error: str | None, status: int = 200):
    response = web.page(
        request,
        "login.html",
        status=status,
        form_token=csrf_token(web.settings, f"login:{nonce}"),
        next_path=next_path,
        error=error,
        password_login=web.settings.admin_hash is not None,
    )
    response.set_cookie(LOGIN_COOKIE, nonce, **cookie_options(web.settings, 3600))
    return response


def login_form(web: WebApp, request: Request, form: Form | None) -> Response:
    if web.admin(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(18)
    return _login_page(web, request, nonce=nonce, next_path=safe_next(request.query_params.get("next")), error=None)


def login(web: WebApp, request: Request, form: Form | None) -> Response:
    assert form is not None
    next_path = safe_next(form.get("next"))
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    fresh = secrets.token_urlsafe(18)
    if not nonce or not csrf_valid(web.settings, f"login:{nonce}", form.get("csrf")):
        return _login_page(web, request, nonce=fresh, next_path=next_path, error="forbidden", status=403)
    if not web.login_limit.allow(web.peer(request)):
        return _login_page(web, request, nonce=nonce, next_path=next_path, error="login_limited", status=429)
    if not password_matches(web.settings.admin_hash, form.get("password")):
        return _login_page(web, request, nonce=nonce, next_path=next_path, error="login_failed", status=401)
    cookie, _ = new_session(web.settings, now=web.clock)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, **cookie_options(web.settings, SESSION_SECONDS))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def logout(web: WebApp, request: Request, form: Form | None) -> Response:
    session = web.session(request)
    if session is not None:
        # The cookie is signed, not stored: deleting it here leaves any copy of it valid until it expires.
        with web.database.session() as db:
            revoke_session(db, session.sid, expires_at=session.expires_at, now=web.clock())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=web.settings.secure_cookies, httponly=True, samesite="strict"
    )
    return response


# -- status -----------------------------------------------------------------------------------


def status(web: WebApp, request: Request, form: Form | None) -> Response:
    from crawler.health import collect_status

    report = collect_status(web.config, web.database, now=web.clock(), everyday_sources=web.everyday_sources)
    for site in report["sites"]:
        site["name"] = web.outlets.get(site["site"], site["site"])
        site["warning_list"] = [w for w in report["warnings"] if w.get("site") == site["site"]]
    general = [w for w in report["warnings"] if "site" not in w]
    return web.page(request, "status.html", admin=web.admin(request), report=report, general_warnings=general)


# -- archive ----------------------------------------------------------------------------------


# A piece of highlighted text: (text, whether it is a hit). Escaping stays the template's job.
Part = tuple[str, bool]


@dataclass(frozen=True, slots=True)
class Snippet:
    field: str
    parts: list[Part]


@dataclass(frozen=True, slots=True)
class Listed:
    """One article of a list as the template shows it.

    Attributes, not a dict: Jinja looks an attribute up first, and a dict key costs it a failed
    lookup each time (ten per row, fifty rows a page).
    """

    id: int
    site: str
    outlet: str
    title: list[Part]
    url: str | None
    published: str
    sapo: str | None
    snippet: Snippet | None


def _segments(text: str, spans: list[tuple[int, int]]) -> list[Part]:
    """`text` cut into plain and highlighted parts."""
    parts: list[Part] = []
    position = 0
    for start, end in sorted(spans):
        if start < position or start >= end:
            continue
        if start > position:
            parts.append((text[position:start], False))
        parts.append((text[start:end], True))
        position = end
    if position < len(text):
        parts.append((text[position:], False))
    return parts


def _snippet(hit: Hit) -> list[Part]:
    before, found, after = hit.snippet_parts
    return [part for part in ((before, False), (found, True), (after, False)) if part[0]]


def _summary(web: WebApp, row, hits: list[Hit] | None = None) -> Listed:
    hits = [hit for hit in hits or [] if not hit.negated]
    title_spans = [(hit.start, hit.end) for hit in hits if hit.field == "title"]
    other = next((hit for hit in hits if hit.field != "title"), None)
    return Listed(
        id=row.id,
        site=row.site,
        outlet=web.outlets.get(row.site, row.site),
        title=_segments(row.title, title_spans),
        url=safe_url(row.url),
        published=_local(web, row.published_at),
        sapo=row.sapo,
        snippet=Snippet(other.field, _snippet(other)) if other else None,
    )


def _local(web: WebApp, moment) -> str:
    return moment.astimezone(web.config.schedule.tz).strftime("%d/%m/%Y %H:%M") if moment else "—"


def _matched(result) -> list[Hit] | None:
    return result.hits if result.matched else None


def articles(web: WebApp, request: Request, form: Form | None) -> Response:
    from crawler.query import parse_query
    from crawler.store.archive import matching_rows, newest_articles, place_of

    params = request.query_params
    query = params.get("q", "").strip()
    site = params.get("site", "")
    sites = [site] if site in web.outlets else None
    before = params.get("before", "")
    error = None
    rows: list = []
    more = False
    with web.reading(request) as session:
        # The keyset needs only the row's place in the order, not its body.
        after = place_of(session, int(before)) if before.isdigit() else None
        if query:
            try:
                matcher = QueryMatcher(query, "auto")
                tree = parse_query(query)
            except QueryError as exc:
                error = str(exc)
            else:
                found = matching_rows(
                    session,
                    tree,
                    # One scan per candidate: the verdict carries the hits the page highlights.
                    lambda row: _matched(matcher.explain(ArticleFields.from_article(row))),
                    # Plain rows of what a list shows: no second read of the matches as whole articles.
                    columns=SEARCH_COLUMNS,
                    sites=sites,
                    after=after,
                    # Most candidates match: each read need not be much more than a page (a page
                    # that falls a few short reads one more page of candidates, not twice as many).
                    first_batch=PAGE_SIZE + 14,
                    batch=PAGE_SIZE + 14,
                    limit=PAGE_SIZE + 1,
                )
                for row, hits in found:
                    if len(rows) == PAGE_SIZE:
                        more = True
                        break
                    rows.append(_summary(web, row, hits))
        else:
            page = newest_articles(session, sites=sites, after=after, limit=PAGE_SIZE + 1, columns=LISTED_COLUMNS)
            more = len(page) > PAGE_SIZE
            rows = [_summary(web, row) for row in page[:PAGE_SIZE]]
    next_params = {"q": query, "site": site, "before": rows[-1].id} if more and rows else None
    return web.page(
        request,
        "articles.html",
        admin=web.admin(request),
        query=query,
        site=site,
        error=error,
        rows=rows,
        next_params=next_params,
        outlets=sorted(web.outlets.items()),
    )


# Built once: building a statement and its cache key cost more than SQLite answering it.
_ARTICLE_SOURCES = (
    select(ArticleSource).where(ArticleSource.article_id == bindparam("article")).order_by(ArticleSource.first_seen_at)
)
_ARTICLE_MATCHES = select(Match).where(Match.article_id == bindparam("article")).order_by(Match.topic)


def article(web: WebApp, request: Request, form: Form | None) -> Response:
    article_id = request.path_params["article_id"]
    with web.reading(request) as session:
        row = session.get(ArticleRow, article_id)
        if row is None:
            return web.message(request, "not_found", status=404, admin=web.admin(request))
        sources = session.scalars(_ARTICLE_SOURCES, {"article": row.id}).all()
        matches = session.scalars(_ARTICLE_MATCHES, {"article": row.id}).all()
        data = {
            "title": row.title,
            "url": safe_url(row.url),
            "site": row.site,
            "outlet": web.outlets.get(row.site, row.site),
            "external_id": row.external_id,
            "published": _local(web, row.published_at),
            "changed": _local(web, row.changed_at),
            "version": row.version,
            "author": row.author,
            "sapo": row.sapo,
            "body": row.body.split("\n"),
            "category": list(row.category or []),
            "tags": list(row.tags or []),
            "extractor": row.extractor,
        }
        source_rows = [
            {"source": s.source, "first_seen": _local(web, s.first_seen_at), "last_seen": _local(web, s.last_seen_at)}
            for s in sources
        ]
        match_rows = [
            {
                "topic": m.topic,
                "matched_at": _local(web, m.matched_at),
                "hits": [
                    {"term": h.term, "field": h.field, "negated": h.negated, "parts": _snippet(h)} for h in m.hits
                ],
            }
            for m in matches
        ]
    return web.page(request, "article.html", admin=web.admin(request), a=data, sources=source_rows, matches=match_rows)


# -- topics -----------------------------------------------------------------------------------


def topics(web: WebApp, request: Request, form: Form | None) -> Response:
    from crawler.backtest import backtest
    from crawler.store.archive import matches_per_topic, stored_topics
    from crawler.web.public import topic_feed_key

    params = request.query_params
    query = params.get("q", "").strip()
    whole = params.get("all") == "1"
    try:
        days = min(max(int(params.get("days", "30")), 1), BACKTEST_MAX_DAYS)
    except ValueError:
        days = 30
    base = web.base_url(request)
    result = error = None
    with web.reading(request) as session:
        stored = stored_topics(session)
        counts = matches_per_topic(session)
        if query:
            since = None if whole else web.clock() - timedelta(days=days)
            try:
                found = backtest(session, query, since=since, limit=BACKTEST_TITLES, zone=web.config.schedule.tz)
            except QueryError as exc:
                error = str(exc)
            else:
                widest = max(found.per_day.values(), default=1)
                result = {
                    "scanned": found.scanned,
                    "matched": found.matched,
                    "per_day": [
                        {"day": day, "count": count, "width": max(1, round(count * 100 / widest))}
                        for day, count in sorted(found.per_day.items())
                    ],
                    "terms": found.terms.most_common(),
                    "articles": [_summary(web, item.row, item.hits) for item in found.articles],
                    "more": max(0, found.matched - len(found.articles)),
                }
    rows = []
    for topic in web.config.topics:
        row = stored.get(topic.name)
        version = TopicSpec(topic.name, topic.query, topic.accents).version
        key = topic_feed_key(web, topic.name)
        rows.append(
            {
                "name": topic.name,
                "query": topic.query,
                "matches": counts.get(topic.name, 0),
                "current": row is not None and row.matched_version == version,
                "atom": f"{base}/feeds/topic/{key}.atom",
                "json": f"{base}/feeds/topic/{key}.json",
            }
        )
    return web.page(
        request,
        "topics.html",
        admin=web.admin(request),
        topics=rows,
        query=query,
        days=days,
        whole=whole,
        result=result,
        error=error,
    )


# -- readers and digests ----------------------------------------------------------------------


def _readers_page(web: WebApp, request: Request, *, notice: str | None = None, status: int = 200) -> Response:
    from crawler.readers import effective_readers
    from crawler.store.models import OutboxMessage

    with web.reading(request) as session:
        readers = [
            {"email": r.email, "name": r.recipient.name, "state": r.state, "topics": list(r.topics), "source": r.source}
            for r in effective_readers(web.config, session)
        ]
        outbox = [
            {
                "id": m.id,
                "recipient": m.recipient,
                "date": m.digest_date.isoformat(),
                "kind": m.kind,
                "status": m.status,
                "attempts": m.attempts,
                "subject": m.subject,
                "error": m.last_error,
                "sent": _local(web, m.sent_at),
                "next": _local(web, m.next_attempt_at),
            }
            for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(100))
        ]
    return web.page(
        request, "readers.html", status=status, admin=web.admin(request), readers=readers, outbox=outbox, notice=notice
    )


def readers(web: WebApp, request: Request, form: Form | None) -> Response:
    return _readers_page(web, request)


def resend(web: WebApp, request: Request, form: Form | None) -> Response:
    """Send a past digest again (the `digest --resend` engine): a new message with the same content."""
    assert form is not None
    try:
        day = date.fromisoformat(form.get("date"))
    except ValueError:
        return _readers_page(web, request, notice="bad date", status=400)
    from reports.delivery import resend_digest

    recipient = form.get("recipient")
    try:
        run = resend_digest(web.config, web.database, day, recipient, now=web.clock())
    except BantinError as exc:
        return _readers_page(web, request, notice=str(exc), status=400)
    outcome = ", ".join(f"{r.email}: {r.status}{' — ' + r.error if r.error else ''}" for r in run.results) or "—"
    return _readers_page(web, request, notice=outcome)
