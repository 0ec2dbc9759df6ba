"""Log records on stderr: one line each unless --debug.

A full disk or a killed connection is not a screen of frames.
"""

from __future__ import annotations

import io
import logging

import pytest

from crawler.logs import LibraryChatterFilter, OneLineFilter, one_line, quiet_libraries


@pytest.fixture
def stream():
    root = logging.getLogger()
    saved = root.handlers[:]
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.handlers = [handler]
    try:
        yield buffer
    finally:
        root.handlers = saved


def _raise_storage_error():
    try:
        raise OSError(28, "No space left on device")
    except OSError as exc:
        raise RuntimeError(
            "(sqlite3.OperationalError) database or disk is full\n(Background on this error at: x)"
        ) from exc


@pytest.mark.parametrize("debug", [False, True])
def test_a_logged_exception_is_one_line_unless_debugging(stream, debug):
    quiet_libraries(debug)
    try:
        _raise_storage_error()
    except RuntimeError:
        logging.getLogger("bantin.crawl").exception("could not update the crawl ledger")
    logging.getLogger("bantin.locks").warning(
        "could not release the %s lease", "crawl", exc_info=(ValueError, ValueError("bad\nworse"), None)
    )
    lines = stream.getvalue().splitlines()
    if debug:
        assert "Traceback (most recent call last):" in lines
        return
    assert lines == [
        "ERROR bantin.crawl: could not update the crawl ledger (RuntimeError: (sqlite3.OperationalError) "
        "database or disk is full (Background on this error at: x))",
        "WARNING bantin.locks: could not release the crawl lease (ValueError: bad worse)",
    ]


def test_a_traceback_inside_a_message_shrinks_to_its_error(stream):
    quiet_libraries(False)
    logging.getLogger("twisted").critical(
        "Unhandled error in Deferred:\nTraceback (most recent call last):\n"
        '  File "x.py", line 1, in f\n    g()\nKeyError: 3'
    )
    assert stream.getvalue().splitlines() == ["CRITICAL twisted: Unhandled error in Deferred: KeyError: 3"]


def test_filters_are_installed_once_and_removed_for_debug(stream):
    quiet_libraries(False)
    quiet_libraries(False)
    [handler] = [h for h in logging.getLogger().handlers if getattr(h, "stream", None) is stream]
    assert sorted(type(f).__name__ for f in handler.filters) == ["LibraryChatterFilter", "OneLineFilter"]
    quiet_libraries(True)
    assert not any(isinstance(f, (LibraryChatterFilter, OneLineFilter)) for f in handler.filters)


def test_one_line():
    assert one_line("a\n\n  b\r\nc") == "a b c"
    assert one_line("plain") == "plain"
