"""Loading and validating bantin's one TOML configuration file.

This module is the only reader of configuration files and of the environment
for settings. Everything is validated before anything runs: a bad file is
refused with the file, the key and what is wrong (exit status 2 at the CLI).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import tzinfo
from email.utils import parseaddr
from importlib import resources
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from crawler import PROJECT_URL, __version__
from crawler.clock import VIETNAM, utcnow
from crawler.errors import ConfigError, QueryError

CONFIG_ENV = "BANTIN_CONFIG"
APP_NAME = "bantin"
DEFAULT_USER_AGENT = f"bantin/{__version__} (+{PROJECT_URL})"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "bantin.toml"


def default_database_url() -> str:
    return f"sqlite:///{Path(platformdirs.user_data_dir(APP_NAME)) / 'bantin.sqlite3'}"


class _Section(BaseModel):
    # strict: TOML already has real types, so "2" for an integer is a mistake worth reporting.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    # Every other string becomes a header, a URL, a path or part of a one-line
    # log or output record, where a line break splits or forges a line.
    _multiline_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def _one_line(cls, value, info: ValidationInfo):
        if info.field_name in cls._multiline_fields:
            return value
        for text in value if isinstance(value, list) else (value,):
            if isinstance(text, str):
                _single_line(text)
        return value


class SiteConfig(_Section):
    """The `[site]` table: NDO's entry, from before bantin followed several sites (same as one `[[sites]]`)."""

    # None: the site's own address (from the registry).
    base_url: str | None = None
    # Category feeds to read besides the site's home feed, named as the site names them.
    category_feeds: list[str] = Field(default_factory=list)

    _check_base_url = field_validator("base_url")(lambda value: value if value is None else _http_origin(value))
    # As in a `[[sites]]` entry: check_sites holds them to the site's own shape.
    _check_feeds = field_validator("category_feeds")(lambda value: _safe_feed_names(value))


# The site bantin follows when the configuration names none (`[site]` is its entry).
DEFAULT_SITE = "nhandan"


class SiteEntry(_Section):
    """One `[[sites]]` entry: a registered site to follow, and how."""

    # A registered site's id; checked against the registry by whoever loads the file with it.
    id: str = Field(min_length=1, max_length=32)
    # None: the site's own address (from the registry).
    base_url: str | None = None
    category_feeds: list[str] = Field(default_factory=list)
    enabled: bool = True
    # None: the [crawl] value.
    download_delay: float | None = Field(None, ge=0, le=600)
    concurrency: int | None = Field(None, ge=1, le=32)

    _check_base_url = field_validator("base_url")(lambda value: value if value is None else _http_origin(value))
    # Each site names its feeds its own way: check_sites holds them to the site's shape.
    _check_feeds = field_validator("category_feeds")(lambda value: _safe_feed_names(value))


def _http_origin(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL such as https://news.example.org")
    return value.rstrip("/")


_SAFE_FEED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_-]*$")


def _safe_feed_names(value: list[str]) -> list[str]:
    for name in value:
        if not _SAFE_FEED_NAME.match(name) or ".." in name or "//" in name:
            raise ValueError(f"{name!r} is not a feed name (letters, digits, '-', '_' and '/')")
    return value


class StorageConfig(_Section):
    database_url: str = ""

    @field_validator("database_url")
    @classmethod
    def _parsable(cls, value: str) -> str:
        if not value:
            return value
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL ({exc})") from None
        if url.drivername not in SUPPORTED_DRIVERS:
            raise ValueError(
                f"unsupported database driver {url.drivername!r}: use sqlite:///PATH or postgresql+psycopg://..."
            )
        if url.get_backend_name() == "sqlite" and _sqlite_in_memory(url):
            # Every connection would get its own empty database: the crawl
            # would store into nothing and the digest read another nothing.
            raise ValueError("an in-memory SQLite database keeps nothing: give a file, sqlite:///PATH")
        return value

    @property
    def url(self) -> str:
        return self.database_url or default_database_url()


