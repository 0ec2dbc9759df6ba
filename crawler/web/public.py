"""What needs no login: health, metrics, the readers' pages (by signed token) and the feeds (by key)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from crawler.config import topic_key
from crawler.readers import effective_reader, offered_topics, unsubscribe
from crawler.readers import save_preferences as store_preferences
from crawler.tokens import make_key, make_token, normalise_address, reader_for_token, subject_for_key
from crawler.web.app import Form, WebApp
from crawler.web.feeds import FeedMeta, atom_feed, feed_entries, feed_etag, feed_stamp, json_feed
from crawler.web.i18n import LANGUAGES
from crawler.web.security import csrf_token, csrf_valid, peer_in

ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_FEED_TYPE = "application/feed+json; charset=utf-8"


# -- health -----------------------------------------------------------------------------------


def healthz(web: WebApp, request: Request, form: Form | None) -> Response:
    return PlainTextResponse("ok\n", headers={"cache-control": "no-store"})


def readyz(web: WebApp, request: Request, form: Form | None) -> Response:
    try:
        with web.database.session(write=False) as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return PlainTextResponse("database unavailable\n", status_code=503, headers={"cache-control": "no-store"})
    return PlainTextResponse("ready\n", headers={"cache-control": "no-store"})


def metrics(web: WebApp, request: Request, form: Form | None) -> Response:
    from crawler.web.metrics import exposition

    if web.admin(request) is None and not peer_in(
        request.client.host if request.client else None, web.settings.metrics_networks
    ):
        return web.message(request, "forbidden", status=403)
    body, content_type = exposition(web.database, now=web.clock())
    return Response(body, media_type=content_type, headers={"cache-control": "no-store"})


# -- readers ----------------------------------------------------------------------------------


def _reader(web: WebApp, purpose: str, token: str) -> str | None:
    return reader_for_token(web.settings.secret, purpose, token, [r.email for r in web.config.recipients])


def _reader_language(web: WebApp, email: str, request: Request | None = None) -> str:
    """The language the reader asked for on the page (?lang=), else the one their digest is in."""
    if request is not None and request.query_params.get("lang") in LANGUAGES:
        return request.query_params["lang"]
    recipient = next(r for r in web.config.recipients if normalise_address(r.email) == normalise_address(email))
    return recipient.language or web.config.digest.language


def _preferences_page(web: WebApp, request: Request, token: str, email: str, *, saved: bool, status: int = 200):
    with web.database.session(write=False) as session:
        reader = effective_reader(web.config, session, email)
    chosen = {topic_key(name) for name in reader.topics}
    feed = make_token(web.settings.secret, "feed", email)
    base = web.base_url(request)
    return web.page(
        request,
        "preferences.html",
        status=status,
        language=_reader_language(web, email, request),
        topics=[{"name": name, "checked": topic_key(name) in chosen} for name in offered_topics(web.config)],
        paused=reader.state == "paused",
        subscribed=reader.state != "unsubscribed",
        saved=saved,
        form_token=csrf_token(web.settings, f"reader:{token}"),
        feeds={"atom": f"{base}/feeds/reader/{feed}.atom", "json": f"{base}/feeds/reader/{feed}.json"},
    )


def preferences_form(web: WebApp, request: Request, form: Form | None) -> Response:
    token = request.path_params["token"]
    email = _reader(web, "prefs", token)
    if email is None:
        return web.message(request, "invalid_link", status=404)
    return _preferences_page(web, request, token, email, saved=False)


def save_preferences(web: WebApp, request: Request, form: Form | None) -> Response:
    assert form is not None
    token = request.path_params["token"]
    if not web.reader_limit.allow(f"prefs:{web.peer(request)}"):
        return web.message(request, "login_limited", status=429)
    email = _reader(web, "prefs", token)
    if email is None:
        return web.message(request, "invalid_link", status=404)
    if not csrf_valid(web.settings, f"reader:{token}", form.get("csrf")):
        return web.message(request, "forbidden", status=403, language=_reader_language(web, email, request))
    try:
        _with_retry(
            web,
            lambda session: store_preferences(
                session,
                web.config,
                email,
                topics=form.getlist("topic"),
                paused="paused" in form,
                subscribed="subscribed" in form,
                now=web.clock(),
                via="preferences",
            ),
        )
    except ValueError:
        return web.message(request, "forbidden", status=400, language=_reader_language(web, email, request))
    return _preferences_page(web, request, token, email, saved=True)


def _with_retry(web: WebApp, change) -> None:
    """Run `change` in a writing session; once more if a concurrent first write of the same reader won."""
    try:
        with web.database.session() as session:
            change(session)
    except IntegrityError:
        with web.database.session() as session:
            change(session)


def unsubscribe_form(web: WebApp, request: Request, form: Form | None) -> Response:
    # Mail scanners follow links: a GET only shows the button, whatever the token.
    return web.page(request, "unsubscribe.html", done=False)


def one_click_unsubscribe(web: WebApp, request: Request, form: Form | None) -> Response:
    """RFC 8058: idempotent, 200, no redirect; a forged or unknown token gets the very same answer.

    Never rate-limited: a mail provider posts every one of its users' one-click requests from a few
    addresses and does not retry a refusal, and a forged token changes nothing anyway.
    """
    email = _reader(web, "unsubscribe", request.path_params["token"])
    if email is not None:
        _with_retry(web, lambda session: unsubscribe(session, email, now=web.clock(), via="one-click"))
    return web.page(request, "unsubscribe.html", done=True)


# -- feeds ------------------------------------------------------------------------------------


def topic_feed_key(web: WebApp, name: str) -> str:
    return make_key(web.settings.secret, "topic-feed", topic_key(name))


def _topic_for_key(web: WebApp, key: str) -> str | None:
    return subject_for_key(
        web.settings.secret, "topic-feed", key, {topic.name: topic_key(topic.name) for topic in web.config.topics}
    )


def topic_atom(web: WebApp, request: Request, form: Form | None) -> Response:
    return _topic_feed(web, request, "atom")


def topic_json(web: WebApp, request: Request, form: Form | None) -> Response:
    return _topic_feed(web, request, "json")


def reader_atom(web: WebApp, request: Request, form: Form | None) -> Response:
    return _reader_feed(web, request, "atom")


def reader_json(web: WebApp, request: Request, form: Form | None) -> Response:
    return _reader_feed(web, request, "json")


def _topic_feed(web: WebApp, request: Request, fmt: str) -> Response:
    key = request.path_params["key"]
    name = _topic_for_key(web, key)
    if name is None:
        return PlainTextResponse("no such feed\n", status_code=404)
    path = f"/feeds/topic/{key}.{fmt}"
    return _feed(web, request, fmt, [name], title=f"bantin — {name}", path=path, language=web.config.digest.language)


def _reader_feed(web: WebApp, request: Request, fmt: str) -> Response:
    token = request.path_params["token"]
    email = _reader(web, "feed", token)
    if email is None:
        return PlainTextResponse("no such feed\n", status_code=404)
    with web.database.session(write=False) as session:
        reader = effective_reader(web.config, session, email)
    language = _reader_language(web, email)
    title = "bantin — " + ", ".join(reader.topics)
    return _feed(
        web, request, fmt, list(reader.topics), title=title, path=f"/feeds/reader/{token}.{fmt}", language=language
    )


def _feed(
    web: WebApp, request: Request, fmt: str, topics: list[str], *, title: str, path: str, language: str
) -> Response:
    with web.database.session(write=False) as session:
        stamp, newest = feed_stamp(session, topics)
        tag = feed_etag(fmt, language, title, topics, stamp)
        modified = newest or datetime(1970, 1, 1, tzinfo=UTC)
        headers = {
            "etag": tag,
            "last-modified": format_datetime(modified.astimezone(UTC), usegmt=True),
            "cache-control": "private, no-cache",
        }
        if _not_modified(request, tag, modified):
            return Response(status_code=304, headers=headers)
        media_type = ATOM_TYPE if fmt == "atom" else JSON_FEED_TYPE
        body = web.feeds.get(path, tag)
        if body is not None:
            return Response(body, media_type=media_type, headers=headers)
        entries = feed_entries(session, topics, web.outlets)
    base = web.base_url(request)
    meta = FeedMeta(title=title, self_url=base + path, home_url=base + "/", language=language)
    zone = web.config.schedule.tz
    body = atom_feed(entries, meta, zone) if fmt == "atom" else json_feed(entries, meta, zone)
    web.feeds.put(path, tag, body)
    return Response(body, media_type=media_type, headers=headers)


def _not_modified(request: Request, tag: str, modified: datetime) -> bool:
    given = request.headers.get("if-none-match")
    if given is not None:
        return tag in {value.strip().removeprefix("W/") for value in given.split(",")} or given.strip() == "*"
    since = request.headers.get("if-modified-since")
    if since:
        try:
            moment = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return modified.replace(microsecond=0) <= moment
    return False
