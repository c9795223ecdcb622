"""The notification channel port: what `notify` needs from a way of telling someone.

A channel delivers one message at a time and says how a failure should be taken:

- `Transient`: try again (within the run, then in a later run, with a backoff):
  a refused or dropped connection, a timeout, a 4xx SMTP reply, a 5xx, 408 or 429
  webhook answer.
- `Permanent`: this message will not be accepted as it is (a 5xx SMTP reply such
  as 550, a 4xx webhook answer other than 408 and 429, an address that is not one).
- `Unaddressed`: the channel has nowhere to send it (a customer without an e-mail
  address); it is marked skipped.
- `ChannelRefused`: the channel itself refuses us (bad credentials, a sender it
  will not take): no message can go, so the run stops with the reason.

Each failure also says whose it is (`Scope`). `NOTICE`: the answer is about this
message alone (its address, its size, one recipient's greylisting): its try counts
and the run goes on. `CHANNEL`: the answer may be about every message (a relay that
refuses to relay, a wrong webhook path, a dropped connection): `notify` takes it as
the channel's when the messages in a row all meet it (`notify.service`).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Literal, NamedTuple, Protocol

from antaeus_cli.domain.notices import NoticeKind
from antaeus_cli.errors import InputError

Renders = Literal["email", "event"]  # what a channel sends: an e-mail, or an event


class Message(NamedTuple):
    """One notice, rendered for its channel."""

    key: str  # the notice's dedupe key: the Message-ID or the event id
    kind: NoticeKind
    created: datetime  # when its cause was recorded: the e-mail's Date
    recipient: str | None  # the customer's address as recorded; run summaries: None
    subject: str
    text: str
    html: str
    event: dict[str, object] | None  # for channels that send events, not e-mail
    sender_name: str | None = None  # the From header's display name (branding)
    reply_to: str | None = None  # where a customer's answer goes (branding)


class Scope(enum.Enum):
    NOTICE = "notice"  # about this message alone
    CHANNEL = "channel"  # may be about every message


class DeliveryError(Exception):
    """A message was not delivered; `scope`: whose failure it may be."""

    default_scope = Scope.CHANNEL

    def __init__(self, reason: str, *, scope: Scope | None = None) -> None:
        super().__init__(reason)
        self.scope = self.default_scope if scope is None else scope


class Transient(DeliveryError):
    """Not delivered this time; it may be next time."""


class Permanent(DeliveryError):
    """Never deliverable as it is."""


class Unaddressed(DeliveryError):
    """The channel has no address for this message."""


class ChannelRefused(InputError):
    """The channel refuses every message: credentials or settings are wrong."""


class Channel(Protocol):
    description: str  # for logs and results, credentials redacted
    renders: Renders
    deadline: float  # seconds one delivery may take in all, its connection included

    def deliver(self, message: Message) -> None:
        """Deliver one message, or raise a DeliveryError subclass or ChannelRefused."""
        ...

    def abort(self) -> None:
        """From another thread: cut the delivery in progress at once (its connection is
        shut down under it, and it fails for now); one being connected, at its end."""
        ...

    def close(self) -> None: ...
