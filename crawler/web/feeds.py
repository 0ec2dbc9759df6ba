"""Atom and JSON Feed 1.1 for a set of topics, from one entry model.

Entry ids never change: they name the article's identity (site, the site's own
id), not its URL or content, so an edited article keeps its id and gets a new
``updated``. Scraped text is untrusted: characters XML cannot carry are
removed, markup is escaped (the HTML parts are built here from escaped text),
and only http(s) links are emitted.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from feedgenerator import Atom1Feed
from markupsafe import Markup
from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import Session, load_only
from sqlalchemy.sql.elements import BindParameter

from crawler.matching import Hit
from crawler.store.models import ArticleRow, Match
from reports.digest import safe_url

FEED_ENTRIES = 50
# XML 1.0 refuses these (and lone surrogates); the feed libraries raise on them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ENTRY_COLUMNS = ("id", "site", "external_id", "title", "url", "author", "published_at", "changed_at", "sapo")


def xml_text(value: str | None) -> str:
    return _XML_INVALID.sub("", value or "")


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    title: str
    url: str | None
    outlet: str
    author: str
    published: datetime | None
    updated: datetime
    sapo: str
    # (before, hit, after) of the snippet that made the match, or None.
    snippet: tuple[str, str, str] | None
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FeedMeta:
    title: str
    # The feed's own URL, and the page it stands for.
    self_url: str
    home_url: str
    language: str


def entry_id(site: str, external_id: str) -> str:
    return f"urn:bantin:article:{site}:{external_id}"


def feed_entries(
    session: Session, topics: Sequence[str], outlets: dict[str, str], *, limit: int = FEED_ENTRIES
) -> list[Entry]:
    """The newest articles matched by any of `topics`, newest first, with the snippet of their first hit."""
    if not topics:
        return []
    keys = [key for key, _ in newest_matched(session, topics, limit=limit)]
    loaded = {
        row.id: row
        for row in session.scalars(
            select(ArticleRow)
            .options(load_only(*(getattr(ArticleRow, column) for column in _ENTRY_COLUMNS)))
            .where(ArticleRow.id.in_(keys))
        )
    }
    rows = [loaded[key] for key in keys]
    matches: dict[int, list[Match]] = {}
    if rows:
        for match in session.scalars(
            select(Match)
            .where(Match.article_id.in_([row.id for row in rows]), Match.topic.in_(list(topics)))
            .order_by(Match.topic)
        ):
            matches.setdefault(match.article_id, []).append(match)
    entries = []
    for row in rows:
        found = matches.get(row.id, [])
        hit = next((hit for match in found for hit in match.hits if not hit.negated), None)
        entries.append(
            Entry(
                id=entry_id(row.site, row.external_id),
                title=xml_text(row.title),
                url=safe_url(row.url),
                outlet=xml_text(outlets.get(row.site, row.site)),
                author=xml_text(row.author),
                published=row.published_at,
                updated=max(row.changed_at, *(match.matched_at for match in found)) if found else row.changed_at,
                sapo=xml_text(row.sapo),
                snippet=_snippet(hit),
                topics=tuple(xml_text(match.topic) for match in found),
            )
        )
    return entries


# Fewer matches than this: read them all and sort; more: walk the newest-first index until a feed's worth.
_WALK_FROM = 500

# Built once: building a statement and its cache key cost more than running it (a third of a cached feed).
_TOPICS: BindParameter[list[str]] = bindparam("topics", expanding=True)
_LIMIT: BindParameter[int] = bindparam("limit")
_MATCHED = select(Match.article_id).where(Match.topic.in_(_TOPICS))
# Counted up to the threshold only: a common topic's matches grow with the archive.
_MATCH_COUNT = select(func.count()).select_from(_MATCHED.limit(_WALK_FROM).subquery())
_NEWEST_OF_FEW = (
    select(ArticleRow.id, ArticleRow.changed_at)
    .where(ArticleRow.id.in_(_MATCHED))
    .order_by(ArticleRow.published_at.desc().nulls_last(), ArticleRow.id.desc())
    .limit(_LIMIT)
)
_CARRIED = exists().where(Match.article_id == ArticleRow.id, Match.topic.in_(_TOPICS))
# Dated and undated apart, so that each half can go along an index (see store.archive.newest_articles).
_NEWEST_DATED = (
    select(ArticleRow.id, ArticleRow.changed_at)
    .where(ArticleRow.published_at.is_not(None), _CARRIED)
    .order_by(ArticleRow.published_at.desc(), ArticleRow.id.desc())
    .limit(_LIMIT)
)
_NEWEST_UNDATED = (
    select(ArticleRow.id, ArticleRow.changed_at)
    .where(ArticleRow.published_at.is_(None), _CARRIED)
    .order_by(ArticleRow.id.desc())
    .limit(_LIMIT)
)
_MATCH_TIMES = (
    select(Match.article_id, Match.topic, Match.matched_at)
    .where(Match.article_id.in_(bindparam("keys", expanding=True)), Match.topic.in_(_TOPICS))
    .order_by(Match.article_id, Match.topic)
)


def newest_matched(session: Session, topics: Sequence[str], *, limit: int = FEED_ENTRIES) -> list[tuple[int, datetime]]:
    """(key, changed_at) of the `limit` newest articles any of `topics` matched, in the archive's order.

    A common topic is read along the publication index, each article checked against the matches
    (about limit / share rows, whatever the archive's size); a rare one from its matches, sorted.
    """
    wanted = list(topics)
    count = session.scalar(_MATCH_COUNT, {"topics": wanted}) or 0
    if count < _WALK_FROM:
        rows = session.execute(_NEWEST_OF_FEW, {"topics": wanted, "limit": limit}).all()
        return [(key, changed) for key, changed in rows]
    found = [(key, changed) for key, changed in session.execute(_NEWEST_DATED, {"topics": wanted, "limit": limit})]
    if len(found) < limit:
        found += [
            (key, changed)
            for key, changed in session.execute(_NEWEST_UNDATED, {"topics": wanted, "limit": limit - len(found)})
        ]
    return found


def feed_stamp(session: Session, topics: Sequence[str]) -> tuple[tuple, datetime | None]:
    """(what the feed is built of, its newest change): cheap, so a 304 or a cached feed costs no build.

    Only the entries the feed shows count: their articles' versions and their matches' times (an
    edit or a re-match of an older article changes nothing a reader sees).
    """
    if not topics:
        return (), None
    newest = newest_matched(session, topics)
    moments = [changed for _, changed in newest]
    matches: list[tuple] = []
    if newest:
        matches = [
            tuple(row)
            for row in session.execute(_MATCH_TIMES, {"keys": [key for key, _ in newest], "topics": list(topics)})
        ]
        moments += [row[2] for row in matches]
    latest = max((moment for moment in moments if moment is not None), default=None)
    if latest is not None and latest.tzinfo is None:
        latest = latest.replace(tzinfo=UTC)
    stamp = (
        tuple((key, changed.isoformat() if changed else None) for key, changed in newest),
        tuple((key, topic, moment.isoformat() if moment else None) for key, topic, moment in matches),
    )
    return stamp, latest


def _snippet(hit: Hit | None) -> tuple[str, str, str] | None:
    if hit is None:
        return None
    before, found, after = hit.snippet_parts
    return xml_text(before), xml_text(found), xml_text(after)


def entry_html(entry: Entry, zone: tzinfo) -> str:
    """The entry's body as HTML built from escaped text: outlet and time, sapo, the matched snippet."""
    parts = [
        Markup("<p><b>{}</b>{}</p>").format(
            entry.outlet, Markup(" · {}").format(_local(entry.published, zone)) if entry.published else ""
        )
    ]
    if entry.sapo:
        parts.append(Markup("<p>{}</p>").format(entry.sapo))
    if entry.snippet:
        before, found, after = entry.snippet
        parts.append(Markup("<p>…{}<mark>{}</mark>{}…</p>").format(before, found, after))
    return str(Markup("").join(parts))


def _local(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M")


class _Atom(Atom1Feed):
    """Atom whose <updated> is the newest change we know, so that an unchanged feed is byte-identical."""

    def __init__(self, *args, updated: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self._updated = updated

    def latest_post_date(self):
        return self._updated


def atom_feed(entries: Sequence[Entry], meta: FeedMeta, zone: tzinfo) -> bytes:
    updated = max((entry.updated for entry in entries), default=_EPOCH).astimezone(zone)
    feed = _Atom(
        title=xml_text(meta.title),
        link=meta.home_url,
        description="",
        language=meta.language,
        feed_url=meta.self_url,
        feed_guid=meta.self_url,
        author_name="bantin",
        updated=updated,
    )
    for entry in entries:
        feed.add_item(
            title=entry.title,
            link=entry.url or meta.home_url,
            description=entry_html(entry, zone),
            unique_id=entry.id,
            pubdate=entry.published.astimezone(zone) if entry.published else None,
            updateddate=entry.updated.astimezone(zone),
            author_name=entry.author or entry.outlet,
            categories=list(entry.topics),
        )
    out = io.StringIO()
    feed.write(out, "utf-8")
    return out.getvalue().encode("utf-8")


def json_feed(entries: Sequence[Entry], meta: FeedMeta, zone: tzinfo) -> bytes:
    """JSON Feed 1.1 (jsonfeed.org/version/1.1): a dict through json.dumps."""
    items = []
    for entry in entries:
        item = {
            "id": entry.id,
            "title": entry.title,
            "content_html": entry_html(entry, zone),
            "summary": entry.sapo,
            "date_modified": entry.updated.astimezone(zone).isoformat(timespec="seconds"),
            "authors": [{"name": entry.author or entry.outlet}],
            "tags": list(entry.topics),
            "_bantin": {"outlet": entry.outlet},
        }
        if entry.url:
            item["url"] = entry.url
        if entry.published:
            item["date_published"] = entry.published.astimezone(zone).isoformat(timespec="seconds")
        items.append(item)
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": xml_text(meta.title),
        "home_page_url": meta.home_url,
        "feed_url": meta.self_url,
        "language": meta.language,
        "items": items,
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def feed_etag(*parts: object) -> str:
    """A strong validator from what the feed is built of (its topics, their matches, the format, the language)."""
    return '"' + hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:32] + '"'


class FeedCache:
    """The last feeds built, by URL and validator: a reader that sends no If-None-Match costs no rebuild."""

    def __init__(self, size: int = 128):
        self.size = size
        self._bodies: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str, tag: str) -> bytes | None:
        with self._lock:
            body = self._bodies.get((path, tag))
            if body is not None:
                self._bodies.move_to_end((path, tag))
            return body

    def put(self, path: str, tag: str, body: bytes) -> None:
        with self._lock:
            self._bodies[(path, tag)] = body
            while len(self._bodies) > self.size:
                self._bodies.popitem(last=False)
