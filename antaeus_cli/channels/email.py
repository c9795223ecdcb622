"""Turning a rendered notice into an e-mail, for the SMTP and Maildir channels.

Only two headers carry anything that is not ours: the recipient, which must be one
plain ASCII address (no display name, no line break, no second address), and the
subject, which the renderer keeps on one line. The Message-ID is derived from the
notice's dedupe key, so every delivery of one notice carries the same one.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from antaeus_cli.channels.port import Message, Permanent, Unaddressed
from antaeus_cli.domain.notices import NoticeKind

MAX_ADDRESS = 254  # RFC 5321's limit on a forward path, less its angle brackets
# A deliberately plain address: dot-atom local part and domain, printable ASCII only.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def checked_address(text: str, what: str = "recipient") -> str:
    """`text` if it is one plain address; Permanent otherwise, saying why."""
    if len(text) > MAX_ADDRESS:
        raise Permanent(f"the {what} address is {len(text)} characters long, over {MAX_ADDRESS}")
    if not _ADDRESS.fullmatch(text):
        shown = text.encode("unicode_escape").decode("ascii")[:80]
        raise Permanent(f"the {what} address {shown!r} is not one plain e-mail address")
    return text


def recipient_of(message: Message, operator: str | None) -> str:
    """Where the message goes: the customer's address, or the operator's for a run
    summary; Unaddressed when there is none."""
    if message.kind is NoticeKind.RUN_SUMMARY:
        if operator is None:
            raise Unaddressed("no operator address: set operator= in the notify spec")
        return operator
    if message.recipient is None or not message.recipient.strip():
        raise Unaddressed("the customer has no e-mail address")
    return checked_address(message.recipient)


def build(message: Message, *, sender: str, recipient: str) -> EmailMessage:
    """The e-mail: text with an HTML alternative, headers that cannot be injected."""
    mail = EmailMessage(policy=policy.SMTP)
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(message.created)
    mail["Message-ID"] = message_id(message.key, sender)
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


def message_id(key: str, sender: str) -> str:
    """The same Message-ID for every delivery of one notice."""
    return f"<{key}@{sender.rpartition('@')[2]}>"