# Synchronous drivers only: storage runs in threads and child processes, not an event loop.
SUPPORTED_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"})


def _sqlite_in_memory(url) -> bool:
    database = url.database or ""
    # Also SQLite's URI filenames: file::memory:, file:name?mode=memory.
    return database in ("", ":memory:") or database.startswith("file::memory:") or url.query.get("mode") == "memory"


class CrawlConfig(_Section):
    lookback_days: int = Field(2, ge=1, le=3650)
    obey_robots: bool = True
    download_delay: float = Field(1.0, ge=0, le=600)
    concurrency: int = Field(2, ge=1, le=32)
    user_agent: str = Field(DEFAULT_USER_AGENT, min_length=1)
    autothrottle: bool = True
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    retries: int = Field(3, ge=0, le=20)
    max_page_mb: float = Field(5.0, gt=0, le=100)
    # A run in which more than this share of article pages fell back past the
    # site's own selectors (or failed) is marked degraded: the layout changed.
    degraded_share: float = Field(0.2, ge=0, le=1)
    # A crawl started by the service is stopped after this long.
    time_limit_minutes: float = Field(60, gt=0, le=24 * 60)
    # Result pages read per topic term by `bantin crawl --search`.
    search_pages: int = Field(3, ge=1, le=50)


class ScheduleConfig(_Section):
    timezone: str = VIETNAM.key
    crawl: str = "0 6 * * *"
    digest: str = "30 6 * * *"
    # How late a missed run may still start (APScheduler's default of one second
    # would silently skip a run that was due while the service was down).
    misfire_grace_hours: float = Field(12, gt=0, le=24 * 7)
    # How long the digest job waits for the day's crawl before sending anyway.
    digest_wait_minutes: float = Field(60, ge=0, le=24 * 60)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("crawl", "digest")
    @classmethod
    def _valid_cron(cls, expression: str, info: ValidationInfo) -> str:
        from crawler.cron import make_trigger

        try:
            trigger = make_trigger(expression, info.data.get("timezone") or "UTC")
        except ValueError as exc:
            raise ValueError(f"bad cron string {expression!r}: {exc}") from None
        if trigger.get_next_fire_time(None, utcnow()) is None:
            raise ValueError(f"cron string {expression!r} never fires (no such date)")
        return expression

    @property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.timezone)


class SmtpConfig(_Section):
    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password_env: str = "BANTIN_SMTP_PASSWORD"
    password_file: str = ""
    sender: str = "Bản tin NDO <bantin@example.org>"
    verify_tls: bool = True
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    # Transient failures (4xx, dropped connections) are retried this many times
    # in one run, with back-off, before the row waits for the next run.
    max_attempts: int = Field(3, ge=1, le=20)
    retry_backoff_seconds: float = Field(2.0, ge=0, le=600)

    @field_validator("sender")
    @classmethod
    def _sender_address(cls, value: str) -> str:
        _single_line(value)
        _display, address = parseaddr(value)
        check_email(address)
        return value

    @model_validator(mode="after")
    def _no_plaintext_login(self) -> SmtpConfig:
        if self.security == "none" and self.username and self.host not in ("localhost", "127.0.0.1", "::1"):
            raise _KeyedError(
                "smtp.security",
                "'none' with a username would send the password unencrypted to "
                f"{self.host}: use 'starttls' or 'ssl' (plain login is allowed only to localhost)",
            )
        return self

    def password(self) -> str | None:
        """The SMTP password from the environment or a file; never from the config itself."""
        if self.password_file:
            try:
                return Path(self.password_file).expanduser().read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read password file: {exc.strerror}", key="smtp.password_file") from None
        if self.password_env:
            return os.environ.get(self.password_env)
        return None


