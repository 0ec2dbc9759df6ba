"""Select what each recipient is owed and turn it into plain data for the templates.

"Owed" means: every article matched to one of the recipient's topics whose
current version has not been delivered to them and is not already waiting in
an unsent outbox row for them. That is "since the last digest they received",
so downtime neither drops nor repeats anything. Nothing here writes.

A story (the same text on several outlets, ``crawler.stories``) is one item:
under the first outlet that published it, with the others "also on". A story
the reader already has (any of its articles delivered or waiting) is not owed
again because another outlet ran it later; an article they received that has
changed since is owed once more, marked updated. Every article an item stands
for is recorded as delivered with it, and counts are of stories, not copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, Subquery, func, select
from sqlalchemy.orm import Session, defer

from crawler.config import DEFAULT_SITE, Config, RecipientConfig, TopicConfig, topic_key
from crawler.matching import Hit
from crawler.store.models import ArticleRow, CrawlRun, Delivery, Match, OutboxMessage
from crawler.store.records import RunCounts
from crawler.text import clean_display
from reports import i18n
from reports.outlets import outlet, outlet_names, product_name

_T = TypeVar("_T")

# A crawl older than this when the digest is built is worth a warning.
STALE_CRAWL = timedelta(hours=26)
MAX_SNIPPETS = 3
MAX_REASONS = 6
IN_FLIGHT = ("pending", "sending")
BAD_CRAWL = ("degraded", "failed", "interrupted")


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    hit: bool = False


@dataclass(frozen=True, slots=True)
class Snippet:
    field: str
    field_label: str
    segments: list[Segment]


@dataclass(slots=True)
class Reason:
    """A term that made the article match, and the fields it was found in."""

    term: str
    fields: list[str]
    field_labels: list[str]

    @property
    def field_label(self) -> str:
        return ", ".join(self.field_labels)


@dataclass(frozen=True, slots=True)
class OutletLink:
    """Another outlet's copy of an item's story."""

    outlet: str
    url: str | None


@dataclass(slots=True)
class Item:
    article_id: int
    version: int
    # The outlet the item is shown under (its short name) and the site id.
    site: str
    outlet: str
    title: str
    url: str | None
    published: str
    published_at: datetime | None
    category: str
    author: str
    sapo: str
    snippets: list[Snippet]
    reasons: list[Reason]
    topic: str
    other_topics: list[str]
    updated: bool
    story_id: int = 0
    # The other outlets that carry the story, first published first.
    also_on: list[OutletLink] = field(default_factory=list)
    # (article key, version) of every owed article the item stands for: its own and the copies folded into it.
    delivers: list[tuple[int, int]] = field(default_factory=list)
    # For a copy of an item built once for several readers (``_owed_items``): that item and its repr, which a
    # rendering's cache key starts from (``reports.render``). Not part of what the item says.
    copy_of: tuple[Item, str] | None = field(default=None, repr=False, compare=False)


# The fields ``_owed_items`` and ``link_copies`` set on each reader's copy of a shared item: all others are the
# shared item's own.
PER_READER_FIELDS = ("story_id", "delivers", "other_topics", "also_on")


@dataclass(slots=True)
class Group:
    topic: str
    items: list[Item]
    # Owed in this topic, including items left out by the cap.
    total: int


@dataclass(slots=True)
class SiteCoverage:
    """One followed site's crawls since the previous digest."""

    site: str
    runs: int
    scanned: int
    sources: list[str]
    failures: int
    last_crawl_at: datetime | None
    warning: str | None
    line: str
    # The outlet's short name, as items show it.
    outlet: str = ""


@dataclass(slots=True)
class Coverage:
    """Every followed site's coverage; the totals, and the line and warning the message shows."""

    runs: int
    scanned: int
    sources: list[str]
    failures: int
    last_crawl_at: datetime | None
    warning: str | None
    line: str
    sites: list[SiteCoverage] = field(default_factory=list)


