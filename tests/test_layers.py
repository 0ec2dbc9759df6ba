"""Layering: spiders/ import no storage, outlets' facts stay in their packages, one text table, one clock, contracts."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SPIDERS = REPO / "spiders"
# The site packages (those declaring a site): each owns its outlet's facts. Everything else under spiders/ is shared.
SITE_PACKAGES = {path.parent.name for path in SPIDERS.glob("*/site.py")}
SAMPLE_SITE = REPO / "crawler" / "samplesite"


def _modules(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.py") if "__pycache__" not in path.parts)


def _name(path: Path) -> str:
    return str(path.relative_to(REPO))


EVERY_MODULE = [path for root in ("crawler", "spiders", "reports", "scheduler") for path in _modules(REPO / root)]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", _modules(SPIDERS), ids=_name)
def test_no_spider_module_imports_storage(path):
    storage = {
        name for name in _imports(path) if name == "crawler.store" or name.startswith(("crawler.store.", "sqlalchemy"))
    }
    assert not storage, f"{path.relative_to(REPO)} imports {sorted(storage)}"


def test_importing_every_spider_loads_no_storage():
    # Transitively too: what Scrapy's spider loader imports (SPIDER_MODULES) pulls in no storage.
    code = (
        "import sys\n"
        "from scrapy.utils.misc import walk_modules\n"
        "walk_modules('spiders')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('crawler.store', 'sqlalchemy')))\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


# What only NDO's package may say: its hosts, URL shape, source paths, class names, zone and names.
NDO_FACTS = (
    "nhandan",
    "-post",
    ".html",
    "Ho_Chi_Minh",
    "article__",
    "cms-",
    "story__",
    "tin-moi",
    "tim-kiem",
    "google-news",
    "/rss/",
    "tu-khoa",
    "Nhân Dân",
    "NDO",
)


def _code_strings(path: Path) -> list[str]:
    """String constants of a module, docstrings excepted (they may name the outlets they describe)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


SHARED = [
    path
    for path in _modules(SPIDERS)
    if path.relative_to(SPIDERS).parts[0] not in SITE_PACKAGES and path.name != "registry.py"
]


@pytest.mark.parametrize("path", SHARED, ids=_name)
def test_shared_spider_code_knows_no_outlet(path):
    leaks = sorted({(fact, text) for text in _code_strings(path) for fact in NDO_FACTS if fact in text})
    assert not leaks, f"{path.relative_to(REPO)}: {leaks}"


def test_the_registry_names_sites_only_through_their_packages():
    strings = _code_strings(SPIDERS / "registry.py")
    assert not [text for text in strings for fact in NDO_FACTS if fact in text]


# What NDO's package alone knows of it: hosts, URL shapes, source paths, class names, feed names and zone.
# Outside spiders/ the outlets' names may show (a sender's default, help texts); NDO's id only in the
# configuration, whose `[site]` table is its legacy entry (crawler.config.DEFAULT_SITE, the starter file);
# Asia/Ho_Chi_Minh only as the readers' zone (crawler.clock.VIETNAM).
NDO_URL_FACTS = (
    "nhandan",
    "nhandan.vn",
    "-post",
    "/rss/",
    "tin-moi",
    "tim-kiem",
    "google-news",
    "tu-khoa",
    "article__",
    "story__",
    "cms-",
    "kinhte-",
    "zoneId",
    "Ho_Chi_Minh",
)
ALLOWED_IN = {
    "nhandan": {REPO / "crawler" / "config.py", REPO / "crawler" / "starter.toml"},
    "Ho_Chi_Minh": {REPO / "crawler" / "clock.py"},
}
# The core, the reports and the scheduler, modules and data files (templates, the starter file); not the
# sample site, nor the migrations (history: they say what the schema was, NDO's id in it included).
OUTSIDE_SPIDERS = [
    path
    for root in ("crawler", "reports", "scheduler")
    for path in sorted((REPO / root).rglob("*"))
    if path.suffix in (".py", ".toml", ".html", ".txt", ".css")
    and "__pycache__" not in path.parts
    and not path.is_relative_to(SAMPLE_SITE)
    and not path.is_relative_to(REPO / "crawler" / "store" / "migrations")
]


