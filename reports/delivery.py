"""The digest run: outbox rows, delivery with retry, crash recovery, previews, resends.

Exactly-once, as far as SMTP allows: an outbox row holds the exact bytes of one
message; it goes pending -> sending -> sent | failed. A row is marked sent,
and the reader's Delivery rows are written, in one transaction after the
server accepted the message. A crash between the two leaves the row "sending";
the next run resends those bytes (same Message-ID, so clients can fold a
duplicate) rather than risk losing the digest. Runs hold the "outbox" lease so
that a "sending" row seen by a run always belongs to a dead one.

An outcome is "unknown" when the whole message went out and no reply came (a
timeout or a dropped connection after the final ".", or a crash before the
commit): the server may have it. Such a row is never resent in the same run,
and resent at most MAX_UNKNOWN_RESENDS times in all; the count lives in the
row's last_error (see _UNKNOWN_TAG), so that status and the CLI show it too.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.parser import BytesParser
from email.utils import format_datetime
from typing import Any, TypedDict, cast

from sqlalchemy import CursorResult, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from crawler.clock import utcnow
from crawler.config import Config, RecipientConfig
from crawler.errors import ConfigError, UsageError
from crawler.locks import hold_lease
from crawler.readers import ACTIVE, UNSUBSCRIBED, Reader, effective_reader, effective_readers
from crawler.store import Database
from crawler.store.models import ArticleRow, Delivery, OutboxMessage, UTCDateTime
from crawler.topics import prepare_topics
from reports.digest import Digest, SharedLookups, build_digest, recipient_key
from reports.mailer import (
    MAIL_POLICY,
    UTF8_MAIL_POLICY,
    Envelope,
    ReaderLinks,
    SmtpOutcomeUnknownError,
    SmtpPermanentError,
    SmtpSession,
    SmtpTemporaryError,
    SmtpTransportError,
    build_message,
    message_id,
    needs_smtputf8,
    sender_address,
)
from reports.render import Rendered, render_within

log = logging.getLogger("bantin.digest")

OUTBOX_LEASE = "outbox"
# After a run's attempts are used up, a row waits RETRY_FIRST, then twice as long after each
# further round, up to RETRY_MAX: greylisting (typically 5-30 minutes) passes the same day.
RETRY_FIRST = timedelta(minutes=5)
RETRY_MAX = timedelta(hours=4)
# A message that may have been delivered is resent this many times at most, after this wait.
MAX_UNKNOWN_RESENDS = 1
UNKNOWN_WAIT = timedelta(hours=1)
_UNKNOWN_TAG = re.compile(r" \[outcome unknown (\d+)x\]$")


@dataclass(slots=True)
class RecipientResult:
    email: str
    # sent | failed | pending | empty (nothing owed, no message) | paused | unsubscribed | no topics (the reader's
    # choice) | cancelled (queued, then the reader paused or unsubscribed)
    status: str
    item_count: int
    error: str = ""
    outbox_id: int | None = None
    digest_key: str = ""
    subject: str = ""


class _RowInfo(TypedDict):
    """What a RecipientResult repeats from its outbox row."""

    outbox_id: int
    digest_key: str
    subject: str


@dataclass(slots=True)
class DigestReport:
    results: list[RecipientResult] = field(default_factory=list)
    # Rows found in "sending" (left by a crashed run) and resent.
    recovered: int = 0

    def _count(self, status: str) -> int:
        return sum(1 for result in self.results if result.status == status)

    @property
    def sent(self) -> int:
        return self._count("sent")

    @property
    def failed(self) -> int:
        return self._count("failed")

    @property
    def pending(self) -> int:
        return self._count("pending")

    @property
    def ok(self) -> bool:
        return not self.failed and not self.pending


@dataclass(slots=True)
class Preview:
    recipient: str
    subject: str
    eml_bytes: bytes
    html: str
    text: str = ""
    item_count: int = 0
    shown: int = 0
    # False when nothing is owed and [digest] send_empty is off: a real run would not send it.
    would_send: bool = True


@dataclass(slots=True)
class _Composed:
    digest: Digest
    rendered: Rendered
    raw: bytes
    message_id: str
    digest_key: str


def _compose(
    session: Session,
    config: Config,
    recipient: RecipientConfig,
    now: datetime,
    links: ReaderLinks,
    shared: SharedLookups | None = None,
) -> _Composed:
    digest = build_digest(session, config, recipient, now=now, shared=shared)
    unsubscribe = links.unsubscribe(recipient.email)
    digest, rendered = render_within(
        digest,
        max_html_kb=config.digest.max_html_kb,
        unsubscribe=unsubscribe[0] or unsubscribe[1],
        preferences=links.preferences(recipient.email),
        fragments=shared.fragments if shared is not None else None,
        renderings=shared.renderings if shared is not None else None,
    )
    key = _next_digest_key(session, recipient.email, digest.digest_date, shared)
    msg_id = message_id(key, recipient.email, sender_address(config.smtp))
    raw = build_message(
        config,
        recipient=recipient.email,
        recipient_name=recipient.name,
        subject=digest.subject,
        text=rendered.text,
        html=rendered.html,
        msg_id=msg_id,
        now=now,
        unsubscribe=unsubscribe,
    )
    return _Composed(digest, rendered, raw, msg_id, key)


def _next_digest_key(session: Session, email: str, day: date, shared: SharedLookups | None = None) -> str:
    """ "2025-03-27" for a recipient's first digest of the day, then "2025-03-27-2", ..."""
    earlier = _digests_on(session, email, day, shared)
    return day.isoformat() if not earlier else f"{day.isoformat()}-{earlier + 1}"


