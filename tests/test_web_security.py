"""Each security promise of the web app as a test: admin auth on every route, CSRF, login, cookies, CSP, XSS, tokens."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select
from starlette.routing import Route
from starlette.testclient import TestClient

from crawler.config import topic_key
from crawler.store.models import Base, RevokedSession
from crawler.store.revocations import PRUNE_AFTER
from crawler.tokens import make_key, make_token
from crawler.web import create_app
from crawler.web.security import SESSION_COOKIE, SESSION_SECONDS, read_session, safe_next
from tests.digest_support import NOW, PUBLIC_URL, SECRET, SECRET_ENV, hit, standard_archive
from tests.web_support import ADMIN_HASH_ENV, SAME_ORIGIN, WEB, form_token, make_site, web_config

AN, BINH = "an@example.org", "binh@example.org"
HOSTILE_TOPIC = "<script>alert('topic')</script>"


@pytest.fixture
def site(database):
    standard_archive(database)
    return make_site(database)


def counts(database) -> dict[str, int]:
    with database.session() as session:
        return {
            name: session.scalar(select(func.count()).select_from(table))
            for name, table in Base.metadata.tables.items()
        }


def routes(site):
    return [route for route in site.client.app.routes if isinstance(route, Route)]


def concrete(path: str) -> str:
    """A route's path with its parameters filled in with valid values, so that only auth can refuse it."""
    return (
        path.replace("{article_id:int}", "1001")
        .replace("{token}", make_token(SECRET, "prefs", AN))
        .replace("{key}", make_key(SECRET, "topic-feed", topic_key("Quảng Ninh")))
    )


# Every route that needs no login, by method: each has its own guard (a signed token, a key, the
# metrics networks) or shows nothing private. A route missing here must be an admin route.
PUBLIC_ROUTES = {
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/r/{token}"),
    ("POST", "/r/{token}"),
    ("GET", "/u/{token}"),
    ("POST", "/u/{token}"),
    ("GET", "/feeds/topic/{key}.atom"),
    ("GET", "/feeds/topic/{key}.json"),
    ("GET", "/feeds/reader/{token}.atom"),
    ("GET", "/feeds/reader/{token}.json"),
}


def unguarded(app_routes) -> set[tuple[str, str]]:
    """(method, path) of every route not marked an admin route and not on the public list."""
    return {
        (method, route.path)
        for route in app_routes
        if not getattr(route.endpoint, "bantin_admin", False)
        # No method list: the route answers every method ("*"), so it is listed, not skipped.
        for method in (route.methods or {"*"}) - {"HEAD"}
    } - PUBLIC_ROUTES


def test_every_admin_route_refuses_an_anonymous_request(site):
    before = counts(site.database)
    admin_routes = [route for route in routes(site) if getattr(route.endpoint, "bantin_admin", False)]
    assert {route.path for route in admin_routes} >= {"/admin", "/admin/articles", "/admin/readers/resend", "/logout"}
    # A new route is an admin route unless it is deliberately listed public, wherever its path.
    assert unguarded(routes(site)) == set()
    for route in admin_routes:
        for method in sorted(route.methods or ()):
            response = site.client.request(
                method,
                concrete(route.path),
                headers=SAME_ORIGIN,
                follow_redirects=False,
                data={"csrf": "x", "recipient": AN, "date": "2025-03-27"} if method == "POST" else None,
            )
            if method in ("GET", "HEAD"):
                assert response.status_code == 303, (method, route.path)
                assert response.headers["location"].startswith("/login?next=")
            else:
                assert response.status_code == 403, (method, route.path)
    # Variants: a trailing slash or a path trick reaches no admin page either.
    for path in ("/admin/", "/admin/articles/", "/Admin", "/admin/articles/%2e%2e/readers", "/admin/../admin"):
        response = site.client.get(path, follow_redirects=False)
        assert response.status_code in (303, 404), path
        assert "an@example.org" not in response.text
    assert counts(site.database) == before


