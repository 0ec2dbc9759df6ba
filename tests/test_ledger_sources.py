"""The ledger's per-source verdicts, on counts alone (no crawl): every planned source is reported."""

from __future__ import annotations

from scrapy.utils.test import get_crawler

from crawler.crawl.ledger import CrawlLedger, RunCounts


def test_a_planned_source_that_never_answered_is_listed_failed_with_a_reason():
    counts = RunCounts()
    counts.expect(["google_news", "rss", "latest"])
    counts.add("latest", "pages_read")
    counts.source_pages_ok = 1
    counts.close_sources()
    data = counts.as_json()
    assert set(data) == {"google_news", "rss", "latest"}
    assert data["rss"]["pages_failed"] == 1 and data["rss"]["failed"] == 1
    assert {error["source"] for error in counts.errors} == {"google_news", "rss"}
    assert counts.unread_sources() == ["google_news", "rss"]


def test_the_verdict_names_unread_sources_and_a_robots_refusal():
    ledger = CrawlLedger(get_crawler(settings_dict={}))
    ledger.sources_planned(["rss", "latest"])
    ledger.source_discovered("latest", 3, 1)
    ledger.source_failed("rss", "http://x/rss/home.rss", "HTTP 503")
    status, message = ledger.verdict("finished")
    assert status == "ok" and "source(s) not read: rss (HTTP 503)" in message

    refused = CrawlLedger(get_crawler(settings_dict={}))
    refused.sources_planned(["rss"])
    refused.robots_refused("http://x/rss/home.rss", "refused by robots.txt (its robots.txt answered HTTP 503)")
    refused.source_failed("rss", "http://x/rss/home.rss", "IgnoreRequest: refused by robots.txt")
    status, message = refused.verdict("finished")
    assert status == "failed" and "refused by robots.txt (its robots.txt answered HTTP 503)" in message
