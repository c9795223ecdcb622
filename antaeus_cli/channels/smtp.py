"""The SMTP channel: one connection for the whole run, opened when the first message
goes and opened again after the server drops it.

How the server's answers are taken (`channels.port` says what each means), and
whose they are (`Scope`), by the reply code and its enhanced status code (RFC 3463:
`5.1.1` is about an address, `5.3.4` a message too big, `5.7.1` a policy):

| what happened                                          | taken as       | whose   |
|--------------------------------------------------------|----------------|---------|
| connection refused, dropped, timed out; any 421        | Transient      | channel |
| 4xx to a recipient (greylisting, a full mailbox: X.1.x, | Transient      | notice  |
| X.2.x, or no status code)                               |                |         |
| 4xx to a recipient otherwise (4.7.1 client rejected...) | Transient      | channel |
| 4xx to the sender or the data                           | Transient      | channel |
| 5xx to a recipient: X.1.x (address, but X.1.7 and X.1.8, | Permanent      | notice  |
| the sender's), X.2.x (mailbox)                          |                |         |
| 5xx to a recipient otherwise (5.7.1 relay denied ...)   | Permanent      | channel |
| 552 or X.3.4 (too big, a full mailbox); X.6.x to data | Permanent      | notice  |
| 5xx to the data otherwise (554 ...)                     | Permanent      | channel |
| 5xx to the sender otherwise, credentials refused,       | ChannelRefused |         |
| STARTTLS asked for but not offered                      |                |         |

An answer to a recipient that names our sender, or speaks of the sender (`550 5.1.0
<billing@...>: Sender address rejected`, Postfix checking the sender at RCPT), is about
`from=`: the channel's, whatever its code. After a 421 (the server is closing) the
connection is dropped, never used again. TLS that cannot be set up as the spec asks
refuses the channel.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from antaeus_cli.channels.email import message_bytes, recipient_of
from antaeus_cli.channels.port import ChannelRefused, Message, Permanent, Scope, Transient

Connect = Callable[[float], smtplib.SMTP]  # an SMTP client not yet connected


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    operator: str | None = None
    starttls: bool = False
    implicit_tls: bool = False  # smtps://
    user: str | None = None
    password: str | None = None
    timeout: float = 30.0


class _Plain(smtplib.SMTP):
    """SMTP that keeps a second handle on its socket from the moment it is made
    (`spare`): `abort()` shuts the connection down through it from another thread at
    any point, the server's greeting included, which smtplib reads inside connect()."""

    spare: socket.socket | None = None
    _host: str  # smtplib's: the name STARTTLS checks the certificate against

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        self._host = host  # connect() called apart from __init__ does not set it
        sock = socket.create_connection((host, port), timeout, self.source_address)
        self.spare = sock.dup()
        return sock

    def close(self) -> None:
        super().close()
        _close_spare(self)


class _Tls(smtplib.SMTP_SSL):
    """smtps://: the same, the spare made before the TLS handshake, so that one the
    server drags out is cut too."""

    spare: socket.socket | None = None

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        raw = socket.create_connection((host, port), timeout, self.source_address)
        self.spare = raw.dup()
        return self.context.wrap_socket(raw, server_hostname=host)

    def close(self) -> None:
        super().close()
        _close_spare(self)


def _close_spare(conn: _Plain | _Tls) -> None:
    spare, conn.spare = conn.spare, None
    if spare is not None:
        spare.close()


def _plain(timeout: float) -> smtplib.SMTP:
    return _Plain(timeout=timeout)


def _tls(timeout: float) -> smtplib.SMTP:
    return _Tls(timeout=timeout, context=ssl.create_default_context())


_ENHANCED = re.compile(r"\s*[245]\.(\d{1,3})\.(\d{1,3})(?!\d)")
CLOSING = 421  # the server is closing the connection
_TOO_BIG = 552  # exceeded storage allocation: this message's size
_SENDERS = frozenset({(1, 7), (1, 8)})  # bad sender's mailbox, bad sender's system
_SENDER_WORD = re.compile(r"\bsender\b", re.IGNORECASE)  # "Sender address rejected"


def _about_them(subject: tuple[int, int] | None) -> bool:
    """A 4xx to a recipient is theirs (greylisting, a full or busy mailbox) unless its
    status code says the system, the network, the protocol, a policy or our sender
    (`451 4.7.1 Client host rejected` meets every recipient alike)."""
    return subject is None or (subject[0] in (1, 2) and subject not in _SENDERS)