def build_previews(
    config: Config, database: Database, *, now: datetime | None = None, only: str | None = None
) -> list[Preview]:
    """Render what each recipient would get now. Never writes outbox or delivery rows."""
    now = now or utcnow()
    with database.session(write=False) as session:
        readers = _select_readers(config, session, only)
    links = ReaderLinks.from_config(config)
    # A topic added or changed since the last crawl is matched over the archive first.
    prepare_topics(database, config.topics, now=now)
    previews = []
    for reader in readers:
        recipient = reader.as_recipient()
        with database.session(write=False) as session:
            composed = _compose(session, config, recipient, now, links)
            session.rollback()
        previews.append(
            Preview(
                recipient=recipient.email,
                subject=composed.digest.subject,
                eml_bytes=composed.raw,
                html=composed.rendered.html,
                text=composed.rendered.text,
                item_count=composed.digest.total,
                shown=composed.rendered.shown,
                would_send=reader.receives and (not composed.digest.empty or config.digest.send_empty),
            )
        )
    return previews


def _select_readers(config: Config, session: Session, only: str | None) -> list[Reader]:
    """Every reader who receives the digest, or the one asked for (whatever their state)."""
    readers = effective_readers(config, session)
    if only is None:
        return [reader for reader in readers if reader.receives]
    chosen = [reader for reader in readers if recipient_key(reader.email) == recipient_key(only)]
    if not chosen:
        raise UsageError(f"{only} is not a recipient in the configuration")
    return chosen


def run_digest(
    config: Config,
    database: Database,
    *,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DigestReport:
    """Recover interrupted sends, queue one message per recipient who is owed something, send what is due."""
    now = now or utcnow()
    # Before anything is queued: a missing signing key is the whole run's problem, not one reader's.
    links = ReaderLinks.from_config(config)
    prepare_topics(database, config.topics, now=now)
    with hold_lease(database, OUTBOX_LEASE, info={"job": "digest"}):
        run = DigestReport(recovered=_recover_sending(database, now))
        # The readers' own choices, read now: one made a minute ago counts for this digest.
        with database.session(write=False) as session:
            readers = effective_readers(config, session)
        for reader in readers:
            if not reader.receives:
                why = "no topics" if reader.state == ACTIVE else reader.state
                run.results.append(RecipientResult(reader.email, why, 0))
                continue
            recipient = reader.as_recipient()
            try:
                _enqueue(config, database, recipient, now, links)
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001 - one reader's message must never stop the others
                log.exception("cannot build the digest for %s", recipient.email)
                run.results.append(
                    RecipientResult(recipient.email, "failed", 0, f"cannot build the message: {_describe(exc)}")
                )
        run.results.extend(_send_due(config, database, now=now, sleep=sleep))
        # A row queued now is due at once, so it is in the results; one waiting for a retry is reported here.
        _report_waiting(config, database, run)
        reported = {recipient_key(result.email) for result in run.results}
        for reader in readers:
            if recipient_key(reader.email) not in reported:
                run.results.append(RecipientResult(reader.email, "empty", 0))
    return run


def retry_due(database: Database, now: datetime) -> bool:
    """Whether a pending row is due, or a row was left "sending" (a cheap check, no lease)."""
    with database.session() as session:
        return bool(
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    (OutboxMessage.status == "sending")
                    | (
                        (OutboxMessage.status == "pending")
                        & (OutboxMessage.next_attempt_at.is_(None) | (OutboxMessage.next_attempt_at <= now))
                    )
                )
            )
        )


