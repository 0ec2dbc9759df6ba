"""A synthetic nhandan.vn: generator + loopback HTTP server for tests, the demo and benchmarks.

    model = generate_site(seed=0, end_date=date(2026, 8, 8))
    with SampleSite(model) as site:          # site.base_url == "http://127.0.0.1:<port>"
        ...
        site.publish_next_day(); site.edit_article(model.articles[0].article_id)
        site.inject_fault("/tin-moi.html", 503, count=1)
        site.request_log

Standard library only; no Scrapy imports.
"""

from __future__ import annotations

from crawler.samplesite.client import SampleSiteClient
from crawler.samplesite.fixtures import save_fixtures
from crawler.samplesite.model import (
    SampleArticle,
    SampleImage,
    SiteModel,
    Tag,
    Topic,
    Zone,
    fold,
    generate_site,
)
from crawler.samplesite.server import Fault, RequestRecord, SampleSite

# The topics the sample site's themed articles are written for: the demo's starter topics.
DEMO_TOPICS = [("Công nghiệp hỗ trợ", '"công nghiệp hỗ trợ" OR CNHT'), ("Quảng Ninh", '"Quảng Ninh"')]


def topics_toml(topics: list[tuple[str, str]] = DEMO_TOPICS) -> str:
    """`[[topics]]` tables for a configuration file."""
    return "".join(f"\n[[topics]]\nname = \"{name}\"\nquery = '{query}'\n" for name, query in topics)


__all__ = [
    "DEMO_TOPICS",
    "topics_toml",
    "Fault",
    "RequestRecord",
    "SampleArticle",
    "SampleImage",
    "SampleSite",
    "SampleSiteClient",
    "SiteModel",
    "Tag",
    "Topic",
    "Zone",
    "fold",
    "generate_site",
    "save_fixtures",
]
