"""Turning a rendered notice into an e-mail, for the SMTP and Maildir channels.

Only two headers carry anything that is not ours: the recipient, which must be one
plain ASCII address (no display name, no line break, no second address), and the
subject, which the renderer keeps on one line. The Message-ID is derived from the
notice's dedupe key, so every delivery of one notice carries the same one.
"""

from __future__ import annotations

import copy
import hashlib
import re
from email import policy, quoprimime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

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


# What every message shares, parsed once: `EmailMessage` parses each header and each
# body part as it is set, and that cost as much as the SMTP exchange itself. A
# header object set again is not parsed again; a body part is a copy of a prototype
# with its own quoted-printable payload (what `set_content` writes for UTF-8 text,
# without trying the other encodings first).
_POLICY = policy.SMTP
_AUTO = _POLICY.header_factory("Auto-Submitted", "auto-generated")
_MIME = _POLICY.header_factory("MIME-Version", "1.0")
_LINE = _POLICY.max_line_length or 78
_SENDERS: dict[tuple[str, str | None], object] = {}


def _prototype(subtype: str) -> EmailMessage:
    part = EmailMessage(policy=_POLICY)
    part.set_content("", subtype=subtype, cte="quoted-printable")
    return part


_TEXT, _HTML = _prototype("plain"), _prototype("html")


def _part(prototype: EmailMessage, body: str) -> EmailMessage:
    part = copy.copy(prototype)  # its headers are shared, and never changed
    lines = b"\n".join(body.encode("utf-8").splitlines()) + b"\n"  # as set_content does
    encoded = quoprimime.body_encode(lines.decode("latin-1"), _LINE)
    part.set_payload(encoded)
    return part


def build(message: Message, *, sender: str, recipient: str) -> EmailMessage:
    """The e-mail: text with an HTML alternative, headers that cannot be injected. The
    same notice always makes the same bytes: its Date is when its cause was recorded,
    and its MIME boundary is derived from its key (quoted-printable bodies cannot hold
    the boundary's '==')."""
    mail = EmailMessage(policy=_POLICY)
    from_header = _SENDERS.get((sender, message.sender_name))
    if from_header is None:
        shown = str(Address(message.sender_name or "", addr_spec=sender))
        from_header = _SENDERS.setdefault(
            (sender, message.sender_name), _POLICY.header_factory("From", shown)
        )
    mail["From"] = from_header
    mail["To"] = recipient
    if message.reply_to is not None:
        mail["Reply-To"] = message.reply_to
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(message.created)
    mail["Message-ID"] = message_id(message.key, sender)
    mail["Auto-Submitted"] = _AUTO
    mail["MIME-Version"] = _MIME
    mail["Content-Type"] = f'multipart/alternative; boundary="{boundary(message.key)}"'
    mail.set_payload([_part(_TEXT, message.text), _part(_HTML, message.html)])
    return mail


def boundary(key: str) -> str:
    """The MIME boundary of a notice's e-mail: from its key, within RFC 2046's 70
    characters, and with '==', which no quoted-printable body holds."""
    return f"==antaeus-{hashlib.sha256(key.encode()).hexdigest()[:40]}=="


def message_id(key: str, sender: str) -> str:
    """The same Message-ID for every delivery of one notice."""
    return f"<{key}@{sender.rpartition('@')[2]}>"