def retry_pending(
    config: Config,
    database: Database,
    *,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DigestReport:
    """Send the pending rows that are due, and nothing new: the service's retry job, between digests."""
    now = now or utcnow()
    with hold_lease(database, OUTBOX_LEASE, info={"job": "retry"}):
        run = DigestReport(recovered=_recover_sending(database, now))
        run.results.extend(_send_due(config, database, now=now, sleep=sleep))
        _report_waiting(config, database, run)
    return run


def _report_waiting(config: Config, database: Database, run: DigestReport) -> None:
    """A configured reader's message that waits for a later retry is reported pending, with when, not "empty"."""
    reported = {result.outbox_id for result in run.results}
    configured = {recipient_key(r.email): r.email for r in config.recipients}
    with database.session() as session:
        waiting = session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == "pending").order_by(OutboxMessage.id)
        ).all()
        for row in waiting:
            if row.recipient not in configured or row.id in reported:
                continue
            when = _local(row.next_attempt_at, config) if row.next_attempt_at else "the next run"
            error = f"waits for a retry at {when}" + (f" (last: {row.last_error})" if row.last_error else "")
            run.results.append(
                RecipientResult(
                    configured[row.recipient],
                    "pending",
                    len(row.items or ()),
                    error,
                    outbox_id=row.id,
                    digest_key=row.digest_key,
                    subject=row.subject,
                )
            )


def _local(moment: datetime, config: Config) -> str:
    return moment.astimezone(config.schedule.tz).strftime("%Y-%m-%d %H:%M %z")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def unknown_outcomes(last_error: str | None) -> int:
    """How many times this row was sent with an unknown outcome (kept at the end of last_error)."""
    found = _UNKNOWN_TAG.search(last_error or "")
    return int(found.group(1)) if found else 0


def _with_unknown(error: str, count: int) -> str:
    tag = f" [outcome unknown {count}x]" if count else ""
    return error[: 2000 - len(tag)] + tag


def _recover_sending(database: Database, now: datetime, *, expired_claims_only: bool = False) -> int:
    """Rows left "sending" by a dead run go back to pending (same bytes, same Message-ID) or fail.

    A row a cluster sender claimed belongs to it until its claim expires (the
    sender renews it while it sends): never taken from a live sender. With
    `expired_claims_only`, rows that were never claimed are left alone too
    (a one-machine run holding the outbox lease may be sending them).
    """
    claim_over = OutboxMessage.claim_expires_at <= now
    if not expired_claims_only:
        claim_over = OutboxMessage.claim_expires_at.is_(None) | claim_over
    with database.session() as session:
        # Locked until this transaction ends: two recoveries at once (the sweeps of two workers, a sender starting)
        # must not both take a row, or the second would undo a claim made on it after the first.
        stuck = session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == "sending", claim_over).with_for_update(skip_locked=True)
        ).all()
        for row in stuck:
            row.claimed_by, row.claim_expires_at = None, None
            count = unknown_outcomes(row.last_error) + 1
            row.updated_at = now
            row.next_attempt_at = None
            if count > MAX_UNKNOWN_RESENDS:
                log.error(
                    "outbox %d (%s, digest %s) was left 'sending' again; sent %d times with an unknown outcome, "
                    "not resent again",
                    row.id,
                    row.recipient,
                    row.digest_key,
                    count,
                )
                row.status = "failed"
                row.last_error = _with_unknown(
                    f"interrupted while sending, {count} times with an unknown outcome: not resent again "
                    "(the reader may have it; its articles come again in the next digest)",
                    count,
                )
                continue
            log.warning(
                "outbox %d (%s, digest %s) was left 'sending' by an interrupted run; the server may already "
                "have it: resending with the same Message-ID %s",
                row.id,
                row.recipient,
                row.digest_key,
                row.message_id,
            )
            row.status = "pending"
            row.last_error = _with_unknown("interrupted while sending; resent", count)
        return len(stuck)


