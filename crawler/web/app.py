"""The ASGI app: Starlette used thinly, server-rendered Jinja, no JavaScript.

Handlers are plain synchronous functions ``(web, request, form) -> Response``
run in Starlette's thread pool, each with its own short database sessions (an
admin page's reads, its revocation check first, share one: ``WebApp.reading``).
Every unsafe method passes the cross-site check (Sec-Fetch-Site, else Origin)
before routing, except the RFC 8058 one-click POST; admin handlers also need a
session (or a trusted proxy's header) and, for unsafe methods, the form token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

from anyio import CapacityLimiter, to_thread
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from crawler.clock import utcnow
from crawler.config import Config
from crawler.store import Database
from crawler.store.revocations import session_revoked
from crawler.web.feeds import FeedCache
from crawler.web.i18n import LANGUAGES, translator
from crawler.web.security import (
    MAX_BODY_BYTES,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    UNSAFE_METHODS,
    AdminSession,
    RateLimiter,
    WebSettings,
    cross_site,
    csrf_token,
    csrf_valid,
    peer_in,
    read_session,
)

LANG_COOKIE = "bantin_lang"
# How much of an SQLite archive the web app's connections read through a memory map instead of
# copying each page in by a system call (a search reads the index's long lists of common
# syllables): the index look-up of a rare phrase 5.0 -> 2.2 ms, of a common one 2.9 -> 2.1 ms.
SQLITE_MMAP_BYTES = 1 << 30
# The one unsafe request that may come from anywhere (RFC 8058: a mail client posts it).
ONE_CLICK_PREFIX = "/u/"
# Per client and minute, for all worker processes together (at most one per worker when there are more).
LOGIN_ATTEMPTS = 5
READER_POSTS = 30
TIMED_PREFIXES = ("/admin", "/feeds/topic/", "/healthz", "/readyz", "/metrics")

Handler = Callable[["WebApp", Request, "Form | None"], Response]


def _map_reads(dbapi_connection, record, _proxy) -> None:
    # On checkout, once per connection: the pool also holds connections opened before the app (migrations).
    if not record.info.get("bantin_mmap"):
        dbapi_connection.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        record.info["bantin_mmap"] = True


class Form:
    """A parsed form body: first value or every value of a field, as strings."""

    def __init__(self, data: FormData | None = None):
        self._items: list[tuple[str, str]] = [
            (key, value) for key, value in (data.multi_items() if data is not None else []) if isinstance(value, str)
        ]

    def get(self, key: str, default: str = "") -> str:
        return next((value for name, value in self._items if name == key), default)

    def getlist(self, key: str) -> list[str]:
        return [value for name, value in self._items if name == key]

    def __contains__(self, key: str) -> bool:
        return any(name == key for name, _ in self._items)


@dataclass
class WebApp:
    """What every handler shares: the config, the database, the secrets, the clocks, the limits."""

    config: Config
    database: Database
    settings: WebSettings
    # Outlet names by site id (from the site registry, given by the composition root).
    outlets: dict[str, str]
    # The sources every crawl of a site reads (the site registry's, given by the composition root too).
    everyday_sources: Callable[[str], Sequence[str]]
    clock: Callable[[], datetime] = utcnow
    monotonic: Callable[[], float] = time.monotonic
    # Worker processes serving this app (`bantin web --workers`): each holds its own share of the
    # limits, so that all of them together allow no more than one process would.
    workers: int = 1
    login_limit: RateLimiter = field(init=False)
    reader_limit: RateLimiter = field(init=False)
    templates: Environment = field(init=False)
    feeds: FeedCache = field(init=False)

    def __post_init__(self) -> None:
        self.login_limit = RateLimiter(max(1, LOGIN_ATTEMPTS // self.workers), 60, self.monotonic)
        self.reader_limit = RateLimiter(max(1, READER_POSTS // self.workers), 60, self.monotonic)
        self.feeds = FeedCache()
        if self.database.dialect == "sqlite":
            event.listen(self.database.engine, "checkout", _map_reads)
        self.templates = Environment(
            loader=PackageLoader("crawler.web", "templates"),
            autoescape=select_autoescape(["html"], default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            # The templates ship with the package: checking their files on every render was ~15 % of a page.
            auto_reload=False,
        )
        self.templates.filters["marked"] = marked

    # -- who is asking ------------------------------------------------------------------------

    def peer(self, request: Request) -> str:
        """The client's address: the socket peer, or what a trusted proxy says it forwarded for."""
        peer = request.client.host if request.client else ""
        if peer_in(peer, self.settings.trusted_proxies):
            forwarded = request.headers.get("x-forwarded-for", "")
            if forwarded:
                return forwarded.split(",")[-1].strip()
        return peer

    def admin(self, request: Request, *, revoked_too: bool = False) -> str | None:
        """Who the admin is (what their form tokens are bound to), or None for an anonymous request.

        A session ended by a logout is anonymous, unless `revoked_too` (logging out again).
        """
        settings = self.settings
        if settings.proxy_header:
            peer = request.client.host if request.client else ""
            user = request.headers.get(settings.proxy_header, "").strip()
            if user and peer_in(peer, settings.trusted_proxies):
                return f"proxy:{user}"
        if settings.admin_hash is not None:
            session = self.session(request)
            if session is not None and (revoked_too or not self._revoked(request, session)):
                return f"session:{session.sid}"
        return None

    def session(self, request: Request) -> AdminSession | None:
        """The request's validly signed, unexpired admin session, whether or not it was revoked since."""
        # Checked once per request: a handler asks who the admin is again to render its page.
        state: dict[str, Any] = request.scope.setdefault("state", {})
        if "bantin_session" not in state:
            state["bantin_session"] = read_session(self.settings, request.cookies.get(SESSION_COOKIE), now=self.clock)
        return state["bantin_session"]

    def _revoked(self, request: Request, session: AdminSession) -> bool:
        # A handler asks who the admin is again to render its page: one query per request, not per question.
        known: dict[str, bool] = request.scope.setdefault("state", {}).setdefault("bantin_revoked", {})
        if session.sid not in known:
            with self.reading(request) as db:
                known[session.sid] = session_revoked(db, session.sid)
        return known[session.sid]

    @contextmanager
    def reading(self, request: Request) -> Iterator[Session]:
        """A read-only transaction: the one an admin page's reads share, else one of its own.

        One transaction per page instead of one for the revocation check and one for the page
        (each a connection checkout, a BEGIN and an end): a tenth of an archive page's time.
        """
        shared: _SharedReads | None = request.scope.get("state", {}).get(_SHARED_READS)
        if shared is None:
            with self.database.session(write=False) as session:
                yield session
        else:
            yield shared.session()

    def language(self, request: Request) -> str:
        asked = request.query_params.get("lang")
        if asked in LANGUAGES:
            return asked
        cookie = request.cookies.get(LANG_COOKIE)
        if cookie in LANGUAGES:
            return cookie
        return self.config.digest.language

    def base_url(self, request: Request) -> str:
        return self.settings.public_url or str(request.base_url).rstrip("/")

    def own_origins(self, request: Request) -> set[str]:
        origins = {str(request.base_url).rstrip("/")}
        if self.settings.public_url:
            from urllib.parse import urlsplit

            parts = urlsplit(self.settings.public_url)
            origins.add(f"{parts.scheme}://{parts.netloc}")
        return origins

    # -- answers ------------------------------------------------------------------------------

    def page(
        self,
        request: Request,
        template: str,
        *,
        status: int = 200,
        language: str | None = None,
        admin: str | None = None,
        **data: Any,
    ) -> HTMLResponse:
        language = language or self.language(request)
        other = "en" if language == "vi" else "vi"
        context = {
            "t": translator(language),
            "lang": language,
            "other_lang": other,
            # The same page in the other language: a search or a back-test keeps its query.
            "lang_href": "?"
            + urlencode([*((k, v) for k, v in request.query_params.multi_items() if k != "lang"), ("lang", other)]),
            "path": request.url.path,
            "admin": admin is not None,
            "csrf": csrf_token(self.settings, admin) if admin else "",
            **data,
        }
        response = HTMLResponse(self.templates.get_template(template).render(context), status_code=status)
        response.headers["cache-control"] = "no-store"
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE,
                language,
                max_age=365 * 86400,
                path="/",
                secure=self.settings.secure_cookies,
                httponly=True,
                samesite="lax",
            )
        return response

    def message(
        self, request: Request, key: str, *, status: int, language: str | None = None, admin: str | None = None
    ) -> HTMLResponse:
        """A page with one sentence; it never echoes anything the request carried."""
        return self.page(request, "message.html", status=status, language=language, admin=admin, message_key=key)


