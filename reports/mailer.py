"""Building digest messages and talking SMTP.

The outbox state machine that uses these lives in ``reports.delivery``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from urllib.parse import quote

from crawler.config import Config, SmtpConfig
from crawler.errors import ConfigError, DeliveryError, HeaderInjectionError
from crawler.tokens import ascii_domain, make_token

log = logging.getLogger(__name__)

FORBIDDEN_IN_HEADERS = ("\r", "\n", "\0")
# Re-reading a stored message (a resend): CRLF, and headers folded only past RFC 5322's hard limit —
# the stdlib folder drops the space between RFC 2047 encoded words when it folds a Vietnamese subject
# ("mới —Công"), so the stored headers are never folded again.
MAIL_POLICY = policy.SMTP.clone(max_line_length=998)
# For a message to a non-ASCII local part: RFC 6532 headers, raw UTF-8 (it only travels by SMTPUTF8).
UTF8_MAIL_POLICY = MAIL_POLICY.clone(utf8=True)
# RFC 5321 §4.5.3.2.6: the client waits 10 minutes for the reply to the end of DATA; a server may be
# scanning the message meanwhile, and giving up early makes an accepted message look unsent.
FINAL_REPLY_TIMEOUT = 600.0


def check_header(name: str, value: str, *, source: str) -> str:
    """Refuse CR, LF and NUL in a header value, naming the header and where the value came from."""
    for char in FORBIDDEN_IN_HEADERS:
        if char in value:
            raise HeaderInjectionError(
                f"header {name} would contain {char!r} (from {source}): refusing to build the message"
            )
    return value


def sender_address(config: SmtpConfig) -> str:
    return parseaddr(config.sender)[1]


def message_id(digest_key: str, recipient: str, sender: str) -> str:
    """Stable per (digest, recipient): a resend after a crash is recognisably the same message."""
    domain = ascii_domain(sender.rpartition("@")[2]) if "@" in sender else "bantin.invalid"
    token = hashlib.sha256(f"{digest_key}\0{recipient.lower()}".encode()).hexdigest()[:20]
    return f"<bantin.{digest_key}.{token}@{domain}>"


def smtp_address(address: str) -> str:
    """The address as the envelope and headers carry it: the domain in ASCII (IDNA), the local part as given."""
    local, at, domain = address.strip().rpartition("@")
    if not at:
        return address.strip()
    return f"{local}@{ascii_domain(domain)}"


def needs_smtputf8(address: str) -> bool:
    """A non-ASCII local part has no ASCII form: only a server offering SMTPUTF8 (RFC 6531) can take it."""
    return not smtp_address(address).isascii()


@dataclass(frozen=True, slots=True)
class ReaderLinks:
    """The links a digest carries for its reader: signed one-click unsubscribe, and a mailto.

    Resolved once per run (it reads the signing key). Without ``[web] public_url``
    there is no https link, only the mailto; no link ever carries the address.
    """

    public_url: str
    secret: bytes | None
    mailbox: str

    @classmethod
    def from_config(cls, config: Config) -> ReaderLinks:
        secret = None
        if config.web.public_url:
            secret = config.web.secret()
            if secret is None:
                raise ConfigError(
                    f"web.public_url is set but there is no signing secret: set ${config.web.secret_env} "
                    "or web.secret_file",
                    key="web.secret_env",
                )
        mailbox = config.digest.unsubscribe_mailto.removeprefix("mailto:") or sender_address(config.smtp)
        return cls(config.web.public_url, secret, smtp_address(mailbox))

    def unsubscribe(self, recipient: str) -> tuple[str | None, str]:
        """(https URL or None, mailto URL) for List-Unsubscribe and the footer link."""
        if self.secret is None:
            return None, f"mailto:{self.mailbox}?subject=unsubscribe"
        token = make_token(self.secret, "unsubscribe", recipient)
        # The token in the subject lets whoever reads that mailbox check who asks, without the address.
        return f"{self.public_url}/u/{token}", f"mailto:{self.mailbox}?subject={quote('unsubscribe ' + token)}"

    def preferences(self, recipient: str) -> str | None:
        """The reader's own preferences page (topics, pause), when bantin's web app is reachable."""
        if self.secret is None:
            return None
        return f"{self.public_url}/r/{make_token(self.secret, 'prefs', recipient)}"


@dataclass(frozen=True, slots=True)
class Envelope:
    sender: str
    recipient: str


def build_message(
    config: Config,
    *,
    recipient: str,
    recipient_name: str,
    subject: str,
    text: str,
    html: str | None,
    msg_id: str,
    now: datetime,
    unsubscribe: tuple[str | None, str] | None,
) -> bytes:
    """The message's bytes: multipart/alternative (text first, then HTML), a +0700 Date, CRLF line ends.

    Written out directly rather than through EmailMessage: its header folding and content manager were
    most of a digest's build time. Non-ASCII header text goes as RFC 2047 encoded words (raw UTF-8,
    RFC 6532, when an address needs SMTPUTF8 anyway), both parts as base64, so the bytes are 7-bit
    whatever the server offers (the text part went 8bit, without BODY=8BITMIME). Base64 and not
    quoted-printable: Vietnamese text grows by a third in base64, by two thirds in quoted-printable.
    """
    smtp = config.smtp
    sender_name, sender = parseaddr(smtp.sender)
    utf8 = needs_smtputf8(recipient) or needs_smtputf8(sender)
    subject = check_header("Subject", subject, source="topic names / language strings")
    headers = [
        _header("Subject", _text_tokens(subject, utf8)),
        _header("From", _mailbox_tokens(sender_name, smtp_address(sender), utf8, "From", "config smtp.sender")),
        _header("To", _mailbox_tokens(recipient_name, smtp_address(recipient), utf8, "To", "config recipients")),
        _header("Date", [format_datetime(now.astimezone(config.schedule.tz))]),
        _header("Message-ID", [check_header("Message-ID", msg_id, source="digest key")]),
        "Auto-Submitted: auto-generated\r\n",
    ]
    if unsubscribe is not None:
        url, mailto = unsubscribe
        targets = [f"<{url}>"] if url else []
        targets.append(f"<{mailto}>")
        source = "config web.public_url / digest.unsubscribe_mailto"
        value = check_header("List-Unsubscribe", ", ".join(targets), source=source)
        headers.append(_header("List-Unsubscribe", value.split(" ")))
        if url:
            headers.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
    headers.append("MIME-Version: 1.0\r\n")
    text_part = _part("plain", text)
    head = "".join(headers).encode("utf-8")
    if html is None:
        return head + text_part
    html_part = _part("html", html)
    # "=_" never occurs in base64, so no part can contain the boundary.
    boundary = f"=_bantin_{uuid.uuid4().hex}".encode("ascii")
    return b"".join(
        (
            head,
            b'Content-Type: multipart/alternative;\r\n boundary="%s"\r\n\r\n' % boundary,
            b"--%s\r\n" % boundary,
            text_part,
            b"\r\n--%s\r\n" % boundary,
            html_part,
            b"\r\n--%s--\r\n" % boundary,
        )
    )


# RFC 5322 §2.1.1: no line longer than 998 characters; RFC 2047 §2: 76 for a line holding an encoded word.
HARD_LINE = 998
ENCODED_LINE = 76
# Bytes of UTF-8 per encoded word: 52 base64 characters, a 64-character word ("Subject: " and one fit in 76).
_WORD_BYTES = 39


def _header(name: str, tokens: list[str]) -> str:
    """``Name: tokens`` joined by spaces, folded (CRLF before a space) where a line would pass its limit."""
    limit = ENCODED_LINE if any(token.startswith("=?utf-8?b?") for token in tokens) else HARD_LINE
    lines: list[str] = []
    line = f"{name}:"
    for token in tokens:
        if len(line.encode("utf-8")) + 1 + len(token.encode("utf-8")) > limit and line != f"{name}:":
            lines.append(line)
            line = ""
        line = f"{line} {token}"
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 "B" words of UTF-8, each whole characters (a word never ends inside a character)."""
    data = text.encode("utf-8")
    words = []
    start = 0
    while start < len(data):
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte
            end -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode('ascii')}?=")
        start = end
    return words


