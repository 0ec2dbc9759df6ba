"""Digest fan-out for cluster mode: many builders and many senders on one outbox.

Building: each build job takes the recipients whose address hashes to its
shard and writes one outbox row per recipient owed something, exactly as
`bantin digest --send` composes it; the row is unique per (digest, recipient)
and inserted with ON CONFLICT DO NOTHING, so a build job run twice (retried
after its worker died) adds nothing.

Sending: a sender claims a batch of due rows with ``FOR UPDATE SKIP LOCKED``
(two senders never claim one row), renews its claim while it sends, and sends
each row through the same state machine as one machine does (pending ->
sending -> sent | failed, with the same retries and the same "outcome unknown"
rule). Rows the server accepted (its 250) are marked sent, with their
deliveries, a few at a time in one transaction (MARK_SENT_EVERY); until then
they stay "sending". A sender that dies leaves its rows claimed: once the claim
has expired, rows it never started are simply claimable again, and those it was
sending or had sent unmarked (status "sending") are resent once with the same
bytes and Message-ID — the only duplicates a dead sender can cause. Today's rule "a row left sending
belongs to a dead run" is never applied to a row under a live claim.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from crawler.clock import utcnow
from crawler.config import Config, RecipientConfig
from crawler.locks import lease_holder
from crawler.readers import digest_recipients
from crawler.store import Database
from crawler.store.models import OutboxMessage
from crawler.topics import prepare_topics
from reports.delivery import (
    OUTBOX_LEASE,
    RecipientResult,
    _compose,
    _deliver,
    _describe,
    _digests_on,
    _finish,
    _mark_sent,
    _outbox_values,
    _recover_sending,
    digests_on,
    not_sent_because,
    stopped_readers,
)
from reports.digest import SharedLookups, held_by, previous_digests_at, recipient_key
from reports.mailer import Envelope, ReaderLinks, SmtpSession, sender_address

log = logging.getLogger("bantin.digest")

Clock = Callable[[], datetime]


def shard_of(email: str, shards: int) -> int:
    """A stable shard per reader (not Python's hash(), which differs per process)."""
    digest = hashlib.blake2b(recipient_key(email).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


# -- building -------------------------------------------------------------------


@dataclass
class BuildResult:
    queued: int = 0
    empty: int = 0
    already: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def prepare_fanout(config: Config, database: Database, *, now: datetime) -> None:
    """What every shard needs done once before it builds: topics added or changed are matched over the archive."""
    # A missing signing key is the whole digest's problem: raise before any shard is queued.
    ReaderLinks.from_config(config)
    prepare_topics(database, config.topics, now=now)


# Readers composed in one transaction and written with one INSERT: a commit per reader was a quarter of a row's cost.
BUILD_CHUNK = 50


def build_shard(config: Config, database: Database, *, now: datetime, shard: int, shards: int) -> BuildResult:
    """One outbox row per reader of this shard who is owed something (or gets empty digests), once."""
    links = ReaderLinks.from_config(config)
    result = BuildResult()
    with database.session(write=False) as session:
        # The readers' own choices read now, as `bantin digest --send` reads them: a paused or unsubscribed
        # reader gets nothing, the others get the topics they picked.
        recipients = [r for r in digest_recipients(config, session) if shard_of(r.email, shards) == shard]
        # Rows this fan-out (its `now`) already wrote: a build job run again.
        done = set(
            session.scalars(
                select(OutboxMessage.recipient).where(OutboxMessage.kind == "digest", OutboxMessage.created_at == now)
            )
        )
        lz4 = database.dialect == "postgresql" and bool(session.scalar(LZ4_OFFERED))
    todo = [recipient for recipient in recipients if recipient_key(recipient.email) not in done]
    result.already = len(recipients) - len(todo)
    # Readers share a composed digest and its page only within a chunk (one transaction): cut the chunks from the
    # readers grouped by language and topics, so a chunk holds a few digests for many readers, not every digest
    # for a few each. A stable sort keeps the order deterministic; which readers this shard builds is unchanged.
    todo.sort(key=partial(_digest_group, config))
    for start in range(0, len(todo), BUILD_CHUNK):
        _build_chunk(config, database, todo[start : start + BUILD_CHUNK], now, links, result, lz4=lz4)
    return result


def _digest_group(config: Config, recipient: RecipientConfig) -> tuple[str, tuple[str, ...]]:
    return (recipient.language or config.digest.language, tuple(topic.name for topic in config.topics_for(recipient)))


# PostgreSQL compresses each stored message (its 50-100 KB) on the way in: with its default, pglz, that was
# 40 of a 50-row INSERT's 70 ms, a quarter of a build job's time; lz4 takes a fifth of that and stores them
# smaller. Set for the build's own transactions only, where the server has it (PostgreSQL 14+ built with
# lz4); reading such a row back needs nothing.
LZ4_OFFERED = text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")


def _build_chunk(
    config: Config,
    database: Database,
    recipients: list[RecipientConfig],
    now: datetime,
    links: ReaderLinks,
    result: BuildResult,
    *,
    lz4: bool,
) -> None:
    rows = []
    with database.session() as session:
        # The chunk's readers look up what they share (coverage per previous-digest time, matches per topic set)
        # once, in this transaction, and their past digests (when the last was built, how many today) and what
        # they hold (deliveries, rows not yet sent, their stories) in one query each. Nothing the loop below
        # does writes those (its rows are inserted after it), so each reader reads what it would have read alone.
        emails = [recipient.email for recipient in recipients]
        day = now.astimezone(config.schedule.tz).date()
        shared = SharedLookups(
            previous=previous_digests_at(session, emails),
            digests_on=(day, digests_on(session, emails, day)),
            held=held_by(session, emails),
        )
        for recipient in recipients:
            try:
                # A reader whose digest cannot be built leaves the transaction usable for the others.
                with session.begin_nested():
                    composed = _compose(session, config, recipient, now, links, shared)
                    digest = composed.digest
                    if digest.empty and (
                        not config.digest.send_empty
                        or _digests_on(session, recipient.email, digest.digest_date, shared)
                    ):
                        result.empty += 1
                        continue
                    rows.append(_outbox_values(composed, recipient, now))
            except Exception as exc:  # noqa: BLE001 - one reader's message must never stop the others
                log.exception("cannot build the digest for %s", recipient.email)
                result.failed.append((recipient.email, f"cannot build the message: {_describe(exc)}"))
        if not rows:
            return
        module = postgresql if database.dialect == "postgresql" else sqlite
        if lz4:
            session.execute(text("SET LOCAL default_toast_compression = 'lz4'"))
        inserted = session.scalars(
            module.insert(OutboxMessage)
            .on_conflict_do_nothing(index_elements=["digest_key", "recipient"])
            .returning(OutboxMessage.id),
            rows,
        ).all()
    result.queued += len(inserted)
    result.already += len(rows) - len(inserted)


# -- claiming -------------------------------------------------------------------


def new_owner(worker: str) -> str:
    return f"{worker}:{uuid.uuid4().hex[:12]}"


def claim_batch(database: Database, owner: str, *, now: datetime, ttl: timedelta, limit: int) -> list[int]:
    """Claim up to `limit` due, unclaimed pending rows for `owner`; their ids, oldest first."""
    free = or_(OutboxMessage.claim_expires_at.is_(None), OutboxMessage.claim_expires_at <= now)
    due = or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now)
    candidates = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending", due, free)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if database.dialect == "postgresql":
        # Rows another sender is claiming right now are skipped, not waited for.
        candidates = candidates.with_for_update(skip_locked=True)
    with database.session() as session:
        ids = session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(candidates.scalar_subquery()), free)
            .values(claimed_by=owner, claim_expires_at=now + ttl)
            .returning(OutboxMessage.id)
        ).all()
    return sorted(ids)


