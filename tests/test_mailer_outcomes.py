"""Delivery when the outcome is unclear or one reader's message cannot go: no duplicates, no one blocked.

A real SMTP server on loopback (aiosmtpd). Covers the RFC 5321 final-reply timeout, unknown outcomes and their
resend cap, internationalised addresses (IDNA, SMTPUTF8), and one reader's failure never stopping the others.
"""

from __future__ import annotations

from datetime import timedelta
from email import message_from_string, policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from crawler.cli import main as cli_main
from crawler.store import Database
from crawler.store.models import OutboxMessage
from reports import delivery, mailer
from reports.delivery import resend_digest, run_digest
from tests.digest_support import NOW, Sink, config_text, free_port, make_config, standard_archive

EXTRA_READERS = """
[[recipients]]
email = "reader@bưuđiện.vn"
name = "Bạn đọc Bưu điện"
[[recipients]]
email = "người.đọc@example.org"
name = "Người đọc"
[[recipients]]
email = "cuoi@example.org"
"""
IDN_ASCII = "reader@xn--buin-1ua66gr30m.vn"


def start_sink(**smtp_options):
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    handler.port = port
    return handler, controller


@pytest.fixture
def sink():
    handler, controller = start_sink(enable_SMTPUTF8=False)
    yield handler
    controller.stop()


@pytest.fixture
def database(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    standard_archive(database)
    yield database
    database.dispose()


def rows(database):
    with database.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def row_of(database, recipient):
    [row] = [row for row in rows(database) if row.recipient == recipient and row.status != "sent"] or [None]
    return row


def by_email(run):
    return {result.email: result for result in run.results}


def with_smtp(config, **values):
    return config.model_copy(update={"smtp": config.smtp.model_copy(update=values)})


# -- #4: the final reply ------------------------------------------------------


def test_a_server_slow_to_answer_the_final_dot_is_waited_for_not_resent(database, sink):
    # Every command times out after 0.3 s, but the reply to the end of DATA gets RFC 5321's 10 minutes.
    config = with_smtp(make_config(database.url, sink.port), timeout_seconds=0.3)
    sink.replies = ["delay:1.0", "delay:1.0"]
    run = run_digest(config, database, now=NOW)
    assert (run.sent, run.failed, run.pending) == (2, 0, 0)
    assert len(sink.received_by("an@example.org")) == 1 and len(sink.received_by("binh@example.org")) == 1
    assert {row.attempts for row in rows(database)} == {1}


def test_no_final_reply_is_not_resent_in_the_same_run(database, sink, monkeypatch):
    monkeypatch.setattr(mailer, "FINAL_REPLY_TIMEOUT", 0.3)
    config = make_config(database.url, sink.port)  # max_attempts = 2
    sink.replies = ["delay:1.5"]  # the server accepts an's message, but only after the client gave up
    run = run_digest(config, database, now=NOW)
    an = by_email(run)["an@example.org"]
    assert an.status == "pending"
    assert "outcome unknown" in an.error and "will retry once at 2025-03-27 08:00 +0700" in an.error
    assert len(sink.received_by("an@example.org")) == 1
    assert by_email(run)["binh@example.org"].status == "sent"
    row = row_of(database, "an@example.org")
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, NOW + delivery.UNKNOWN_WAIT)


def test_unknown_outcomes_resend_once_then_stop_visibly(database, sink, tmp_path, capsys):
    config = make_config(database.url, sink.port)
    # The connection drops after the whole message was sent: the server may have it.
    sink.replies = ["drop"]
    first = run_digest(config, database, now=NOW)
    assert by_email(first)["an@example.org"].status == "pending"
    assert len(sink.received_by("an@example.org")) == 1  # not resent in the same run
    assert delivery.unknown_outcomes(row_of(database, "an@example.org").last_error) == 1

    # A 451 in between neither resets the count nor counts as an unknown outcome.
    sink.replies = ["451 4.3.0 busy", "451 4.3.0 busy"]
    second = run_digest(config, database, now=NOW + delivery.UNKNOWN_WAIT)
    assert by_email(second)["an@example.org"].status == "pending"
    row = row_of(database, "an@example.org")
    assert "451" in row.last_error and delivery.unknown_outcomes(row.last_error) == 1

    # `bantin status` shows it waiting, with the reason.
    path = tmp_path / "bantin.toml"
    path.write_text(config_text(database.url, sink.port), encoding="utf-8")
    assert run_cli("--config", str(path), "status") == 1
    assert "waiting for a retry" in capsys.readouterr().out

    sink.replies = ["drop"]
    third = run_digest(config, database, now=row.next_attempt_at)
    an = by_email(third)["an@example.org"]
    assert an.status == "failed" and "not resent again" in an.error
    ids = sink.received_by("an@example.org")
    assert len(ids) == 4 and len(set(ids)) == 1  # the same Message-ID: drop, 451, 451, drop
    # Never lost: the articles are owed again, in a new message (the reader's client can tell it apart).
    fourth = run_digest(config, database, now=row.next_attempt_at + timedelta(hours=1))
    assert by_email(fourth)["an@example.org"].status == "sent"
    assert by_email(fourth)["an@example.org"].digest_key == "2025-03-27-2"


