"""Each reader's effective subscription: the file's recipients, with the reader's own choices on top.

The file declares the topics and the recipients; what a reader chose on their
preferences page (or with one click in a digest) is stored in the database and
wins. Every front end — the digest run, `bantin recipients list`, the web app —
asks here, so they never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.config import Config, RecipientConfig, topic_key
from crawler.store.models import ReaderEvent, ReaderPreference

ACTIVE, PAUSED, UNSUBSCRIBED = "active", "paused", "unsubscribed"


def reader_key(email: str) -> str:
    """How a reader is stored: the same key outbox and delivery rows use."""
    return email.strip().lower()


@dataclass(frozen=True, slots=True)
class Reader:
    """One configured recipient as the next digest will treat them."""

    recipient: RecipientConfig
    # The topics they get, in the file's order (the reader's pick, else the file's).
    topics: tuple[str, ...]
    state: str
    # "file" when the reader never changed anything, else "reader".
    source: str
    unsubscribed_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def email(self) -> str:
        return self.recipient.email

    @property
    def receives(self) -> bool:
        return self.state == ACTIVE and bool(self.topics)

    def as_recipient(self) -> RecipientConfig:
        """The recipient config the digest builder takes, with the effective topics."""
        return self.recipient.model_copy(update={"topics": list(self.topics)})


def offered_topics(config: Config) -> list[str]:
    """The topics a reader may pick from: every configured topic."""
    return [topic.name for topic in config.topics]


def effective_readers(config: Config, session: Session) -> list[Reader]:
    """Every configured recipient, in file order, with their stored choices applied."""
    stored = {row.recipient: row for row in session.scalars(select(ReaderPreference))}
    return [_effective(config, recipient, stored.get(reader_key(recipient.email))) for recipient in config.recipients]


def effective_reader(config: Config, session: Session, email: str) -> Reader:
    recipient = find_recipient(config, email)
    return _effective(config, recipient, session.get(ReaderPreference, reader_key(email)))


def find_recipient(config: Config, email: str) -> RecipientConfig:
    key = reader_key(email)
    for recipient in config.recipients:
        if reader_key(recipient.email) == key:
            return recipient
    raise LookupError(f"{email} is not a recipient in the configuration")


def _effective(config: Config, recipient: RecipientConfig, stored: ReaderPreference | None) -> Reader:
    file_topics = tuple(topic.name for topic in config.topics_for(recipient))
    if stored is None:
        return Reader(recipient, file_topics, ACTIVE, "file")
    if stored.topics is None:
        topics = file_topics
    else:
        # A topic since removed from the file is dropped; names are matched as the file spells them.
        wanted = {topic_key(name) for name in stored.topics}
        topics = tuple(name for name in offered_topics(config) if topic_key(name) in wanted)
    state = UNSUBSCRIBED if stored.unsubscribed_at is not None else PAUSED if stored.paused else ACTIVE
    return Reader(recipient, topics, state, "reader", stored.unsubscribed_at, stored.updated_at)


def digest_recipients(config: Config, session: Session) -> list[RecipientConfig]:
    """The recipients the next digest goes to, each with the topics they chose."""
    return [reader.as_recipient() for reader in effective_readers(config, session) if reader.receives]


def unsubscribe(session: Session, email: str, *, now: datetime, via: str) -> bool:
    """Stop every digest to this reader; False when they already were unsubscribed (nothing changes)."""
    row = _row(session, email, now)
    if row.unsubscribed_at is not None:
        return False
    row.unsubscribed_at = now
    row.updated_at = now
    _audit(session, email, "unsubscribe", via, now)
    return True


def save_preferences(
    session: Session,
    config: Config,
    email: str,
    *,
    topics: Iterable[str],
    paused: bool,
    subscribed: bool,
    now: datetime,
    via: str,
) -> list[str]:
    """Store a reader's choices; returns what changed (audit actions), empty when nothing did.

    Topic names not offered are refused with ValueError: the form only offers configured ones.
    """
    offered = {topic_key(name): name for name in offered_topics(config)}
    chosen = []
    for name in topics:
        if topic_key(name) not in offered:
            raise ValueError(f"not an offered topic: {name!r}")
        chosen.append(offered[topic_key(name)])
    chosen_keys = {topic_key(name) for name in chosen}
    ordered = [name for key, name in offered.items() if key in chosen_keys]
    before = effective_reader(config, session, email)
    row = _row(session, email, now)
    changes = []
    if list(before.topics) != ordered:
        row.topics = ordered
        changes.append("topics")
    if row.paused != paused:
        row.paused = paused
        changes.append("pause" if paused else "resume")
    if subscribed and row.unsubscribed_at is not None:
        row.unsubscribed_at = None
        changes.append("resubscribe")
    elif not subscribed and row.unsubscribed_at is None:
        row.unsubscribed_at = now
        changes.append("unsubscribe")
    for action in changes:
        _audit(session, email, action, via, now, {"topics": ordered} if action == "topics" else {})
    if changes:
        row.updated_at = now
    return changes


def _row(session: Session, email: str, now: datetime) -> ReaderPreference:
    key = reader_key(email)
    row = session.get(ReaderPreference, key)
    if row is None:
        row = ReaderPreference(recipient=key, topics=None, paused=False, unsubscribed_at=None, updated_at=now)
        session.add(row)
    return row


def _audit(session: Session, email: str, action: str, via: str, now: datetime, detail: dict | None = None) -> None:
    session.add(ReaderEvent(recipient=reader_key(email), action=action, via=via, detail=detail or {}, at=now))