def _text_tokens(text: str, utf8: bool) -> list[str]:
    """An unstructured value (the subject): as it is when ASCII or under RFC 6532, else encoded words."""
    if utf8 or text.isascii():
        return text.split(" ")
    return _encoded_words(text)


def _mailbox_tokens(name: str, address: str, utf8: bool, header: str, source: str) -> list[str]:
    # Not formataddr(): it refuses a non-ASCII local part outright (UnicodeEncodeError).
    check_header(header, name, source=source)
    check_header(header, address, source=source)
    if not name:
        return [address]
    if utf8 or name.isascii():
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return [f'"{quoted}"', f"<{address}>"]
    # An encoded word is a whole word of a phrase (RFC 2047 §5 (3)); the address stays plain.
    return [*_encoded_words(name), f"<{address}>"]


def _crlf_lines(text: str) -> bytes:
    """The text's UTF-8 with CRLF line ends, a last one included (as the stdlib's content manager writes it)."""
    data = text.encode("utf-8")
    if b"\r" not in data:  # the templates' own output: one replace, not a list of lines
        return data.replace(b"\n", b"\r\n") + (b"" if data.endswith(b"\n") else b"\r\n")
    return b"\r\n".join(data.splitlines()) + b"\r\n"


def _base64_lines(data: bytes) -> bytes:
    """Base64 in lines of 76 characters, each ending in CRLF: RFC 2045 §6.8's limit (spam filters score longer
    lines), as base64.encodebytes writes them. Encoded at once and cut: encodebytes encodes 57 bytes at a time in
    a Python loop, and 57 bytes are 76 characters without padding, so the lines are the same."""
    encoded = binascii.b2a_base64(data, newline=False)
    if not encoded:
        return b""
    return b"\r\n".join([encoded[start : start + 76] for start in range(0, len(encoded), 76)]) + b"\r\n"


