"""What a notice says: the subject, the text and HTML of an e-mail, and a webhook's
event. Pure.

Every figure comes from the ledger (the attempt's amount, currency and reference),
never from the invoice as it is now. Text from outside (a provider's reference or
code, a run's reasons) is capped and, in HTML, escaped; headers are built by the
channel from the subject and the address alone, neither of which holds a line break.
"""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, tzinfo
from typing import NamedTuple

from antaeus_cli.domain.clock import AsOf, zone_named
from antaeus_cli.domain.money import display_amount
from antaeus_cli.domain.notices import NoticeKind
from antaeus_cli.domain.words import counted
from antaeus_cli.store.deliveries import Pending

EVENT_SCHEMA_VERSION = 1
MAX_FIELD = 120  # characters of any text from outside, in a notice
MAX_LISTED = 100  # held invoices listed in a run summary


class Content(NamedTuple):
    subject: str
    text: str
    html: str


# Plain words for a decline: by the provider's code where it says something the
# customer can act on, else by its class. A hard decline never says why (lost,
# stolen, fraud): card networks ask merchants not to tell.
_BY_CODE = {
    "insufficient_funds": "the card did not have enough funds",
    "expired_card": "the card has expired",
    "incorrect_cvc": "the card's security code was not accepted",
    "incorrect_number": "the card number was not accepted",
    "authentication_required": "your bank asks you to confirm the payment",
    "card_velocity_exceeded": "the card's spending limit was reached",
    "processing_error": "the bank could not process it this time",
    "no_default_payment_method": "we hold no card or other payment method for you",
}
_BY_CLASS = {
    "soft": "your bank declined it",
    "soft_unknown": "your bank declined it",
    "hard": "your bank declined it, and the card cannot be charged again",
    "needs_customer": "your bank needs you to confirm or update your payment details",
}
_DECLINED = "your bank declined it"


