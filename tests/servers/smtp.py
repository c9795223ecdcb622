"""A real SMTP server on loopback for the tests: aiosmtpd, in a thread of the test
process, with a handler that keeps what it received and refuses on request."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Mailbox:
    """What the server received, and how it is told to answer."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    sessions: int = 0
    refuse_rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply
    refuse_every_rcpt: str | None = None  # a reply to every RCPT, e.g. a relay's 554 5.7.1
    refuse_mail: list[str] = field(default_factory=list)  # replies to MAIL FROM, in turn
    refuse_data: str | None = None  # a reply to every DATA, e.g. '451 try later'
    data_delay: float = 0.0  # seconds to take over each DATA: a slow server
    lock: threading.Lock = field(default_factory=threading.Lock)

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook name
        self, _server: SMTP, session: Session, _envelope: Envelope, hostname: str, responses: Any
    ) -> Any:
        session.host_name = hostname
        with self.box.lock:
            self.box.sessions += 1
        return responses

    async def handle_MAIL(  # noqa: N802
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        with self.box.lock:
            refusal = self.box.refuse_mail.pop(0) if self.box.refuse_mail else None
        if refusal is not None:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, _options: Any
    ) -> str:
        refusal = self.box.refuse_every_rcpt or self.box.refuse_rcpt.get(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, _server: SMTP, _session: Session, envelope: Envelope
    ) -> str:
        if self.box.data_delay:
            await asyncio.sleep(self.box.data_delay)
        if self.box.refuse_data is not None:
            return self.box.refuse_data
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.box.lock:
            self.box.messages.append(parsed)
            self.box.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 Message accepted"


@contextlib.contextmanager
def smtp_server(**kwargs: Any) -> Iterator[tuple[int, Mailbox]]:
    """An aiosmtpd server on 127.0.0.1 and a free port; stopped afterwards."""
    box = Mailbox()
    port = free_port()
    controller = Controller(
        _Handler(box), hostname="127.0.0.1", port=port, ready_timeout=10.0, **kwargs
    )
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick), for a server to take."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