# Readers whose bodies are the same (no name, no signed links: ``reports.render`` hands them the same strings)
# share their encoding: base64 was a third of building such a message. Room for two messages' two parts.
@lru_cache(maxsize=4)
def _part(subtype: str, body: str) -> bytes:
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    return head.encode("ascii") + _base64_lines(_crlf_lines(body))


class SmtpTemporaryError(DeliveryError):
    """Worth retrying: a 4xx reply, a dropped or refused connection, a timeout."""


class SmtpOutcomeUnknownError(SmtpTemporaryError):
    """The whole message went out but no reply came: the server may have accepted it.

    Resending risks a duplicate, not resending risks a loss: the outbox waits, and caps the resends.
    """


class SmtpPermanentError(DeliveryError):
    """This message cannot go: a 5xx reply (its code), or a message this server cannot take (code None)."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class SmtpTransportError(SmtpTemporaryError):
    """The session itself failed (connect, TLS, login): affects every message, not just one."""


class _Client(smtplib.SMTP):
    """smtplib's DATA, waiting FINAL_REPLY_TIMEOUT for the reply to the final "." and noting that it was sent."""

    final_reply_timeout = FINAL_REPLY_TIMEOUT
    # True from the moment the final "." is on the wire: past it, a lost reply is an unknown outcome.
    body_sent = False

    # Narrower than SMTP.data (bytes only): sendmail, its one caller here, always passes bytes.
    def data(self, msg: bytes) -> tuple[int, bytes]:  # type: ignore[override]
        self.body_sent = False
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        # Dot-stuffing (RFC 5321 §4.5.2). Base64 lines never start with ".": most messages need none.
        body = re.sub(rb"(?m)^\.", b"..", msg) if msg.startswith(b".") or b"\n." in msg else msg
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.send(body + b".\r\n")
        self.body_sent = True
        if self.sock is not None:  # send() just wrote to it; getreply() reports a vanished one
            self.sock.settimeout(self.final_reply_timeout)
        try:
            return self.getreply()
        finally:
            if self.sock is not None:
                self.sock.settimeout(self.timeout)


class _SslClient(_Client, smtplib.SMTP_SSL):
    pass