@dataclass(slots=True)
class Digest:
    """Everything one message says, as plain data (no ORM objects past this point)."""

    recipient: str
    name: str
    language: str
    date: str
    digest_date: Any
    groups: list[Group]
    # Owed but not shown in the HTML (cap or size budget); listed by title in the text part.
    overflow: list[Item]
    total: int
    topic_counts: list[tuple[str, int]]
    topics: list[str]
    coverage: Coverage
    subject: str
    # (article key, version) of every article this message delivers: what the outbox row records.
    delivered_versions: list[tuple[int, int]] = field(default_factory=list)
    # The product name ("Bản tin NDO") and the outlets' names for the intro.
    brand: str = ""
    outlets: str = ""
    # When composed with SharedLookups: all the digest is made of but its reader (recipient and name). Readers
    # with the same key are owed the same message but for those, which ``reports.render`` renders once.
    key: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def empty(self) -> bool:
        return self.total == 0

    def with_shown(self, limit: int) -> Digest:
        """The same digest showing only `limit` items in the groups, the rest as overflow."""
        ordered = _fair_order(self.groups, self.overflow)
        shown = {id(item) for item in ordered[:limit]}
        groups = [
            Group(
                group.topic,
                [item for item in group.items + self.overflow if id(item) in shown and item.topic == group.topic],
                group.total,
            )
            for group in self.groups
        ]
        for group in groups:
            group.items.sort(key=_newest_first)
        overflow = [item for item in ordered if id(item) not in shown]
        return Digest(
            self.recipient,
            self.name,
            self.language,
            self.date,
            self.digest_date,
            groups,
            overflow,
            self.total,
            self.topic_counts,
            self.topics,
            self.coverage,
            self.subject,
            self.delivered_versions,
            self.brand,
            self.outlets,
        )


def recipient_key(email: str) -> str:
    """How a recipient is stored in outbox and delivery rows."""
    return email.strip().lower()


def safe_url(url: str | None) -> str | None:
    """Only absolute http(s) URLs become links: scraped hrefs may be javascript: or worse."""
    if not url or any(ch in url for ch in "\r\n\t\0 \"'<>\\`"):
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


@dataclass(slots=True)
class SharedLookups:
    """What readers composed in one transaction share, keyed by all it depends on and never by who the reader is.

    Coverage by the previous digest's time, the build's time and zone, the language and the followed sites; the
    matched articles by topic set (ORM rows: one session's, so one transaction's); the copies of stories by the
    stories a message shows.
    """

    coverages: dict[tuple[datetime | None, datetime, str, str, tuple[str, ...]], Coverage] = field(default_factory=dict)
    matches: dict[tuple[str, ...], list[Any]] = field(default_factory=dict)
    copies: dict[tuple[int, ...], list[Any]] = field(default_factory=dict)
    # Each owed article as an item, by all it is made of (see ``_owed_items``), with its repr; copied for each reader.
    items: dict[tuple, tuple[Item, str]] = field(default_factory=dict)
    # Each item's rendering, by template, language and the item's whole content (``reports.render``).
    fragments: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # Each digest by its key (``Digest.key``), for a reader of the same key; and what rendering one gave, by the
    # key and whether the reader has a name and links (``reports.render.render_within``).
    digests: dict[tuple, Digest] = field(default_factory=dict)
    renderings: dict[tuple, Any] = field(default_factory=dict)
    # Read for all of the transaction's readers at once, when given: when each one's last digest was built, and
    # (the day, how many digests the outbox holds for each one that day).
    previous: dict[str, datetime] | None = None
    digests_on: tuple[date, dict[str, int]] | None = None
    # {reader key: what they have}, for all of the transaction's readers (``held_by``).
    held: dict[str, Held] | None = None


@dataclass(slots=True)
class Held:
    """What a reader has or is about to have: the owed items' starting point."""

    # {article key: version} delivered to them, and waiting for them in unsent outbox rows.
    delivered: dict[int, int] = field(default_factory=dict)
    in_flight: dict[int, int] = field(default_factory=dict)
    # The stories of either (a story held from one outlet is not owed again from another).
    stories: set[int] = field(default_factory=set)