def test_a_new_route_without_the_admin_mark_is_caught():
    from starlette.endpoints import HTTPEndpoint

    from crawler.web.app import view
    from crawler.web.public import healthz

    class Export(HTTPEndpoint):
        """Its methods are whatever it defines: starlette lists none for the route."""

    added = [Route("/readers/export", view(healthz), methods=["GET"]), Route("/admin/x", view(healthz, admin=True))]
    assert unguarded(added) == {("GET", "/readers/export")}
    # A class endpoint's route has no method list: it is caught too, under every method.
    assert unguarded([Route("/readers/all", Export)]) == {("*", "/readers/all")}


def test_no_get_route_changes_anything(site):
    site.login()
    before = counts(site.database)
    for route in routes(site):
        if "GET" in (route.methods or ()):
            for token_purpose in ("prefs", "unsubscribe", "feed"):
                path = route.path.replace("{token}", make_token(SECRET, token_purpose, AN))
                site.client.get(concrete(path), follow_redirects=False)
    assert counts(site.database) == before


UNSAFE = [("/admin/readers/resend", True), ("/logout", True), ("/login", False), (None, False)]


@pytest.mark.parametrize(
    "origin,fetch_site",
    [
        ("https://evil.example", None),
        ("https://evil.example", "cross-site"),
        (None, "cross-site"),
        (None, "same-site"),
        ("null", None),
        (PUBLIC_URL + ".evil.example", None),
        ("https://evil.example", "same-site"),
    ],
)
@pytest.mark.parametrize("body", ["form", "json"])
def test_cross_site_unsafe_requests_are_refused_everywhere_but_one_click(site, origin, fetch_site, body):
    site.login()
    before = counts(site.database)
    headers = {key: value for key, value in (("origin", origin), ("sec-fetch-site", fetch_site)) if value}
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in (
            "/admin/readers/resend",
            "/logout",
            "/login",
            f"/r/{make_token(SECRET, 'prefs', AN)}",
            "/admin/topics",
        ):
            payload = {"csrf": "x", "topic": ["Quảng Ninh"]}
            response = site.client.request(
                method,
                path,
                headers=headers,
                follow_redirects=False,
                **({"data": payload} if body == "form" else {"json": payload}),
            )
            assert response.status_code == 403, (method, path)
    # Still logged in: the cross-site logout did nothing.
    assert site.client.get("/admin", follow_redirects=False).status_code == 200
    # RFC 8058: the one-click POST comes from the mail provider, cross-site, and still works.
    one_click = site.client.post(f"/u/{make_token(SECRET, 'unsubscribe', AN)}", headers=headers)
    assert one_click.status_code == 200
    after = counts(site.database)
    assert after["reader_preferences"] == before["reader_preferences"] + 1
    assert {k: v for k, v in after.items() if not k.startswith("reader_")} == {
        k: v for k, v in before.items() if not k.startswith("reader_")
    }


def test_a_same_origin_post_without_the_form_token_is_refused(site):
    site.login()
    for path, data in (
        ("/admin/readers/resend", {"recipient": AN, "date": "2025-03-27"}),
        ("/logout", {}),
        ("/login", {"password": "x"}),
    ):
        assert site.client.post(path, data=data, headers=SAME_ORIGIN, follow_redirects=False).status_code == 403
        token = form_token(site.client.get("/admin").text)
        # A token is bound to its session: another session's does not pass.
        other = make_site(site.database)
        other.login()
        assert (
            other.client.post(
                path, data={**data, "csrf": token}, headers=SAME_ORIGIN, follow_redirects=False
            ).status_code
            == 403
        )


def test_login_is_rate_limited_per_client_and_the_window_moves(site):
    answers = [site.login(password=f"wrong {n}").status_code for n in range(5)]
    assert answers == [401] * 5
    # The sixth attempt is refused even with the right password.
    assert site.login().status_code == 429
    site.clocks.advance(61)
    assert site.login().status_code == 303


