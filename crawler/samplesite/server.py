"""The loopback HTTP server of the sample site, its fault injection and request log."""

from __future__ import annotations

import fnmatch
import gzip
import json
import re
import socket
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawler.clock import VIETNAM, utcnow
from crawler.samplesite import quangninh, render
from crawler.samplesite.model import SampleArticle, SiteModel
from crawler.samplesite.sisters import sample_outlet

STATUS_FAULTS = (400, 401, 403, 404, 410, 429, 500, 502, 503, 504)
NAMED_FAULTS = ("timeout", "truncated", "malformed", "slow")
DEFAULT_SECONDS = {"timeout": 30.0, "slow": 1.0}

HTML = "text/html; charset=utf-8"
XML = "application/xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"

_ARTICLE = re.compile(r"^/([a-z0-9-]+)-post(\d+)\.html$")
_MONTH = re.compile(r"^/sitemaps/news-(\d{4})-([1-9]|1[0-2])\.xml$")
# A sister outlet's article extension; its monthly sitemaps as named in its index.
_ARTICLE_ANY = re.compile(r"^/([a-z0-9-]+)-post(\d+)\.([a-z]+)$")
_MONTH_PADDED = re.compile(r"^/sitemaps/news-(\d{4})-(0[1-9]|1[0-2])\.xml$")
GZIP = "application/x-gzip"
_ZONE_RSS = re.compile(r"^/rss/([a-z0-9-]+)-(\d+)\.rss$")
_API_LATEST = re.compile(r"^/api/morenews-latest-0-(\d+)\.html$")
_API_ZONE = re.compile(r"^/api/morenews-zone-(\d+)-(\d+)\.html$")
_API_SEARCH = re.compile(r"^/api/morenews-search-0-(\d+)\.html$")
_TAG = re.compile(r"^/tu-khoa/([a-z0-9]+)-tag(\d+)\.html$")
_TOPIC = re.compile(r"^/chu-de/([a-z0-9-]+)-(\d+)\.html$")


@dataclass(frozen=True)
class RequestRecord:
    """One request the site answered (or held, for a timeout fault: status 0)."""

    method: str
    path: str  # path with query string, as requested
    status: int
    time: float  # wall-clock seconds since the epoch
    fault: str = ""
    user_agent: str = ""
    host: str = ""  # the Host header: which origin the client thought it asked

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Fault:
    pattern: str
    kind: str | int
    count: int | None = None
    regex: bool = False
    seconds: float | None = None
    retry_after: int = 1

    def matches(self, path: str) -> bool:
        if self.regex:
            return re.search(self.pattern, path) is not None
        bare = path.split("?", 1)[0]
        return fnmatch.fnmatchcase(bare, self.pattern) or fnmatch.fnmatchcase(path, self.pattern)

    def to_dict(self) -> dict:
        return asdict(self)


def _check_kind(kind: str | int) -> str | int:
    if isinstance(kind, str) and kind.isdigit():
        kind = int(kind)
    if isinstance(kind, int):
        if not 400 <= kind <= 599:
            raise ValueError(f"fault status must be 4xx or 5xx, not {kind}")
        return kind
    if kind not in NAMED_FAULTS:
        raise ValueError(f"unknown fault kind {kind!r}; expected a status code or one of {NAMED_FAULTS}")
    return kind


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] | None = None
    gz: bytes | None = None  # pre-compressed body, when cached


