"""Log levels for the libraries bantin runs on."""

from __future__ import annotations

import logging

# Scrapy and Twisted are chatty at INFO/DEBUG; their warnings still show.
NOISY_LOGGERS = ("scrapy", "twisted", "py.warnings", "alembic", "trafilatura", "htmldate", "mail.log", "filelock")


class LibraryChatterFilter(logging.Filter):
    """Drops library records below WARNING and folds their tracebacks into one line.

    A filter on the handler rather than logger levels, because Scrapy resets
    its loggers' levels each time a crawler process is created.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not any(record.name == name or record.name.startswith(name + ".") for name in NOISY_LOGGERS):
            return True
        if record.levelno < logging.WARNING:
            return False
        if record.exc_info:
            # A library's traceback (e.g. Scrapy failing to fetch robots.txt) becomes one line;
            # --debug shows it whole.
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})" if error else record.getMessage()
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_libraries(debug: bool) -> None:
    """Keep library chatter out of bantin's log unless debugging."""
    for handler in logging.getLogger().handlers:
        if debug:
            for existing in [f for f in handler.filters if isinstance(f, LibraryChatterFilter)]:
                handler.removeFilter(existing)
        elif not any(isinstance(f, LibraryChatterFilter) for f in handler.filters):
            handler.addFilter(LibraryChatterFilter())