class DigestConfig(_Section):
    language: Literal["vi", "en"] = "vi"
    send_empty: bool = False
    max_items: int = Field(60, ge=1, le=1000)
    # Gmail clips HTML past ~102 KB; base64 adds a third, so 75 KB is the budget.
    max_html_kb: int = Field(75, ge=10, le=1000)
    unsubscribe_mailto: str = ""
    unsubscribe_url: str = ""
    # Where `bantin digest --preview` writes when --out is not given.
    preview_dir: str = ""

    @field_validator("unsubscribe_mailto")
    @classmethod
    def _mailto(cls, value: str) -> str:
        if value:
            check_email(value.removeprefix("mailto:"))
        return value

    @field_validator("unsubscribe_url")
    @classmethod
    def _retired(cls, value: str) -> str:
        # The old form named the reader in the link: anyone could unsubscribe anyone.
        if value:
            raise ValueError(
                "no longer supported: it put the reader's address in the link, so anyone could unsubscribe "
                "anyone; set [web] public_url (and its secret) for signed one-click unsubscribe links"
            )
        return value


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# RFC 2104: a key shorter than the hash output weakens HMAC.
MIN_SECRET_CHARS = 32


class WebConfig(_Section):
    # Where bantin's web app is reached: the base of every link a digest carries.
    public_url: str = ""
    secret_env: str = "BANTIN_WEB_SECRET"
    secret_file: str = ""
    # The admin password's argon2 hash (`bantin web --hash-password` makes one), from env or a file.
    admin_password_env: str = "BANTIN_WEB_ADMIN_HASH"
    admin_password_file: str = ""
    # Or a reverse proxy that authenticated the admin names them in this header, honoured
    # only from these networks (CIDR).
    admin_proxy_header: str = ""
    trusted_proxies: list[str] = Field(default_factory=list)
    # Who may read /metrics without logging in.
    metrics_networks: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])

    @field_validator("trusted_proxies", "metrics_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network such as 10.0.0.0/8 or ::1/128") from None
        return value

    @model_validator(mode="after")
    def _proxy_needs_networks(self) -> WebConfig:
        if self.admin_proxy_header and not self.trusted_proxies:
            raise _KeyedError("web.trusted_proxies", "admin_proxy_header needs the networks of the proxy that sets it")
        return self

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.query or parts.fragment or not parts.hostname or parts.username or parts.password:
            raise ValueError(
                "must be a plain base URL such as https://bantin.example.org (no query, fragment or login)"
            )
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
            raise ValueError("must be an https:// URL (http:// only for 127.0.0.1 or localhost)")
        return value.rstrip("/")

    def secret(self) -> bytes | None:
        """The signing key from the environment or a file; never from the config itself."""
        if self.secret_file:
            try:
                value = Path(self.secret_file).expanduser().read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read the secret file: {exc.strerror}", key="web.secret_file") from None
            key = "web.secret_file"
        else:
            value = os.environ.get(self.secret_env, "").strip() if self.secret_env else ""
            key = "web.secret_env"
        if not value:
            return None
        if len(value) < MIN_SECRET_CHARS:
            raise ConfigError(f"the secret is too short: use at least {MIN_SECRET_CHARS} random characters", key=key)
        return value.encode("utf-8")

    def admin_password_hash(self) -> str | None:
        """The admin password's argon2 hash from the environment or a file (None: no password login)."""
        value, key = _secret_value(self.admin_password_env, self.admin_password_file, "web.admin_password")
        if not value:
            return None
        if not value.startswith("$argon2"):
            raise ConfigError("not an argon2 hash: make one with `bantin web --hash-password`", key=key)
        return value


def _secret_value(env: str, file: str, key: str) -> tuple[str, str]:
    """(value, the key it came from) of a secret kept in a file or an environment variable."""
    if file:
        try:
            return Path(file).expanduser().read_text(encoding="utf-8").strip(), f"{key}_file"
        except OSError as exc:
            raise ConfigError(f"cannot read the file: {exc.strerror}", key=f"{key}_file") from None
    return (os.environ.get(env, "").strip() if env else ""), f"{key}_env"


