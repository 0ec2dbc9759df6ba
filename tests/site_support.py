"""A second, test-only site: NDO's CMS row under another id, registered the way an outside site package is.

It is a distribution on a temporary path with a ``bantin.sites`` entry point,
so a crawl child finds it through ``PYTHONPATH`` exactly as it would find an
installed site package; in-process tests put the path on ``sys.path``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

OTHER = "othersite"

MODULE = f'''
import dataclasses

from spiders.nhandan.site import PROFILE
from spiders.nhandan.site import SITE as NDO
from spiders.vendorcms.spider import VendorCmsSpider

SITE = dataclasses.replace(NDO, id="{OTHER}", name="Báo Thử", short_name="BT", base_url="https://othersite.example",
                           hosts=("othersite.example",), spider="{OTHER}")


class OtherSiteSpider(VendorCmsSpider):
    name = "{OTHER}"
    site = SITE
    profile = PROFILE
'''


def write_second_site(directory: Path) -> Path:
    """The package and its metadata under `directory`; returns the path to put on sys.path/PYTHONPATH."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bantin_othersite.py").write_text(MODULE, encoding="utf-8")
    info = directory / "bantin_othersite-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bantin-othersite\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[bantin.sites]\n{OTHER} = bantin_othersite:SITE\n", encoding="utf-8")
    return directory


def child_environment(path: Path) -> dict[str, str]:
    """The environment of a crawl child that knows the second site."""
    existing = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(path) + (os.pathsep + existing if existing else "")}


@pytest.fixture
def second_site(tmp_path, monkeypatch) -> Iterator[Path]:
    """The second site, known to this process's registry for the test (and to children given its path)."""
    from spiders import registry

    path = write_second_site(tmp_path / "othersite-package")
    monkeypatch.syspath_prepend(str(path))
    registry.sites.cache_clear()
    yield path
    registry.sites.cache_clear()
