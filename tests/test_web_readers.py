"""Readers' self-service: preferences by signed token, RFC 8058 one-click, and the next digest honouring both."""

from __future__ import annotations

import json
from datetime import timedelta
from email import message_from_bytes, policy
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from crawler.store.models import ReaderEvent, ReaderPreference
from crawler.tokens import make_token
from reports.delivery import build_previews, run_digest
from tests.cli_support import run
from tests.digest_support import CNHT, NOW, QN, SECRET, standard_archive
from tests.web_support import SAME_ORIGIN, form_token, make_site, smtp_sink, web_config, web_config_text

AN, BINH = "an@example.org", "binh@example.org"


@pytest.fixture
def site(database):
    standard_archive(database)
    return make_site(database)


def prefs_path(email: str, secret: bytes = SECRET) -> str:
    return f"/r/{make_token(secret, 'prefs', email)}"


def unsubscribe_path(email: str, secret: bytes = SECRET) -> str:
    return f"/u/{make_token(secret, 'unsubscribe', email)}"


def stored(database) -> dict[str, ReaderPreference]:
    with database.session() as session:
        return {row.recipient: row for row in session.scalars(select(ReaderPreference))}


def events(database) -> list[tuple[str, str, str]]:
    with database.session() as session:
        return [(e.recipient, e.action, e.via) for e in session.scalars(select(ReaderEvent).order_by(ReaderEvent.id))]


def save(site, email: str, *, topics: list[str], paused: bool = False, subscribed: bool = True, token=None):
    page = site.client.get(prefs_path(email))
    data: dict = {"csrf": token if token is not None else form_token(page.text), "topic": topics}
    if paused:
        data["paused"] = "1"
    if subscribed:
        data["subscribed"] = "1"
    return site.client.post(prefs_path(email), data=data, headers=SAME_ORIGIN)


def test_the_preferences_page_offers_every_topic_with_the_readers_own_checked(site):
    page = site.client.get(prefs_path(BINH))
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    # Bình's file entry names Quảng Ninh only; every configured topic is offered.
    assert f'value="{QN}" checked' in page.text and f'value="{CNHT}">' in page.text
    # English for Bình (the file says so); the address is never on the page.
    assert "Digest preferences" in page.text and BINH not in page.text
    assert f"/feeds/reader/{make_token(SECRET, 'feed', BINH)}.atom" in page.text


def test_saved_choices_win_over_the_file_and_the_next_digest_honours_them(site, capsys, tmp_path):
    response = save(site, AN, topics=[QN])
    assert response.status_code == 200 and "Đã lưu" in response.text
    assert stored(site.database)["an@example.org"].topics == [QN]
    previews = {p.recipient: p for p in build_previews(site.config, site.database, now=NOW)}
    assert CNHT not in previews[AN].subject and QN in previews[AN].subject
    config_file = tmp_path / "bantin.toml"
    config_file.write_text(web_config_text(site.database.url), encoding="utf-8")
    status, out, _ = run(capsys, "--config", str(config_file), "recipients", "list", "--format", "json")
    assert status == 0
    listed = {row["email"]: row for row in json.loads(out)}
    assert listed[AN]["topics"] == [QN] and listed[AN]["source"] == "reader" and listed[AN]["state"] == "active"
    assert listed[BINH]["source"] == "file" and listed[BINH]["topics"] == [QN]
    assert events(site.database) == [("an@example.org", "topics", "preferences")]
    # Saving the same choices again changes nothing and audits nothing.
    save(site, AN, topics=[QN])
    assert len(events(site.database)) == 1