def _enqueue(config: Config, database: Database, recipient: RecipientConfig, now: datetime, links: ReaderLinks) -> bool:
    """Write the outbox row for what `recipient` is owed; False when there is nothing to send."""
    with database.session() as session:
        composed = _compose(session, config, recipient, now, links)
        digest = composed.digest
        if digest.empty:
            if not config.digest.send_empty or _digests_on(session, recipient.email, digest.digest_date):
                return False
        session.add(OutboxMessage(**_outbox_values(composed, recipient, now)))
    log.info("queued digest %s for %s: %d items", composed.digest_key, recipient.email, digest.total)
    return True


def _outbox_values(composed: _Composed, recipient: RecipientConfig, now: datetime) -> dict:
    """The new pending outbox row of a composed digest (here, and the cluster's build jobs)."""
    digest = composed.digest
    return dict(
        digest_key=composed.digest_key,
        digest_date=digest.digest_date,
        recipient=recipient_key(recipient.email),
        message_id=composed.message_id,
        subject=digest.subject,
        raw_message=composed.raw,
        items=[[article_id, version] for article_id, version in digest.delivered_versions],
        status="pending",
        attempts=0,
        last_error="",
        created_at=now,
        updated_at=now,
        kind="digest",
    )


def _digests_on(session: Session, email: str, day: date, shared: SharedLookups | None = None) -> int:
    """How many digests the outbox holds for this recipient and day, whatever their state."""
    if shared is not None and shared.digests_on is not None and shared.digests_on[0] == day:
        return shared.digests_on[1].get(recipient_key(email), 0)
    return digests_on(session, [email], day).get(recipient_key(email), 0)


def digests_on(session: Session, emails: list[str], day: date) -> dict[str, int]:
    """{recipient key: how many digests the outbox holds for them and day, whatever their state}, for those with any."""
    keys = sorted({recipient_key(email) for email in emails})
    return dict(
        session.execute(
            select(OutboxMessage.recipient, func.count())
            .where(
                OutboxMessage.recipient.in_(keys),
                OutboxMessage.digest_date == day,
                OutboxMessage.kind == "digest",
            )
            .group_by(OutboxMessage.recipient)
        ).all()
    )


def stopped_readers(config: Config, database: Database) -> dict[str, str]:
    """{reader key: state} of the readers who paused or unsubscribed: a message queued before that is not sent
    after (its articles stay owed)."""
    with database.session(write=False) as session:
        return {recipient_key(r.email): r.state for r in effective_readers(config, session) if r.state != ACTIVE}


def not_sent_because(state: str) -> str:
    return f"not sent: the reader {'unsubscribed' if state == UNSUBSCRIBED else 'paused'}"