class ClusterConfig(_Section):
    """`[cluster]`: several machines on one PostgreSQL database, work queued with procrastinate."""

    enabled: bool = False
    # Jobs one `bantin worker` runs at once (its --concurrency); crawls are bound by each site's politeness.
    concurrency: int = Field(2, ge=1, le=32)
    # A worker's heartbeat, and the silence after which its jobs are taken as stalled and run elsewhere.
    heartbeat_seconds: float = Field(10, gt=0, le=600)
    stalled_after_seconds: float = Field(30, gt=0, le=3600)
    # How often the sweep (retry stalled jobs, close dead crawls, recover expired outbox claims) runs.
    sweep_seconds: int = Field(60, ge=1, le=3600)
    # How often the `bantin serve` that holds the lease looks for due crawls and digests to queue.
    plan_seconds: float = Field(30, gt=0, le=3600)
    # A digest is built by this many jobs (recipients split by a hash of their address) ...
    digest_shards: int = Field(3, ge=1, le=256)
    # ... and sent by this many sender jobs, each claiming batch_size rows at a time.
    senders: int = Field(3, ge=1, le=256)
    batch_size: int = Field(50, ge=1, le=10_000)
    # A sender's claim on its rows; renewed every third of it while it sends.
    claim_seconds: float = Field(120, ge=3, le=24 * 3600)

    @field_validator("sweep_seconds")
    @classmethod
    def _cron_step(cls, value: int) -> int:
        if value >= 60 and value % 60:
            raise ValueError("must be under 60 or a whole number of minutes (60, 120, ...)")
        return value

    @model_validator(mode="after")
    def _stall_after_heartbeats(self) -> ClusterConfig:
        if self.stalled_after_seconds < 3 * self.heartbeat_seconds:
            raise _KeyedError(
                "cluster.stalled_after_seconds",
                f"must be at least three heartbeats ({3 * self.heartbeat_seconds:g} s): a worker that "
                "missed one beat would be taken for dead while it still runs its jobs",
            )
        return self

    @property
    def sweep_cron(self) -> str:
        """procrastinate's cron (UTC; a sixth field is seconds)."""
        if self.sweep_seconds < 60:
            return f"* * * * * */{self.sweep_seconds}"
        return f"*/{self.sweep_seconds // 60} * * * *"


class TopicConfig(_Section):
    name: str = Field(min_length=1, max_length=200)
    query: str = Field(min_length=1)
    accents: Literal["auto", "exact", "fold"] = "auto"
    # A long query may be written over several lines (line breaks are white space to the parser).
    _multiline_fields: ClassVar[frozenset[str]] = frozenset({"query"})


class RecipientConfig(_Section):
    email: str
    name: str = ""
    # None (omitted) means every topic.
    topics: list[str] | None = None
    language: Literal["vi", "en"] | None = None

    @field_validator("email")
    @classmethod
    def _address(cls, value: str) -> str:
        return check_email(value)