def marked(parts: Iterable[tuple[str, bool]]) -> Markup:
    """Text cut into (text, is a hit) parts (see admin._segments) as markup: every part escaped, the hits in <mark>.

    A filter, not a macro: a page highlights a few hundred parts, and a macro call costs more than its markup.
    """
    return Markup("".join(f"<mark>{escape(text)}</mark>" if hit else escape(text) for text, hit in parts))


# Searches (a request with a query, `q`) this process runs at once; more wait their turn on the event loop.
# A search costs several times a page's or a feed's CPU, and threads share one interpreter: twenty
# clients' searches, all running, left every page and feed waiting on them (page p95 ~80 ms against ~35 ms
# with two at a time, on the 100,000-article benchmark; the searches themselves no slower).
SEARCHES_AT_ONCE = 2


def view(handler: Handler, *, admin: bool = False, revoked_too: bool = False, searching: bool = False) -> Callable:
    """An endpoint running `handler` in the thread pool, with its form read (size-capped) when unsafe.

    An admin handler runs only for an admin (a live session, or the trusted proxy's header) and, for
    an unsafe method, with their form token; `revoked_too` also lets a revoked session's holder in.
    `searching`: a request with a query runs as one of the process's `SEARCHES_AT_ONCE`.
    """

    async def endpoint(request: Request) -> Response:
        web: WebApp = request.app.state.web
        form = None
        if request.method in UNSAFE_METHODS:
            try:
                declared = int(request.headers.get("content-length") or 0)
            except ValueError:
                declared = MAX_BODY_BYTES + 1
            if declared > MAX_BODY_BYTES:
                return web.message(request, "too_large", status=413)
            form = await _read_form(request)
            if form is None:
                return web.message(request, "too_large", status=413)
        limiter = _search_slots(request) if searching and request.query_params.get("q", "").strip() else None
        if admin:
            # Whether a session was revoked is a database read: not on the event loop.
            return await to_thread.run_sync(
                partial(_as_admin, handler, web, request, form, revoked_too), limiter=limiter
            )
        return await to_thread.run_sync(partial(handler, web, request, form), limiter=limiter)

    endpoint.__name__ = handler.__name__
    endpoint.bantin_admin = admin  # type: ignore[attr-defined]
    return endpoint