def renew_claims(database: Database, owner: str, *, now: datetime, ttl: timedelta) -> int:
    """Push the expiry of every row `owner` still holds (pending or sending) forward."""
    with database.session() as session:
        return session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.claimed_by == owner, OutboxMessage.status.in_(("pending", "sending")))
            .values(claim_expires_at=now + ttl)
        ).rowcount  # type: ignore[attr-defined]  # an UPDATE/INSERT: a CursorResult


def release_claims(database: Database, owner: str) -> int:
    """Give back the pending rows `owner` claimed and did not send (stopping, or its session failed)."""
    with database.session() as session:
        return session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.claimed_by == owner, OutboxMessage.status == "pending")
            .values(claimed_by=None, claim_expires_at=None)
        ).rowcount  # type: ignore[attr-defined]  # an UPDATE/INSERT: a CursorResult


def recover_expired_claims(database: Database, *, now: datetime) -> int:
    """Rows a dead sender left "sending" go back to pending once its claim has expired (resent once, same
    Message-ID); a never-claimed "sending" row only when no one-machine run holds the outbox lease."""
    holder = lease_holder(database, OUTBOX_LEASE)
    one_machine_run_alive = holder is not None and holder.live(now)
    return _recover_sending(database, now, expired_claims_only=one_machine_run_alive)


