"""Which notice an outcome causes, and the identity it keeps on every delivery. Pure.

| what was recorded                                              | notice          | to           |
|----------------------------------------------------------------|-----------------|--------------|
| a charge (whatever became of its invoice)                      | receipt         | the customer |
| a decline, the invoice FAILED (a retry)                        | payment_failed  | the customer |
| a decline, the invoice AWAITING_CUSTOMER                       | action_required | the customer |
| a decline, the invoice UNCOLLECTIBLE                           | final_notice    | the customer |
| a run with held invoices or overdue attempts, or stopped early | run_summary     | the operator |

Anything else (an answer still unknown, an invoice held for an operator, nothing
sent) tells the customer nothing: there is nothing true to tell them yet.

A notice's dedupe key is derived from what caused it: the attempt's idempotency key
and the kind, or the run's id. Every delivery of one notice carries it (as the
e-mail's Message-ID, as the webhook's event id), so a receiver can drop a repeat.
"""

from __future__ import annotations

import enum
from datetime import timedelta

from antaeus_cli.domain.attempt import CallResult, Transition
from antaeus_cli.domain.invoice import AttemptOutcome, InvoiceStatus


class NoticeKind(enum.StrEnum):
    RECEIPT = "receipt"
    PAYMENT_FAILED = "payment_failed"  # declined; the next try is scheduled
    ACTION_REQUIRED = "action_required"  # declined; the customer must act first
    FINAL_NOTICE = "final_notice"  # declined on every try of the dunning schedule
    RUN_SUMMARY = "run_summary"  # to the operator: what a run held or found overdue, why it stopped


class NoticeStatus(enum.StrEnum):
    PENDING = "pending"  # waits for `notify`, or for its next try
    SENT = "sent"
    FAILED = "failed"  # a permanent failure, or its tries ran out: the reason is kept
    SKIPPED = "skipped"  # the channel had no address for it (a customer without e-mail)
    WITHDRAWN = "withdrawn"  # its cause was undone before it went out (the breaker)


# What an invoice's new status tells its customer after a decline.
_AFTER_DECLINE = {
    InvoiceStatus.FAILED: NoticeKind.PAYMENT_FAILED,
    InvoiceStatus.AWAITING_CUSTOMER: NoticeKind.ACTION_REQUIRED,
    InvoiceStatus.UNCOLLECTIBLE: NoticeKind.FINAL_NOTICE,
}
CUSTOMER_KINDS = frozenset(NoticeKind) - {NoticeKind.RUN_SUMMARY}
DECLINE_KINDS = frozenset(_AFTER_DECLINE.values())


def receipt_for(result: CallResult) -> bool:
    """A charge is a fact the customer is told of, whatever became of its invoice."""
    return result.outcome is AttemptOutcome.CHARGED


def after_decline(result: CallResult, transition: Transition | None) -> NoticeKind | None:
    """The notice a decline causes once its invoice has taken `transition`."""
    if transition is None or result.outcome is AttemptOutcome.CHARGED:
        return None
    return _AFTER_DECLINE.get(transition.status)


def notice_for(result: CallResult, transition: Transition | None) -> NoticeKind | None:
    """The customer notice of an answer whose invoice took its transition."""
    if receipt_for(result):
        return NoticeKind.RECEIPT
    return after_decline(result, transition)


# Across `notify` runs a notice that failed for now is tried again after a backoff
# that doubles from a minute up to six hours; after MAX_TRIES it is failed for good
# (about a day and a half of trying).
MAX_TRIES = 14
_FIRST_BACKOFF_S = 60
_MAX_BACKOFF_S = 6 * 3600


def backoff(tries: int) -> timedelta:
    """How long a notice tried `tries` times waits before its next try."""
    exponent = max(tries, 1) - 1
    # Not mutated: the cap only keeps the power small; a minute times 2**20 is far past
    # the six-hour ceiling, as is any larger power.
    exponent = min(exponent, 20)  # pragma: no mutate
    return timedelta(seconds=min(_FIRST_BACKOFF_S * 2**exponent, _MAX_BACKOFF_S))


def notice_key(attempt_key: str, kind: NoticeKind) -> str:
    """A customer notice's dedupe key. `store.outbox` builds the same in SQL
    (`_ATTEMPT_NOTICE`), and a test pins the two together."""
    return f"{attempt_key}-{kind.value}"


def summary_key(namespace: str, run_id: int) -> str:
    """A run summary's dedupe key: one per run."""
    return f"{namespace}-run-{run_id}-{NoticeKind.RUN_SUMMARY.value}"


# The invoice statuses after which a decline notice still tells the truth: the invoice
# is unpaid and waits for a retry, its customer, or an operator.
_STILL_UNPAID = frozenset(
    {
        InvoiceStatus.FAILED.value,
        InvoiceStatus.AWAITING_CUSTOMER.value,
        InvoiceStatus.UNCOLLECTIBLE.value,
        InvoiceStatus.NEEDS_OPERATOR.value,
    }
)


def no_longer_true(kind: NoticeKind, invoice_status: object, latest: bool) -> str | None:
    """Why a notice that was not delivered must not be sent again now, or None. A
    receipt and a run summary stay true; a decline notice only while its attempt is
    its invoice's latest and the invoice is still unpaid (`invoice_status` as stored,
    None when the invoice is gone)."""
    if kind not in DECLINE_KINDS:
        return None
    if invoice_status not in _STILL_UNPAID:
        shown = "gone" if invoice_status is None else str(invoice_status)  # a CHECK holds it
        return f"its invoice is {shown} now: the decline it tells of no longer stands"
    if not latest:
        return "its invoice was tried again since: the decline it tells of is not the last"
    return None