def held_by(session: Session, emails: list[str]) -> dict[str, Held]:
    """{reader key: Held} for every one of `emails`: three queries for them all, four when rows are in flight."""
    keys = sorted({recipient_key(email) for email in emails})
    held = {key: Held() for key in keys}
    for key, article_id, version in session.execute(
        select(Delivery.recipient, Delivery.article_id, Delivery.article_version).where(Delivery.recipient.in_(keys))
    ):
        held[key].delivered[article_id] = version
    for key, pairs in session.execute(
        select(OutboxMessage.recipient, OutboxMessage.items).where(
            OutboxMessage.recipient.in_(keys), OutboxMessage.status.in_(IN_FLIGHT)
        )
    ):
        in_flight = held[key].in_flight
        for delivered_version in pairs:
            in_flight[delivered_version.article_id] = max(
                delivered_version.version, in_flight.get(delivered_version.article_id, 0)
            )
    delivered_stories = (
        select(Delivery.recipient, ArticleRow.story_id)
        .join(ArticleRow, ArticleRow.id == Delivery.article_id)
        .where(Delivery.recipient.in_(keys))
        .distinct()
    )
    for key, story_id in session.execute(delivered_stories):
        held[key].stories.add(story_id)
    waiting = sorted({article_id for entry in held.values() for article_id in entry.in_flight})
    if waiting:
        story_of = dict(
            session.execute(select(ArticleRow.id, ArticleRow.story_id).where(ArticleRow.id.in_(waiting))).all()
        )
        for entry in held.values():
            entry.stories.update(story_of[article_id] for article_id in entry.in_flight if article_id in story_of)
    return held


def _once(table: dict | None, key: Any, compute: Callable[[], _T]) -> _T:
    """``compute()``, remembered in ``table`` under ``key`` when there is a table (a SharedLookups one)."""
    if table is None:
        return compute()
    if key not in table:
        table[key] = compute()
    return table[key]


def build_digest(
    session: Session,
    config: Config,
    recipient: RecipientConfig,
    *,
    now: datetime,
    max_items: int | None = None,
    shared: SharedLookups | None = None,
) -> Digest:
    """What `recipient` is owed at `now`, grouped and capped, with the coverage line.

    `shared`, passed for the readers of one transaction, looks up what they have in common once, not once per reader.
    """
    tz = config.schedule.tz
    language = recipient.language or config.digest.language
    topics = config.topics_for(recipient)
    owed = _owed_articles(session, recipient, topics, shared)
    if shared is not None and shared.previous is not None:
        since = shared.previous.get(recipient_key(recipient.email))
    else:
        since = previous_digest_at(session, recipient.email)
    compose = partial(
        _digest, session, config, recipient, owed, topics, now=now, since=since, max_items=max_items, shared=shared
    )
    if shared is None:
        return compose(None)
    # With the transaction's articles and the build's configuration, all the digest is made of.
    key = (owed.key, tuple(topic.name for topic in topics), language, str(tz), now, since, max_items)
    digest = _once(shared.digests, key, partial(compose, key))
    return replace(digest, recipient=recipient.email, name=recipient.name)


def _digest(
    session: Session,
    config: Config,
    recipient: RecipientConfig,
    owed: _Owed,
    topics: list[TopicConfig],
    key: tuple | None,
    *,
    now: datetime,
    since: datetime | None,
    max_items: int | None,
    shared: SharedLookups | None,
) -> Digest:
    tz = config.schedule.tz
    language = recipient.language or config.digest.language
    items = _owed_items(owed, topics, tz=tz, language=language, shared=shared)
    local_now = now.astimezone(tz)
    date_text = local_now.strftime("%d/%m/%Y")
    groups = [Group(topic.name, [], 0) for topic in topics]
    by_topic = {group.topic: group for group in groups}
    for item in items:
        group = by_topic[item.topic]
        group.items.append(item)
        group.total += 1
    for group in groups:
        group.items.sort(key=_newest_first)
    groups = [group for group in groups if group.total]
    topic_counts = [(group.topic, group.total) for group in groups]
    total = len(items)
    cap = max_items if max_items is not None else config.digest.max_items
    sites = [entry.id for entry in config.enabled_sites()]
    coverage = _once(
        shared.coverages if shared is not None else None,
        (since, now, str(tz), language, tuple(sites)),
        lambda: crawl_coverage(session, since=since, now=now, tz=tz, language=language, sites=sites),
    )
    brand = product_name(language, sites)
    digest = Digest(
        recipient=recipient.email,
        name=recipient.name,
        language=language,
        date=date_text,
        digest_date=local_now.date(),
        groups=groups,
        overflow=[],
        total=total,
        topic_counts=topic_counts,
        topics=[topic.name for topic in topics],
        coverage=coverage,
        subject=subject_line(
            language, date_text, total, topic_counts, updates=sum(1 for item in items if item.updated), brand=brand
        ),
        delivered_versions=sorted(pair for item in items for pair in item.delivers),
        brand=brand,
        outlets=outlet_names(language, sites),
    )
    digest = digest.with_shown(cap) if total > cap else digest
    digest.key = key
    link_copies(session, [item for group in digest.groups for item in group.items], shared=shared)
    return digest


