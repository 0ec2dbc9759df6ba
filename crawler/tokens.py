"""Signed, opaque per-reader tokens for the links in every digest (RFC 8058 §3.1).

A token is the urlsafe base64 of an HMAC-SHA256, under the ``[web]`` secret,
over a purpose ("unsubscribe", "prefs") and the reader's normalised address,
truncated to 128 bits. It carries nothing readable: a link never shows whose it
is, and the address never lands in a web server's or a proxy's log. Nothing is
stored: a token is checked by recomputing it for the configured readers, so it
cannot be forged without the secret, is valid for one reader and one purpose
only, and every token dies when the secret is rotated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Iterable

import idna

PURPOSES = ("unsubscribe", "prefs", "feed", "topic-feed")
TOKEN_BYTES = 16  # 128 bits
# Versioned so a later change of the scheme cannot collide with these tokens.
_DOMAIN = b"bantin-reader-token-v1"


def normalise_address(address: str) -> str:
    """One spelling per reader: NFC, trimmed, lower-case, the domain in its ASCII (IDNA) form."""
    local, _, domain = unicodedata.normalize("NFC", address.strip()).rpartition("@")
    return f"{local.lower()}@{ascii_domain(domain)}"


def ascii_domain(domain: str) -> str:
    """A domain as DNS and SMTP carry it: IDNA 2008 (UTS #46) A-labels, lower-case."""
    if domain.isascii():
        return domain.lower()
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"domain {domain!r} has no ASCII (IDNA) form: {exc}") from None


def make_token(secret: bytes, purpose: str, address: str) -> str:
    return make_key(secret, purpose, normalise_address(address))


def make_key(secret: bytes, purpose: str, subject: str) -> str:
    """The token for any `subject` already in its one spelling (a normalised address, a topic key)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    if not secret:
        raise ValueError("an empty secret signs nothing")
    message = b"\0".join((_DOMAIN, purpose.encode("ascii"), subject.encode("utf-8")))
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def reader_for_token(secret: bytes, purpose: str, token: str, addresses: Iterable[str]) -> str | None:
    """The configured address this token was made for, or None (forged, other purpose, old secret)."""
    return subject_for_key(secret, purpose, token, {address: normalise_address(address) for address in addresses})


def subject_for_key(secret: bytes, purpose: str, token: str, subjects: dict[str, str]) -> str | None:
    """Which of `subjects` (name -> its one spelling) this token was made for, or None."""
    given = token.encode("utf-8", "replace")
    found = None
    for name, subject in subjects.items():
        # Every candidate is compared, in constant time each, so timing tells nothing about which matched.
        if hmac.compare_digest(make_key(secret, purpose, subject).encode("ascii"), given) and found is None:
            found = name
    return found