class Config(_Section):
    site: SiteConfig = SiteConfig()
    # None: follow NDO alone (as the `[site]` table says).
    sites: list[SiteEntry] | None = None
    storage: StorageConfig = StorageConfig()
    crawl: CrawlConfig = CrawlConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    smtp: SmtpConfig = SmtpConfig()
    digest: DigestConfig = DigestConfig()
    web: WebConfig = WebConfig()
    cluster: ClusterConfig = ClusterConfig()
    topics: list[TopicConfig] = Field(default_factory=list)
    recipients: list[RecipientConfig] = Field(default_factory=list)
    # Where the configuration was read from (None: built-in defaults).
    _path: Path | None = PrivateAttr(None)

    @property
    def path(self) -> Path | None:
        return self._path

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        if self.sites is not None and "site" in self.model_fields_set:
            raise _KeyedError(
                "site",
                "give either the [site] table or [[sites]] entries, not both "
                f"(move base_url and category_feeds into the [[sites]] entry with id = {DEFAULT_SITE!r})",
            )
        ids: dict[str, int] = {}
        for index, entry in enumerate(self.sites or ()):
            if entry.id in ids:
                raise _KeyedError(f"sites[{index}].id", f"duplicate site {entry.id!r} (also sites[{ids[entry.id]}])")
            ids[entry.id] = index
        if self.cluster.enabled and not self.storage.url.startswith("postgresql"):
            raise _KeyedError(
                "cluster.enabled",
                "cluster mode needs PostgreSQL: set storage.database_url = "
                '"postgresql+psycopg://USER@HOST/DB" (SQLite is for one machine)',
            )
        seen: dict[str, int] = {}
        for index, topic in enumerate(self.topics):
            key = topic_key(topic.name)
            if key in seen:
                raise _KeyedError(
                    f"topics[{index}].name", f"duplicate topic name {topic.name!r} (also topics[{seen[key]}])"
                )
            seen[key] = index
        addresses: dict[str, int] = {}
        for index, recipient in enumerate(self.recipients):
            address = recipient.email.lower()
            if address in addresses:
                raise _KeyedError(f"recipients[{index}].email", f"duplicate recipient {recipient.email!r}")
            addresses[address] = index
            for name in recipient.topics or ():
                if topic_key(name) not in seen:
                    raise _KeyedError(f"recipients[{index}].topics", f"unknown topic {name!r}")
        return self

    def site_entries(self) -> list[SiteEntry]:
        """Every configured site, enabled or not, in file order (`[site]` stands for NDO's entry)."""
        if self.sites is not None:
            return list(self.sites)
        legacy = self.site
        return [SiteEntry(id=DEFAULT_SITE, base_url=legacy.base_url, category_feeds=list(legacy.category_feeds))]

    def enabled_sites(self) -> list[SiteEntry]:
        return [entry for entry in self.site_entries() if entry.enabled]

    def site_entry(self, site_id: str) -> SiteEntry | None:
        return next((entry for entry in self.site_entries() if entry.id == site_id), None)

    def check_sites(self, known_sites: Iterable[str], *, path: object = None) -> None:
        """Refuse a `[[sites]]` id that no registered site has (the registry lives above the core).

        Given the registry's sites themselves (by id, not only their ids), also refuse a feed name
        that is not in its site's shape, in `[[sites]]` or in the `[site]` table.
        """
        where = path or self._path or "<config>"
        known = list(known_sites)
        for index, entry in enumerate(self.sites or ()):
            if entry.id not in known:
                raise ConfigError(
                    f"unknown site {entry.id!r} (known sites: {', '.join(known)})", path=where, key=f"sites[{index}].id"
                )
        if not isinstance(known_sites, Mapping):
            return
        keys = [f"sites[{index}]" for index in range(len(self.sites))] if self.sites is not None else ["site"]
        for key, entry in zip(keys, self.site_entries(), strict=True):
            site = known_sites.get(entry.id)
            shape = getattr(site, "feed_name", None)
            for name in entry.category_feeds if site is not None else ():
                if shape is None or not shape.match(name):
                    example = getattr(site, "feed_example", "")
                    raise ConfigError(
                        f"{name!r} is not a feed name of {entry.id}"
                        + (f" (such as {example!r})" if example else " (it reads no configured feeds)"),
                        path=where,
                        key=f"{key}.category_feeds",
                    )

    def topics_for(self, recipient: RecipientConfig) -> list[TopicConfig]:
        """The recipient's topics in config order (all topics when the list is omitted)."""
        if recipient.topics is None:
            return list(self.topics)
        wanted = {topic_key(name) for name in recipient.topics}
        return [topic for topic in self.topics if topic_key(topic.name) in wanted]


