"""Delivery against a real SMTP server on loopback (aiosmtpd): messages, outbox states, recovery, CLI."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from crawler.cli import main as cli_main
from crawler.errors import HeaderInjectionError, UsageError
from crawler.store import Database
from crawler.store.models import Delivery, OutboxMessage
from crawler.tokens import make_token
from reports import delivery
from reports.delivery import build_previews, resend_digest, run_digest
from reports.mailer import build_message, check_header
from tests.digest_support import (
    NOW,
    PUBLIC_URL,
    QN,
    SECRET,
    Sink,
    config_text,
    free_port,
    hit,
    make_config,
    standard_archive,
)

LATER = NOW + timedelta(hours=2)


@pytest.fixture
def sink():
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


@pytest.fixture
def env(tmp_path, sink):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    database = Database(url)
    archive = standard_archive(database)
    config = make_config(url, sink.port)
    yield config, database, archive
    database.dispose()


def rows(database):
    with database.session() as session:
        return {row.recipient: row for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))}


def deliveries(database):
    with database.session() as session:
        return sorted((d.recipient, d.article_id, d.article_version) for d in session.scalars(select(Delivery)))


def no_sleep(_seconds):
    raise AssertionError("retry_backoff_seconds is 0 in these tests: nothing should sleep")


def test_delivered_message_parses_with_both_parts_and_headers(env, sink):
    config, database, _ = env
    run = run_digest(config, database, now=NOW, sleep=no_sleep)
    assert (run.sent, run.failed, run.pending) == (2, 0, 0)
    assert len(sink.messages) == 2
    messages = {m["To"].addresses[0].addr_spec: m for m in sink.parsed()}
    an = messages["an@example.org"]
    assert an["Subject"] == "Bản tin NDO 27/03/2025: 3 bài mới — Công nghiệp hỗ trợ (2), Quảng Ninh (1)"
    assert an["To"].addresses[0].display_name == "Nguyễn Văn Ân"
    assert an["From"].addresses[0].display_name == "Bản tin NDO"
    assert an["Date"].endswith("+0700") and parsedate_to_datetime(str(an["Date"])) == NOW
    assert re.fullmatch(r"<bantin\.2025-03-27\.[0-9a-f]{20}@example\.org>", an["Message-ID"])
    token = make_token(SECRET, "unsubscribe", "an@example.org")
    assert an["List-Unsubscribe"] == (
        f"<{PUBLIC_URL}/u/{token}>, <mailto:unsubscribe@example.org?subject=unsubscribe%20{token}>"
    )
    assert an["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert an.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in an.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text = an.get_body(("plain",)).get_content()
    html = an.get_body(("html",)).get_content()
    assert "Chào Nguyễn Văn Ân," in text and "*công nghiệp hỗ trợ*" in text
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert re.search(r"<mark[^>]*>Quảng Ninh</mark>", html)
    assert 'href="https://nhandan.vn/bai-1001-post1001.html"' in html and "javascript:" not in html
    assert f'href="{PUBLIC_URL}/u/{token}"' in html
    binh = messages["binh@example.org"]
    assert binh["Subject"] == "NDO digest 27/03/2025: 2 new articles — Quảng Ninh (2)"
    outbox = rows(database)
    assert {r.status for r in outbox.values()} == {"sent"}
    assert outbox["an@example.org"].message_id == an["Message-ID"]
    assert len(deliveries(database)) == 5


def test_second_send_sends_nothing_new_and_new_articles_come_next(env, sink):
    config, database, archive = env
    run_digest(config, database, now=NOW)
    again = run_digest(config, database, now=LATER)
    assert len(sink.messages) == 2
    assert [r.status for r in again.results] == ["empty", "empty"]
    archive.article("Quảng Ninh mở cảng mới", topics={QN: [hit("Quảng Ninh", "title", "Quảng Ninh mở cảng mới")]})
    third = run_digest(config, database, now=LATER)
    assert third.sent == 2 and len(sink.messages) == 4
    latest = sink.parsed()[-1]
    assert "1 new article" in latest["Subject"] or "1 bài mới" in latest["Subject"]
    keys = sorted(r.digest_key for r in third.results)
    assert keys == ["2025-03-27-2", "2025-03-27-2"]


def test_changed_article_comes_back_once_marked_updated(env, sink):
    config, database, archive = env
    run_digest(config, database, now=NOW)
    archive.update_article(1001, "Phát triển công nghiệp hỗ trợ ở Bắc Ninh (cập nhật)")
    run = run_digest(config, database, now=LATER)
    assert [(r.email, r.status, r.item_count) for r in run.results] == [
        ("an@example.org", "sent", 1),
        ("binh@example.org", "empty", 0),
    ]
    text = sink.parsed()[-1].get_body(("plain",)).get_content()
    assert "[Đã cập nhật] Phát triển công nghiệp hỗ trợ ở Bắc Ninh (cập nhật)" in text
    assert ("an@example.org", 1001, 2) in deliveries(database)
    assert run_digest(config, database, now=LATER).sent == 0


def test_4xx_then_5xx_keeps_the_outbox_right(env, sink):
    config, database, _ = env
    sink.replies = ["451 4.3.0 try again later"] * 4  # both attempts for each recipient
    run = run_digest(config, database, now=NOW)
    assert (run.sent, run.failed, run.pending) == (0, 0, 2)
    outbox = rows(database)
    assert {r.status for r in outbox.values()} == {"pending"}
    assert all(r.attempts == 2 and "451" in r.last_error for r in outbox.values())
    assert all(r.next_attempt_at > NOW for r in outbox.values())
    assert deliveries(database) == []
    # Not yet due: nothing is tried, nothing new is queued (the articles are in flight).
    early = run_digest(config, database, now=NOW + timedelta(seconds=10))
    assert early.sent == 0 and len(rows(database)) == 2
    sink.replies = ["550 5.1.1 mailbox unavailable"]
    later = run_digest(config, database, now=LATER)
    statuses = {r.email: (r.status, r.error) for r in later.results}
    status, error = statuses["an@example.org"]
    assert status == "failed" and "550 5.1.1 mailbox unavailable" in error
    assert statuses["binh@example.org"] == ("sent", "")
    outbox = rows(database)
    assert outbox["an@example.org"].status == "failed" and "550" in outbox["an@example.org"].last_error
    assert {d[0] for d in deliveries(database)} == {"binh@example.org"}
    # Nothing is lost: the failed reader's articles are owed again in the next digest.
    next_run = run_digest(config, database, now=LATER + timedelta(hours=1))
    assert [(r.email, r.status, r.item_count) for r in next_run.results] == [
        ("an@example.org", "sent", 3),
        ("binh@example.org", "empty", 0),
    ]


def test_server_down_leaves_everything_pending(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    database = Database(url)
    standard_archive(database)
    config = make_config(url, free_port())  # nothing listens there
    run = run_digest(config, database, now=NOW)
    assert (run.sent, run.failed, run.pending) == (0, 0, 2)
    assert all("cannot reach SMTP server" in r.error for r in run.results)
    outbox = rows(database)
    assert {r.status for r in outbox.values()} == {"pending"}
    # After the connection failed twice, the second row was not even tried.
    assert sorted(r.attempts for r in outbox.values()) == [0, 2]
    assert deliveries(database) == []
    database.dispose()


def test_crash_between_accept_and_commit_is_resent_with_the_same_message_id(env, sink, monkeypatch, caplog):
    config, database, _ = env

    class Crash(BaseException):
        pass

    def die(*_args, **_kwargs):
        raise Crash()

    monkeypatch.setattr(delivery, "_mark_sent", die)
    with pytest.raises(Crash):
        run_digest(config, database, now=NOW)
    assert len(sink.messages) == 1  # the server accepted it...
    outbox = rows(database)
    assert outbox["an@example.org"].status == "sending"  # ...but the commit never happened
    assert deliveries(database) == []
    monkeypatch.undo()
    with caplog.at_level("WARNING", logger="bantin.digest"):
        run = run_digest(config, database, now=LATER)
    assert run.recovered == 1 and run.sent == 2
    assert "left 'sending' by an interrupted run" in caplog.text
    first, resent = sink.parsed()[0], sink.parsed()[1]
    assert resent["Message-ID"] == first["Message-ID"]
    assert resent["To"].addresses[0].addr_spec == "an@example.org"
    assert len(sink.messages) == 3
    assert {r.status for r in rows(database).values()} == {"sent"}
    assert len(deliveries(database)) == 5


def test_preview_never_marks_anything_sent(env, sink):
    config, database, _ = env
    previews = build_previews(config, database, now=NOW)
    assert [p.recipient for p in previews] == ["an@example.org", "binh@example.org"]
    assert previews[0].item_count == 3 and b"multipart/alternative" in previews[0].eml_bytes
    assert rows(database) == {} and deliveries(database) == []
    assert sink.messages == []
    assert [p.recipient for p in build_previews(config, database, now=NOW, only="BINH@example.org")] == [
        "binh@example.org"
    ]
    with pytest.raises(UsageError):
        build_previews(config, database, now=NOW, only="nobody@example.org")


def test_resend_sends_a_past_digest_again(env, sink):
    config, database, _ = env
    run_digest(config, database, now=NOW)
    run = resend_digest(config, database, NOW.date(), "an@example.org", now=LATER)
    assert run.sent == 1
    original, again = sink.parsed()[0], sink.parsed()[-1]
    assert again["Subject"] == original["Subject"]
    assert again["Message-ID"] != original["Message-ID"]
    assert again.get_body(("html",)).get_content() == original.get_body(("html",)).get_content()
    with pytest.raises(UsageError):
        resend_digest(config, database, (NOW - timedelta(days=3)).date(), "an@example.org", now=LATER)


def test_send_empty_sends_one_empty_digest_a_day(tmp_path, sink):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    database = Database(url)
    config = make_config(url, sink.port, digest="send_empty = true")
    assert run_digest(config, database, now=NOW).sent == 2
    assert "không có bài mới" in str(sink.parsed()[0]["Subject"])
    assert run_digest(config, database, now=LATER).sent == 0
    database.dispose()


def test_header_values_with_cr_lf_nul_are_refused(env):
    config, _, _ = env
    for bad in ("a\r\nBcc: x@evil.example", "a\nb", "a\0b"):
        with pytest.raises(HeaderInjectionError, match="Subject"):
            check_header("Subject", bad, source="test")
        with pytest.raises(HeaderInjectionError, match="To"):
            build_message(
                config,
                recipient="an@example.org",
                recipient_name=bad,
                subject="s",
                text="t",
                html=None,
                msg_id="<m@x>",
                now=NOW,
                unsubscribe=None,
            )


def test_a_message_is_7bit_mime_that_parses_back_to_what_was_built(env):
    config, _, _ = env
    subject = "Bản tin NDO 27/03/2025: 3 bài mới — " + ", ".join(f"Công nghiệp hỗ trợ {n} (2)" for n in range(8))
    # A trailing space and a leading "." (SMTP's dot-stuffing) must come back exactly, long lines too.
    text = "Xin chào Nguyễn Văn Ân, \n.\n=== " + "Quảng Ninh phát triển mạnh mẽ " * 30 + "\n"
    html = "<p>" + "Công nghiệp hỗ trợ " * 400 + "</p>\n"
    unsubscribe = (f"{PUBLIC_URL}/u/token", "mailto:unsubscribe@example.org?subject=unsubscribe%20token")
    for recipient, name, body in (("an@example.org", "Nguyễn Văn Ân", html), ("an@example.org", 'Ân, "A"', None)):
        raw = build_message(
            config,
            recipient=recipient,
            recipient_name=name,
            subject=subject,
            text=text,
            html=body,
            msg_id="<bantin.2025-03-27.abc@example.org>",
            now=NOW,
            unsubscribe=unsubscribe,
        )
        lines = raw.split(b"\r\n")
        assert raw.isascii() and b"\n" not in raw.replace(b"\r\n", b"") and max(map(len, lines)) <= 998
        # RFC 2047: a header line holding an encoded word is at most 76 characters; RFC 2045: so is a base64 line.
        assert all(len(line) <= 76 for line in lines if b"=?utf-8?" in line)
        below_headers = raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
        assert len(below_headers) > 20 and all(len(line) <= 76 for line in below_headers)
        message = message_from_bytes(raw, policy=policy.default)
        assert not [part.defects for part in message.walk() if part.defects]
        assert message["Subject"] == subject
        assert message["To"].addresses[0].display_name == name
        assert message["To"].addresses[0].addr_spec == recipient
        assert message["From"].addresses[0].display_name == "Bản tin NDO"
        assert message["Message-ID"] == "<bantin.2025-03-27.abc@example.org>"
        assert message["List-Unsubscribe"] == f"<{unsubscribe[0]}>, <{unsubscribe[1]}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert parsedate_to_datetime(message["Date"]) == NOW
        plain = message.get_body(("plain",))
        assert plain is not None and plain["Content-Transfer-Encoding"] == "base64"
        assert plain.get_content() == text.replace("\n", "\r\n")
        if body is None:
            assert message.get_content_type() == "text/plain"
            continue
        assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
        rich = message.get_body(("html",))
        assert rich is not None and rich["Content-Transfer-Encoding"] == "base64"
        assert rich.get_content() == body.replace("\n", "\r\n")


def test_readers_of_the_same_bodies_share_their_encoding(env):
    """Messages whose text and HTML are the same but for their headers encode the two parts once."""
    from reports import mailer

    config, _, _ = env
    text, html = "Chào bạn,\n" * 50, "<p>Công nghiệp hỗ trợ</p>\n" * 200
    mailer._part.cache_clear()
    raws = [
        build_message(
            config,
            recipient=f"{reader}@example.org",
            recipient_name="",
            subject="Bản tin",
            text=text,
            html=html,
            msg_id=f"<{reader}@example.org>",
            now=NOW,
            unsubscribe=None,
        )
        for reader in ("hai", "ba")
    ]
    assert (mailer._part.cache_info().misses, mailer._part.cache_info().hits) == (2, 2)
    parts = [[part for part in re.split(rb"\r\n--=_bantin_\w+", raw)[1:]] for raw in raws]
    assert parts[0] == parts[1] and len(parts[0]) == 3
    for raw in raws:
        message = message_from_bytes(raw, policy=policy.default)
        assert [part.get_content() for part in message.iter_parts()] == [
            text.replace("\n", "\r\n"),
            html.replace("\n", "\r\n"),
        ]


def write_config(tmp_path, port):
    path = tmp_path / "bantin.toml"
    path.write_text(config_text(f"sqlite:///{tmp_path / 'db.sqlite3'}", port), encoding="utf-8")
    return path


def run_cli(*args):
    try:
        cli_main(list(args))
    except SystemExit as exc:
        return exc.code or 0
    return 0


def test_cli_send_preview_resend_and_exit_codes(tmp_path, sink, capsys):
    path = write_config(tmp_path, sink.port)
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    standard_archive(database)
    out = tmp_path / "previews"
    assert run_cli("--config", str(path), "digest", "--preview", "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert "an@example.org: 3 items" in printed and ".eml" in printed
    assert len(list(out.glob("*.eml"))) == 2 and len(list(out.glob("*.html"))) == 2
    assert rows(database) == {}
    assert run_cli("--config", str(path), "digest", "--preview", "--send") == 2
    assert "exactly one of" in capsys.readouterr().err
    sink.replies = ["554 5.7.1 rejected"]
    assert run_cli("--config", str(path), "digest", "--send") == 1
    captured = capsys.readouterr()
    assert "an@example.org: failed" in captured.err and "554 5.7.1 rejected" in captured.err
    assert "sent 1, failed 1, pending 0" in captured.out
    today = rows(database)["binh@example.org"].digest_date.isoformat()
    assert run_cli("--config", str(path), "digest", "--send") == 0  # the failed reader's items go out now
    assert run_cli("--config", str(path), "digest", "--resend", today, "--to", "binh@example.org") == 0
    assert run_cli("--config", str(path), "digest", "--resend", today) == 2
    assert run_cli("--config", str(path), "smtp", "test", "--to", "ops@example.org") == 0
    assert "accepted by the server" in capsys.readouterr().out
    assert sink.parsed()[-1]["Subject"] == "bantin: thư kiểm tra SMTP"
    database.dispose()


def test_cli_smtp_test_with_the_server_down(tmp_path, capsys):
    path = write_config(tmp_path, free_port())
    assert run_cli("--config", str(path), "smtp", "test", "--to", "ops@example.org") == 1
    assert "cannot reach SMTP server" in capsys.readouterr().err


def test_lines_starting_with_a_dot_are_dot_stuffed_and_arrive_unchanged(sink):
    """Base64 bodies never need it, so it runs only when a line starts with "." (here, a hand-written message)."""
    from crawler.config import SmtpConfig
    from reports.mailer import Envelope, SmtpSession

    raw = b"Subject: dots\r\nMessage-ID: <dots@example.org>\r\n\r\n.\r\n..two\r\nend\r\n"
    with SmtpSession(SmtpConfig(host="127.0.0.1", port=sink.port, security="none")) as session:
        session.send(raw, Envelope("bantin@example.org", "an@example.org"))
        session.send(first := b".X-First: a dot\r\n\r\nbody\r\n", Envelope("bantin@example.org", "an@example.org"))
    assert sink.messages == [raw, first]


def test_base64_bodies_are_cut_as_encodebytes_cuts_them():
    """Every length around a line's 57 bytes and a group's 3: the lines base64.encodebytes writes, with CRLF."""
    import base64

    from reports.mailer import _base64_lines

    for length in [*range(0, 200), 57 * 40 - 1, 57 * 40, 57 * 40 + 1, 100_003]:
        data = bytes((index * 7 + length) % 256 for index in range(length))
        assert _base64_lines(data) == base64.encodebytes(data).replace(b"\n", b"\r\n"), length