def test_a_paused_reader_gets_no_digest_until_they_resume(site):
    sink, stop = smtp_sink()
    try:
        config = web_config(site.database.url, port=sink.port)
        site = make_site(site.database, config)
        assert save(site, AN, topics=[CNHT, QN], paused=True).status_code == 200
        run_result = run_digest(config, site.database, now=NOW)
        by_reader = {result.email: result.status for result in run_result.results}
        assert by_reader[AN] == "paused" and by_reader[BINH] == "sent"
        assert sink.received_by(AN) == []
        save(site, AN, topics=[CNHT, QN], paused=False)
        later = run_digest(config, site.database, now=NOW.replace(hour=2))
        assert {r.email: r.status for r in later.results}[AN] == "sent"
        assert [action for _, action, _ in events(site.database)] == ["pause", "resume"]
    finally:
        stop()


def test_a_form_without_its_token_or_with_another_readers_changes_nothing(site):
    assert save(site, AN, topics=[QN], token="").status_code == 403
    binh_token = form_token(site.client.get(prefs_path(BINH)).text)
    assert save(site, AN, topics=[QN], token=binh_token).status_code == 403
    # A topic that is not offered is refused, not stored.
    assert save(site, AN, topics=["<script>x</script>"]).status_code == 400
    assert stored(site.database) == {}


def test_unknown_forged_and_old_secret_prefs_links_lead_nowhere_and_echo_nothing(site):
    token = make_token(SECRET, "prefs", AN)
    for path in (
        "/r/" + token[:-1] + ("A" if token[-1] != "A" else "B"),
        "/r/" + make_token(SECRET, "unsubscribe", AN),
        "/r/" + make_token(b"an older secret of the same length.....", "prefs", AN),
        "/r/%3Cscript%3E",
    ):
        page = site.client.get(path)
        assert page.status_code == 404
        assert urlsplit(path).path.rsplit("/", 1)[1] not in page.text and "<script>" not in page.text
        posted = site.client.post(path, data={"topic": [QN]}, headers=SAME_ORIGIN)
        assert posted.status_code == 404
    assert stored(site.database) == {}


def _one_click(site, path: str, **kwargs):
    # A mail provider's POST: no cookies, no Origin we know, cross-site.
    return site.client.post(
        path,
        headers={"origin": "https://mail.example.net", "sec-fetch-site": "cross-site"},
        follow_redirects=False,
        **kwargs,
    )


def test_one_click_unsubscribes_idempotently_with_200_and_no_redirect(site):
    path = unsubscribe_path(BINH)
    first = _one_click(site, path, data={"List-Unsubscribe": "One-Click"})
    assert first.status_code == 200 and "location" not in first.headers
    when = stored(site.database)["binh@example.org"].unsubscribed_at
    assert when == NOW
    site.clocks.advance(3600)
    # Again, as multipart (RFC 8058's SHOULD), and with no body at all: same answer, nothing changes.
    again = _one_click(site, path, files={"List-Unsubscribe": (None, "One-Click")})
    bare = _one_click(site, path)
    assert again.status_code == bare.status_code == 200 and again.text == bare.text == first.text
    assert stored(site.database)["binh@example.org"].unsubscribed_at == when
    assert events(site.database) == [("binh@example.org", "unsubscribe", "one-click")]
    previews = build_previews(site.config, site.database, now=NOW)
    assert BINH not in [p.recipient for p in previews]


def test_forged_and_unknown_one_click_tokens_get_the_same_answer_and_change_nothing(site):
    valid = _one_click(site, unsubscribe_path(AN), data={"List-Unsubscribe": "One-Click"})
    site.database.engine.dispose()
    with site.database.session() as session:
        session.query(ReaderPreference).delete()
        session.query(ReaderEvent).delete()
    token = make_token(SECRET, "unsubscribe", BINH)
    for forged in (
        token[:-2],
        token + "x",
        make_token(SECRET, "prefs", BINH),
        "A" * 22,
        make_token(b"rotated secret, rotated secret, rotated", "unsubscribe", BINH),
    ):
        answer = _one_click(site, f"/u/{forged}", data={"List-Unsubscribe": "One-Click"})
        assert (answer.status_code, answer.text) == (valid.status_code, valid.text)
        assert forged not in answer.text
        confirm = site.client.get(f"/u/{forged}")
        assert confirm.status_code == 200 and forged not in confirm.text
    assert stored(site.database) == {} and events(site.database) == []


