"""Signed reader tokens (RFC 8058 one-click unsubscribe): unforgeable, one reader, one purpose, no address."""

from __future__ import annotations

import base64
from email import message_from_bytes, policy
from urllib.parse import quote

import pytest

from crawler.errors import ConfigError
from crawler.tokens import make_token, normalise_address, reader_for_token
from reports.delivery import build_previews, run_digest
from tests.digest_support import NOW, PUBLIC_URL, SECRET, make_config, standard_archive

READERS = ["an@example.org", "binh@example.org", "chi@example.org"]


def test_a_token_names_one_reader_for_one_purpose():
    token = make_token(SECRET, "unsubscribe", "binh@example.org")
    assert reader_for_token(SECRET, "unsubscribe", token, READERS) == "binh@example.org"
    # Another reader's token, or the same reader's token for another purpose, is not this one.
    assert make_token(SECRET, "unsubscribe", "an@example.org") != token
    assert reader_for_token(SECRET, "prefs", token, READERS) is None
    assert reader_for_token(SECRET, "unsubscribe", token, ["an@example.org", "chi@example.org"]) is None


def test_a_token_cannot_be_forged_or_outlive_the_secret():
    token = make_token(SECRET, "unsubscribe", "an@example.org")
    flipped = ("B" if token[0] != "B" else "C") + token[1:]
    for forged in (
        flipped,
        token[:-1],
        token + "A",
        "",
        "an@example.org",
        "é" * 22,
        make_token(b"another key " * 4, "unsubscribe", "an@example.org"),
    ):
        assert reader_for_token(SECRET, "unsubscribe", forged, READERS) is None
    rotated = SECRET + b"-rotated"
    assert reader_for_token(rotated, "unsubscribe", token, READERS) is None
    assert (
        reader_for_token(rotated, "unsubscribe", make_token(rotated, "unsubscribe", "an@example.org"), READERS)
        == "an@example.org"
    )


def test_a_token_is_opaque_128_bits_and_stable_per_reader():
    token = make_token(SECRET, "unsubscribe", "an@example.org")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) * 8 >= 128
    assert token.replace("-", "").replace("_", "").isalnum() and "example" not in token
    # One reader, however the address is spelled (case, spaces, Unicode or ASCII domain).
    assert make_token(SECRET, "unsubscribe", " An@Example.ORG ") == token
    assert normalise_address("Đọc@BƯUĐIỆN.vn") == normalise_address("đọc@xn--buin-1ua66gr30m.vn")
    with pytest.raises(ValueError):
        make_token(SECRET, "delete-everything", "an@example.org")
    with pytest.raises(ValueError):
        make_token(b"", "unsubscribe", "an@example.org")


def _messages(tmp_path, **config):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    from crawler.store import Database

    database = Database(url)
    standard_archive(database)
    previews = build_previews(make_config(url, **config), database, now=NOW)
    database.dispose()
    return [(p.recipient, message_from_bytes(p.eml_bytes, policy=policy.default)) for p in previews]


def _address_forms(address: str) -> list[str]:
    return [address, address.split("@")[0] + "%40", quote(address), quote(address, safe="")]


def test_digest_links_carry_a_token_and_never_the_address(tmp_path):
    for recipient, message in _messages(tmp_path):
        header = str(message["List-Unsubscribe"])
        token = make_token(SECRET, "unsubscribe", recipient)
        assert header.startswith(f"<{PUBLIC_URL}/u/{token}>, <mailto:unsubscribe@example.org")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert reader_for_token(SECRET, "unsubscribe", token, READERS[:2]) == recipient
        for form in _address_forms(recipient):
            assert form not in header
        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        assert f'href="{PUBLIC_URL}/u/{token}"' in html and f"{PUBLIC_URL}/u/{token}" in text


def test_without_web_only_the_mailto_and_no_one_click(tmp_path):
    for recipient, message in _messages(tmp_path, web=""):
        header = str(message["List-Unsubscribe"])
        assert header == "<mailto:unsubscribe@example.org?subject=unsubscribe>"
        assert message["List-Unsubscribe-Post"] is None
        for form in _address_forms(recipient):
            assert form not in header


def test_public_url_without_a_secret_is_refused_before_anything_is_queued(tmp_path, monkeypatch):
    monkeypatch.delenv("BANTIN_TEST_WEB_SECRET")
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    from crawler.store import Database

    database = Database(url)
    standard_archive(database)
    config = make_config(url)
    for action in (lambda: build_previews(config, database, now=NOW), lambda: run_digest(config, database, now=NOW)):
        with pytest.raises(ConfigError, match=r"web.secret_env: web.public_url is set but there is no signing secret"):
            action()
    database.dispose()