def test_several_workers_together_allow_no_more_login_attempts_than_one_process(site):
    from dataclasses import replace

    for workers in (1, 2, 3, 5):
        shares = [replace(site.web, workers=workers) for _ in range(workers)]
        allowed = sum(web.login_limit.allow("203.0.113.9") for web in shares for _ in range(5))
        assert 1 <= allowed <= 5, workers
    assert replace(site.web, workers=2).login_limit.limit == 2


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "https:evil.example",
        "https://evil.example/",
        "%2F%2Fevil.example",
        "/%2F%2Fevil.example",
        "\t//evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "/%5Cevil.example",
        "http://bantin.example.org.evil/",
        "",
        "/\r\nSet-Cookie: x=1",
    ],
)
def test_login_never_redirects_off_the_site(site, target):
    response = site.login(next_path=target)
    assert response.status_code == 303 and response.headers["location"] == "/admin"


def test_login_keeps_a_local_next_path():
    assert safe_next("/admin/articles?q=CNHT&site=nhandan") == "/admin/articles?q=CNHT&site=nhandan"


def test_the_session_cookie_is_secure_httponly_strict_and_expires(site):
    response = site.login()
    cookie = next(
        value
        for name, value in response.headers.multi_items()
        if name == "set-cookie" and value.startswith(SESSION_COOKIE + "=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= flags
    assert f"max-age={SESSION_SECONDS}" in flags
    assert site.client.get("/admin", follow_redirects=False).status_code == 200
    site.clocks.advance(SESSION_SECONDS + 1)
    assert site.client.get("/admin", follow_redirects=False).status_code == 303


def test_a_tampered_session_cookie_or_one_from_an_old_secret_is_anonymous(site, database, monkeypatch):
    site.login()
    value = site.client.cookies[SESSION_COOKIE]
    site.client.cookies.clear()
    site.client.cookies.set(SESSION_COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert site.client.get("/admin", follow_redirects=False).status_code == 303
    site.client.cookies.set(SESSION_COOKIE, value)
    monkeypatch.setenv(SECRET_ENV, "a completely different signing secret, rotated")
    rotated = make_site(database, web_config(database.url))
    rotated.client.cookies.set(SESSION_COOKIE, value)
    assert rotated.client.get("/admin", follow_redirects=False).status_code == 303
    # And every reader link of the old secret is dead.
    assert rotated.client.get(f"/r/{make_token(SECRET, 'prefs', AN)}").status_code == 404
    assert rotated.client.get(f"/feeds/reader/{make_token(SECRET, 'feed', AN)}.atom").status_code == 404


def test_a_new_admin_password_ends_the_old_sessions(site, database, monkeypatch):
    from crawler.web.security import hash_password

    site.login()
    value = site.client.cookies[SESSION_COOKIE]
    monkeypatch.setenv(ADMIN_HASH_ENV, hash_password("another long password"))
    changed = make_site(database, web_config(database.url))
    changed.client.cookies.set(SESSION_COOKIE, value)
    assert changed.client.get("/admin", follow_redirects=False).status_code == 303


def test_a_reader_token_cannot_act_for_another_reader(site):
    an_prefs = make_token(SECRET, "prefs", AN)
    page = site.client.get(f"/r/{an_prefs}")
    token = form_token(page.text)
    # An's form token on Bình's page, or An's page token for another purpose: refused, nothing stored.
    response = site.client.post(
        f"/r/{make_token(SECRET, 'prefs', BINH)}", data={"csrf": token, "topic": ["Quảng Ninh"]}, headers=SAME_ORIGIN
    )
    assert response.status_code == 403
    assert site.client.get(f"/u/{an_prefs}").status_code == 200
    site.client.post(f"/u/{an_prefs}")  # a prefs token is no unsubscribe token
    assert counts(site.database)["reader_preferences"] == 0


def test_every_page_carries_a_strict_csp_and_no_script(site):
    site.login()
    for path in (
        "/admin",
        "/admin/articles",
        "/admin/articles?q=Hạ Long",
        "/admin/articles/1003",
        "/admin/topics",
        "/admin/topics?q=CNHT",
        "/admin/readers",
        f"/r/{make_token(SECRET, 'prefs', AN)}",
        "/u/x",
        "/login",
        "/nowhere",
    ):
        response = site.client.get(path, follow_redirects=False)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "<script" not in response.text.lower() and "style=" not in response.text
        # The server's time is shown only where it cannot tell a valid token or password from a forged one.
        assert ("server-timing" in response.headers) == path.startswith("/admin"), path


def test_hostile_titles_links_and_topic_names_render_inert(database, tmp_path):
    archive = standard_archive(database)
    config = web_config(database.url, extra=f'[[topics]]\nname = "{HOSTILE_TOPIC}"\nquery = "khách"\n')
    archive.article(
        "<img src=x onerror=alert(1)> {{7*7}}",
        topics={HOSTILE_TOPIC: [hit("khách", "body", "đón <b>khách</b>")]},
        url="javascript:alert(2)",
        published=NOW,
    )
    site = make_site(database, config)
    site.login()
    pages = [
        site.client.get(path).text
        for path in (
            "/admin/articles",
            "/admin/articles?q=khách",
            "/admin/articles/1004",
            "/admin/topics",
            "/admin/topics?q=khách",
            f"/r/{make_token(SECRET, 'prefs', AN)}",
        )
    ]
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page and "<b>khách</b>" not in page
        assert not re.search(r'href="\s*javascript:', page, re.I)
    assert "&lt;script&gt;alert(&#39;topic&#39;)&lt;/script&gt;" in pages[3]
    assert "&lt;img src=x onerror=alert(1)&gt; {{7*7}}" in pages[0]
    feed = site.client.get(f"/feeds/topic/{make_key(SECRET, 'topic-feed', topic_key(HOSTILE_TOPIC))}.atom")
    assert feed.status_code == 200
    assert "<script>" not in feed.text and "javascript:" not in feed.text and "&lt;script&gt;" in feed.text


def test_error_pages_echo_nothing_from_the_request(site):
    for path in ("/admin/articles/%3Cscript%3E", "/nowhere/%3Cscript%3Ealert(1)", "/feeds/topic/%3Cb%3E.atom"):
        response = site.client.get(path)
        assert response.status_code == 404 and "<script>" not in response.text and "&lt;script" not in response.text


def test_a_request_body_over_64_kb_is_refused_unread(site):
    response = site.client.post(
        f"/u/{make_token(SECRET, 'unsubscribe', AN)}",
        content=b"x" * (65 * 1024),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413 and counts(site.database)["reader_preferences"] == 0


def _proxy_site(database, peer: str):
    config = web_config(
        database.url,
        web=WEB.replace(f'admin_password_env = "{ADMIN_HASH_ENV}"\n', "")
        + 'admin_password_env = ""\nadmin_proxy_header = "X-Remote-User"\n'
        'trusted_proxies = ["10.9.8.7/32"]\n',
    )
    site = make_site(database, config)
    site.client = TestClient(create_app(site.web), base_url=PUBLIC_URL, client=(peer, 40000))
    return site


def test_the_proxy_header_is_honoured_only_from_the_trusted_proxy(database):
    standard_archive(database)
    trusted = _proxy_site(database, "10.9.8.7")
    assert trusted.client.get("/admin", headers={"x-remote-user": "an"}, follow_redirects=False).status_code == 200
    assert trusted.client.get("/admin", follow_redirects=False).status_code == 303
    stranger = _proxy_site(database, "192.0.2.10")
    for headers in ({"x-remote-user": "an"}, {"x-remote-user": "an", "x-forwarded-for": "10.9.8.7"}):
        assert stranger.client.get("/admin", headers=headers, follow_redirects=False).status_code == 303
    # A proxy user's form token is theirs alone.
    page = trusted.client.get("/admin/readers", headers={"x-remote-user": "an"})
    token = form_token(page.text)
    refused = trusted.client.post(
        "/logout", data={"csrf": token}, headers={"x-remote-user": "eve", **SAME_ORIGIN}, follow_redirects=False
    )
    assert refused.status_code == 403


def test_a_session_from_before_the_clock_is_not_accepted(site):
    site.login()
    site.clocks.now -= timedelta(hours=1)
    assert site.client.get("/admin", follow_redirects=False).status_code == 303


# -- logout ends the session everywhere ---------------------------------------------------------


def revoked(database) -> set[str]:
    with database.session() as session:
        return set(session.scalars(select(RevokedSession.sid)))


def holding(site, cookie: str) -> TestClient:
    """Another browser (or an attacker) presenting a copy of a session cookie to `site`."""
    client = TestClient(site.client.app, base_url=PUBLIC_URL)
    client.cookies.set(SESSION_COOKIE, cookie)
    return client


def sid_of(site, cookie: str) -> str:
    session = read_session(site.web.settings, cookie, now=site.clocks.utc)
    assert session is not None
    return session.sid


def test_a_copied_session_cookie_is_refused_after_logout_by_every_web_process(site):
    # A second process behind the same proxy: its own app, the same database.
    second = make_site(site.database, clocks=site.clocks)
    site.login()
    cookie = site.client.cookies[SESSION_COOKIE]
    token = form_token(site.client.get("/admin/readers").text)
    for app in (site, second):
        assert holding(app, cookie).get("/admin", follow_redirects=False).status_code == 200
    before = counts(site.database)

    response = site.client.post("/logout", data={"csrf": token}, headers=SAME_ORIGIN, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert f'{SESSION_COOKIE}=""' in response.headers["set-cookie"]
    assert revoked(site.database) == {sid_of(site, cookie)}

    for app in (site, second):
        copy = holding(app, cookie)
        for path in ("/admin", "/admin/articles", "/admin/readers", "/metrics"):
            assert copy.get(path, follow_redirects=False).status_code in (303, 403), (app, path)
        # Its form token dies with it.
        resend = copy.post(
            "/admin/readers/resend",
            data={"csrf": token, "recipient": AN, "date": "2025-03-27"},
            headers=SAME_ORIGIN,
            follow_redirects=False,
        )
        assert resend.status_code == 403
        # The login page is offered again rather than skipped.
        assert copy.get("/login", follow_redirects=False).status_code == 200
    assert counts(site.database) == {**before, "revoked_sessions": before["revoked_sessions"] + 1}

    # Logging in again (on either process) makes a new session, good on both.
    assert second.login().status_code == 303
    fresh = second.client.cookies[SESSION_COOKIE]
    assert sid_of(site, fresh) != sid_of(site, cookie)
    for app in (site, second):
        assert holding(app, fresh).get("/admin", follow_redirects=False).status_code == 200


def test_logging_out_twice_answers_the_same_and_revokes_once(site):
    site.login()
    cookie = site.client.cookies[SESSION_COOKIE]
    token = form_token(site.client.get("/admin").text)
    # A double click, or the form still open in a second tab: both posts carry the same cookie.
    answers = [
        holding(site, cookie).post("/logout", data={"csrf": token}, headers=SAME_ORIGIN, follow_redirects=False)
        for _ in range(2)
    ]
    assert [(a.status_code, a.headers["location"]) for a in answers] == [(303, "/login")] * 2
    assert revoked(site.database) == {sid_of(site, cookie)}
    # Still a session and its token: without them, or with another session's token, a logout is refused.
    assert holding(site, cookie).post("/logout", data={}, headers=SAME_ORIGIN).status_code == 403
    other = make_site(site.database, clocks=site.clocks)
    other.login()
    other_token = form_token(other.client.get("/admin").text)
    refused = holding(site, cookie).post("/logout", data={"csrf": other_token}, headers=SAME_ORIGIN)
    assert refused.status_code == 403
    anonymous = TestClient(site.client.app, base_url=PUBLIC_URL)
    assert anonymous.post("/logout", data={"csrf": token}, headers=SAME_ORIGIN).status_code == 403
    # And the revoked session reaches nothing but the logout.
    assert holding(site, cookie).get("/admin", follow_redirects=False).status_code == 303
    assert other.client.get("/admin", follow_redirects=False).status_code == 200


def test_revocations_of_expired_sessions_are_pruned_but_not_before_their_cookies_expire_everywhere(site):
    def login_and_logout() -> str:
        assert site.login().status_code == 303
        cookie = site.client.cookies[SESSION_COOKIE]
        token = form_token(site.client.get("/admin").text)
        site.client.post("/logout", data={"csrf": token}, headers=SAME_ORIGIN, follow_redirects=False)
        return sid_of(site, cookie)

    first = login_and_logout()
    site.clocks.advance(SESSION_SECONDS + 1)
    # The first cookie has expired here, but a web process whose clock lags may still take it.
    second = login_and_logout()
    assert revoked(site.database) == {first, second}
    site.clocks.advance(PRUNE_AFTER.total_seconds())
    third = login_and_logout()
    assert revoked(site.database) == {second, third}


def test_a_session_that_is_not_ours_is_anonymous_and_costs_no_query(site):
    from sqlalchemy import event

    from crawler.web.security import _credential_fingerprint, _sessions

    settings = site.web.settings
    now = int(site.clocks.utc().timestamp())
    fingerprint = _credential_fingerprint(settings)
    foreign = URLSafeSerializer(b"someone else's key", salt="bantin-admin-session")
    hostile = [
        "garbage",
        "." * 300,
        "A" * 4000,
        "eyJzaWQiOiJ4IiwiaWF0IjoxfQ.AAAAAAAAAAAAAAAAAAAAAAAAAAA",
        foreign.dumps({"sid": "x", "cred": fingerprint, "iat": now}),
        # Signed with our key but not a session: what a leaked serializer bug could produce.
        _sessions(settings).dumps(["sid", "x"]),
        _sessions(settings).dumps({"sid": 7, "cred": fingerprint, "iat": now}),
        _sessions(settings).dumps({"sid": "", "cred": fingerprint, "iat": now}),
        _sessions(settings).dumps({"sid": "x", "cred": fingerprint, "iat": str(now)}),
    ]
    queries: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        if "revoked_sessions" in statement:
            queries.append(statement)

    event.listen(site.database.engine, "before_cursor_execute", record)
    try:
        for value in hostile:
            client = holding(site, value)
            assert client.get("/admin", follow_redirects=False).status_code == 303, value
            assert client.post("/logout", data={"csrf": "x"}, headers=SAME_ORIGIN).status_code == 403, value
            assert client.get("/login").status_code == 200, value
        assert queries == [] and revoked(site.database) == set()
        # A real session: one look at the revocations per request, however often the page asks who is in.
        site.login()
        for path in ("/admin", "/admin/readers", "/admin/topics"):
            queries.clear()
            assert site.client.get(path, follow_redirects=False).status_code == 200
            assert len(queries) == 1, (path, queries)
    finally:
        event.remove(site.database.engine, "before_cursor_execute", record)


def test_an_admin_page_reads_in_one_transaction_its_revocation_check_included(site):
    from sqlalchemy import event

    from crawler.store.models import ArticleRow

    with site.database.session(write=False) as session:
        article = session.scalar(select(ArticleRow.id).limit(1))
    site.login()
    begun: list[object] = []

    def record(connection) -> None:
        begun.append(connection)

    event.listen(site.database.engine, "begin", record)
    try:
        for path in ("/admin/articles", "/admin/articles?q=hỗ trợ", f"/admin/articles/{article}", "/admin/topics"):
            begun.clear()
            assert site.client.get(path, follow_redirects=False).status_code == 200
            assert len(begun) == 1, path
    finally:
        event.remove(site.database.engine, "begin", record)