def test_the_confirmation_page_changes_nothing_and_is_the_same_for_every_token(site):
    valid = site.client.get(unsubscribe_path(AN))
    forged = site.client.get("/u/not-a-token")
    assert valid.status_code == forged.status_code == 200 and valid.text == forged.text
    assert 'name="List-Unsubscribe" value="One-Click"' in valid.text and "action=" not in valid.text.split("<form")[1]
    assert stored(site.database) == {}


def test_the_digest_link_unsubscribes_the_reader_it_was_sent_to_and_no_other(site):
    previews = {
        p.recipient: message_from_bytes(p.eml_bytes, policy=policy.default)
        for p in build_previews(site.config, site.database, now=NOW)
    }
    header = str(previews[AN]["List-Unsubscribe"])
    url = header.split(",")[0].strip("<> ")
    assert previews[AN]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert AN not in header and "an%40" not in header
    plain = previews[AN].get_body(("plain",))
    assert plain is not None
    prefs = plain.get_content()
    assert f"{site.config.web.public_url}{prefs_path(AN)}" in prefs
    assert _one_click(site, urlsplit(url).path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert set(stored(site.database)) == {"an@example.org"}
    assert [p.recipient for p in build_previews(site.config, site.database, now=NOW)] == [BINH]


def test_resubscribing_on_the_preferences_page_brings_the_digest_back(site):
    _one_click(site, unsubscribe_path(AN))
    page = site.client.get(prefs_path(AN))
    assert 'name="subscribed" value="1">' in page.text  # unchecked: unsubscribed
    save(site, AN, topics=[CNHT], subscribed=True)
    row = stored(site.database)["an@example.org"]
    assert row.unsubscribed_at is None and row.topics == [CNHT]
    assert [a for _, a, _ in events(site.database)] == ["unsubscribe", "topics", "resubscribe"]


def test_one_click_always_answers_200_however_many_come_from_one_address(site):
    # A mail provider sends all its users' one-click POSTs from a few addresses (RFC 8058 §3.2).
    answers = {_one_click(site, f"/u/forged-{n}").status_code for n in range(40)}
    answers.add(_one_click(site, f"/u/{make_token(SECRET, 'unsubscribe', AN)}").status_code)
    assert answers == {200}
    assert stored(site.database)["an@example.org"].unsubscribed_at is not None


def test_a_message_waiting_for_a_retry_is_not_sent_once_its_reader_unsubscribed(site):
    from crawler.store.models import OutboxMessage
    from reports.delivery import retry_pending

    sink, stop = smtp_sink()
    try:
        config = web_config(site.database.url, port=sink.port)
        site = make_site(site.database, config)
        # Greylisted: every attempt of this run gets a 4xx, so An's digest waits for a retry.
        sink.replies = ["451 4.7.1 try again later"] * 2
        first = {r.email: r.status for r in run_digest(config, site.database, now=NOW).results}
        assert first[AN] == "pending"
        _one_click(site, unsubscribe_path(AN), data={"List-Unsubscribe": "One-Click"})
        later = retry_pending(config, site.database, now=NOW + timedelta(hours=1))
        assert [(r.email, r.status) for r in later.results] == [(AN, "cancelled")]
        with site.database.session() as session:
            row = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "an@example.org")).one()
            assert row.status == "cancelled" and "unsubscribed" in row.last_error
        # bantin status counts it apart: neither pending nor failed.
        from crawler.health import collect_status
        from spiders.registry import everyday_sources

        outbox = collect_status(config, site.database, now=NOW + timedelta(hours=1), everyday_sources=everyday_sources)[
            "outbox"
        ]
        assert (outbox["cancelled"], outbox["pending"], outbox["failed"]) == (1, 0, 0)
        assert [m for m in sink.messages if AN in str(message_from_bytes(m, policy=policy.default)["To"])] == []
    finally:
        stop()