def _send_due(
    config: Config,
    database: Database,
    *,
    now: datetime,
    sleep: Callable[[float], None],
    only_ids: list[int] | None = None,
) -> list[RecipientResult]:
    configured = {recipient_key(r.email): r.email for r in config.recipients}
    stopped = stopped_readers(config, database)
    with database.session() as session:
        query = select(OutboxMessage.id).where(OutboxMessage.status == "pending").order_by(OutboxMessage.id)
        if only_ids is not None:
            query = query.where(OutboxMessage.id.in_(only_ids))
        else:
            query = query.where((OutboxMessage.next_attempt_at.is_(None)) | (OutboxMessage.next_attempt_at <= now))
        due = list(session.scalars(query))
    results: list[RecipientResult] = []
    envelope_from = sender_address(config.smtp)
    transport_error: str | None = None
    with SmtpSession(config.smtp) as smtp:
        for row_id in due:
            with database.session() as session:
                row = session.get_one(OutboxMessage, row_id)
                recipient, raw, items = row.recipient, row.raw_message, len(row.items or ())
                info = _RowInfo(outbox_id=row.id, digest_key=row.digest_key, subject=row.subject)
            shown_email = configured.get(recipient, recipient)
            if recipient not in configured and only_ids is None:
                _finish(database, row_id, "failed", now, error="recipient is no longer in the configuration")
                results.append(
                    RecipientResult(shown_email, "failed", items, "recipient is no longer in the configuration", **info)
                )
                continue
            if recipient in stopped and only_ids is None:
                why = not_sent_because(stopped[recipient])
                _finish(database, row_id, "cancelled", now, error=why)
                results.append(RecipientResult(shown_email, "cancelled", items, why, **info))
                continue
            if transport_error is not None:
                results.append(
                    RecipientResult(shown_email, "pending", items, f"not attempted: {transport_error}", **info)
                )
                continue
            status, error = _deliver(
                config, database, smtp, row_id, raw, Envelope(envelope_from, recipient), now, sleep
            )
            if status == "transport":
                transport_error = error
                status = "pending"
            results.append(RecipientResult(shown_email, status, items, error, **info))
    return results


def _deliver(
    config: Config,
    database: Database,
    smtp: SmtpSession,
    row_id: int,
    raw: bytes,
    envelope: Envelope,
    now: datetime,
    sleep: Callable[[float], None],
    claim: Callable[[Database, int, datetime], bool] | None = None,
    mark_sent: Callable[[Database, int, datetime], None] | None = None,
) -> tuple[str, str]:
    """Try one row up to smtp.max_attempts times; returns (status, error).

    `claim` turns the row from pending to sending (default: if nobody else did
    it first); a cluster sender passes its own, which also checks its claim.
    `mark_sent` records the server's acceptance (default: at once); a cluster
    sender's gathers a few rows and marks them in one transaction.
    """
    backoff = config.smtp.retry_backoff_seconds
    error = ""
    claim = claim or _claim
    for attempt in range(config.smtp.max_attempts):
        if not claim(database, row_id, now):
            return "pending", "taken by another run"
        try:
            smtp.send(raw, envelope)
        except SmtpPermanentError as exc:
            _finish(database, row_id, "failed", now, error=str(exc))
            log.error("digest for %s refused: %s", envelope.recipient, exc)
            return "failed", str(exc)
        except SmtpOutcomeUnknownError as exc:
            return _unknown_outcome(config, database, row_id, now, str(exc), envelope)
        except SmtpTemporaryError as exc:
            retry_at = _postpone(database, row_id, now, error=str(exc), max_attempts=config.smtp.max_attempts)
            error = f"{exc}; will retry at {_local(retry_at, config)}"
            log.warning(
                "digest for %s not sent (attempt %d of %d): %s",
                envelope.recipient,
                attempt + 1,
                config.smtp.max_attempts,
                exc,
            )
            if attempt + 1 < config.smtp.max_attempts and backoff:
                sleep(backoff * 2**attempt)
            if attempt + 1 == config.smtp.max_attempts and isinstance(exc, SmtpTransportError):
                return "transport", error
            continue
        except ConfigError as exc:
            # Nothing went out (no password for the login): the row waits, the run stops with the config error.
            _finish(database, row_id, "pending", now, error=str(exc))
            raise
        except Exception as exc:  # noqa: BLE001 - this message's problem: it must not stop the others, nor stay "sending"
            error = f"cannot send: {_describe(exc)}"
            log.exception("digest for %s could not be sent", envelope.recipient)
            _finish(database, row_id, "failed", now, error=error)
            return "failed", error
        (mark_sent or _mark_one_sent)(database, row_id, now)
        log.info("digest for %s accepted by the server", envelope.recipient)
        return "sent", ""
    return "pending", error


def _mark_one_sent(database: Database, row_id: int, now: datetime) -> None:
    _mark_sent(database, [row_id], now)