def subject_line(
    language: str,
    date_text: str,
    total: int,
    topic_counts: list[tuple[str, int]],
    *,
    updates: int = 0,
    brand: str,
) -> str:
    """The subject counts new stories and, apart, stories that changed since the reader got them."""
    if not total:
        return i18n.text(language, "subject_empty", brand=brand, date=date_text)
    if updates == total:
        head = i18n.text(language, "subject_updates_only", brand=brand, date=date_text, updates=updates)
    elif updates:
        head = i18n.text(
            language, "subject_with_updates", brand=brand, date=date_text, count=total - updates, updates=updates
        )
    else:
        head = i18n.text(language, "subject", brand=brand, date=date_text, count=total)
    parts = [f"{_shorten(name, 40)} ({count})" for name, count in topic_counts[:3]]
    if len(topic_counts) > 3:
        parts.append("…")
    return f"{head} — {', '.join(parts)}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(slots=True)
class _Owed:
    """The articles a reader is owed, each with the topics it matched ((index in the reader's topics, name, hits),
    in that order), and the articles they had delivered."""

    matched: dict[int, tuple[ArticleRow, list[tuple[int, str, list[Hit]]]]]
    delivered: dict[int, int]
    # All the items are made of but the topics, zone and language: which articles, in which version, and whether
    # each is an update (their matches are the transaction's for the topics).
    key: tuple = ()


def _owed_articles(
    session: Session, recipient: RecipientConfig, topics: list[TopicConfig], shared: SharedLookups | None
) -> _Owed:
    if not topics:
        return _Owed({}, {})
    key = recipient_key(recipient.email)
    holds = shared.held.get(key) if shared is not None and shared.held is not None else None
    if holds is None:
        holds = held_by(session, [key])[key]
    delivered, in_flight, received = holds.delivered, holds.in_flight, holds.stories
    rows = _once(
        shared.matches if shared is not None else None,
        tuple(topic.name for topic in topics),
        partial(_topic_rows, session, topics),
    )
    matched: dict[int, tuple[ArticleRow, list[tuple[int, str, list[Hit]]]]] = {}
    owed: list[tuple[int, int, bool]] = []
    for index, topic_name, hits, article, article_id, version, story_id in rows:
        held = max(delivered.get(article_id, 0), in_flight.get(article_id, 0))
        if held:
            if held >= version:
                continue
        elif story_id in received:
            continue  # the reader has this story from another outlet
        entry = matched.get(article_id)
        if entry is None:
            entry = matched[article_id] = (article, [])
            owed.append((article_id, version, article_id in delivered))
        entry[1].append((index, topic_name, hits))
    return _Owed(matched, delivered, tuple(owed))