class SampleSite:
    """Serve a :class:`SiteModel` over HTTP on 127.0.0.1, with control methods for tests.

    ``start()`` returns the base URL; every absolute link the site emits uses it.
    All control methods are thread-safe and take effect on the next request.
    """

    def __init__(self, model: SiteModel, *, cache: bool = True):
        self.model = model
        self.base_url = ""
        self._lock = threading.RLock()
        self._log: list[RequestRecord] = []
        self._faults: list[Fault] = []
        # Crafted answers (hostile pages, redirects, odd encodings) by exact path, query included.
        self._crafted: dict[str, Response] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._cache_enabled = cache
        self._article_cache: dict[tuple[int, int], bytes] = {}
        self._page_cache: dict[tuple[str, bool], Response] = {}
        self._page_cache_version = -1
        self._derived_version = -1
        self._visible: list[SampleArticle] = []
        self._zone_lists: dict[int, list[SampleArticle]] = {}
        outlet = model.outlet
        self._own_cms = outlet.cms == "baoquangninh"
        self._article_re = (
            quangninh.ARTICLE_PATH
            if self._own_cms
            else _ARTICLE
            if outlet.ext == "html"
            else re.compile(rf"^/([a-z0-9-]+)-post(\d+)\.{re.escape(outlet.ext)}$")
        )
        self._month_re = _MONTH_PADDED if outlet.monthly_padded else _MONTH

    # ------------------------------------------------------------ lifecycle
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._server is not None:
            return self.base_url
        handler = type("SampleSiteHandler", (_Handler,), {"site": self})
        server = _Server((host, port), handler)
        server.site = self
        self._server = server
        self._stopping.clear()
        bound_host, bound_port = server.socket.getsockname()[:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="sample-site", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # releases held (timeout/slow) connections
        server.shutdown()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> SampleSite:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start, then block until stopped (used by ``python -m crawler.samplesite serve``)."""
        self.start(host, port)
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    # ------------------------------------------------------------ control
    def publish_next_day(self, count: int | None = None) -> list[SampleArticle]:
        with self._lock:
            return self.model.publish_next_day(count)

    def edit_article(self, article_id: int, **changes: Any) -> SampleArticle:
        with self._lock:
            return self.model.edit_article(article_id, **changes)

    def set_now(self, when: datetime) -> None:
        with self._lock:
            self.model.set_now(when)

    def drift(self, count: int | None = None) -> list[SampleArticle]:
        """Redesign the newest ``count`` visible articles (all when None) into a layout no site selector knows.

        The site's layout drifting under a running crawler: ``bantin sites check`` must notice.
        """
        with self._lock:
            return self.model.drift(count)

    @property
    def request_log(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def inject_fault(
        self,
        path_pattern: str | re.Pattern,
        kind: str | int,
        count: int | None = None,
        *,
        seconds: float | None = None,
        retry_after: int = 1,
    ) -> Fault:
        """Make matching requests fail; ``count=None`` means until ``clear_faults()``.

        ``path_pattern`` is a glob on the path (with or without its query), or a
        compiled regex searched in the path with query.
        """
        regex = isinstance(path_pattern, re.Pattern)
        pattern = path_pattern.pattern if isinstance(path_pattern, re.Pattern) else path_pattern
        fault = Fault(pattern, _check_kind(kind), count, regex, seconds, retry_after)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._crafted.clear()

    def serve(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        content_type: str = HTML,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer ``path`` (exact, query included) with this response instead of the site's own page.

        For tests that need a hostile or odd answer: a redirect (``status=302`` and a ``Location``
        header), a page in a legacy encoding (bytes, with the charset in ``content_type`` or not),
        a crafted robots.txt. Removed by ``clear_faults()``.
        """
        if isinstance(body, str):
            body = body.encode("utf-8")
        with self._lock:
            self._crafted[path] = Response(status, content_type, body, dict(headers or {}))

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    # ------------------------------------------------------------ internals
    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(path):
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _take_crafted(self, path: str) -> Response | None:
        with self._lock:
            return self._crafted.get(path)

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)

    def _refresh_derived(self) -> None:
        if self._derived_version == self.model.version:
            return
        self._visible = self.model.visible()
        zone_lists: dict[int, list[SampleArticle]] = {zone.zone_id: [] for zone in self.model.zones}
        for article in self._visible:
            zone_lists[article.zone.zone_id].append(article)
            if article.zone.parent:
                zone_lists[article.zone.parent.zone_id].append(article)
        self._zone_lists = zone_lists
        self._derived_version = self.model.version

    def respond(self, path: str, accept_gzip: bool) -> Response:
        """Route one GET; returns the response with ``gz`` filled when the client takes gzip."""
        with self._lock:
            self._refresh_derived()
            split = urlsplit(path)
            match = self._article_re.match(split.path)
            if match:
                return self._article(int(match.group(2)), match.group(1), accept_gzip)
            if self._page_cache_version != self.model.version:
                self._page_cache.clear()
                self._page_cache_version = self.model.version
            key = (path, accept_gzip)
            cached = self._page_cache.get(key)
            if cached is not None:
                return cached
            response = self._route(split.path, parse_qs(split.query))
            if accept_gzip and response.status == 200:
                response.gz = gzip.compress(response.body, compresslevel=6, mtime=0)
            if self._cache_enabled and response.status == 200:
                if len(self._page_cache) > 4096:  # search queries are unbounded
                    self._page_cache.clear()
                self._page_cache[key] = response
            return response

    def _article(self, article_id: int, slug: str, accept_gzip: bool) -> Response:
        article = self.model.by_id.get(article_id)
        if article is None or not self.model.is_visible(article):
            return self._not_found()
        if slug != article.slug:
            return Response(301, HTML, b"", {"Location": self.base_url + article.path})
        headers = {"Last-Modified": _http_date(article.modified_at)}
        key = (article_id, article.revision)
        if accept_gzip and key in self._article_cache:
            return Response(200, HTML, b"", headers, self._article_cache[key])
        zone_list = self._zone_lists.get(article.zone.zone_id, [])[:8]
        page = quangninh.article_page if self._own_cms else render.article_page
        body = page(self.model, article, self.base_url, zone_list, self._visible[:10]).encode()
        response = Response(200, HTML, body, headers)
        if accept_gzip:
            response.gz = gzip.compress(body, compresslevel=6, mtime=0)
            if self._cache_enabled:
                self._article_cache[key] = response.gz
        return response

    def _not_found(self) -> Response:
        return Response(404, HTML, render.not_found_page(self.model, self.base_url).encode())

    def _page(self, items: list[SampleArticle], page: int) -> list[SampleArticle]:
        return items[page * render.PAGE_SIZE : (page + 1) * render.PAGE_SIZE]

    def _route(self, path: str, query: dict[str, list[str]]) -> Response:
        if self._own_cms:
            return quangninh.route(self, path)
        model, base = self.model, self.base_url
        first = (query.get("q") or query.get("phrase") or [""])[0]
        if path == "/robots.txt":
            return Response(200, TEXT, render.robots(model, base).encode())
        if path == "/sitemap.xml":
            return Response(200, XML, render.sitemap_index(model, base).encode())
        if path == "/sitemaps/google-news.xml":
            return Response(200, XML, render.google_news(model, base, model.recent(48)).encode())
        if path == "/sitemaps/categories.xml":
            entries: list[tuple[str, datetime | None, str]]
            entries = [(base + zone.path, None, "hourly") for zone in model.zones]
            return Response(200, XML, render.url_sitemap(entries).encode())
        if path == "/sitemaps/topics.xml":
            entries = [(base + topic.path, None, "daily") for topic in model.topics]
            entries += [(base + tag.path, None, "daily") for tag in model.tags.values()]
            return Response(200, XML, render.url_sitemap(entries).encode())
        match = self._month_re.match(path)
        if match:
            items: list[SampleArticle] | None = model.in_month(int(match.group(1)), int(match.group(2)))
            if not items:
                return self._not_found()
            entries = [(base + a.path, a.modified_at, "never") for a in items]
            sitemap = render.url_sitemap(entries).encode()
            if model.outlet.gzip_sitemaps:
                # Compressed bytes under an .xml name, without Content-Encoding: the reader must unpack them.
                return Response(200, GZIP, gzip.compress(sitemap, compresslevel=6, mtime=0))
            return Response(200, XML, sitemap)
        if path == "/rss/home.rss":
            body = render.rss(model, base, f"{model.outlet.paper} - Trang chủ", path, base + "/", self._visible[:50])
            return Response(200, RSS, body.encode())
        match = _ZONE_RSS.match(path)
        if match:
            zone = model.zone_by_id.get(int(match.group(2)))
            if zone is None or zone.slug != match.group(1):
                return self._not_found()
            body = render.rss(
                model,
                base,
                f"{model.outlet.paper} - {zone.name}",
                path,
                base + zone.path,
                self._zone_lists[zone.zone_id][:30],
            )
            return Response(200, RSS, body.encode())
        if path == "/rss.html":
            return Response(200, HTML, render.rss_index_page(model, base).encode())
        outlet = model.outlet
        if path == "/" or (path == "/tin-moi.html" and outlet.has_latest):
            heading = "Tin mới" if path != "/" else outlet.paper_online
            more = f"{base}/api/morenews-latest-0-1.html?phrase=" if outlet.more_api == "articles_html" else None
            body = render.listing_page(model, base, heading, self._page(self._visible, 0), more, base + path)
            return Response(200, HTML, body.encode())
        match = _API_ZONE.match(path) if outlet.more_api else None
        if match:
            items = self._zone_lists.get(int(match.group(1)))
            if items is None:
                return Response(
                    404, JSON, json.dumps({"error_code": 404, "message": "zone not found", "data": None}).encode()
                )
            page_items = self._page(items, int(match.group(2)))
            return _api_contents(page_items, base) if outlet.more_api == "contents" else _api(page_items, base)
        if outlet.more_api == "articles_html":
            match = _API_LATEST.match(path)
            if match:
                return _api(self._page(self._visible, int(match.group(1))), base)
            match = _API_SEARCH.match(path)
            if match:
                return _api(self._page(model.search(first), int(match.group(1))), base)
        if path in ("/tim-kiem/", "/tim-kiem") and outlet.has_search:
            results = model.search(first)
            body = render.search_page(model, base, first, results[: render.PAGE_SIZE], len(results))
            return Response(200, HTML, body.encode())
        match = _TAG.match(path)
        if match:
            tag = model.tag_by_id.get(int(match.group(2)))
            if tag is None:
                return self._not_found()
            page = _page_number(query)
            body = render.listing_page(
                model, base, tag.name, self._page(model.with_tag(tag.name), page), None, base + tag.path, "box-tag"
            )
            return Response(200, HTML, body.encode())
        match = _TOPIC.match(path)
        if match:
            topic = next((t for t in model.topics if t.topic_id == int(match.group(2))), None)
            if topic is None:
                return self._not_found()
            body = render.listing_page(
                model, base, topic.name, self._page(model.with_tag(topic.tag), 0), None, base + topic.path, "box-topic"
            )
            return Response(200, HTML, body.encode())
        zone = model.zone_by_slug.get(path.strip("/")) if path.count("/") <= 2 else None
        if zone is not None:
            page = _page_number(query)
            more = f"{base}/api/morenews-zone-{zone.zone_id}-{page + 1}.html?phrase=" if outlet.more_api else None
            body = render.listing_page(
                model,
                base,
                zone.name,
                self._page(self._zone_lists[zone.zone_id], page),
                more,
                base + zone.path,
                "box-zone",
            )
            return Response(200, HTML, body.encode())
        return self._not_found()

    # ------------------------------------------------------------ admin (/_sample/...)
    def admin(self, method: str, path: str, payload: dict) -> tuple[int, object]:
        parts = [p for p in urlsplit(path).path.split("/") if p][1:]
        route = parts[0] if parts else ""
        if route == "log":
            if method == "DELETE":
                self.clear_log()
                return 200, {"ok": True}
            return 200, {"requests": [r.to_dict() for r in self.request_log]}
        if route == "faults":
            if method == "DELETE":
                self.clear_faults()
                return 200, {"ok": True}
            if method == "POST":
                pattern = payload["pattern"]
                fault = self.inject_fault(
                    re.compile(pattern) if payload.get("regex") else pattern,
                    payload["kind"],
                    payload.get("count"),
                    seconds=payload.get("seconds"),
                    retry_after=int(payload.get("retry_after", 1)),
                )
                return 200, fault.to_dict()
            return 200, {"faults": [f.to_dict() for f in self.faults]}
        if route == "publish" and method == "POST":
            new = self.publish_next_day(payload.get("count"))
            return 200, {"articles": [a.expected(self.base_url) for a in new]}
        if route == "edit" and method == "POST" and len(parts) == 2:
            changes = {k: payload[k] for k in ("title", "sapo", "paragraphs") if k in payload}
            if "at" in payload:
                changes["at"] = datetime.fromisoformat(payload["at"])
            try:
                article = self.edit_article(int(parts[1]), **changes)
            except KeyError:
                return 404, {"error": f"no article {parts[1]}"}
            return 200, article.expected(self.base_url)
        if route == "drift" and method == "POST":
            changed = self.drift(payload.get("count"))
            return 200, {"drifted": [a.article_id for a in changed]}
        if route == "now":
            if method == "POST":
                self.set_now(datetime.fromisoformat(payload["now"]))
            return 200, {"now": self.model.now.isoformat()}
        if route == "articles":
            with self._lock:
                visible = self.model.visible()
                return 200, {
                    "now": self.model.now.isoformat(),
                    "articles": [a.expected(self.base_url) for a in reversed(visible)],
                }
        return 404, {"error": f"unknown admin endpoint {method} {path}"}