def flat(text: object, limit: int = MAX_FIELD) -> str:
    """Outside text on one line, without control characters, capped."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in str(text))
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else f"{cleaned[: limit - 3]}..."


def reason_words(notice: Pending) -> str:
    if notice.decline_class == "hard":
        return _BY_CLASS["hard"]
    return _BY_CODE.get(
        notice.decline_code or "", _BY_CLASS.get(notice.decline_class or "", _DECLINED)
    )


def amount_of(notice: Pending) -> str:
    if notice.amount is None or notice.currency is None:
        return "the amount due"
    return flat(display_amount(notice.amount, notice.currency))


def _day(notice: Pending, company_zone: tzinfo | None) -> str:
    """The day of the charge (when its request went) in the customer's zone, the zone
    their retry dates are in (the company's for a customer without one); in UTC, saying
    so, for a zone that is unknown, or a time that no zone can show (a row edited by
    hand)."""
    moment = notice.charged_at or notice.created_at
    local = _local_date(notice, moment, company_zone)
    if local is not None:
        return local.isoformat()
    return f"{_utc(moment).date().isoformat()} (UTC)"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _local_date(notice: Pending, moment: datetime, company_zone: tzinfo | None) -> date | None:
    """`moment` as a date in the customer's zone; None when no zone can show it."""
    zone = company_zone if notice.customer_zone is None else zone_named(notice.customer_zone)
    if notice.customer_zone is not None and zone is None:
        return None
    try:
        return AsOf.at(_utc(moment)).local_date(zone)
    except (OverflowError, ValueError, OSError):
        return None


def _next_try(notice: Pending, company_zone: tzinfo | None) -> str:
    """When the next try comes, as the customer can believe it: a date already gone
    when the notice was written (a pass run for a past --as-of) is due at the next run."""
    retry = notice.next_retry_on
    if retry is None:
        return "We will try again later"
    written = _local_date(notice, notice.created_at, company_zone)
    if written is not None and retry <= written:
        return "We will try again shortly"
    return f"We will try again on {retry.isoformat()}"


def _tried(notice: Pending, amount: str, day: str) -> str:
    """How often the invoice was tried, as its attempts count it."""
    times = notice.attempt_no
    if times is None or times <= 1:
        return f"We tried to charge {amount} for invoice {notice.invoice_id} on {day}"
    said = "twice" if times == 2 else f"{times} times"
    return (
        f"We tried to charge {amount} for invoice {notice.invoice_id} {said}, most recently "
        f"on {day}"
    )


def content(notice: Pending, company: str, company_zone: tzinfo | None = None) -> Content:
    """The e-mail a notice becomes."""
    if notice.kind is NoticeKind.RUN_SUMMARY:
        return _summary(notice)
    invoice, amount, day = notice.invoice_id, amount_of(notice), _day(notice, company_zone)
    if notice.kind is NoticeKind.RECEIPT:
        subject = f"Receipt for invoice {invoice}: {amount}"
        lines = [
            f"Thank you: we received your payment of {amount} for invoice {invoice} on {day}.",
            f"Payment reference: {flat(notice.reference or 'none given')}.",
        ]
    elif notice.kind is NoticeKind.PAYMENT_FAILED:
        subject = f"Payment for invoice {invoice} was declined"
        lines = [
            f"We tried to charge {amount} for invoice {invoice} on {day}, but "
            f"{reason_words(notice)}.",
            f"{_next_try(notice, company_zone)}. If your card has changed, please update your "
            "payment details before then.",
        ]
    elif notice.kind is NoticeKind.ACTION_REQUIRED:
        subject = f"Action needed: payment for invoice {invoice}"
        lines = [
            f"We tried to charge {amount} for invoice {invoice} on {day}, but "
            f"{reason_words(notice)}.",
            "We will not try again until you act: please update your payment details, or "
            "confirm the payment with your bank.",
        ]
    else:
        subject = f"Final notice: invoice {invoice} is unpaid"
        lines = [
            f"{_tried(notice, amount, day)}, and the last time {reason_words(notice)}.",
            f"We will not try again. Please contact us to settle invoice {invoice}.",
        ]
    return _compose(subject, lines, flat(company))


def _summary(notice: Pending) -> Content:
    body = notice.summary()
    held = body.get("held")
    items = held if isinstance(held, list) else []
    status = flat(body.get("status", "unknown"))
    needs = body.get("needs_operator", len(items))
    listed = body.get("overdue")
    late = listed if isinstance(listed, list) else []
    late_total = body.get("overdue_total", len(late))
    if not late_total:
        overdue = ""
    elif isinstance(late_total, int):
        overdue = f" and {counted(late_total, 'overdue charge')}"
    else:  # a row edited into something else: shown as it is
        overdue = f" and {flat(late_total)} overdue charges"
    held_words = (
        f"{counted(needs, 'invoice', 'invoices')}{overdue} need an operator"
        if isinstance(needs, int) and (overdue or needs != 1)
        else f"{counted(needs, 'invoice needs', 'invoices need')} an operator"
        if isinstance(needs, int)
        else f"{flat(needs)} invoices{overdue} need an operator"
    )
    if needs == 0 and not overdue:  # nothing held: what ended the run is the news
        held_words = flat(body.get("stop_reason") or "nothing needs an operator", 120)
    subject = (
        f"antaeus: run {notice.run_id} ({flat(body.get('command', '?'))}) {status}: {held_words}"
    )
    when = body.get("as_of_instant") or body.get("as_of", "?")
    lines = [f"Run {notice.run_id} as of {flat(when)} ended {status}. Times are in UTC."]
    if body.get("stop_reason"):
        lines.append(f"Why: {flat(body['stop_reason'], 300)}.")
    lines.extend(
        f"Invoice {flat(item.get('invoice_id'))}: {flat(item.get('code'))}: "
        f"{flat(item.get('detail'), 300)}"
        for item in items[:MAX_LISTED]
        if isinstance(item, dict)
    )
    if isinstance(needs, int) and needs > len(items[:MAX_LISTED]):
        lines.append(f"... and {needs - len(items[:MAX_LISTED])} more: see 'antaeus report'.")
    lines.extend(_overdue_line(item) for item in late[:MAX_LISTED] if isinstance(item, dict))
    if isinstance(late_total, int) and late_total > len(late[:MAX_LISTED]):
        lines.append(
            f"... and {late_total - len(late[:MAX_LISTED])} more overdue: see "
            "'antaeus report --section overdue-attempts'."
        )
    return _compose(subject, lines, "antaeus")


def _overdue_line(item: dict[str, object]) -> str:
    return (
        f"Overdue: attempt {flat(item.get('attempt_id'))} for invoice "
        f"{flat(item.get('invoice_id'))}, {flat(item.get('amount_formatted'))}, key "
        f"{flat(item.get('idempotency_key'))}, sent {flat(item.get('started_at'))}: "
        f"{flat(item.get('lookup_passes'))} passes could not settle it. "
        f"{flat(item.get('action'), 400)}."
    )


def _compose(subject: str, lines: list[str], signature: str) -> Content:
    text = "\n\n".join([*lines, f"-- {signature}"]) + "\n"
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    page = (
        '<!DOCTYPE html><html><body style="font-family: sans-serif">'
        f"{paragraphs}<p>&mdash; {html.escape(signature)}</p></body></html>\n"
    )
    return Content(flat(subject, 200), text, page)


def event(notice: Pending) -> dict[str, object]:
    """The webhook event a notice becomes; `id` is the same on every delivery."""
    data: dict[str, object]
    if notice.kind is NoticeKind.RUN_SUMMARY:
        data = {
            **notice.summary(),
            "run_id": notice.run_id,
        }  # the row's run, whatever the body says
    else:
        data = {
            "invoice_id": notice.invoice_id,
            "customer_id": notice.customer_id,
            "email": notice.recipient,
            "amount": notice.amount,
            "currency": notice.currency,
            "amount_display": amount_of(notice),
            "reference": notice.reference,
            "decline_code": notice.decline_code,
            "decline_class": notice.decline_class,
            "reason": None if notice.kind is NoticeKind.RECEIPT else reason_words(notice),
            "next_retry_on": None if notice.next_retry_on is None else str(notice.next_retry_on),
            "run_id": notice.run_id,
        }
    return {
        "schema_version": EVENT_SCHEMA_VERSION,
        "id": notice.key,
        "type": notice.kind.value,
        "created": int(notice.created_at.timestamp()),
        "data": data,
    }