@pytest.mark.parametrize("path", OUTSIDE_SPIDERS, ids=_name)
def test_nothing_outside_spiders_knows_ndo_urls_or_zone(path):
    texts = _code_strings(path) if path.suffix == ".py" else path.read_text(encoding="utf-8").splitlines()
    leaks = sorted(
        {
            (fact, text[:80])
            for text in texts
            for fact in NDO_URL_FACTS
            if fact in text and path not in ALLOWED_IN.get(fact, ())
        }
    )
    assert not leaks, f"{_name(path)}: {leaks} (the site's facts are its package's: spiders/nhandan, the registry)"


# -- one text-cleaning table ------------------------------------------------------------------

# The sample site reproduces the outlets' pages, quirks and all, on purpose.
HOUSE = [path for path in EVERY_MODULE if not path.is_relative_to(SAMPLE_SITE)]


def _cleaned_characters() -> str:
    from crawler.text import ETH_AS_D, INVISIBLE

    # U+FEFF is also the byte order mark, which parsers strip off a document's start before reading it.
    return "".join(chr(code) for code in ETH_AS_D) + INVISIBLE.replace("\ufeff", "")


@pytest.mark.parametrize("path", [path for path in HOUSE if path != REPO / "crawler" / "text.py"], ids=_name)
def test_only_crawler_text_spells_the_cleaned_characters(path):
    # One table (crawler.text) says which characters clean-up deletes or reads as another: a copy
    # elsewhere would drift from it.
    cleaned = _cleaned_characters()
    found = sorted({f"U+{ord(char):04X}" for text in _code_strings(path) for char in text if char in cleaned})
    assert not found, f"{path.relative_to(REPO)} spells {found}: take them from crawler.text"


# -- one clock --------------------------------------------------------------------------------

# Reads of the wall clock: datetime.now()/utcnow()/today(), date.today(), time.time() (called or handed on).
_WALL_CLOCKS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today")}
_WALL_CLOCKS |= {("time", "time"), ("time", "time_ns")}


def _wall_clock_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in _WALL_CLOCKS:
                found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            found += [f"line {node.lineno}: from time import {a.name}" for a in node.names if a.name.startswith("time")]
    return found


@pytest.mark.parametrize(
    "path",
    [path for path in EVERY_MODULE if path != REPO / "crawler" / "clock.py"],
    ids=_name,
)
def test_the_wall_clock_is_read_only_through_crawler_clock(path):
    # One clock (crawler.clock.utcnow), so that every "now" can be injected; monotonic timers are another matter.
    reads = _wall_clock_reads(path)
    assert not reads, f"{path.relative_to(REPO)} reads the wall clock itself ({reads}): use crawler.clock.utcnow"


# -- the import contracts -----------------------------------------------------------------------

# crawler/'s front ends: the CLI (the composition root, `python -m crawler` included) and the web app.
FRONT_ENDS = {"crawler.cli", "crawler.web", "crawler.__main__"}


def _contract(name: str) -> dict:
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return next(contract for contract in contracts["contracts"] if contract["name"] == name)


def _core() -> set[str]:
    """Every module and subpackage directly in crawler/ but the front ends."""
    children = {
        f"crawler.{path.stem}"
        for path in (REPO / "crawler").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }
    return children - FRONT_ENDS


@pytest.mark.parametrize(
    "name", ["The core imports no spiders, scheduler or reports", "Only the CLI knows the web app"]
)
def test_the_contracts_hold_every_core_module(name):
    # A contract cannot say "crawler but its front ends": it lists the core, and a module added to
    # crawler/ must join the list (or be a front end) to be held to it.
    sources = set(_contract(name)["source_modules"])
    assert sources & _core() == _core(), f"{name!r} does not list {sorted(_core() - sources)}"
    assert not sources & FRONT_ENDS
