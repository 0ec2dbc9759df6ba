"""The sample site's sister outlets: registered as an outside site package, read by NDO's row, each its own.

The cluster's tests and benchmark crawl twelve outlets (``crawler.samplesite.sisters``): the four
registered outlets' look-alikes and eight sample-only sisters on NDO's vendor CMS.
"""

from __future__ import annotations

import urllib.request
from datetime import date, datetime

import pytest

from crawler.samplesite import SampleSite, generate_site
from crawler.samplesite.outlets import NDO, OUTLETS
from crawler.samplesite.server import SampleNetwork
from crawler.samplesite.sisters import (
    CLUSTER_OUTLETS,
    SISTER_IDS,
    SISTERS,
    Sister,
    sample_outlet,
    sister_outlet,
    write_sister_sites,
)
from crawler.samplesite.wire import story_groups
from spiders.registry import get_site, resolve_url, sites, spider_modules
from tests.site_support import sister_sites  # noqa: F401 - a fixture
from tests.test_samplesite import _stories_of

END = date(2026, 8, 8)
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def test_the_cluster_has_twelve_outlets_the_four_registered_ones_first():
    assert len(CLUSTER_OUTLETS) == 12 and CLUSTER_OUTLETS[:4] == tuple(OUTLETS)
    assert len(set(CLUSTER_OUTLETS)) == 12 and not set(SISTER_IDS) & set(OUTLETS)


def test_sisters_register_as_an_outside_package_each_with_its_own_identity(sister_sites):  # noqa: F811
    registered = sites()
    assert list(registered) == list(CLUSTER_OUTLETS)
    sisters = [registered[sister.id] for sister in SISTERS]
    for field in ("id", "name", "short_name", "base_url", "hosts", "spider"):
        assert len({getattr(site, field) for site in sisters}) == len(SISTERS), field
    assert "bantin_sisters" in spider_modules()
    for sister in SISTERS:
        site = get_site(sister.id)
        assert (site.name, site.short_name, site.spider) == (sister.name, sister.short_name, sister.id)
        # NDO's URL shape on the sister's own host: its articles are the sister's, by the sister's id.
        assert resolve_url(f"https://{sister.host}/tin-post00123.html") == (sister.id, "123")
        assert site.extract is not None and site.everyday_sources == get_site("nhandan").everyday_sources


def test_the_writer_refuses_ids_that_are_no_python_names(tmp_path):
    with pytest.raises(ValueError, match="Python identifiers"):
        write_sister_sites(tmp_path, [Sister("bao-thu", "Báo Thử", "BT")])


def test_a_sisters_look_alike_has_ndos_markup_and_its_own_articles():
    outlet = sister_outlet("sister03")
    assert sample_outlet("sister03") == outlet and sample_outlet("nhandan") is NDO
    assert (outlet.paper, outlet.ext, outlet.path_format, outlet.cms) == (NDO.paper, NDO.ext, NDO.path_format, "vendor")
    ndo = generate_site(0, days=2, per_day=6, end_date=END)
    sister = generate_site(0, days=2, per_day=6, end_date=END, outlet=outlet)
    assert {a.title for a in ndo.articles} != {a.title for a in sister.articles}
    assert not {a.article_id for a in ndo.articles} & {a.article_id for a in sister.articles}
    with pytest.raises(ValueError, match="unknown sample outlet 'sister99'"):
        sample_outlet("sister99")


def test_ndos_row_reads_a_sisters_pages_to_their_ground_truth_as_the_sisters(sister_sites):  # noqa: F811
    extract = get_site("sister05").extract
    assert extract is not None
    with SampleSite(generate_site(0, days=2, per_day=7, end_date=END, outlet=sister_outlet("sister05"))) as site:
        for article in site.model.articles:
            url = site.base_url + article.path
            with OPENER.open(url, timeout=10) as response:
                got = extract(response.read(), url)
            truth = article.expected(site.base_url)
            fields = ("site", "external_id", "url", "title", "sapo", "body", "author", "category", "tags", "images")
            assert {key: got.to_dict()[key] for key in fields} == {key: truth[key] for key in fields}
            assert got.published_at == datetime.fromisoformat(truth["published_at"])
            assert got.extractor == "site"


def test_the_twelve_look_alikes_share_no_story_but_the_registered_outlets_wire_copies():
    # Twelve outlets from one seed: if the sisters were copies of one another (or of NDO), story grouping would
    # fold them into one story each. Only the registered look-alikes' wire copies span outlets.
    network = SampleNetwork.generate(CLUSTER_OUTLETS, days=2, per_day=10, end_date=END)
    models = {site: sample.model for site, sample in network.sites.items()}
    copies = story_groups({site: models[site].articles for site in OUTLETS})
    assert copies
    found = _stories_of([(site, article) for site, model in models.items() for article in model.articles])
    shared = sorted(
        (frozenset((site, str(n)) for site, n in story) for story in found.values() if len(story) > 1), key=sorted
    )
    assert shared == copies