def by_code(code: int, text: object, what: str) -> Transient | Permanent:
    """A reply code as a failure, and whose it is (the table above): 4xx may pass, 5xx
    will not. `what`: "sender", "recipient" or "message"."""
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    reason = f"the SMTP server answered {code} to the {what}: {' '.join(said.split())[:200]}"
    enhanced = _ENHANCED.match(said)
    subject = None if enhanced is None else (int(enhanced[1]), int(enhanced[2]))
    if 400 <= code < 500:  # to a recipient: greylisted, a full mailbox; not a policy's
        mine = what == "recipient" and code != CLOSING and _about_them(subject)
        return Transient(reason, scope=Scope.NOTICE if mine else Scope.CHANNEL)
    if code == _TOO_BIG or subject == (3, 4):  # this message's size, or a full mailbox
        mine = True
    elif what == "recipient":  # X.1.7 and X.1.8 are about the sender: from=, ours
        mine = subject is not None and subject[0] in (1, 2) and subject not in _SENDERS
    else:  # the data: a content it will not take is this message's; the sender's is ours
        mine = what == "message" and subject is not None and subject[0] == 6
    return Permanent(reason, scope=Scope.NOTICE if mine else Scope.CHANNEL)


class SmtpChannel:
    renders: Literal["email", "event"] = "email"

    def __init__(self, settings: SmtpSettings, description: str, connect: Connect | None = None):
        self.settings = settings
        self.description = description
        self.deadline = settings.timeout
        self._connect = connect or (_tls if settings.implicit_tls else _plain)
        self._conn: smtplib.SMTP | None = None
        self._opening: smtplib.SMTP | None = None  # a connection in its greeting and AUTH
        self._cut = False
        self.connections = 0  # how many times a connection was opened: once, normally

    def abort(self) -> None:
        self._cut = True
        for conn in (self._opening, self._conn):
            for sock in (getattr(conn, "spare", None), getattr(conn, "sock", None)):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

    def deliver(self, message: Message) -> None:
        self._cut = False
        try:
            self._send(message)
        finally:
            if self._cut:  # its connection was shut down under it: never used again
                self._drop()

    def _send(self, message: Message) -> None:
        s = self.settings
        recipient = recipient_of(message, s.operator)
        mail = message_bytes(message, sender=s.sender, recipient=recipient)
        conn = self._connection()
        try:
            conn.sendmail(s.sender, [recipient], mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (550, b"refused"))
            raise self._failure(code, text, "recipient") from None
        except smtplib.SMTPSenderRefused as exc:
            failure = self._failure(exc.smtp_code, exc.smtp_error, "sender")
            if isinstance(failure, Permanent) and failure.scope is Scope.CHANNEL:
                raise ChannelRefused(f"{failure}; check from= in the notify spec") from None
            raise failure from None
        except smtplib.SMTPDataError as exc:
            raise self._failure(exc.smtp_code, exc.smtp_error, "message") from None
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise by_code(exc.smtp_code, exc.smtp_error, "message") from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise Transient(f"SMTP connection failed: {type(exc).__name__}: {exc}") from None

    def _failure(self, code: int, text: object, what: str) -> Transient | Permanent:
        if code == CLOSING:  # smtplib closed the socket: never send on it again
            self._drop()
        failure = by_code(code, text, what)
        said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        if what == "recipient" and (
            self.settings.sender.lower() in said.lower() or _SENDER_WORD.search(said)
        ):
            # an answer to a recipient that names our sender is about from=: ours
            # ("550 5.1.0 <billing@...>: Sender address rejected", Postfix at RCPT)
            failure.scope = Scope.CHANNEL
        return failure

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None:
            return self._conn
        s = self.settings
        conn = self._connect(s.timeout)
        self._opening = conn  # from here on, abort() can cut it
        try:
            conn.connect(s.host, s.port)  # and the greeting, read inside
        except (smtplib.SMTPException, OSError) as exc:
            self._opening = None
            _quietly_close(conn)
            raise Transient(f"cannot connect to {s.host}:{s.port}: {exc}") from None
        try:
            self._start(conn)
        except ChannelRefused:
            _quietly_close(conn)
            raise
        except (smtplib.SMTPException, OSError) as exc:
            _quietly_close(conn)
            raise Transient(f"SMTP session with {s.host}:{s.port} failed: {exc}") from None
        except ValueError as exc:  # TLS that cannot be set up as the spec asks: a setting
            _quietly_close(conn)
            raise ChannelRefused(f"SMTP session with {s.host}:{s.port}: {exc}") from None
        finally:
            self._opening = None
        self._conn = conn
        self.connections += 1
        return conn

    def _start(self, conn: smtplib.SMTP) -> None:
        s = self.settings
        if self._cut:  # cut while it connected: never used
            raise OSError("cut while connecting")
        conn.ehlo()
        if s.starttls:
            if not conn.has_extn("starttls"):
                raise ChannelRefused(f"{s.host}:{s.port} does not offer STARTTLS; starttls=1 asks")
            conn.starttls(context=ssl.create_default_context())
            conn.ehlo()
        if s.user is not None:
            try:
                conn.login(s.user, s.password or "")
            except smtplib.SMTPAuthenticationError as exc:
                raise ChannelRefused(
                    f"the SMTP server refused the credentials of {s.user!r} ({exc.smtp_code})"
                ) from None
            except smtplib.SMTPNotSupportedError:
                raise ChannelRefused(f"{s.host}:{s.port} does not offer AUTH") from None

    def _drop(self) -> None:
        if self._conn is not None:
            _quietly_close(self._conn)
            self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                _quietly_close(self._conn)
            self._conn = None


def _quietly_close(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        conn.close()