def _tls_context(config: SmtpConfig) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not config.verify_tls:
        log.warning(
            "smtp.verify_tls = false: the SMTP server's certificate is NOT verified; "
            "anyone on the path can read the digests and the password"
        )
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class SmtpSession:
    """One SMTP connection, opened lazily and re-opened after a failure."""

    def __init__(self, config: SmtpConfig, *, final_reply_timeout: float | None = None):
        self.config = config
        self.final_reply_timeout = final_reply_timeout or FINAL_REPLY_TIMEOUT
        self._client: _Client | None = None

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()

    def _connect(self) -> _Client:
        config = self.config
        try:
            if config.security == "ssl":
                client: _Client = _SslClient(
                    config.host, config.port, timeout=config.timeout_seconds, context=_tls_context(config)
                )
            else:
                client = _Client(config.host, config.port, timeout=config.timeout_seconds)
                if config.security == "starttls":
                    client.ehlo()
                    client.starttls(context=_tls_context(config))
                    client.ehlo()
            client.final_reply_timeout = self.final_reply_timeout
            if config.username:
                password = config.password()
                if password is None:
                    client.close()
                    raise ConfigError(
                        f"smtp.username is set but no password: set ${config.password_env} or smtp.password_file",
                        key="smtp.password_env",
                    )
                client.login(config.username, password)
            client.ehlo_or_helo_if_needed()
        except smtplib.SMTPResponseException as exc:
            raise SmtpTransportError(f"SMTP session with {config.host}:{config.port} failed: {_reply(exc)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SmtpTransportError(f"cannot reach SMTP server {config.host}:{config.port}: {_describe(exc)}") from exc
        return client

    def send(self, raw: bytes, envelope: Envelope) -> str:
        """Hand one message to the server; return its reply. Raises Smtp*Error."""
        if self._client is None:
            self._client = self._connect()
        client = self._client
        client.body_sent = False
        sender, recipient = smtp_address(envelope.sender), smtp_address(envelope.recipient)
        options: list[str] = []
        if not (sender + recipient).isascii():
            if not client.has_extn("smtputf8"):
                raise SmtpPermanentError(
                    f"{self.config.host} does not offer SMTPUTF8, which the non-ASCII address "
                    f"{recipient if not recipient.isascii() else sender} needs (RFC 6531)"
                )
            # RFC 6531 §3.4: SMTPUTF8 goes with 8BITMIME, as smtplib's send_message does.
            options = ["SMTPUTF8", "BODY=8BITMIME"]
        try:
            refused = client.sendmail(sender, [recipient], raw, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            self._reset()
            raise _by_code(code, f"recipient refused: {code} {_text(reply)}") from exc
        except smtplib.SMTPResponseException as exc:
            self._reset()
            raise _by_code(exc.smtp_code, _reply(exc)) from exc
        except Exception as exc:
            body_sent = client.body_sent
            self.close()
            if body_sent:
                raise SmtpOutcomeUnknownError(
                    f"no reply to the end of the message ({_describe(exc)}): the server may have accepted it"
                ) from exc
            if isinstance(exc, (smtplib.SMTPException, OSError)):
                raise SmtpTemporaryError(f"connection lost while sending: {_describe(exc)}") from exc
            # Not the server's doing (e.g. an address smtplib cannot encode): this message cannot go as it is.
            raise SmtpPermanentError(f"cannot send this message: {type(exc).__name__}: {exc}") from exc
        if refused:
            code, reply = next(iter(refused.values()))
            raise _by_code(code, f"recipient refused: {code} {_text(reply)}")
        return "accepted"

    def _reset(self) -> None:
        # After a refused transaction the connection is still usable, unless the server hung up.
        try:
            if self._client is not None:
                self._client.rset()
        except (smtplib.SMTPException, OSError):
            self.close()


def _by_code(code: int, message: str) -> DeliveryError:
    if 500 <= code < 600:
        return SmtpPermanentError(message, code)
    return SmtpTemporaryError(message)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"certificate not trusted ({exc.verify_message}); fix the certificate or, "
            "only if you trust the server, set smtp.verify_tls = false"
        )
    return str(exc) or type(exc).__name__


def send_test_message(config: Config, to: str, *, now: datetime) -> str:
    """`bantin smtp test`: one short message straight to the server (no outbox)."""
    from reports import i18n

    language = config.digest.language
    when = now.astimezone(config.schedule.tz).strftime("%H:%M %d/%m/%Y %z")
    msg_id = message_id(f"test-{now.strftime('%Y%m%d%H%M%S%f')}", to, sender_address(config.smtp))
    message = build_message(
        config,
        recipient=to,
        recipient_name="",
        subject=i18n.text(language, "test_subject"),
        text=i18n.text(language, "test_body", when=when) + "\n",
        html=None,
        msg_id=msg_id,
        now=now,
        unsubscribe=None,
    )
    with SmtpSession(config.smtp) as session:
        session.send(message, Envelope(sender_address(config.smtp), to))
    return msg_id