def _claimed_by(owner: str) -> Callable[[Database, int, datetime], bool]:
    def claim(database: Database, row_id: int, now: datetime) -> bool:
        """pending -> sending, only while the row is still ours."""
        with database.session() as session:
            return (
                session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == row_id,
                        OutboxMessage.status == "pending",
                        OutboxMessage.claimed_by == owner,
                        OutboxMessage.claim_expires_at > now,
                    )
                    .values(status="sending", attempts=OutboxMessage.attempts + 1, updated_at=now)
                ).rowcount  # type: ignore[attr-defined]  # an UPDATE/INSERT: a CursorResult
                == 1
            )

    return claim


class ClaimKeeper:
    """Renews a sender's claims every third of their TTL, in the background, while it sends."""

    def __init__(self, database: Database, owner: str, ttl: timedelta, clock: Clock):
        self.database, self.owner, self.ttl, self.clock = database, owner, ttl, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-claims", daemon=True)

    def __enter__(self) -> ClaimKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.ttl.total_seconds() / 3):
            try:
                renew_claims(self.database, self.owner, now=self.clock(), ttl=self.ttl)
            except Exception:  # noqa: BLE001 - a database hiccup: the next beat tries again, well before expiry
                log.warning("could not renew the outbox claims of %s", self.owner, exc_info=True)


# -- sending --------------------------------------------------------------------


@dataclass
class SendResult:
    results: list[RecipientResult] = field(default_factory=list)
    batches: int = 0
    recovered: int = 0

    def count(self, status: str) -> int:
        return sum(1 for result in self.results if result.status == status)


def send_claimed(
    config: Config,
    database: Database,
    *,
    worker: str,
    more_coming: Callable[[], bool] = lambda: False,
    stop: threading.Event | None = None,
    clock: Clock = utcnow,
    sleep: Callable[[float], None] = time.sleep,
    ttl: timedelta,
    batch_size: int,
    poll_seconds: float = 1.0,
) -> SendResult:
    """Claim and send due rows, batch after batch, until none is due and `more_coming()` says no more will be.

    `more_coming` is true while build jobs of a digest are still writing rows.
    """
    stop = stop or threading.Event()
    owner = new_owner(worker)
    result = SendResult(recovered=recover_expired_claims(database, now=clock()))
    configured = {recipient_key(r.email): r.email for r in config.recipients}
    envelope_from = sender_address(config.smtp)
    claim = _claimed_by(owner)
    with SmtpSession(config.smtp) as smtp, ClaimKeeper(database, owner, ttl, clock):
        try:
            while not stop.is_set():
                # Asked before claiming: a build that is done has committed its rows, which this claim then
                # sees; asked after, a build finishing in between would leave its last rows to the next sweep.
                coming = more_coming()
                ids = claim_batch(database, owner, now=clock(), ttl=ttl, limit=batch_size)
                if not ids:
                    if coming:
                        stop.wait(poll_seconds)
                        continue
                    break
                result.batches += 1
                transport_error = _send_batch(
                    config, database, smtp, ids, claim, configured, envelope_from, result, clock, sleep, stop
                )
                if transport_error:
                    # The session itself fails (connection refused, login): leave the rows to a later sender.
                    log.warning("sender %s stops: %s", owner, transport_error)
                    break
        finally:
            release_claims(database, owner)
    return result


