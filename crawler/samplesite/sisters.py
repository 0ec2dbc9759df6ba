"""Sample-only sister outlets on NDO's vendor CMS: more outlets than the registry ships, for the cluster.

The cluster's tests and benchmark crawl twelve outlets: the four real ones and :data:`SISTERS`. A sister
is never a real site and never in the default registry. It exists twice, from the one list here:

- on the sample site, as a look-alike with NDO's markup (so NDO's profile row reads it against the ground
  truth) but articles of its own (its own random stream and id range: story grouping must not fold twelve
  copies of one site into one story each) -- :func:`sister_outlet`, ``serve --sisters N``;
- in the registry, the way an outside site package is registered: :func:`write_sister_sites` writes a
  distribution with one ``bantin.sites`` entry point per sister into a directory, which a crawl child finds
  through ``PYTHONPATH`` (:func:`child_environment`) and a test or benchmark process through ``sys.path``
  (then the registry's cache is cleared).

Standard library only: the written module imports ``spiders``, this one does not.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from crawler.samplesite.outlets import NDO, OUTLETS, Outlet


@dataclass(frozen=True)
class Sister:
    """A sample-only outlet's identity: its site id (a Python identifier), name and short name."""

    id: str
    name: str
    short_name: str

    @property
    def host(self) -> str:
        return f"{self.id}.example"


# Eight, so that the cluster has the twelve outlets with the four real ones.
SISTERS: tuple[Sister, ...] = tuple(Sister(f"sister{n:02d}", f"Báo Mẫu {n}", f"BM{n}") for n in range(1, 9))
SISTER_IDS: tuple[str, ...] = tuple(sister.id for sister in SISTERS)
# Where their article ids start: a range of 100,000 each, apart from the real outlets' (NDO's 985,000 on).
_FIRST_ID = 2_000_000
_ID_RANGE = 100_000


def sister_outlet(sister_id: str) -> Outlet:
    """The sample site's look-alike of a sister: NDO's markup, paper names included, its own articles.

    A model draws from ``random.Random(f"{outlet.id}:{seed}")`` for any outlet but NDO, so the id alone
    gives the sister other articles than NDO's from the same seed.
    """
    try:
        index = SISTER_IDS.index(sister_id)
    except ValueError:
        raise ValueError(f"unknown sister outlet {sister_id!r} (known: {', '.join(SISTER_IDS)})") from None
    return dataclasses.replace(
        NDO,
        id=sister_id,
        base_url=f"https://{SISTERS[index].host}",
        first_id=_FIRST_ID + _ID_RANGE * index,
    )


def sample_outlet(outlet_id: str) -> Outlet:
    """A registered outlet's look-alike, or a sister's."""
    if outlet_id in OUTLETS:
        return OUTLETS[outlet_id]
    try:
        return sister_outlet(outlet_id)
    except ValueError:
        known = ", ".join((*OUTLETS, *SISTER_IDS))
        raise ValueError(f"unknown sample outlet {outlet_id!r} (known: {known})") from None


# The cluster's tests and benchmark: the four real outlets' look-alikes and the eight sisters.
CLUSTER_OUTLETS: tuple[str, ...] = (*OUTLETS, *SISTER_IDS)


_PRELUDE = '''"""Sample-only sister outlets of NDO's vendor CMS (written by crawler.samplesite.sisters)."""

import dataclasses

from spiders.nhandan.site import IDENTITY
from spiders.nhandan.site import PROFILE as NDO
from spiders.vendorcms.spider import VendorCmsSpider


def _row(site_id, name, short_name, host):
    # NDO's row under the sister's identity: the row completes the Site (its page object reads as the sister).
    identity = dataclasses.replace(
        IDENTITY,
        id=site_id,
        name=name,
        short_name=short_name,
        base_url=f"https://{host}",
        hosts=(host,),
        spider=site_id,
    )
    return dataclasses.replace(NDO, site=identity)
'''

_SISTER = """

{constant}_PROFILE = _row({id!r}, {name!r}, {short_name!r}, {host!r})
{constant} = {constant}_PROFILE.site


class {spider_class}(VendorCmsSpider):
    name = {id!r}
    site = {constant}
    profile = {constant}_PROFILE
"""


def write_sister_sites(
    directory: Path, sisters: Iterable[Sister] = SISTERS, *, package: str = "bantin_sisters"
) -> Path:
    """One distribution registering ``sisters`` under ``directory``; returns the path for sys.path/PYTHONPATH.

    Its module ``package`` holds each sister's Site and spider (Scrapy's spider loader reads the modules
    of the ``bantin.sites`` entry points).
    """
    sisters = list(sisters)
    if not package.isidentifier() or not all(sister.id.isidentifier() for sister in sisters):
        raise ValueError("the package and every sister id must be Python identifiers")
    module = _PRELUDE + "".join(
        _SISTER.format(
            constant=sister.id.upper(),
            spider_class=sister.id.title().replace("_", "") + "Spider",
            id=sister.id,
            name=sister.name,
            short_name=sister.short_name,
            host=sister.host,
        )
        for sister in sisters
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{package}.py").write_text(module, encoding="utf-8")
    distribution = package.replace("_", "-")
    info = directory / f"{package}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n", encoding="utf-8")
    points = "".join(f"{sister.id} = {package}:{sister.id.upper()}\n" for sister in sisters)
    (info / "entry_points.txt").write_text(f"[bantin.sites]\n{points}", encoding="utf-8")
    return directory


def child_environment(path: Path) -> dict[str, str]:
    """This process's environment for a child that knows the sites written under ``path``."""
    existing = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(path) + (os.pathsep + existing if existing else "")}
