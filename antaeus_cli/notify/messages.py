"""A notice as its channel takes it: an e-mail's parts, or an event; and what a dry
run shows of the outbox."""

from __future__ import annotations

from datetime import datetime, tzinfo

from antaeus_cli import host
from antaeus_cli.channels.port import Channel, Message
from antaeus_cli.notify import render
from antaeus_cli.notify.results import NotifyPreview, PreviewNotice
from antaeus_cli.notify.settings import NotifySettings
from antaeus_cli.store import deliveries
from antaeus_cli.store.database import Store
from antaeus_cli.store.deliveries import Pending
from antaeus_cli.store.runs import Liveness


def message_for(
    notice: Pending, channel: Channel, company: str, zone: tzinfo | None = None
) -> Message:
    """A notice rendered for its channel: an e-mail's parts, or an event."""
    if channel.renders == "event":
        return Message(
            notice.key,
            notice.kind,
            notice.created_at,
            notice.recipient,
            "",
            "",
            "",
            render.event(notice),
        )
    parts = render.content(notice, company, zone)
    return Message(notice.key, notice.kind, notice.created_at, notice.recipient, *parts, None)


def preview(
    store: Store,
    channel: Channel,
    settings: NotifySettings,
    now: datetime,
    is_alive: Liveness = host.is_alive,
) -> NotifyPreview:
    with store.reading() as conn:
        due, shown = deliveries.peek(conn, now=now, limit=20, is_alive=is_alive)
    listed = []
    for notice in shown:
        message = message_for(notice, channel, settings.company, settings.company_zone)
        subject = message.subject or f"{notice.kind.value} event"
        listed.append(PreviewNotice(notice.key, notice.kind.value, notice.recipient, subject))
    return NotifyPreview(channel.description, due, listed)
