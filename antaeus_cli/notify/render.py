"""What the operator's run summary says, and the webhook event a notice becomes. Pure.
(What a customer's e-mail says is the templates': `notify.letters`.)

Every figure comes from the ledger (the attempt's amount, currency and reference),
never from the invoice as it is now. Text from outside (a provider's reference or
code, a run's reasons) is capped and, in HTML, escaped; headers are built by the
channel from the subject and the address alone, neither of which holds a line break.
"""

from __future__ import annotations

import html
from typing import NamedTuple

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


def flat(text: object, limit: int = MAX_FIELD) -> str:
    """Outside text on one line, without control characters, capped."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in str(text))
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else f"{cleaned[: limit - 3]}..."


def amount_of(notice: Pending) -> str | None:
    """The amount as its currency's home market writes it, for an event's reader."""
    if notice.amount is None or notice.currency is None:
        return None
    return flat(display_amount(notice.amount, notice.currency))


def summary(notice: Pending) -> Content:
    """The operator's e-mail of a run: in English, as the operator's tools speak."""
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


def event(notice: Pending, reason: str | None = None) -> dict[str, object]:
    """The webhook event a notice becomes; `id` is the same on every delivery. `reason`:
    a decline's words, as the customer's notice would say them."""
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
            "reason": reason,
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
