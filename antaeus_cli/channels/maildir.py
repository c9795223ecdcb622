"""The Maildir channel: each notice written as one message into a Maildir, with the
standard library's `mailbox`. For the demo, and for an operator reading the texts
before the real channel is switched on. A notice written again after a crash is a
second file with the same Message-ID."""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import Literal

from antaeus_cli.channels.email import message_bytes, recipient_of
from antaeus_cli.channels.port import Message, Transient


class MaildirChannel:
    renders: Literal["email", "event"] = "email"
    deadline = 30.0  # a local write: nothing to cut

    def abort(self) -> None:
        """A file written locally is never cut."""

    def __init__(self, path: Path, *, sender: str, operator: str | None, description: str):
        self.path = path
        self.description = description
        self._sender, self._operator = sender, operator
        self._box: mailbox.Maildir | None = None

    def deliver(self, message: Message) -> None:
        recipient = recipient_of(message, self._operator)
        # a file in a Maildir has the machine's line ends, not the wire's
        mail = message_bytes(message, sender=self._sender, recipient=recipient)
        mail = mail.replace(b"\r\n", b"\n")
        try:
            if self._box is None:
                self._box = mailbox.Maildir(self.path, create=True)
            self._box.add(mail)
        except OSError as exc:
            raise Transient(f"cannot write into the Maildir {self.path}: {exc}") from None

    def close(self) -> None:
        self._box = None

    def count(self) -> int:
        """Messages in the Maildir's new/ folder."""
        folder = self.path / "new"
        return sum(1 for _ in folder.iterdir()) if folder.is_dir() else 0