def _unknown_outcome(
    config: Config, database: Database, row_id: int, now: datetime, error: str, envelope: Envelope
) -> tuple[str, str]:
    """The server may have the message: never again in this run, and only MAX_UNKNOWN_RESENDS more times."""
    with database.session() as session:
        row = session.get_one(OutboxMessage, row_id)
        count = unknown_outcomes(row.last_error) + 1
        row.updated_at = now
        if count > MAX_UNKNOWN_RESENDS:
            row.status, row.next_attempt_at = "failed", None
            shown = (
                f"outcome unknown again ({error}); sent {count} times, not resent again "
                "(the reader may have it; its articles come again in the next digest)"
            )
        else:
            row.status, row.next_attempt_at = "pending", now + UNKNOWN_WAIT
            left = MAX_UNKNOWN_RESENDS - count + 1
            shown = (
                f"outcome unknown ({error}); will retry {'once' if left == 1 else f'{left} more times'} "
                f"at {_local(row.next_attempt_at, config)}"
            )
        row.last_error = _with_unknown(shown, count)
        status = row.status
    log.warning("digest for %s: %s", envelope.recipient, shown)
    return status, shown


def _claim(database: Database, row_id: int, now: datetime) -> bool:
    """pending -> sending, only if nobody else did it first."""
    with database.session() as session:
        result = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == row_id,
                OutboxMessage.status == "pending",
                OutboxMessage.claim_expires_at.is_(None) | (OutboxMessage.claim_expires_at <= now),
            )
            .values(status="sending", attempts=OutboxMessage.attempts + 1, updated_at=now)
        )
        return cast(CursorResult[Any], result).rowcount == 1


def _finish(
    database: Database,
    row_id: int,
    status: str,
    now: datetime,
    *,
    error: str,
    next_attempt_at: datetime | None = None,
) -> None:
    with database.session() as session:
        row = session.get_one(OutboxMessage, row_id)
        row.status = status
        # Later errors keep the count of unknown outcomes: the resend cap must survive a 451 in between.
        row.last_error = _with_unknown(error, unknown_outcomes(row.last_error))
        row.next_attempt_at = next_attempt_at
        row.updated_at = now


def _postpone(database: Database, row_id: int, now: datetime, *, error: str, max_attempts: int) -> datetime:
    """A temporary failure: the row waits, longer after each round of attempts (RETRY_FIRST doubling to RETRY_MAX)."""
    with database.session() as session:
        attempts = session.get_one(OutboxMessage, row_id).attempts
    retry_at = now + retry_delay(attempts, max_attempts)
    _finish(database, row_id, "pending", now, error=error, next_attempt_at=retry_at)
    return retry_at


def retry_delay(attempts: int, max_attempts: int) -> timedelta:
    rounds = max(1, math.ceil(attempts / max_attempts))
    return min(RETRY_FIRST * 2 ** min(rounds - 1, 16), RETRY_MAX)


def _mark_sent(database: Database, row_ids: list[int], now: datetime) -> None:
    """The server accepted these messages: mark them sent and record their deliveries, in ONE transaction."""
    with database.session() as session:
        # One UPDATE ... RETURNING, not a SELECT of the whole rows (their raw messages included) and an UPDATE.
        marked = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(row_ids))
            .values(status="sent", sent_at=now, updated_at=now, last_error="", next_attempt_at=None)
            .returning(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.recipient, OutboxMessage.items)
        ).all()
        # In the order they were sent: a later message to the same reader records its versions over an earlier's.
        digests = [
            (row_id, recipient, {int(article_id): int(version) for article_id, version in items or ()})
            for row_id, kind, recipient, items in sorted(marked)
            if kind == "digest"
        ]
        articles = {article_id for _row_id, _recipient, pairs in digests for article_id in pairs}
        if not articles:
            return
        # One look-up for which articles still exist and the readers' earlier deliveries of them.
        existing: set[int] = set()
        earlier: dict[tuple[str, int], Delivery] = {}
        for article_id, found in session.execute(
            select(ArticleRow.id, Delivery)
            .outerjoin(
                Delivery,
                (Delivery.article_id == ArticleRow.id)
                & Delivery.recipient.in_(sorted({recipient for _row_id, recipient, _pairs in digests})),
            )
            .where(ArticleRow.id.in_(sorted(articles)))
        ):
            existing.add(article_id)
            if found is not None:
                earlier[(found.recipient, article_id)] = found
        # {(reader, article): (version, outbox row)} of the deliveries to write.
        new: dict[tuple[str, int], tuple[int, int]] = {}
        for row_id, recipient, pairs in digests:
            for article_id, version in pairs.items():
                if article_id not in existing:
                    continue  # deleted from the archive since the message was built
                delivery = earlier.get((recipient, article_id))
                if delivery is None:
                    if new.get((recipient, article_id), (0, 0))[0] < version:
                        new[(recipient, article_id)] = (version, row_id)
                elif delivery.article_version < version:
                    delivery.article_version = version
                    delivery.outbox_id = row_id
                    delivery.delivered_at = now
        if new and database.dialect == "postgresql":
            # A hundred deliveries a message: one statement with four arrays, not a statement per row (psycopg's
            # executemany) nor one of thousands of parameters (parsed again for each new count of rows).
            session.execute(
                _INSERT_DELIVERIES,
                dict(
                    recipients=[recipient for recipient, _article_id in new],
                    article_ids=[article_id for _recipient, article_id in new],
                    versions=[version for version, _row_id in new.values()],
                    outbox_ids=[row_id for _version, row_id in new.values()],
                    delivered_at=now,
                ),
            )
        elif new:
            session.execute(
                insert(Delivery),
                [
                    dict(
                        recipient=recipient,
                        article_id=article_id,
                        article_version=version,
                        outbox_id=row_id,
                        delivered_at=now,
                    )
                    for (recipient, article_id), (version, row_id) in new.items()
                ],
            )


