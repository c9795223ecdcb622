"""The SMTP channel against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from antaeus_cli.channels.port import ChannelRefused, Message, Permanent, Scope, Transient
from antaeus_cli.channels.smtp import SmtpChannel, SmtpSettings
from antaeus_cli.domain.notices import NoticeKind
from tests.servers.smtp import Mailbox, free_port, smtp_server

SENDER = "billing@example.com"


def message(
    key: str = "ns-inv-1-1-receipt", recipient: str | None = "c1@example.com", **kw: object
) -> Message:
    fields: dict[str, object] = {
        "key": key,
        "kind": NoticeKind.RECEIPT,
        "created": datetime(2026, 12, 1, 0, 5, tzinfo=UTC),
        "recipient": recipient,
        "subject": "Receipt for invoice 1: \u20ac1.00",
        "text": "Thank you.\n",
        "html": "<p>Thank you.</p>\n",
        "event": None,
    }
    fields.update(kw)
    return Message(**fields)  # type: ignore[arg-type]


@pytest.fixture
def server() -> Iterator[tuple[int, Mailbox]]:
    with smtp_server() as running:
        yield running


def channel(port: int, **kw: object) -> SmtpChannel:
    settings = SmtpSettings("127.0.0.1", port, SENDER, timeout=5.0, **kw)  # type: ignore[arg-type]
    return SmtpChannel(settings, f"smtp://127.0.0.1:{port}")


def test_messages_arrive_whole_over_one_connection(server: tuple[int, Mailbox]) -> None:
    port, box = server
    smtp = channel(port)
    for n in range(1, 6):
        smtp.deliver(message(key=f"ns-inv-{n}-1-receipt", recipient=f"c{n}@example.com"))
    smtp.close()
    assert box.sessions == 1
    assert smtp.connections == 1
    first = box.messages[0]
    assert first["From"] == SENDER
    assert first["To"] == "c1@example.com"
    assert first["Subject"] == "Receipt for invoice 1: \u20ac1.00"
    assert first["Message-ID"] == "<ns-inv-1-1-receipt@example.com>"
    assert first["Auto-Submitted"] == "auto-generated"
    assert first.get_content_type() == "multipart/alternative"
    text = first.get_body(preferencelist=("plain",))
    html = first.get_body(preferencelist=("html",))
    assert text is not None
    assert text.get_content().strip() == "Thank you."
    assert html is not None
    assert "<p>Thank you.</p>" in html.get_content()
    assert box.envelopes[4] == (SENDER, ["c5@example.com"])


def test_a_refused_recipient_is_permanent_or_transient_by_its_code(
    server: tuple[int, Mailbox],
) -> None:
    port, box = server
    box.refuse_rcpt = {"gone@example.com": "550 no such user", "full@example.com": "452 full"}
    smtp = channel(port)
    with pytest.raises(Permanent, match="550"):
        smtp.deliver(message(recipient="gone@example.com"))
    with pytest.raises(Transient, match="452"):
        smtp.deliver(message(recipient="full@example.com"))
    smtp.deliver(message())  # the connection is still good
    assert len(box.messages) == 1
    assert smtp.connections == 1


def test_a_refused_message_is_permanent_or_transient_by_its_code(
    server: tuple[int, Mailbox],
) -> None:
    port, box = server
    smtp = channel(port)
    box.refuse_data = "554 rejected as spam"
    with pytest.raises(Permanent, match="554"):
        smtp.deliver(message())
    box.refuse_data = "451 try again later"
    with pytest.raises(Transient, match="451"):
        smtp.deliver(message())


def test_a_server_that_is_not_there_is_transient() -> None:
    with pytest.raises(Transient, match="cannot connect"):
        channel(free_port()).deliver(message())


def test_a_dropped_connection_is_opened_again(server: tuple[int, Mailbox]) -> None:
    port, box = server
    smtp = channel(port)
    smtp.deliver(message())
    assert smtp._conn is not None
    smtp._conn.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr] - as a server would
    with pytest.raises(Transient):
        smtp.deliver(message(key="ns-inv-2-1-receipt"))
    smtp.deliver(message(key="ns-inv-2-1-receipt"))
    assert smtp.connections == 2
    assert box.message_ids()[-1] == "<ns-inv-2-1-receipt@example.com>"


def test_starttls_asked_of_a_server_without_it_refuses_the_channel(
    server: tuple[int, Mailbox],
) -> None:
    port, _ = server
    with pytest.raises(ChannelRefused, match="STARTTLS"):
        channel(port, starttls=True).deliver(message())


def test_credentials_the_server_refuses_stop_the_channel() -> None:
    def refuse(*_args: object) -> object:
        from aiosmtpd.smtp import AuthResult

        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535

    with smtp_server(authenticator=refuse, auth_require_tls=False) as (port, box):
        smtp = channel(port, user="billing", password="wrong")  # noqa: S106 - a test secret
        with pytest.raises(ChannelRefused, match="refused the credentials"):
            smtp.deliver(message())
        assert box.messages == []


@pytest.mark.parametrize(
    "hostile",
    [
        "c1@example.com\r\nBcc: victim@example.com",
        "c1@example.com\nSubject: injected",
        "Mallory <c1@example.com>",
        "c1@example.com, c2@example.com",
        "x" * 250 + "@example.com",
        "c\u00e9@example.com",
        "no-at-sign",
        # encoded words the e-mail library decodes: a second address, an escape sequence
        "=?utf-8?b?YUBldmlsLmNvbT4sIDxi?=@y.com",
        "=?utf-8?b?G1szMW0=?=@y.com",
        "=?utf-8?q?a=40evil.com=3E=2C_=3Cb?=@y.com",
    ],
)
def test_a_hostile_address_never_becomes_a_header(
    server: tuple[int, Mailbox], hostile: str
) -> None:
    port, box = server
    with pytest.raises(Permanent, match="address"):
        channel(port).deliver(message(recipient=hostile))
    assert box.messages == []


@pytest.mark.parametrize(
    ("reply", "kind", "scope"),
    [
        ("550 5.1.1 <gone@example.com>: user unknown", Permanent, Scope.NOTICE),
        ("552 5.2.2 mailbox full", Permanent, Scope.NOTICE),
        ("554 5.7.1 <c1@example.com>: Relay access denied", Permanent, Scope.CHANNEL),
        ("530 5.7.0 Authentication required", Permanent, Scope.CHANNEL),
        ("550 no such user", Permanent, Scope.CHANNEL),  # no status code: cannot tell
        ("553 5.1.8 <billing@example.com>: Sender address rejected", Permanent, Scope.CHANNEL),
        ("553 5.1.7 <billing@example.com>: bad sender address syntax", Permanent, Scope.CHANNEL),
        ("450 4.2.0 Recipient address rejected: Greylisted", Transient, Scope.NOTICE),
        ("450 greylisted, come back later", Transient, Scope.NOTICE),
        ("452 4.2.2 mailbox full", Transient, Scope.NOTICE),
        (
            "451 4.7.1 Client host rejected: cannot find your reverse hostname",
            Transient,
            Scope.CHANNEL,
        ),
        ("451 4.3.0 mail system busy", Transient, Scope.CHANNEL),
        ("450 4.1.8 <billing@example.com>: Sender address rejected", Transient, Scope.CHANNEL),
    ],
)
def test_a_refused_recipient_says_whose_failure_it_is(
    server: tuple[int, Mailbox], reply: str, kind: type[Exception], scope: Scope
) -> None:
    """By the enhanced status code (RFC 3463): X.1.x and X.2.x are about the address or
    the mailbox; anything else may be the channel's (a relay that will not relay)."""
    port, box = server
    box.refuse_every_rcpt = reply
    smtp = channel(port)
    with pytest.raises(kind) as failed:
        smtp.deliver(message())
    assert isinstance(failed.value, Permanent | Transient)
    assert failed.value.scope is scope
    assert reply.split(maxsplit=1)[0] in str(failed.value)


