"""What `pip install .` ships: every package of the project's four roots, and neither the benchmarks nor the tests.

pyproject.toml lists the packages by hand (discovery would pick up bench/ and tests/ too), so a new package
directory left off the list would be missing from the wheel while every test, run from the checkout, passes.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The distribution's top-level packages: every directory in them with an __init__.py ships.
ROOTS = ("crawler", "spiders", "scheduler", "reports")


def listed_packages() -> list[str]:
    with open(REPO / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["tool"]["setuptools"]["packages"]


def package_directories() -> set[str]:
    return {
        ".".join(init.parent.relative_to(REPO).parts) for root in ROOTS for init in (REPO / root).rglob("__init__.py")
    }


def test_the_package_list_is_every_package_directory():
    listed = listed_packages()
    found = package_directories()
    assert len(listed) == len(set(listed)), "a package is listed twice in [tool.setuptools] packages"
    assert sorted(found - set(listed)) == [], "package directories left off [tool.setuptools] packages"
    assert sorted(set(listed) - found) == [], "listed in [tool.setuptools] packages, but no package directory"


def test_the_benchmarks_and_tests_do_not_ship():
    shipped = {name.split(".")[0] for name in listed_packages()}
    assert sorted(shipped & {"bench", "tests"}) == [], "[tool.setuptools] packages would put these in the wheel"