def _api_contents(items: list[SampleArticle], base: str) -> Response:
    data = {"error_code": 0, "message": "", "data": {"contents": render.api_contents(items, base)}}
    return Response(200, JSON, json.dumps(data, ensure_ascii=False).encode())


def _api(items: list[SampleArticle], base: str) -> Response:
    data = {"error_code": 0, "message": "", "data": {"articles": render.api_articles(items, base)}}
    return Response(200, JSON, json.dumps(data, ensure_ascii=False).encode())


def _page_number(query: dict[str, list[str]]) -> int:
    try:
        return max(0, int((query.get("page") or ["1"])[0]) - 1)
    except ValueError:
        return 0


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    site: SampleSite

    def process_request(self, request, client_address):
        with self.site._lock:
            self.site._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.site._lock:
            self.site._connections.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    timeout = 60
    site: SampleSite

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without TCP_NODELAY, keep-alive
        # clients would wait on delayed ACKs.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._handle(head=False)

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def do_POST(self) -> None:
        self._handle_admin_or_405()

    def do_DELETE(self) -> None:
        self._handle_admin_or_405()

    def _handle_admin_or_405(self) -> None:
        if self.path.startswith("/_sample/"):
            self._admin()
        else:
            self._log(405)
            self._send(Response(405, TEXT, b"method not allowed\n"), head=False, accept_gzip=False)

    def _admin(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            payload = json.loads(raw) if raw else {}
            status, data = self.site.admin(self.command, self.path, payload)
        except (ValueError, KeyError, TypeError) as exc:
            status, data = 400, {"error": str(exc)}
        self._send(Response(status, JSON, json.dumps(data, ensure_ascii=False).encode()), False, False)

    def _log(self, status: int, fault: str = "") -> None:
        self.site._record(
            RequestRecord(
                self.command,
                self.path,
                status,
                utcnow().timestamp(),
                fault,
                self.headers.get("User-Agent", ""),
                self.headers.get("Host", ""),
            )
        )

    def _handle(self, head: bool) -> None:
        if self.path.startswith("/_sample/"):
            self._admin()
            return
        accept_gzip = "gzip" in (self.headers.get("Accept-Encoding") or "").lower()
        fault = self.site._take_fault(self.path)
        kind = fault.kind if fault else None
        label = str(kind) if fault else ""
        seconds = fault.seconds if fault else None
        if kind == "timeout":
            self._log(0, label)
            self.site._stopping.wait(seconds if seconds is not None else DEFAULT_SECONDS["timeout"])
            self.close_connection = True
            return
        if kind == "slow":
            self.site._stopping.wait(seconds if seconds is not None else DEFAULT_SECONDS["slow"])
        if fault is not None and isinstance(kind, int):
            headers = {"Retry-After": str(fault.retry_after)} if kind in (429, 503) else {}
            response = Response(kind, HTML, render.error_page(kind).encode(), headers)
        elif kind == "malformed":
            response = Response(200, HTML, render.MALFORMED.encode())
        else:
            response = self.site._take_crafted(self.path) or self.site.respond(self.path, accept_gzip)
        # Logged before sending, so a client that has its answer always finds it in the log.
        self._log(response.status, label)
        self._send(response, head, accept_gzip, truncate=kind == "truncated")

    def _send(self, response: Response, head: bool, accept_gzip: bool, truncate: bool = False) -> None:
        body = response.body
        encoded = False
        if accept_gzip and (response.gz is not None or len(body) > 200):
            body = response.gz if response.gz is not None else gzip.compress(body, compresslevel=6, mtime=0)
            encoded = True
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(body)))
        if encoded:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Cache-Control", "public, max-age=60")
        for name, value in (response.headers or {}).items():
            self.send_header(name, value)
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return
        if truncate:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        self.wfile.write(body)


