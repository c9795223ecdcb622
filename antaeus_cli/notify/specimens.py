"""Seeing what customers would receive: every template checked against specimens of
every case, and one customer's e-mail shown as it would go."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from email.message import EmailMessage
from pathlib import Path

from antaeus_cli.channels.email import build, checked_address
from antaeus_cli.channels.port import Permanent
from antaeus_cli.domain.notices import NoticeKind
from antaeus_cli.errors import InputError, TemplatesError
from antaeus_cli.notify import branding
from antaeus_cli.notify.letters import CUSTOMER_KINDS, Letters, TemplateFailure
from antaeus_cli.notify.messages import message_for
from antaeus_cli.store.database import Store
from antaeus_cli.store.deliveries import Pending

_WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
# Every case a template may branch on: each decline class and code the built-in words
# know, a retry date ahead, gone and none, one try and several, a reference and none,
# a link and none (no provider customer), a currency of 0, 2 and 3 digits.
_DECLINES = [
    (None, None),
    ("insufficient_funds", "soft"),
    ("expired_card", "soft"),
    ("incorrect_cvc", "soft"),
    ("incorrect_number", "hard"),
    ("authentication_required", "needs_customer"),
    ("card_velocity_exceeded", "soft"),
    ("processing_error", "soft_unknown"),
    ("no_default_payment_method", "needs_customer"),
    ("lost_card", "hard"),
    ("do_not_honor", "soft_unknown"),
    (None, "needs_customer"),
]
_MONEY = [(123456, "EUR"), (5000, "JPY"), (12345, "KWD"), (9900, "DKK")]


def specimens() -> list[Pending]:
    """Notices of every kind, in every case their templates may meet."""
    found = []
    for n, kind in enumerate(CUSTOMER_KINDS):
        for m, (code, klass) in enumerate(_DECLINES):
            amount, currency = _MONEY[(n + m) % len(_MONEY)]
            retry = [_WHEN.date() + timedelta(days=3), _WHEN.date(), None][m % 3]
            found.append(
                specimen(
                    kind,
                    amount=amount,
                    currency=currency,
                    decline=(code, klass),
                    next_retry_on=retry if kind is NoticeKind.PAYMENT_FAILED else None,
                    tries=1 + m % 4,
                    reference=None if m % 5 == 4 else f"pi_specimen_{m}",
                    customer_ref=None if m % 2 else "cus_specimen",
                )
            )
    return found


def specimen(
    kind: NoticeKind,
    *,
    amount: int,
    currency: str,
    decline: tuple[str | None, str | None] = ("insufficient_funds", "soft"),
    next_retry_on: date | None = None,
    tries: int = 1,
    reference: str | None = "pi_specimen",
    customer_id: int = 42,
    invoice_id: int = 1001,
    recipient: str | None = "customer@example.com",
    zone: str | None = None,
    locale: str | None = None,
    customer_ref: str | None = "cus_specimen",
    at: datetime = _WHEN,
) -> Pending:
    code, klass = (None, None) if kind is NoticeKind.RECEIPT else decline
    return Pending(
        id=0,
        key=f"specimen-{kind.value}",
        kind=kind,
        run_id=0,
        recipient=recipient,
        next_retry_on=next_retry_on,
        body=None,
        tries=1,
        created_at=at,
        invoice_id=invoice_id,
        customer_id=customer_id,
        amount=amount,
        currency=currency,
        reference=reference,
        decline_code=code,
        decline_class=klass,
        charged_at=at,
        customer_zone=zone,
        attempt_no=tries,
        customer_ref=customer_ref,
        customer_locale=locale,
    )


@dataclass(frozen=True, slots=True)
class TemplateCheck:
    directory: str | None
    languages: list[str]
    kinds: list[str]
    problems: list[str]


def check_templates(directory: Path | None) -> TemplateCheck:
    """Every kind in every language there is, rendered for every specimen; a branding
    file that cannot be used is the first problem."""
    _a_directory(directory)
    try:
        letters = Letters(branding.load(directory), directory)
    except (TemplatesError, TemplateFailure) as exc:
        return TemplateCheck(str(directory), [], [], [str(exc)])
    return TemplateCheck(
        None if letters.directory is None else str(letters.directory),
        letters.languages,
        [kind.value for kind in CUSTOMER_KINDS],
        letters.check(specimens()),
    )


@dataclass(frozen=True, slots=True)
class PreviewMail:
    source: str  # which notice it is, or what specimen
    text: str  # the e-mail, as it would be sent


def preview_mail(
    store: Store,
    letters: Letters,
    *,
    customer_id: int,
    kind: NoticeKind,
    sender: str,
    zone: tzinfo | None = None,
) -> PreviewMail:
    """The e-mail `customer_id` would receive for a notice of `kind`: their latest such
    notice in the outbox, else a specimen on their latest invoice, told today."""
    with store.notice_view(any_text=True) as outbox:  # odd bytes shown, not fatal
        latest = outbox.latest_notice(customer_id=customer_id, kind=kind)
        card = None if latest is not None else outbox.customer_card(customer_id)
    if latest is not None:
        notice, source = latest, f"notice {latest.key} of the outbox ({latest.created_at:%Y-%m-%d})"
    elif card is None:
        raise InputError(f"no customer {customer_id}: see 'antaeus report'")
    else:
        now = datetime.now(UTC)
        notice = specimen(
            kind,
            amount=card.amount,
            currency=card.currency,
            customer_id=customer_id,
            invoice_id=card.invoice_id,
            recipient=card.email,
            zone=card.zone,
            locale=card.locale,
            customer_ref=card.provider_ref,
            next_retry_on=now.date() + timedelta(days=3),
            at=now,
        )
        source = (
            f"a specimen on invoice {card.invoice_id}, today"
            if card.invoice_id
            else "a specimen (the customer has no invoice yet), today"
        )
    try:
        recipient = checked_address(notice.recipient or "")
    except Permanent:
        raise InputError(
            f"customer {customer_id} has no usable e-mail address ({notice.recipient!r}): "
            "notify would skip or fail this notice"
        ) from None
    mail = build(message_for(notice, "email", letters, zone), sender=sender, recipient=recipient)
    return PreviewMail(source, readable(mail))


def readable(mail: EmailMessage) -> str:
    """An e-mail as its reader sees it: the headers as sent (encoded words decoded),
    then each part's text, decoded."""
    lines = [f"{name}: {value}" for name, value in mail.items() if name != "Content-Type"]
    for part in mail.iter_parts():
        body = part.get_content() if isinstance(part, EmailMessage) else ""
        lines += ["", f"--- {part.get_content_type()} ---", str(body).rstrip("\n")]
    return "\n".join(lines) + "\n"


def open_letters(
    directory: Path | None,
    *,
    company: str | None = None,
    stop: threading.Event | None = None,
) -> Letters:
    """The templates of `directory` (None: the built-in ones, which the tests render)
    with its branding, every kind rendered in every language before a notice is
    claimed: TemplatesError names the first template that fails, so that no run meets
    it a notice at a time. `stop`: a signal, which ends the check early."""
    _a_directory(directory)
    try:
        letters = Letters(branding.load(directory, company=company), directory)
    except TemplateFailure as exc:
        raise TemplatesError(str(exc)) from None
    problems = [] if directory is None else letters.check(specimens(), first=True, stop=stop)
    if problems:
        raise TemplatesError(
            f"a template fails: {problems[0]}; see antaeus notify --check-templates"
        )
    return letters


def _a_directory(directory: Path | None) -> None:
    if directory is not None and not directory.is_dir():
        raise TemplatesError(f"--templates {directory}: not a directory")
