"""Log levels for the libraries bantin runs on, and one line per record unless debugging."""

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


TRACEBACK_HEADER = "Traceback (most recent call last):"


def one_line(text: str) -> str:
    """A message on one line: a traceback inside it shrinks to its last line (the error)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if TRACEBACK_HEADER in lines:
        lines = lines[: lines.index(TRACEBACK_HEADER)] + lines[-1:]
    return " ".join(lines)


class OneLineFilter(logging.Filter):
    """Every record on one line, a traceback folded into its error: a full disk or a
    dropped database connection is one line on stderr, not a screen of frames.

    --debug shows them whole.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            message = f"{message} ({type(error).__name__}: {str(error)})"
        folded = one_line(message)
        if folded != message or record.exc_info or record.args:
            record.msg, record.args = folded, None
            record.exc_info = record.exc_text = None
            record.stack_info = None
        return True


def quiet_libraries(debug: bool) -> None:
    """Keep library chatter out of bantin's log, and each record on one line, unless debugging."""
    for handler in logging.getLogger().handlers:
        for kind in (LibraryChatterFilter, OneLineFilter):
            if debug:
                for existing in [f for f in handler.filters if isinstance(f, kind)]:
                    handler.removeFilter(existing)
            elif not any(isinstance(f, kind) for f in handler.filters):
                handler.addFilter(kind())