class SampleNetwork:
    """Several look-alikes at once, each on its own origin (its own port), from one seed and calendar.

    ::

        with SampleNetwork.generate(["nhandan", "tienphong"], days=3) as network:
            network.base_urls      # {"nhandan": "http://127.0.0.1:41001", "tienphong": "http://127.0.0.1:41002"}
            network["tienphong"].publish_next_day()

    The cluster's twelve: ``SampleNetwork.generate(CLUSTER_OUTLETS)`` (``crawler.samplesite.sisters``).
    """

    def __init__(self, sites: dict[str, SampleSite]):
        self.sites = sites

    @classmethod
    def generate(
        cls,
        outlets: Iterable[str] = ("nhandan", "vietnamplus", "tienphong"),
        *,
        seed: int = 0,
        days: int = 5,
        per_day: int = 14,
        end_date=None,
        drifted: int = 0,
        cache: bool = True,
    ) -> SampleNetwork:
        from crawler.samplesite.model import generate_site

        # One calendar for all: ``end_date`` is read once.
        end_date = end_date or utcnow().astimezone(VIETNAM).date()
        # A registered outlet's look-alike or a sample-only sister's (crawler.samplesite.sisters).
        chosen = {outlet_id: sample_outlet(outlet_id) for outlet_id in outlets}
        return cls(
            {
                outlet_id: SampleSite(
                    generate_site(
                        seed=seed, days=days, per_day=per_day, end_date=end_date, drifted=drifted, outlet=outlet
                    ),
                    cache=cache,
                )
                for outlet_id, outlet in chosen.items()
            }
        )

    def __getitem__(self, outlet: str) -> SampleSite:
        return self.sites[outlet]

    @property
    def base_urls(self) -> dict[str, str]:
        return {outlet: site.base_url for outlet, site in self.sites.items()}

    def start(self, host: str = "127.0.0.1") -> dict[str, str]:
        for site in self.sites.values():
            site.start(host, 0)
        return self.base_urls

    def stop(self) -> None:
        for site in self.sites.values():
            site.stop()

    def __enter__(self) -> SampleNetwork:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