def _search_slots(request: Request) -> CapacityLimiter:
    """The app's limiter of searches, made on first use: a limiter belongs to the event loop it is made in."""
    state = request.app.state
    slots = getattr(state, "search_slots", None)
    if slots is None:
        slots = state.search_slots = CapacityLimiter(SEARCHES_AT_ONCE)
    return slots


_SHARED_READS = "bantin_reads"


class _SharedReads:
    """The read-only transaction of one admin page, begun when it is first needed (an anonymous
    request, refused on its cookie alone, begins none) and ended when the page has been made."""

    def __init__(self, database: Database):
        self._database = database
        self._stack = ExitStack()
        self._session: Session | None = None

    def session(self) -> Session:
        if self._session is None:
            self._session = self._stack.enter_context(self._database.session(write=False))
        return self._session

    def __enter__(self) -> _SharedReads:
        return self

    def __exit__(self, *exc_info) -> None:
        self._stack.__exit__(*exc_info)


def _as_admin(handler: Handler, web: WebApp, request: Request, form: Form | None, revoked_too: bool) -> Response:
    if request.method not in ("GET", "HEAD"):
        # What a form changes is written in transactions of its own: the page it answers with must
        # read after them, not from a snapshot taken at its revocation check.
        return _admitted(handler, web, request, form, revoked_too)
    state: dict[str, Any] = request.scope.setdefault("state", {})
    with _SharedReads(web.database) as shared:
        state[_SHARED_READS] = shared
        try:
            return _admitted(handler, web, request, form, revoked_too)
        finally:
            del state[_SHARED_READS]