_INSERT_DELIVERIES = text(
    "INSERT INTO deliveries (recipient, article_id, article_version, outbox_id, delivered_at)"
    " SELECT recipient, article_id, article_version, outbox_id, :delivered_at"
    " FROM unnest(CAST(:recipients AS text[]), CAST(:article_ids AS bigint[]), CAST(:versions AS integer[]),"
    " CAST(:outbox_ids AS integer[])) AS new (recipient, article_id, article_version, outbox_id)"
).bindparams(bindparam("delivered_at", type_=UTCDateTime()))


def resend_digest(
    config: Config,
    database: Database,
    day: date,
    to: str,
    *,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DigestReport:
    """Send a past digest again, as a new message (a new Message-ID, so the reader's client shows it)."""
    now = now or utcnow()
    key = recipient_key(to)
    with database.session(write=False) as session:
        try:
            unsubscribed = effective_reader(config, session, to).state == UNSUBSCRIBED
        except LookupError:
            unsubscribed = False  # a former reader: the outbox decides whether there is anything to resend
    if unsubscribed:
        raise UsageError(f"{to} has unsubscribed: nothing is sent to them any more")
    with hold_lease(database, OUTBOX_LEASE, info={"job": "resend"}):
        with database.session() as session:
            original = session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.recipient == key,
                    OutboxMessage.digest_date == day,
                    OutboxMessage.kind == "digest",
                    OutboxMessage.status == "sent",
                )
                .order_by(OutboxMessage.id.desc())
                .limit(1)
            ).first()
            if original is None:
                raise UsageError(f"no digest was sent to {to} on {day.isoformat()} (see `bantin status`)")
            resends = (
                session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(
                        OutboxMessage.recipient == key,
                        OutboxMessage.kind == "resend",
                        OutboxMessage.digest_key.like(f"{original.digest_key}-r%"),
                    )
                )
                or 0
            )
            digest_key = f"{original.digest_key}-r{resends + 1}"
            msg_id = message_id(digest_key, key, sender_address(config.smtp))
            message = BytesParser(policy=UTF8_MAIL_POLICY if needs_smtputf8(key) else MAIL_POLICY).parsebytes(
                original.raw_message
            )
            message.replace_header("Message-ID", msg_id)
            message.replace_header("Date", format_datetime(now.astimezone(config.schedule.tz)))
            row = OutboxMessage(
                digest_key=digest_key,
                digest_date=original.digest_date,
                recipient=key,
                message_id=msg_id,
                subject=original.subject,
                raw_message=message.as_bytes(),
                items=list(original.items or []),
                status="pending",
                attempts=0,
                created_at=now,
                updated_at=now,
                kind="resend",
            )
            session.add(row)
            session.flush()
            row_id = row.id
        return DigestReport(results=_send_due(config, database, now=now, sleep=sleep, only_ids=[row_id]))