class _KeyedError(ValueError):
    """A cross-field problem that knows which key it belongs to."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def topic_key(name: str) -> str:
    """Topic names compare as the reader sees them: NFC, case-insensitive, trimmed."""
    return unicodedata.normalize("NFC", name).strip().casefold()


# Every character str.splitlines() breaks at, and NUL.
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029\x00")


def _single_line(value: str) -> str:
    """Values that become headers or one-line records may not break a line (header injection)."""
    for char in value:
        if char in LINE_BREAKS:
            raise ValueError(f"must be a single line (contains {char!r})")
    return value


def check_email(address: str) -> str:
    """The address if it is well-formed (RFC rules, no DNS), else ValueError saying why."""
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(f"bad e-mail address {address!r}: {exc}") from None
    return address


def find_config_path(explicit: str | os.PathLike | None = None) -> tuple[Path | None, bool]:
    """Where the configuration is: (path, required).

    An explicitly named file (``--config`` or ``$BANTIN_CONFIG``) must exist;
    the implicit places are only used when present.
    """
    if explicit:
        return Path(explicit).expanduser(), True
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env).expanduser(), True
    for candidate in (Path.cwd() / "bantin.toml", default_config_path()):
        if candidate.is_file():
            return candidate, False
    return None, False


def load_config(explicit: str | os.PathLike | None = None, *, known_sites: Iterable[str] | None = None) -> Config:
    """Find, read and validate the configuration; built-in defaults when there is no file.

    ``known_sites`` (the registry's ids, from the composition root) also checks each `[[sites]]` id.
    """
    path, required = find_config_path(explicit)
    if path is None:
        return Config()
    if not path.is_file():
        if required:
            raise ConfigError("no such configuration file (run `bantin init` to write one)", path=path)
        return Config()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=path) from None
    config = parse_config(raw.decode("utf-8", errors="replace"), path=path, known_sites=known_sites)
    config._path = path
    return config


def parse_config(text: str, *, path: object = "<config>", known_sites: Iterable[str] | None = None) -> Config:
    """Validate TOML text into a Config, raising ConfigError with the key at fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path) from None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, path) from None
    except _KeyedError as exc:
        raise ConfigError(str(exc), path=path, key=exc.key) from None
    _check_queries(config, path)
    if known_sites is not None:
        config.check_sites(known_sites, path=path)
    return config


def _config_error(exc: ValidationError, path: object) -> ConfigError:
    error = exc.errors()[0]
    key = _dotted(error["loc"])
    context = error.get("ctx", {}).get("error")
    if isinstance(context, _KeyedError):
        return ConfigError(str(context), path=path, key=context.key)
    message = str(context) if isinstance(context, ValueError) else error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required key is missing"
    elif not isinstance(context, ValueError) and "input" in error and not isinstance(error["input"], dict):
        message = f"{message} (got {error['input']!r})"
    extra = len(exc.errors()) - 1
    if extra:
        message += f" (and {extra} more problem{'s' if extra > 1 else ''})"
    return ConfigError(message, path=path, key=key)


def _dotted(location: tuple) -> str:
    key = ""
    for part in location:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += f".{part}" if key else str(part)
    return key


def _check_queries(config: Config, path: object) -> None:
    from crawler.query import parse_query

    for index, topic in enumerate(config.topics):
        try:
            parse_query(topic.query, topic=topic.name)
        except QueryError as exc:
            raise ConfigError(str(exc), path=path, key=f"topics[{index}].query") from None


def starter_config(database_url: str | None = None, *, site_url: str, feed_example: str) -> str:
    """The commented starter file that `bantin init` writes.

    ``site_url`` and ``feed_example`` fill the `[site]` table (NDO's entry): the site's facts are the
    registry's, which the composition root holds.
    """
    template = resources.files("crawler").joinpath("starter.toml").read_text(encoding="utf-8")
    values = {
        "@DATABASE_URL@": database_url or default_database_url(),
        "@USER_AGENT@": DEFAULT_USER_AGENT,
        "@TIMEZONE@": VIETNAM.key,
        # As TOML basic strings: the escapes json.dumps writes (non-ASCII kept) are TOML's too.
        "@SITE_URL@": json.dumps(site_url, ensure_ascii=False),
        "@FEED_EXAMPLE@": json.dumps(feed_example, ensure_ascii=False),
    }
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template
