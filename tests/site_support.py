"""Test-only sites: NDO's CMS row under other ids, registered the way an outside site package is.

They are a distribution on a temporary path with ``bantin.sites`` entry points
(``crawler.samplesite.sisters``), so a crawl child finds them through
``PYTHONPATH`` exactly as it would find an installed site package; in-process
tests put the path on ``sys.path``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.samplesite.sisters import Sister, child_environment, write_sister_sites

__all__ = ["OTHER", "child_environment", "second_site", "sister_sites", "write_second_site"]

OTHER = "othersite"
# A second site of its own (not one of the sample site's sisters): the tests of several sites name it.
_OTHER = Sister(OTHER, "Báo Thử", "BT")


def write_second_site(directory: Path) -> Path:
    """The second site's package and metadata under `directory`; returns the path to put on sys.path/PYTHONPATH."""
    return write_sister_sites(directory, [_OTHER], package="bantin_othersite")


def _registered(path: Path, monkeypatch) -> Iterator[Path]:
    """The sites written under `path`, known to this process's registry until the test ends."""
    from spiders import registry

    monkeypatch.syspath_prepend(str(path))
    registry.sites.cache_clear()
    yield path
    registry.sites.cache_clear()


@pytest.fixture
def second_site(tmp_path, monkeypatch) -> Iterator[Path]:
    """The second site, known to this process's registry for the test (and to children given its path)."""
    yield from _registered(write_second_site(tmp_path / "othersite-package"), monkeypatch)


@pytest.fixture
def sister_sites(tmp_path, monkeypatch) -> Iterator[Path]:
    """The sample site's eight sister outlets, known to this process's registry for the test (and to children
    given its path: ``child_environment``)."""
    yield from _registered(write_sister_sites(tmp_path / "sisters-package"), monkeypatch)
