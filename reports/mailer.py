"""Building digest messages and talking SMTP.

The outbox state machine that uses these lives in ``reports.delivery``.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from crawler.config import Config, DigestConfig, SmtpConfig
from crawler.errors import ConfigError, DeliveryError, HeaderInjectionError

log = logging.getLogger(__name__)

FORBIDDEN_IN_HEADERS = ("\r", "\n", "\0")
# CRLF, and headers folded only past RFC 5322's hard limit: the stdlib folder drops the
# space between RFC 2047 encoded words when it folds a Vietnamese subject ("mới —Công").
MAIL_POLICY = policy.SMTP.clone(max_line_length=998)


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
    domain = sender.rpartition("@")[2] or "bantin.invalid"
    token = hashlib.sha256(f"{digest_key}\0{recipient.lower()}".encode()).hexdigest()[:20]
    return f"<bantin.{digest_key}.{token}@{domain}>"


def unsubscribe_targets(config: DigestConfig, smtp: SmtpConfig, recipient: str) -> tuple[str | None, str]:
    """(https URL or None, mailto URL) for List-Unsubscribe and the footer link."""
    mailbox = config.unsubscribe_mailto.removeprefix("mailto:") or sender_address(smtp)
    mailto = f"mailto:{mailbox}?subject={quote('unsubscribe ' + recipient)}"
    url = None
    if config.unsubscribe_url:
        # The one-click POST must say who leaves: put the address in the query unless the URL places it.
        if "{email}" in config.unsubscribe_url:
            url = config.unsubscribe_url.replace("{email}", quote(recipient, safe=""))
        else:
            parts = urlsplit(config.unsubscribe_url)
            query = "&".join(filter(None, [parts.query, urlencode({"email": recipient})]))
            url = urlunsplit(parts._replace(query=query))
    return url, mailto


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
) -> EmailMessage:
    """multipart/alternative (text first, then HTML), UTF-8 headers, a +0700 Date."""
    smtp = config.smtp
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = check_header("Subject", subject, source="topic names / language strings")
    message["From"] = check_header("From", smtp.sender, source="config smtp.sender")
    message["To"] = check_header(
        "To", formataddr((recipient_name, recipient)) if recipient_name else recipient, source="config recipients"
    )
    message["Date"] = format_datetime(now.astimezone(config.schedule.tz))
    message["Message-ID"] = check_header("Message-ID", msg_id, source="digest key")
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe is not None:
        url, mailto = unsubscribe
        targets = [f"<{url}>"] if url else []
        targets.append(f"<{mailto}>")
        message["List-Unsubscribe"] = check_header("List-Unsubscribe", ", ".join(targets), source="config digest.unsubscribe_*")
        if url:
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text, charset="utf-8")
    if html is not None:
        # base64 keeps the size predictable (the HTML budget assumes it); QP of Vietnamese can triple.
        message.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    return message


class SmtpTemporaryError(DeliveryError):
    """Worth retrying: a 4xx reply, a dropped or refused connection, a timeout."""


class SmtpPermanentError(DeliveryError):
    """A 5xx reply for this message: retrying the same message will not help."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


class SmtpTransportError(SmtpTemporaryError):
    """The session itself failed (connect, TLS, login): affects every message, not just one."""


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

    def __init__(self, config: SmtpConfig):
        self.config = config
        self._client: smtplib.SMTP | None = None

    def __enter__(self) -> "SmtpSession":
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

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        try:
            if config.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    config.host, config.port, timeout=config.timeout_seconds, context=_tls_context(config)
                )
            else:
                client = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
                if config.security == "starttls":
                    client.ehlo()
                    client.starttls(context=_tls_context(config))
                    client.ehlo()
            if config.username:
                password = config.password()
                if password is None:
                    client.close()
                    raise ConfigError(
                        f"smtp.username is set but no password: set ${config.password_env} or smtp.password_file",
                        key="smtp.password_env",
                    )
                client.login(config.username, password)
        except smtplib.SMTPResponseException as exc:
            raise SmtpTransportError(f"SMTP session with {config.host}:{config.port} failed: {_reply(exc)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SmtpTransportError(f"cannot reach SMTP server {config.host}:{config.port}: {_describe(exc)}") from exc
        return client

    def send(self, raw: bytes, envelope: Envelope) -> str:
        """Hand one message to the server; return its reply. Raises Smtp*Error."""
        if self._client is None:
            self._client = self._connect()
        try:
            refused = self._client.sendmail(envelope.sender, [envelope.recipient], raw)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            self._reset()
            raise _by_code(code, f"recipient refused: {code} {_text(reply)}") from exc
        except smtplib.SMTPResponseException as exc:
            self._reset()
            raise _by_code(exc.smtp_code, _reply(exc)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise SmtpTemporaryError(f"connection lost while sending: {_describe(exc)}") from exc
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
        return f"certificate not trusted ({exc.verify_message}); fix the certificate or, only if you trust the server, set smtp.verify_tls = false"
    return str(exc) or type(exc).__name__


def send_test_message(config: Config, to: str, *, now: datetime) -> str:
    """`bantin smtp test`: one short message straight to the server (no outbox)."""
    from reports import i18n

    language = config.digest.language
    when = now.astimezone(config.schedule.tz).strftime("%H:%M %d/%m/%Y %z")
    msg_id = message_id(f"test-{now.strftime('%Y%m%d%H%M%S%f')}", to, sender_address(config.smtp))
    message = build_message(
        config, recipient=to, recipient_name="", subject=i18n.text(language, "test_subject"),
        text=i18n.text(language, "test_body", when=when) + "\n", html=None, msg_id=msg_id, now=now, unsubscribe=None,
    )
    with SmtpSession(config.smtp) as session:
        session.send(message.as_bytes(), Envelope(sender_address(config.smtp), to))
    return msg_id
