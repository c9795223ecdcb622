"""A notice as its channel takes it: an e-mail's parts, or an event; and what a dry
run shows of the outbox."""

from __future__ import annotations

from datetime import datetime, tzinfo

from antaeus_cli import host
from antaeus_cli.channels.port import Channel, Message, Renders
from antaeus_cli.domain.notices import NoticeKind
from antaeus_cli.notify import render
from antaeus_cli.notify.letters import Letters
from antaeus_cli.notify.results import NotifyPreview, PreviewNotice
from antaeus_cli.notify.settings import NotifySettings
from antaeus_cli.store.database import Store
from antaeus_cli.store.deliveries import Pending
from antaeus_cli.store.runs import Liveness


def message_for(
    notice: Pending, renders: Renders, letters: Letters, zone: tzinfo | None = None
) -> Message:
    """A notice rendered for its channel: an e-mail's parts, or an event. ValueError:
    this notice cannot be written (its row); TemplateFailure: no notice can (a template)."""
    summary = notice.kind is NoticeKind.RUN_SUMMARY
    branding = letters.branding
    if renders == "event":
        reason = None if summary else letters.reason(notice)
        return Message(
            notice.key,
            notice.kind,
            notice.created_at,
            notice.recipient,
            "",
            "",
            "",
            render.event(notice, reason),
        )
    parts = render.summary(notice) if summary else letters.render(notice, zone)
    return Message(
        notice.key,
        notice.kind,
        notice.created_at,
        notice.recipient,
        *parts,
        None,
        branding.sender_name,
        None if summary else branding.reply_to,
    )


def preview(
    store: Store,
    channel: Channel,
    settings: NotifySettings,
    now: datetime,
    is_alive: Liveness = host.is_alive,
) -> NotifyPreview:
    with store.notice_view() as outbox:
        due, shown = outbox.peek(now=now, limit=20, is_alive=is_alive)
    listed = []
    for notice in shown:
        message = message_for(notice, channel.renders, settings.letters, settings.company_zone)
        subject = message.subject or f"{notice.kind.value} event"
        listed.append(PreviewNotice(notice.key, notice.kind.value, notice.recipient, subject))
    return NotifyPreview(channel.description, due, listed)