def _topic_rows(session: Session, topics: list[TopicConfig]) -> list[tuple]:
    """Each match of the topics: (index in `topics`, topic, hits, article, and the article's key, version and
    story read once, not per reader: an ORM attribute costs a dozen times a tuple's)."""
    order = {topic_key(topic.name): index for index, topic in enumerate(topics)}
    rows = []
    for topic_name, hits, article in session.execute(
        select(Match.topic, Match.hits, ArticleRow)
        .join(ArticleRow, ArticleRow.id == Match.article_id)
        .where(Match.topic.in_([topic.name for topic in topics]))
        # The body is the bulk of an article and the digest never shows it.
        .options(defer(ArticleRow.body), defer(ArticleRow.images))
    ):
        index = order.get(topic_key(topic_name))
        if index is not None:
            rows.append((index, topic_name, hits or [], article, article.id, article.version, article.story_id))
    return rows


def _owed_items(
    owed: _Owed, topics: list[TopicConfig], *, tz: tzinfo, language: str, shared: SharedLookups | None
) -> list[Item]:
    """One Item per owed story, under the first of the recipient's topics its article matched."""
    names = {topic_key(topic.name): topic.name for topic in topics}
    delivered = owed.delivered
    stories: dict[int, list[tuple[ArticleRow, list[tuple[int, str, list[Hit]]]]]] = {}
    for article, topic_hits in owed.matched.values():
        topic_hits.sort(key=lambda entry: entry[0])
        stories.setdefault(article.story_id, []).append((article, topic_hits))
    items = []
    for story_id, entries in stories.items():
        # An update shows under the article the reader had; a new story under its first outlet.
        entries.sort(key=lambda entry: (entry[0].id not in delivered, _first_published(entry[0])))
        article, topic_hits = entries[0]
        updated = article.id in delivered
        make = partial(_item, article, topic_hits, names, updated=updated, tz=tz, language=language)
        if shared is None:
            item = make()
        else:
            # All an item is made of: the article (one transaction's row), the topics it matched in the reader's
            # order (their hits are the article's), whether it is an update, the zone and the language. Another
            # reader's item is copied: what follows is this reader's own.
            made_of = (
                article.id,
                article.version,
                tuple(name for _i, name, _h in topic_hits),
                updated,
                str(tz),
                language,
            )
            built = _once(shared.items, made_of, partial(_with_repr, make))
            item = replace(built[0], copy_of=built)
        item.story_id = story_id
        item.delivers = sorted((entry.id, entry.version) for entry, _ in entries)
        item.other_topics = list(
            dict.fromkeys(
                names[topic_key(name)]
                for _article, hits_of in entries
                for _index, name, _hits in hits_of
                if names[topic_key(name)] != item.topic
            )
        )
        items.append(item)
    return items


def _with_repr(make: Callable[[], Item]) -> tuple[Item, str]:
    item = make()
    return item, repr(item)


def link_copies(session: Session, items: list[Item], *, shared: SharedLookups | None = None) -> None:
    """Fill each item's "also on": the other outlets' copies of its story, first published first.

    Only for the items a message shows (one query for them all): an archive's
    copies matter to the links, not to what is owed.
    """
    if not items:
        return
    story_ids = tuple(sorted({item.story_id for item in items}))
    rows = _once(
        shared.copies if shared is not None else None,
        story_ids,
        lambda: list(
            session.execute(
                select(
                    ArticleRow.story_id, ArticleRow.id, ArticleRow.site, ArticleRow.url, ArticleRow.published_at
                ).where(ArticleRow.story_id.in_(story_ids))
            ).all()
        ),
    )
    copies: dict[int, list[tuple[int, str, str]]] = {}
    for row in sorted(rows, key=_first_published):
        copies.setdefault(row.story_id, []).append((row.id, row.site, row.url))
    for item in items:
        item.also_on = [
            OutletLink(outlet(site).short_name, safe_url(url))
            for key, site, url in copies.get(item.story_id, [])
            if key != item.article_id
        ]


def _first_published(row) -> tuple[bool, float, int]:
    stamp = row.published_at.timestamp() if row.published_at else 0.0
    return (row.published_at is None, stamp, row.id)


