"""Atom and JSON Feed per topic and per reader: unguessable keys, stable ids, 304s, hostile text made inert."""

from __future__ import annotations

import json
from datetime import timedelta

import feedparser
import pytest
from lxml import etree
from sqlalchemy import select

from crawler.config import topic_key
from crawler.tokens import make_key, make_token
from tests.digest_support import CNHT, NOW, QN, SECRET, hit, standard_archive
from tests.web_support import make_site

AN, BINH = "an@example.org", "binh@example.org"


@pytest.fixture
def site(database):
    archive = standard_archive(database)
    site = make_site(database)
    site.archive = archive
    return site


def topic_path(name: str, fmt: str, secret: bytes = SECRET) -> str:
    return f"/feeds/topic/{make_key(secret, 'topic-feed', topic_key(name))}.{fmt}"


def reader_path(email: str, fmt: str) -> str:
    return f"/feeds/reader/{make_token(SECRET, 'feed', email)}.{fmt}"


def parsed(response):
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def test_a_topic_feed_parses_without_bozo_newest_first_with_outlet_sapo_and_snippet(site):
    response = site.client.get(topic_path(CNHT, "atom"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/atom+xml")
    feed = parsed(response)
    assert feed.feed.title == f"bantin — {CNHT}" and feed.feed.language == "vi"
    titles = [entry.title for entry in feed.entries]
    assert titles == ["Phát triển công nghiệp hỗ trợ ở Bắc Ninh", "Quảng Ninh thu hút CNHT"]
    first = feed.entries[0]
    assert first.id == "urn:bantin:article:nhandan:1001" and first.link.startswith("https://nhandan.vn/")
    assert "Báo Nhân Dân" in first.summary and "Sapo của bài." in first.summary
    # The matched words are marked (feedparser's sanitiser drops <mark>, so read the document itself).
    assert "…Phát triển công nghiệp hỗ trợ ở Bắc Ninh…" in first.summary
    assert "&lt;mark&gt;công nghiệp hỗ trợ&lt;/mark&gt;" in response.text
    assert first.published.endswith("+07:00")
    assert b"<!DOCTYPE" not in response.content


def test_json_feed_1_1_has_ids_content_and_dates(site):
    response = site.client.get(topic_path(QN, "json"))
    assert response.headers["content-type"].startswith("application/feed+json")
    document = json.loads(response.content)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["feed_url"].endswith(topic_path(QN, "json"))
    for item in document["items"]:
        assert item["id"].startswith("urn:bantin:article:") and item["content_html"] and item["date_modified"]
    # The hostile article has a javascript: URL: no url at all, never the scheme.
    hostile = next(item for item in document["items"] if "Hạ Long" in item["title"])
    assert "url" not in hostile and "javascript:" not in response.text


def test_hostile_scraped_text_is_inert_in_both_formats(site):
    site.archive.article(
        "Bài <img src=x onerror=alert(1)> ]]> \x02\x01\x0b\ufffe {{7*7}}",
        topics={QN: [hit("Quảng Ninh", "body", "Quảng Ninh <script>alert(2)</script>\x07")]},
        published=NOW,
        sapo="<b>đậm</b> & \x1f",
        author="<i>Tác giả</i>",
    )
    atom = site.client.get(topic_path(QN, "atom"))
    assert atom.status_code == 200
    # Well-formed XML, no entity expansion, and the control characters are gone.
    root = etree.fromstring(atom.content, etree.XMLParser(resolve_entities=False, no_network=True))
    titles = [node.text for node in root.iter("{http://www.w3.org/2005/Atom}title")]
    assert "Bài <img src=x onerror=alert(1)> ]]>  {{7*7}}" in titles
    feed = parsed(atom)
    summary = next(entry.summary for entry in feed.entries if entry.title.startswith("Bài"))
    # The summary is HTML built from escaped text: the scraped tags are text, not markup.
    assert "<script>" not in summary and "&lt;script&gt;" in summary and "&lt;b&gt;đậm" in summary
    document = json.loads(site.client.get(topic_path(QN, "json")).content)
    item = next(item for item in document["items"] if item["title"].startswith("Bài"))
    assert "\\u0002" not in json.dumps(item) and "<script>" not in item["content_html"]


def test_an_edited_article_keeps_its_id_with_a_new_updated(site):
    before = {entry.id: entry for entry in parsed(site.client.get(topic_path(CNHT, "atom"))).entries}
    with site.database.session() as session:
        from crawler.store.models import ArticleRow

        row = session.get(ArticleRow, 1001)
        row.title = "Phát triển công nghiệp hỗ trợ ở Bắc Ninh (cập nhật)"
        row.version += 1
        row.changed_at = NOW + timedelta(hours=1)
    after = {entry.id: entry for entry in parsed(site.client.get(topic_path(CNHT, "atom"))).entries}
    assert set(after) == set(before)
    edited = after["urn:bantin:article:nhandan:1001"]
    assert edited.title.endswith("(cập nhật)") and edited.updated != before[edited.id].updated
    assert after["urn:bantin:article:nhandan:1002"].updated == before["urn:bantin:article:nhandan:1002"].updated


def test_etag_and_last_modified_answer_304_until_something_changes(site):
    first = site.client.get(topic_path(CNHT, "atom"))
    tag, modified = first.headers["etag"], first.headers["last-modified"]
    again = site.client.get(topic_path(CNHT, "atom"), headers={"if-none-match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    assert site.client.get(topic_path(CNHT, "atom"), headers={"if-modified-since": modified}).status_code == 304
    # The other format, or another topic, has its own validator.
    assert site.client.get(topic_path(CNHT, "json"), headers={"if-none-match": tag}).status_code == 200
    site.archive.article(
        "Công nghiệp hỗ trợ: bài mới",
        topics={CNHT: [hit("công nghiệp hỗ trợ", "title", "Công nghiệp hỗ trợ: bài mới")]},
        published=NOW + timedelta(hours=2),
    )
    changed = site.client.get(topic_path(CNHT, "atom"), headers={"if-none-match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    assert parsed(changed).entries[0].title == "Công nghiệp hỗ trợ: bài mới"


def test_a_reader_feed_follows_the_readers_effective_topics(site):
    binh = parsed(site.client.get(reader_path(BINH, "atom")))
    assert {entry.title for entry in binh.entries} == {
        "Quảng Ninh thu hút CNHT",
        "<script>alert('x')</script> Hạ Long đón khách",
    }
    assert binh.feed.language == "en"
    an = json.loads(site.client.get(reader_path(AN, "json")).content)
    assert len(an["items"]) == 3


def test_feed_keys_are_unguessable_and_die_with_the_secret(site):
    for path in (
        f"/feeds/topic/{topic_key(CNHT)}.atom",
        "/feeds/topic/" + "A" * 22 + ".atom",
        topic_path(CNHT, "atom", secret=b"a rotated secret, a rotated secret!!"),
        f"/feeds/reader/{make_token(SECRET, 'prefs', AN)}.atom",
        f"/feeds/reader/{make_token(SECRET, 'unsubscribe', AN)}.json",
    ):
        answer = site.client.get(path)
        assert answer.status_code == 404 and path.rsplit("/", 1)[1].split(".")[0] not in answer.text


@pytest.mark.parametrize("walk_from", [0, 10_000], ids=["along-the-index", "sorted"])
def test_the_feed_shows_the_newest_and_a_change_outside_it_keeps_its_validator(site, monkeypatch, walk_from):
    from crawler.store.models import ArticleRow
    from crawler.web import feeds

    # Both ways of reading the newest matches give the archive's order.
    monkeypatch.setattr(feeds, "_WALK_FROM", walk_from)
    for number in range(feeds.FEED_ENTRIES + 5):
        title = f"Công nghiệp hỗ trợ, tin {number}"
        site.archive.article(
            title,
            topics={CNHT: [hit("công nghiệp hỗ trợ", "title", title)]},
            published=NOW + timedelta(minutes=number + 1),
        )
    first = site.client.get(topic_path(CNHT, "atom"))
    assert [entry.title for entry in parsed(first).entries] == [
        f"Công nghiệp hỗ trợ, tin {number}" for number in reversed(range(5, feeds.FEED_ENTRIES + 5))
    ]

    def edit(title: str) -> None:
        with site.database.session() as session:
            row = session.scalars(select(ArticleRow).where(ArticleRow.title == title)).one()
            row.version += 1
            row.changed_at = NOW + timedelta(hours=3)

    # An article the feed no longer shows is edited: same feed, same validator.
    edit("Công nghiệp hỗ trợ, tin 0")
    tag = first.headers["etag"]
    assert site.client.get(topic_path(CNHT, "atom"), headers={"if-none-match": tag}).status_code == 304
    # One it shows is: a new validator.
    edit(f"Công nghiệp hỗ trợ, tin {feeds.FEED_ENTRIES}")
    changed = site.client.get(topic_path(CNHT, "atom"), headers={"if-none-match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