def test_after_a_421_the_connection_is_dropped_and_the_next_message_opens_another(
    server: tuple[int, Mailbox],
) -> None:
    """A 421 says the server is closing: that connection is never written to again, so
    the next message does not fail for the one before it."""
    port, box = server
    box.refuse_rcpt = {"c1@example.com": "421 4.3.2 shutting down"}
    smtp = channel(port)
    with pytest.raises(Transient, match="421") as failed:
        smtp.deliver(message())
    assert failed.value.scope is Scope.CHANNEL
    smtp.deliver(message(key="ns-inv-2-1-receipt", recipient="c2@example.com"))
    assert smtp.connections == 2
    assert box.message_ids() == ["<ns-inv-2-1-receipt@example.com>"]


@pytest.mark.parametrize(
    ("reply", "scope"),
    [
        ("552 5.3.4 message size exceeds fixed maximum", Scope.NOTICE),
        ("554 5.6.0 content not accepted", Scope.NOTICE),
        ("554 5.7.1 rejected by policy", Scope.CHANNEL),
    ],
)
def test_a_refused_message_says_whose_failure_it_is(
    server: tuple[int, Mailbox], reply: str, scope: Scope
) -> None:
    port, box = server
    box.refuse_data = reply
    with pytest.raises(Permanent) as failed:
        channel(port).deliver(message())
    assert failed.value.scope is scope