def _item(
    article: ArticleRow,
    topic_hits: list[tuple[int, str, list[Hit]]],
    names: dict[str, str],
    *,
    updated: bool,
    tz: tzinfo,
    language: str,
) -> Item:
    snippets: list[Snippet] = []
    seen_snippets: set[str] = set()
    reasons: dict[str, Reason] = {}
    for _index, _topic, hits in topic_hits:
        for hit in hits:
            # A term found under NOT is not a reason the article matched.
            if hit.negated:
                continue
            if hit.term and (hit.term in reasons or len(reasons) < MAX_REASONS):
                reason = reasons.setdefault(hit.term, Reason(hit.term, [], []))
                if hit.field not in reason.fields:
                    reason.fields.append(hit.field)
                    reason.field_labels.append(i18n.field_name(language, hit.field))
            if (
                hit.snippet
                and hit.snippet not in seen_snippets
                and len(snippets) < MAX_SNIPPETS
                and hit.field != "title"
            ):
                seen_snippets.add(hit.snippet)
                snippets.append(Snippet(hit.field, i18n.field_name(language, hit.field), highlight(hit)))
    published_at = article.published_at
    first_topic = names[topic_key(topic_hits[0][1])]
    return Item(
        article_id=article.id,
        version=article.version,
        site=article.site,
        outlet=outlet(article.site).short_name,
        title=_clean(article.title),
        url=safe_url(article.url),
        published=published_at.astimezone(tz).strftime("%H:%M %d/%m/%Y") if published_at else "",
        published_at=published_at,
        category=" › ".join(_clean(str(part)) for part in (article.category or [])),
        author=_clean(article.author or ""),
        sapo=_clean(article.sapo or ""),
        snippets=snippets,
        reasons=list(reasons.values()),
        topic=first_topic,
        other_topics=[names[topic_key(name)] for _i, name, _h in topic_hits[1:]],
        updated=updated,
        delivers=[(article.id, article.version)],
    )


def highlight(hit: Hit) -> list[Segment]:
    """A hit's snippet as plain and highlighted segments (escaping is the template's job)."""
    before, found, after = hit.snippet_parts
    return [segment for segment in (Segment(before), Segment(found, True), Segment(after)) if segment.text]


def _clean(value: str) -> str:
    # Stored text is not always a page object's clean text: `bantin articles import` stores a file's as it is.
    return clean_display(value.replace("\0", "")).strip()


def _newest_first(item: Item) -> tuple:
    stamp = item.published_at.timestamp() if item.published_at else float("-inf")
    return (-stamp, -item.article_id)


def _fair_order(groups: list[Group], overflow: list[Item]) -> list[Item]:
    """Items in round-robin over topics (newest first in each), so a cap never starves a topic."""
    queues: dict[str, list[Item]] = {group.topic: [] for group in groups}
    for group in groups:
        queues[group.topic].extend(group.items)
    for item in overflow:
        queues.setdefault(item.topic, []).append(item)
    for queue in queues.values():
        queue.sort(key=_newest_first)
    ordered: list[Item] = []
    depth = 0
    while len(ordered) < sum(len(queue) for queue in queues.values()):
        for queue in queues.values():
            if depth < len(queue):
                ordered.append(queue[depth])
        depth += 1
    return ordered


def previous_digest_at(session: Session, email: str) -> datetime | None:
    """When the last digest this recipient received was built."""
    return previous_digests_at(session, [email]).get(recipient_key(email))


def previous_digests_at(session: Session, emails: list[str]) -> dict[str, datetime]:
    """{recipient key: when the last digest they received was built}, for those who received one."""
    keys = sorted({recipient_key(email) for email in emails})
    return dict(
        session.execute(
            select(OutboxMessage.recipient, func.max(OutboxMessage.created_at))
            .where(
                OutboxMessage.recipient.in_(keys),
                OutboxMessage.status == "sent",
                OutboxMessage.kind == "digest",
            )
            .group_by(OutboxMessage.recipient)
        ).all()
    )