def _admitted(handler: Handler, web: WebApp, request: Request, form: Form | None, revoked_too: bool) -> Response:
    who = web.admin(request, revoked_too=revoked_too)
    if who is None:
        if request.method in ("GET", "HEAD"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return web.message(request, "forbidden", status=403)
    if form is not None and not csrf_valid(web.settings, who, form.get("csrf")):
        return web.message(request, "forbidden", status=403, admin=who)
    return handler(web, request, form)


async def _read_form(request: Request) -> Form | None:
    """The body as a form (urlencoded or multipart); an empty or unparsable body is an empty form."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    request._body = body  # the parsed form below reads from the cached body
    content_type = request.headers.get("content-type", "")
    if not body or not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return Form()
    try:
        return Form(await request.form(max_files=0, max_fields=200, max_part_size=MAX_BODY_BYTES))
    except Exception:  # noqa: BLE001 - a malformed body is the client's problem: treat it as empty
        return Form()


_SECURITY_HEADERS = [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]


class Guard:
    """Security headers on every answer; cross-site unsafe requests refused before routing."""

    def __init__(self, app: ASGIApp, web: WebApp):
        self.app = app
        self.web = web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        method, path = scope["method"], scope["path"]
        # The server's own time, for the benchmark and operators; never on a reader's or the login's
        # pages, where it would tell a valid token or password from a forged one.
        timed = path.startswith(TIMED_PREFIXES)

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in _SECURITY_HEADERS if name not in present]
                if timed:
                    elapsed = (time.perf_counter() - started) * 1000
                    headers.append((b"server-timing", f"app;dur={elapsed:.1f}".encode()))
                message["headers"] = headers
            await send(message)

        # Only an unsafe method can be refused as cross-site: a GET builds no request to ask.
        if method in UNSAFE_METHODS and not (method == "POST" and path.startswith(ONE_CLICK_PREFIX)):
            request = Request(scope)
            if cross_site(method, request.headers, self.web.own_origins(request)):
                response = self.web.message(request, "forbidden", status=403)
                await response(scope, receive, with_headers)
                return
        await self.app(scope, receive, with_headers)


def create_app(web: WebApp) -> Starlette:
    from crawler.web import admin, public

    routes = [
        Route("/", lambda request: RedirectResponse("/admin", status_code=303), methods=["GET"]),
        Route("/healthz", view(public.healthz), methods=["GET"]),
        Route("/readyz", view(public.readyz), methods=["GET"]),
        Route("/metrics", view(public.metrics), methods=["GET"]),
        Route("/login", view(admin.login_form), methods=["GET"]),
        Route("/login", view(admin.login), methods=["POST"]),
        # Logging out again with the same page's form (a double click, a second tab) answers as the first
        # time did: the signed session and its form token still have to be valid.
        Route("/logout", view(admin.logout, admin=True, revoked_too=True), methods=["POST"]),
        Route("/admin", view(admin.status, admin=True), methods=["GET"]),
        Route("/admin/articles", view(admin.articles, admin=True, searching=True), methods=["GET"]),
        Route("/admin/articles/{article_id:int}", view(admin.article, admin=True), methods=["GET"]),
        Route("/admin/topics", view(admin.topics, admin=True, searching=True), methods=["GET"]),
        Route("/admin/readers", view(admin.readers, admin=True), methods=["GET"]),
        Route("/admin/readers/resend", view(admin.resend, admin=True), methods=["POST"]),
        Route("/r/{token}", view(public.preferences_form), methods=["GET"]),
        Route("/r/{token}", view(public.save_preferences), methods=["POST"]),
        Route("/u/{token}", view(public.unsubscribe_form), methods=["GET"]),
        Route("/u/{token}", view(public.one_click_unsubscribe), methods=["POST"]),
        Route("/feeds/topic/{key}.atom", view(public.topic_atom), methods=["GET"]),
        Route("/feeds/topic/{key}.json", view(public.topic_json), methods=["GET"]),
        Route("/feeds/reader/{token}.atom", view(public.reader_atom), methods=["GET"]),
        Route("/feeds/reader/{token}.json", view(public.reader_json), methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(resources.files("crawler.web") / "static")), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_allowed})
    # One spelling per page: /admin/ is not /admin (no redirect that a path trick could ride on).
    app.router.redirect_slashes = False
    app.state.web = web
    app.add_middleware(Guard, web=web)
    return app


async def _not_found(request: Request, exc: Exception) -> Response:
    return request.app.state.web.message(request, "not_found", status=404)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("method not allowed", status_code=405)