def test_a_crash_after_an_unknown_outcome_is_not_resent_a_second_time(database, sink):
    config = make_config(database.url, sink.port)
    sink.replies = ["drop"]
    run_digest(config, database, now=NOW)
    with database.session() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "an@example.org")).one()
        row.status = "sending"  # as if the process died during the resend
    run = run_digest(config, database, now=NOW + timedelta(hours=2))
    assert run.recovered == 1
    row = [r for r in rows(database) if r.recipient == "an@example.org" and r.digest_key == "2025-03-27"][0]
    assert row.status == "failed" and delivery.unknown_outcomes(row.last_error) == 2
    assert len(sink.received_by("an@example.org")) == 2  # the dropped one, and the new digest for its articles


# -- #13: waiting is not "empty" ----------------------------------------------


def run_cli(*args):
    try:
        cli_main(list(args))
    except SystemExit as exc:
        return exc.code or 0
    return 0


def test_digest_send_while_a_message_waits_for_a_retry_says_so_and_exits_1(database, sink, tmp_path, capsys):
    path = tmp_path / "bantin.toml"
    path.write_text(config_text(database.url, sink.port), encoding="utf-8")
    sink.replies = ["451 4.7.1 greylisted, try again later"] * 2
    assert run_cli("--config", str(path), "digest", "--send") == 1
    capsys.readouterr()
    # At once again: nothing is due, and the waiting message is not "empty".
    assert run_cli("--config", str(path), "digest", "--send") == 1
    captured = capsys.readouterr()
    assert "an@example.org: empty" not in captured.out + captured.err
    [line] = [line for line in captured.err.splitlines() if line.startswith("an@example.org")]
    assert line.startswith("an@example.org: pending, 3 items") and "waits for a retry at " in line
    assert "451 4.7.1 greylisted" in line
    assert "sent 0, failed 0, pending 1" in captured.out


# -- #6: internationalised addresses, one reader's failure --------------------


def test_idn_domain_goes_as_ascii_and_a_non_ascii_local_part_fails_alone(database, sink):
    config = make_config(database.url, sink.port, extra=EXTRA_READERS)
    run = run_digest(config, database, now=NOW)
    results = by_email(run)
    assert results["reader@bưuđiện.vn"].status == "sent"
    assert len(sink.received_by(IDN_ASCII)) == 1
    sent_to = [m for m in sink.parsed() if m["To"].addresses[0].addr_spec == IDN_ASCII]
    assert sent_to and sent_to[0]["To"].addresses[0].display_name == "Bạn đọc Bưu điện"
    failed = results["người.đọc@example.org"]
    assert failed.status == "failed" and "does not offer SMTPUTF8" in failed.error
    assert results["cuoi@example.org"].status == "sent" and results["an@example.org"].status == "sent"
    assert "sending" not in {row.status for row in rows(database)}


def test_smtputf8_is_used_when_the_server_offers_it(database):
    sink, controller = start_sink(enable_SMTPUTF8=True)
    try:
        config = make_config(database.url, sink.port, extra=EXTRA_READERS)
        run = run_digest(config, database, now=NOW)
        assert (run.sent, run.failed, run.pending) == (5, 0, 0)
        assert len(sink.received_by("người.đọc@example.org")) == 1
        # RFC 6532: the headers are raw UTF-8.
        [message] = [
            message_from_string(raw.decode("utf-8"), policy=policy.default)
            for raw in sink.messages
            if "người.đọc@example.org".encode() in raw
        ]
        assert message["To"].addresses[0].addr_spec == "người.đọc@example.org"
        assert message["To"].addresses[0].display_name == "Người đọc"
        assert message["Subject"].startswith("Bản tin NDO 27/03/2025")
        resent = resend_digest(config, database, NOW.date(), "người.đọc@example.org", now=NOW + timedelta(hours=1))
        assert resent.sent == 1
        again = message_from_string(sink.messages[-1].decode("utf-8"), policy=policy.default)
        assert again["To"].addresses[0].addr_spec == "người.đọc@example.org"
        assert again["Message-ID"] != message["Message-ID"] and again["Subject"] == message["Subject"]
    finally:
        controller.stop()


def test_any_error_building_one_message_leaves_the_others_going(database, sink, monkeypatch):
    config = make_config(database.url, sink.port, extra=EXTRA_READERS)
    real = delivery.build_message

    def build(config, *, recipient, **kwargs):
        if recipient == "cuoi@example.org":
            raise RecursionError("maximum recursion depth exceeded")
        return real(config, recipient=recipient, **kwargs)

    monkeypatch.setattr(delivery, "build_message", build)
    run = run_digest(config, database, now=NOW)
    results = by_email(run)
    assert results["cuoi@example.org"].status == "failed"
    assert "RecursionError" in results["cuoi@example.org"].error
    assert results["an@example.org"].status == results["reader@bưuđiện.vn"].status == "sent"


def test_any_error_sending_one_message_fails_that_row_only(database, sink, monkeypatch):
    config = make_config(database.url, sink.port, extra=EXTRA_READERS)
    real = mailer.SmtpSession.send

    def send(self, raw, envelope):
        if envelope.recipient == "an@example.org":
            raise UnicodeEncodeError("ascii", "đ", 0, 1, "ordinal not in range(128)")
        return real(self, raw, envelope)

    monkeypatch.setattr(mailer.SmtpSession, "send", send)
    run = run_digest(config, database, now=NOW)
    results = by_email(run)
    assert results["an@example.org"].status == "failed" and "UnicodeEncodeError" in results["an@example.org"].error
    assert results["binh@example.org"].status == results["cuoi@example.org"].status == "sent"
    assert {row.recipient: row.status for row in rows(database)}["an@example.org"] == "failed"
