"""The small tree of typed errors that library code raises.

The CLI is the only place that turns these into one line of text and an exit
status; everything below it raises and lets the edge decide::

    BantinError                      exit 1
    ├── ConfigError                  exit 2 (file: key: problem)
    ├── QueryError                   exit 2 (topic, position)
    ├── UsageError                   exit 2
    │   └── AmbiguousArticleError    a bare id several sites use
    ├── StorageError
    │   └── DatabaseTooNewError
    ├── ExtractionError              a page without title or body
    ├── CrawlError
    ├── DeliveryError
    │   └── HeaderInjectionError
    └── LockBusyError                exit 75 (EX_TEMPFAIL)
"""

from __future__ import annotations


class BantinError(Exception):
    """Base of every error bantin expects to report to a user."""

    exit_code = 1


class ConfigError(BantinError):
    """The configuration file is missing, unreadable or invalid."""

    exit_code = 2

    def __init__(self, message: str, *, path: object = None, key: str | None = None):
        self.path = path
        self.key = key
        self.detail = message
        where = ": ".join(str(part) for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class QueryError(BantinError):
    """A topic query does not parse."""

    exit_code = 2

    def __init__(self, message: str, *, query: str, position: int, topic: str | None = None):
        self.query = query
        self.position = position
        self.topic = topic
        self.detail = message
        prefix = f"topic {topic!r}: " if topic else ""
        super().__init__(f"{prefix}query error at position {position}: {message}")


class UsageError(BantinError):
    """A command was given arguments that cannot work together."""

    exit_code = 2


class AmbiguousArticleError(UsageError):
    """A bare article id that several sites use: the person must say which."""

    def __init__(self, reference: str, candidates: list[str]):
        self.reference = reference
        self.candidates = candidates
        super().__init__(
            f"{reference!r} is an article id on several sites: {', '.join(candidates)} (say SITE:ID or give the URL)"
        )


class StorageError(BantinError):
    """The database cannot be opened, migrated or written."""


class DatabaseTooNewError(StorageError):
    """The database was migrated by a newer bantin than this one."""


class ExtractionError(BantinError):
    """A page cannot be turned into an article (no title or no body)."""

    def __init__(self, reason: str, *, url: str | None = None):
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}" if url else reason)


class OutputError(BantinError):
    """A file or folder bantin was asked to write cannot be written (read-only, full, in the way)."""

    def __init__(self, path: object, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"cannot write {path}: {reason}")


class CrawlError(BantinError):
    """A crawl could not run or ended in failure."""


class DeliveryError(BantinError):
    """Sending a message failed."""


class HeaderInjectionError(DeliveryError):
    """A header value carries CR, LF or NUL."""


class LockBusyError(BantinError):
    """Another bantin process holds the lock this action needs."""

    exit_code = 75  # EX_TEMPFAIL: try again later
