"""Turning a rendered notice into an e-mail, for the SMTP and Maildir channels.

Only two headers carry anything that is not ours: the recipient, which must be one
plain ASCII address (no display name, no line break, no second address), and the
subject, which the renderer keeps on one line. The Message-ID is derived from the
notice's dedupe key, so every delivery of one notice carries the same one.
"""

from __future__ import annotations

import email
import hashlib
import re
from email import policy, quoprimime
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from antaeus_cli.channels.port import Message, Permanent, Scope, Unaddressed
from antaeus_cli.domain.notices import NoticeKind

BLANK = " \t\n\r\v\f"  # what `report` trims too, counting customers without an address
MAX_ADDRESS = 254  # RFC 5321's limit on a forward path, less its angle brackets
# A deliberately plain address: dot-atom local part and domain, printable ASCII only.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def checked_address(text: str, what: str = "recipient") -> str:
    """`text` if it is one plain address; Permanent otherwise, saying why."""
    if len(text) > MAX_ADDRESS:
        raise Permanent(
            f"the {what} address is {len(text)} characters long, over {MAX_ADDRESS}",
            scope=Scope.NOTICE,
        )
    if not _ADDRESS.fullmatch(text) or not _one_mailbox(text):
        shown = text.encode("unicode_escape").decode("ascii")[:80]
        raise Permanent(
            f"the {what} address {shown!r} is not one plain e-mail address", scope=Scope.NOTICE
        )
    return text


def _one_mailbox(text: str) -> bool:
    """Whether the e-mail library, which decodes what it reads (an encoded word such as
    `=?utf-8?b?...?=` included), reads `text` back as one mailbox, the same, flawless."""
    header = _POLICY.header_factory("To", text)
    found = header.addresses
    return (
        not header.defects
        and len(found) == 1
        and not found[0].display_name
        and found[0].addr_spec == text
    )


def display_name_problem(name: str) -> str | None:
    """Why `name` cannot be the display name of our From header, or None: it must come
    back from the e-mail library as the name of one mailbox, unchanged."""
    try:
        header = _POLICY.header_factory("From", str(Address(name, addr_spec="a@example.com")))
    except (ValueError, IndexError, TypeError) as exc:
        return f"cannot be written in a header: {exc}"
    found = header.addresses
    if header.defects or len(found) != 1 or found[0].display_name != name:
        return "does not read back as itself in a From header"
    return None


def recipient_of(message: Message, operator: str | None) -> str:
    """Where the message goes: the customer's address, or the operator's for a run
    summary; Unaddressed when there is none."""
    if message.kind is NoticeKind.RUN_SUMMARY:
        if operator is None:
            raise Unaddressed("no operator address: set operator= in the notify spec")
        return operator
    if message.recipient is None or not message.recipient.strip(BLANK):
        raise Unaddressed("the customer has no e-mail address")
    return checked_address(message.recipient)


_POLICY = policy.SMTP
_LINE = 76  # RFC 2045's limit on a quoted-printable line
# One body part: its headers, then its quoted-printable payload.
_PART = (
    'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
)


def message_bytes(message: Message, *, sender: str, recipient: str) -> bytes:
    """The e-mail as it goes: text with an HTML alternative, headers that cannot be
    injected. The same notice always makes the same bytes: its Date is when its cause
    was recorded, and its MIME boundary is derived from its key (quoted-printable
    bodies cannot hold the boundary's '==').

    Written directly from the standard library's encoders (RFC 2047 words for the
    subject and a display name, quoted-printable bodies), not through `EmailMessage`,
    whose parsing of every header it sets cost more than the SMTP exchange. Every
    header but the subject and the display name is ASCII checked beforehand; the
    subject is one line (the renderer's), and folded here. A test parses every kind in
    every language back with the e-mail library's strict policy and finds no defect."""
    mark = boundary(message.key)
    lines = [
        f"From: {formataddr((message.sender_name or '', sender), charset='utf-8')}",
        f"To: {recipient}",
    ]
    if message.reply_to is not None:
        lines.append(f"Reply-To: {message.reply_to}")
    lines += [
        f"Subject: {_subject(message.subject)}",
        f"Date: {format_datetime(message.created)}",
        f"Message-ID: {message_id(message.key, sender)}",
        "Auto-Submitted: auto-generated",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{mark}"',
        "",
        f"--{mark}",
    ]
    head = "\r\n".join(lines) + "\r\n"
    text, page = _qp(message.text), _qp(message.html)
    return (
        f"{head}{_PART.format('plain')}{text}\r\n--{mark}\r\n{_PART.format('html')}{page}"
        f"\r\n--{mark}--\r\n"
    ).encode("ascii")


def _subject(subject: str) -> str:
    """The subject, folded: as it is when it is plain ASCII, else RFC 2047 words (and
    always when it holds '=?', which a reader would take for one)."""
    plain = subject.isascii() and "=?" not in subject
    return Header(
        subject, "us-ascii" if plain else "utf-8", header_name="Subject", maxlinelen=78
    ).encode(linesep="\r\n")


def _qp(body: str) -> str:
    """A body as quoted-printable UTF-8, each line ended CRLF, the last one too (the
    CRLF before the next boundary is the boundary's)."""
    lines = b"\n".join(body.encode("utf-8").splitlines()) + b"\n"
    encoded = quoprimime.body_encode(lines.decode("latin-1"), _LINE, eol="\r\n")
    return encoded if encoded.endswith("\r\n") else encoded + "\r\n"


def build(message: Message, *, sender: str, recipient: str) -> EmailMessage:
    """The e-mail `message_bytes` writes, read back: for showing it, and for tests."""
    raw = message_bytes(message, sender=sender, recipient=recipient)
    return email.message_from_bytes(raw, policy=_POLICY)


def boundary(key: str) -> str:
    """The MIME boundary of a notice's e-mail: from its key, within RFC 2046's 70
    characters, and with '==', which no quoted-printable body holds."""
    return f"==antaeus-{hashlib.sha256(key.encode()).hexdigest()[:40]}=="


def message_id(key: str, sender: str) -> str:
    """The same Message-ID for every delivery of one notice."""
    return f"<{key}@{sender.rpartition('@')[2]}>"