# Messages the server accepted are marked sent (with their deliveries) this many at a time, in one transaction:
# a commit per message was most of a sender's time. Until then each stays "sending" under this sender's live
# claim, so a sender killed in between resends exactly those (same Message-ID): the rows it had in flight.
MARK_SENT_EVERY = 10


class _SentMarks:
    """Accepted rows waiting to be marked sent together; marked when MARK_SENT_EVERY have gathered, and at the
    end of the batch (whatever ends it)."""

    def __init__(self, database: Database, clock: Clock):
        self.database, self.clock = database, clock
        self.rows: list[int] = []

    def add(self, _database: Database, row_id: int, _now: datetime) -> None:
        self.rows.append(row_id)
        if len(self.rows) >= MARK_SENT_EVERY:
            self.flush()

    def flush(self) -> None:
        rows, self.rows = self.rows, []
        if rows:
            _mark_sent(self.database, rows, self.clock())


def _send_batch(
    config, database, smtp, ids, claim, configured, envelope_from, result, clock, sleep, stop
) -> str | None:
    marks = _SentMarks(database, clock)
    try:
        return _send_rows(
            config, database, smtp, ids, claim, marks, configured, envelope_from, result, clock, sleep, stop
        )
    finally:
        marks.flush()


def _send_rows(
    config, database, smtp, ids, claim, marks, configured, envelope_from, result, clock, sleep, stop
) -> str | None:
    # Read per batch: a reader who pauses while a long digest run sends is not sent to after.
    stopped = stopped_readers(config, database)
    # The batch's messages read in one query, not one transaction per row.
    with database.session(write=False) as session:
        rows = {row.id: row for row in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))}
    for row_id in ids:
        if stop.is_set():
            return None
        row = rows[row_id]
        recipient, raw, items = row.recipient, row.raw_message, len(row.items or ())
        info = dict(outbox_id=row.id, digest_key=row.digest_key, subject=row.subject)
        shown = configured.get(recipient, recipient)
        now = clock()
        if recipient not in configured:
            error = "recipient is no longer in the configuration"
            _finish(database, row_id, "failed", now, error=error)
            result.results.append(RecipientResult(shown, "failed", items, error, **info))
            continue
        if recipient in stopped:
            error = not_sent_because(stopped[recipient])
            _finish(database, row_id, "cancelled", now, error=error)
            result.results.append(RecipientResult(shown, "cancelled", items, error, **info))
            continue
        status, error = _deliver(
            config,
            database,
            smtp,
            row_id,
            raw,
            Envelope(envelope_from, recipient),
            now,
            sleep,
            claim=claim,
            mark_sent=marks.add,
        )
        if status == "transport":
            result.results.append(RecipientResult(shown, "pending", items, error, **info))
            return error
        result.results.append(RecipientResult(shown, status, items, error, **info))
    return None


def due_rows(database: Database, *, now: datetime) -> int:
    """Pending rows due now and not under a live claim: work for a sender."""
    with database.session(write=False) as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.status == "pending",
                    or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
                    or_(OutboxMessage.claim_expires_at.is_(None), OutboxMessage.claim_expires_at <= now),
                )
            )
            or 0
        )
