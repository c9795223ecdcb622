"""The Maildir channel writes each notice as one message the standard library reads."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime
from pathlib import Path

import pytest

from antaeus_cli.channels.maildir import MaildirChannel
from antaeus_cli.channels.port import Message, Unaddressed
from antaeus_cli.domain.notices import NoticeKind


def message(kind: NoticeKind, recipient: str | None) -> Message:
    created = datetime(2026, 12, 1, tzinfo=UTC)
    return Message(
        "ns-run-1-run_summary", kind, created, recipient, "Subject", "text\n", "<p>t</p>", None
    )


def test_messages_land_in_the_maildir(tmp_path: Path) -> None:
    box = MaildirChannel(
        tmp_path / "mail",
        sender="billing@example.com",
        operator="ops@example.com",
        description="maildir://mail",
    )
    box.deliver(message(NoticeKind.RECEIPT, "c1@example.com"))
    box.deliver(message(NoticeKind.RUN_SUMMARY, None))
    assert box.count() == 2
    recipients = sorted(str(m["To"]) for m in mailbox.Maildir(tmp_path / "mail"))
    assert recipients == ["c1@example.com", "ops@example.com"]


def test_no_address_is_unaddressed(tmp_path: Path) -> None:
    box = MaildirChannel(
        tmp_path / "mail", sender="billing@example.com", operator=None, description="maildir://mail"
    )
    with pytest.raises(Unaddressed, match="no e-mail address"):
        box.deliver(message(NoticeKind.RECEIPT, None))
    with pytest.raises(Unaddressed, match="no operator address"):
        box.deliver(message(NoticeKind.RUN_SUMMARY, None))
    with pytest.raises(Unaddressed):
        box.deliver(message(NoticeKind.RECEIPT, "   "))
    assert box.count() == 0
