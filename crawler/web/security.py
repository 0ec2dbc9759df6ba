"""What keeps the web app safe: credentials, sessions, CSRF, rate limits, redirects, headers.

Every check here is a plain function or a small class with an injected clock, so
that the tests can prove each promise without sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeSerializer

from crawler.clock import utcnow
from crawler.config import Config
from crawler.errors import ConfigError

SESSION_COOKIE = "bantin_admin"
LOGIN_COOKIE = "bantin_login"
SESSION_SECONDS = 12 * 3600
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Bodies larger than this are refused before they are read (every form here is small).
MAX_BODY_BYTES = 64 * 1024

# No script, no inline style, nothing from elsewhere; forms post only here; never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # Reader pages carry their token in the URL: it must never leave in a Referer.
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class WebSettings:
    """The web app's secrets and trust, resolved once at start (a missing one is refused then)."""

    secret: bytes
    admin_hash: str | None
    proxy_header: str
    trusted_proxies: tuple[Network, ...]
    metrics_networks: tuple[Network, ...]
    public_url: str
    secure_cookies: bool = True

    @classmethod
    def from_config(cls, config: Config) -> WebSettings:
        web = config.web
        secret = web.secret()
        if secret is None:
            raise ConfigError(
                f"the web app needs its signing secret: set ${web.secret_env} or web.secret_file", key="web.secret_env"
            )
        admin_hash = web.admin_password_hash()
        if admin_hash is None and not web.admin_proxy_header:
            raise ConfigError(
                f"the web app needs an admin credential: set ${web.admin_password_env} (or "
                "web.admin_password_file) to an argon2 hash from `bantin web --hash-password`, or "
                "web.admin_proxy_header with web.trusted_proxies",
                key="web.admin_password_env",
            )
        return cls(
            secret=secret,
            admin_hash=admin_hash,
            proxy_header=web.admin_proxy_header.lower(),
            trusted_proxies=networks(web.trusted_proxies),
            metrics_networks=networks(web.metrics_networks),
            public_url=web.public_url,
        )

    def key(self, purpose: str) -> bytes:
        """A sub-key per use, so that no value signed for one purpose is ever valid for another."""
        return hmac.new(self.secret, b"bantin-web-v1\0" + purpose.encode(), hashlib.sha256).digest()


def networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def peer_in(peer: str | None, allowed: Iterable[Network]) -> bool:
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in allowed)


def hash_password(password: str) -> str:
    return PasswordHasher().hash(password)


def password_matches(admin_hash: str | None, password: str) -> bool:
    if admin_hash is None or not password:
        return False
    try:
        return PasswordHasher().verify(admin_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# -- sessions ---------------------------------------------------------------------------------


def _credential_fingerprint(settings: WebSettings) -> str:
    # A new password ends every session made with the old one.
    return hmac.new(settings.key("credential"), (settings.admin_hash or "").encode(), hashlib.sha256).hexdigest()[:16]


def _sessions(settings: WebSettings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.key("session"), salt="bantin-admin-session")


def new_session(settings: WebSettings, *, now: Callable[[], datetime] = utcnow) -> tuple[str, str]:
    """(cookie value, session id) for an admin who just logged in."""
    sid = secrets.token_urlsafe(18)
    data = {"sid": sid, "cred": _credential_fingerprint(settings), "iat": int(now().timestamp())}
    return _sessions(settings).dumps(data), sid


@dataclass(frozen=True, slots=True)
class AdminSession:
    """What a valid session cookie says: its id, and when it expires."""

    sid: str
    expires_at: datetime


def read_session(
    settings: WebSettings, cookie: str | None, *, now: Callable[[], datetime] = utcnow
) -> AdminSession | None:
    """The session of a valid, unexpired session cookie made with the current credential, else None.

    Only the signature and the clock are checked: whether the session was ended by a logout is
    the database's to say (crawler.store.revocations), and the caller asks it.
    """
    if not cookie:
        return None
    try:
        data = _sessions(settings).loads(cookie)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("iat"), int):
        return None
    if not 0 <= now().timestamp() - data["iat"] <= SESSION_SECONDS:
        return None
    if not hmac.compare_digest(str(data.get("cred", "")), _credential_fingerprint(settings)):
        return None
    sid = data.get("sid")
    if not isinstance(sid, str) or not sid:
        return None
    return AdminSession(sid, datetime.fromtimestamp(data["iat"] + SESSION_SECONDS, UTC))


def csrf_token(settings: WebSettings, bound_to: str) -> str:
    """The form token for whoever `bound_to` names (a session, a proxy user, a reader token)."""
    return hmac.new(settings.key("csrf"), bound_to.encode("utf-8"), hashlib.sha256).hexdigest()


def csrf_valid(settings: WebSettings, bound_to: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(settings, bound_to), str(given))


def cookie_options(settings: WebSettings, max_age: int | None) -> dict:
    return {"max_age": max_age, "path": "/", "secure": settings.secure_cookies, "httponly": True, "samesite": "strict"}


# -- cross-site requests ----------------------------------------------------------------------


def cross_site(method: str, headers, own_origins: Iterable[str]) -> bool:
    """Whether an unsafe request came from another site (Sec-Fetch-Site, else Origin; neither: not a browser)."""
    if method not in UNSAFE_METHODS:
        return False
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or origin.rstrip("/") not in {value.rstrip("/") for value in own_origins}


def safe_next(target: str | None, default: str = "/admin") -> str:
    """Where to go after login: only a path on this site (never //host, /\\host, a scheme, control characters)."""
    if not target:
        return default
    decoded = unquote(target)
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in target + decoded):
        return default
    if not target.startswith("/") or target.startswith("//") or "\\" in decoded or decoded.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


# -- rate limits ------------------------------------------------------------------------------


@dataclass
class RateLimiter:
    """At most `limit` events per `seconds` per key, in a moving window (one process: memory is enough)."""

    limit: int
    seconds: float
    clock: Callable[[], float] = time.monotonic
    _events: dict[str, deque] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, key: str) -> bool:
        # Handlers run in a thread pool.
        with self._lock:
            return self._allow(key)

    def _allow(self, key: str) -> bool:
        now = self.clock()
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.seconds:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        if len(self._events) > 10_000:
            # Forget idle keys so that a scan of many addresses cannot grow memory without bound.
            for stale in [k for k, v in self._events.items() if not v or v[-1] <= now - self.seconds]:
                del self._events[stale]
        return True
