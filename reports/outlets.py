"""The outlets as readers see them: names in items and coverage lines, and the product name in subjects.

Names come from the site registry; a site the archive holds but no package
registers any more (an imported archive) is shown by its id.

The product name follows the enabled outlets: one outlet gives "Bản tin NDO"
(its short name, as the digest always said), several give "Bản tin báo chí" /
"Press digest" whatever their number, so adding a fourth outlet does not
change the subject a reader's mail filter matches; the message's intro
names them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reports import i18n


@dataclass(frozen=True, slots=True)
class Outlet:
    site: str
    # "Báo Nhân Dân"; the short form ("NDO") is what items and subjects show.
    name: str
    short_name: str


def outlet(site: str) -> Outlet:
    from spiders.registry import sites

    found = sites().get(site)
    if found is None:
        return Outlet(site, site, site)
    return Outlet(site, found.name, found.short_name)


def product_name(language: str, sites: Sequence[str]) -> str:
    """ "Bản tin NDO" for NDO alone, "Bản tin báo chí" for several outlets (and in English likewise)."""
    if len(sites) == 1:
        return i18n.text(language, "brand_one", outlet=outlet(sites[0]).short_name)
    return i18n.text(language, "brand_many")


def outlet_names(language: str, sites: Sequence[str]) -> str:
    """The outlets' full names for a sentence: "Báo Nhân Dân, VietnamPlus và Báo Tiền Phong"."""
    names = [outlet(site).name for site in sites]
    if len(names) <= 1:
        return "".join(names)
    return i18n.text(language, "and_list", first=", ".join(names[:-1]), last=names[-1])
