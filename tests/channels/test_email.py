"""The e-mail a notice becomes reads, to any mail client, as the one EmailMessage's own
set_content and add_alternative would write; and the same notice makes the same bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from antaeus_cli.channels.email import build, message_id
from antaeus_cli.channels.port import Message
from antaeus_cli.domain.notices import NoticeKind

SENDER = "billing@example.com"


def standard(message: Message, recipient: str) -> EmailMessage:
    mail = EmailMessage(policy=policy.SMTP)
    mail["From"] = SENDER
    mail["To"] = recipient
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(message.created)
    mail["Message-ID"] = message_id(message.key, SENDER)
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


def read(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body(mail: EmailMessage, kind: str) -> str:
    part = mail.get_body(preferencelist=(kind,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


@settings(max_examples=60, deadline=None)
@given(
    subject=st.text(
        st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]), max_size=150
    ),
    text=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=400),
)
def test_a_notice_reads_as_the_standard_message_would(subject: str, text: str) -> None:
    message = Message(
        "ab12cd34-inv-17-2-receipt",
        NoticeKind.RECEIPT,
        datetime(2026, 12, 1, 0, 5, tzinfo=UTC),
        "c17@example.com",
        " ".join(subject.split()),
        text,
        f"<p>{text}</p>",
        None,
    )
    ours = read(build(message, sender=SENDER, recipient="c17@example.com").as_bytes())
    theirs = read(standard(message, "c17@example.com").as_bytes())
    for header in ("From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted"):
        assert ours[header] == theirs[header], header
    assert ours.get_content_type() == theirs.get_content_type() == "multipart/alternative"
    for kind in ("plain", "html"):
        assert body(ours, kind) == body(theirs, kind)


def test_the_same_notice_makes_the_same_bytes() -> None:
    message = Message(
        "ab12cd34-inv-1-1-receipt",
        NoticeKind.RECEIPT,
        datetime(2026, 12, 1, tzinfo=UTC),
        "c1@example.com",
        "Receipt",
        "text\n",
        "<p>t</p>\n",
        None,
    )
    first = build(message, sender=SENDER, recipient="c1@example.com").as_bytes()
    again = build(message, sender=SENDER, recipient="c1@example.com").as_bytes()
    assert first == again
    assert b"Message-ID: <ab12cd34-inv-1-1-receipt@example.com>" in first


def test_the_boundary_stays_within_70_characters_for_any_key() -> None:
    from antaeus_cli.channels.email import boundary

    assert len(boundary("k" * 200)) <= 70
    assert boundary("a") != boundary("b")