def crawl_coverage(
    session: Session,
    *,
    since: datetime | None,
    now: datetime,
    tz: tzinfo,
    language: str,
    sites: list[str] | None = None,
) -> Coverage:
    """The crawl ledger since the previous digest (or the last day), per followed site: a line plus a warning.

    With one site the line and warning are that site's; with several, each is
    prefixed with its outlet's name, so a reader sees which outlet was not read
    (the templates show one line per outlet).
    """
    window_start = since or (now - timedelta(days=1))
    site_ids = (
        sites or list(session.scalars(select(CrawlRun.site).distinct().order_by(CrawlRun.site))) or [DEFAULT_SITE]
    )
    # Three queries for all the sites, not three per site (twelve outlets made coverage most of a build's queries).
    of_sites = CrawlRun.site.in_(site_ids)
    runs: dict[str, list[CrawlRun]] = {site: [] for site in site_ids}
    for run in session.scalars(
        select(CrawlRun)
        .where(of_sites, CrawlRun.started_at >= window_start, CrawlRun.started_at <= now)
        .order_by(CrawlRun.started_at)
    ):
        runs[run.site].append(run)
    latest = _latest(of_sites, CrawlRun.status != "running", now)
    last = {run.site: run for run in session.scalars(select(CrawlRun).join(latest, CrawlRun.id == latest.c.id))}
    latest_good = _latest(of_sites, CrawlRun.status == "ok", now)
    last_good = dict(
        session.execute(
            select(CrawlRun.site, CrawlRun.finished_at).join(latest_good, CrawlRun.id == latest_good.c.id)
        ).all()
    )
    per_site = [
        _site_coverage(site, runs[site], last.get(site), last_good.get(site), now=now, tz=tz, language=language)
        for site in site_ids
    ]
    if len(per_site) == 1:
        only = per_site[0]
        line, warning = only.line, only.warning
    else:
        line = " ".join(f"{entry.outlet}: {entry.line}" for entry in per_site)
        warnings = [f"{entry.outlet}: {entry.warning}" for entry in per_site if entry.warning]
        warning = " ".join(warnings) or None
    lasts = [entry.last_crawl_at for entry in per_site if entry.last_crawl_at is not None]
    return Coverage(
        runs=sum(entry.runs for entry in per_site),
        scanned=sum(entry.scanned for entry in per_site),
        sources=sorted({source for entry in per_site for source in entry.sources}),
        failures=sum(entry.failures for entry in per_site),
        last_crawl_at=max(lasts, default=None),
        warning=warning,
        line=line,
        sites=per_site,
    )


def _latest(of_sites: ColumnElement[bool], condition: ColumnElement[bool], now: datetime) -> Subquery:
    """The id of each site's run started last by `now` among those meeting `condition`."""
    ranked = (
        select(
            CrawlRun.id,
            func.row_number()
            .over(partition_by=CrawlRun.site, order_by=(CrawlRun.started_at.desc(), CrawlRun.id.desc()))
            .label("rank"),
        )
        .where(of_sites, condition, CrawlRun.started_at <= now)
        .subquery()
    )
    return select(ranked.c.id).where(ranked.c.rank == 1).subquery()


def _site_coverage(
    site: str,
    runs: list[CrawlRun],
    last: CrawlRun | None,
    last_good: datetime | None,
    *,
    now: datetime,
    tz: tzinfo,
    language: str,
) -> SiteCoverage:
    counts = RunCounts.combined(run.counts for run in runs)
    totals = counts.totals()
    scanned = totals["new"] + totals["updated"]
    failures = totals["failed"]

    def when(moment: datetime | None) -> str:
        return moment.astimezone(tz).strftime("%H:%M %d/%m/%Y") if moment else "?"

    warning = None
    if last is None:
        warning = i18n.text(language, "warn_never")
    elif last.status in BAD_CRAWL:
        warning = i18n.text(language, "warn_degraded", when=when(last.started_at), status=last.status)
    elif last_good is None or now - last_good > STALE_CRAWL:
        warning = i18n.text(language, "warn_stale", when=when(last_good or last.started_at))
    if runs:
        line = i18n.text(
            language,
            "coverage",
            scanned=scanned,
            runs=len(runs),
            sources=", ".join(counts.sources) or i18n.text(language, "no_sources"),
            failures=failures,
        )
    else:
        line = i18n.text(language, "coverage_none")
    return SiteCoverage(
        site,
        len(runs),
        scanned,
        counts.sources,
        failures,
        last.started_at if last else None,
        warning,
        line,
        outlet(site).short_name,
    )