def test_a_message_too_big_for_the_server_fails_alone_and_the_channel_goes_on(
    server: tuple[int, Mailbox],
) -> None:
    """552 to MAIL FROM is about this message's size, not a sender the server refuses:
    that message fails; the next one goes, on the same connection."""
    port, box = server
    box.refuse_mail = ["552 5.3.4 message too large"]
    smtp = channel(port)
    with pytest.raises(Permanent, match="552") as failed:
        smtp.deliver(message())
    assert failed.value.scope is Scope.NOTICE
    smtp.deliver(message(key="ns-inv-2-1-receipt"))
    assert (smtp.connections, len(box.messages)) == (1, 1)


def test_a_sender_the_server_refuses_refuses_the_channel(server: tuple[int, Mailbox]) -> None:
    port, box = server
    box.refuse_mail = ["553 5.7.1 sender not permitted"]
    with pytest.raises(ChannelRefused, match="from="):
        channel(port).deliver(message())


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that this process trusts (SSL_CERT_FILE), made with
    the openssl tool: the mail server's, for STARTTLS checked as in production."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    tool = shutil.which("openssl")
    assert tool is not None, "the openssl tool makes the test certificate (.ci/run installs it)"
    subprocess.run(
        [tool, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


def test_starttls_upgrades_the_connection_and_checks_the_certificate(
    certificate: tuple[Path, Path],
) -> None:
    """STARTTLS against a real TLS server: the message arrives over the encrypted
    connection, the server's certificate checked against the host's name."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with smtp_server(tls_context=context) as (port, box):
        smtp = channel(port, starttls=True)
        smtp.deliver(message())
        smtp.close()
    assert box.message_ids() == ["<ns-inv-1-1-receipt@example.com>"]


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (f"550 5.1.0 <{SENDER}>: Sender address rejected: User unknown", Permanent),
        ("451 4.1.0 Sender address rejected: unverified", Transient),
    ],
)
def test_a_sender_refused_at_rcpt_is_the_channel_s_whatever_its_code(
    server: tuple[int, Mailbox], reply: str, kind: type[Exception]
) -> None:
    """Postfix checks the sender at RCPT by default: an answer that names our sender,
    or speaks of the sender, is about from=, the channel's, whatever its status code."""
    port, box = server
    box.refuse_every_rcpt = reply
    with pytest.raises(kind) as failed:
        channel(port).deliver(message())
    assert isinstance(failed.value, Permanent | Transient)
    assert failed.value.scope is Scope.CHANNEL
