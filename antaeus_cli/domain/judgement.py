"""May this money move now? The one judgement every path that charges calls. Pure.

Every path that can send a charge asks `judge` first: `bill`, the scheduled
`retry-failed`, `retry-failed --invoice`, the claim that follows a tripped breaker,
and `--dry-run` (which asks what each of them would). A replay sends a request
already judged when it was claimed; `replay_verdict` says whether it may be sent
again should the provider not know its key. The SQL in `store.claims` selects and
claims most invoices in one statement for speed, but only as a prefilter: a property
test holds it to this module, on every path.

The rules, in the order they are asked:

| rule               | what it asks                                          | if not         |
|--------------------|-------------------------------------------------------|----------------|
| void               | no operator voided it (`antaeus void`)                | left as it is, |
|                    |                                                       | for good       |
| in flight          | no open attempt: only its replay may settle it        | left as it is  |
| zone               | the customer's zone is one the zone database knows    | held           |
| due                | its due date has begun where the customer is          | left as it is  |
| retry date         | (scheduled retries) its retry date has begun there    | left as it is  |
| after the breaker  | (bill) handed back by a tripped breaker: charged in   | left for later |
|                    | a second walk, once the fresh first charges passed    |                |
| charged once       | its own latest attempt did not charge it              | held           |
| well formed        | amount, currency, customer, provider id               | held           |
| the card said never| its latest answer was no hard decline and no "needs   | awaits the     |
|                    | the customer" (lost card, authentication)             | customer       |
| one charge a month | no other invoice bills the customer's month, and no   | held           |
|                    | charge for that month succeeded or may have           |                |
| usual amount       | not far above what the customer usually pays          | held           |

An operator's word (`retry-failed --invoice`) releases exactly the hold it names:
the invoice's own failure code (a duplicate month, an unusual amount) or, for an
invoice awaiting its customer, the card rule. It never releases the due date.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import NamedTuple

from antaeus_cli.domain.clock import has_begun, unknown_zone
from antaeus_cli.domain.invoice import (
    FailureCode,
    Invoice,
    InvoiceRow,
    InvoiceStatus,
    Rejection,
    check_chargeable,
)
from antaeus_cli.domain.money import format_minor


class Path(enum.Enum):
    """Which path asks: what it charges, and what an operator's word released."""

    BILL = "bill"  # due PENDING invoices, in id order
    BILL_HANDED_BACK = "bill, after the breaker's window"  # those a tripped breaker handed back
    RETRY = "retry-failed"  # FAILED invoices whose retry date has begun
    NAMED = "retry-failed --invoice"  # invoices an operator named


class Wait(NamedTuple):
    """Not now, and nothing to record: a later pass judges it again."""

    why: str


# The holds that wait for the customer rather than for an operator.
_CUSTOMER_HOLDS = frozenset({FailureCode.HARD_DECLINE, FailureCode.NEEDS_CUSTOMER})
# The holds an operator's word may release: the guard rails.
_GUARD_HOLDS = frozenset({FailureCode.DUPLICATE_PERIOD, FailureCode.AMOUNT_ANOMALY})

VOIDED = Wait("voided by an operator: never charged, on any path")
IN_FLIGHT = Wait("a charge is in flight: only the replay of its key settles it")
NOT_DUE = Wait("its due date has not begun where the customer is")
NOT_RETRY_DAY = Wait("its retry date has not begun where the customer is")
AFTER_WINDOW = Wait("handed back by a tripped breaker: charged after the fresh first charges")
FIRST_WALK = Wait("not handed back: bill's first walk charges it")

Verdict = Invoice | Rejection | Wait
EMPTY: Mapping[tuple[object, str], int] = MappingProxyType({})


def held_status(rejection: Rejection) -> InvoiceStatus:
    """Where a hold puts its invoice: with the customer, or with an operator."""
    if rejection.code in _CUSTOMER_HOLDS:
        return InvoiceStatus.AWAITING_CUSTOMER
    return InvoiceStatus.NEEDS_OPERATOR


def waits_for_customer(rejection: Rejection) -> bool:
    return held_status(rejection) is InvoiceStatus.AWAITING_CUSTOMER


def released(path: Path, row: InvoiceRow) -> frozenset[FailureCode]:
    """The holds an operator released by naming this invoice: the one it is held for.

    A guard-rail hold on an invoice whose card said never was reached past the card
    rule, which is asked first: by an earlier word. That word stands, so naming the
    invoice again releases both, and no invoice swaps between two holds for ever."""
    if path is not Path.NAMED:
        return frozenset()
    if row.status is InvoiceStatus.AWAITING_CUSTOMER:
        return _CUSTOMER_HOLDS
    code = row.failure_code
    if row.status is InvoiceStatus.NEEDS_OPERATOR and shown_for(row):
        guard = frozenset(hold for hold in _GUARD_HOLDS if hold.value == code)
        return guard | _CUSTOMER_HOLDS if guard and row.card_refused else guard
    return frozenset()


def shown_for(row: InvoiceRow) -> bool:
    """Whether the hold the operator was shown is about the invoice's customer as it is
    now: every guard hold names it. A word on a hold shown for another customer (the
    invoice was moved by hand since) releases nothing: it is judged, and held, anew."""
    detail = row.failure_detail
    if not isinstance(detail, str):
        return False
    return re.search(rf"\bcustomer {re.escape(str(row.customer_id))}(?![0-9])", detail) is not None


Months = Mapping[tuple[object, str], int]  # (customer, YYYY-MM) -> the invoice charging it


def judge(  # noqa: PLR0911 - one return per rule
    path: Path, row: InvoiceRow, local_date: date | None, claimed: Months = EMPTY
) -> Verdict:
    """Whether `row` may be charged now on `path`, at the customer's `local_date`
    (None: their zone is unknown); if not, why: a hold to record, or a wait.
    `claimed`: the months the same claim has taken already (no word releases those)."""
    if row.status is InvoiceStatus.VOID:
        return VOIDED
    if row.in_flight:
        return IN_FLIGHT
    if local_date is None:
        return unknown_zone(row.customer_id, row.timezone)
    if not has_begun(row.due_date, local_date):
        return NOT_DUE
    if path is Path.RETRY and not has_begun(row.next_retry_on, local_date):
        return NOT_RETRY_DAY
    if path is Path.BILL and row.handed_back:
        return AFTER_WINDOW
    if path is Path.BILL_HANDED_BACK and not row.handed_back:
        return FIRST_WALK
    checked = check_chargeable(row)
    if isinstance(checked, Rejection):
        return checked
    free = released(path, row)
    if row.card_refused and not free & _CUSTOMER_HOLDS:
        return card_said_never(row)
    duplicate = month_rule(row, claimed, FailureCode.DUPLICATE_PERIOD in free)
    if duplicate is not None:
        return duplicate
    if FailureCode.AMOUNT_ANOMALY not in free or not amount_shown(row, checked):
        unusual = unusual_amount(row, checked)
        if unusual is not None:
            return unusual
    return checked


class InvoiceNow(NamedTuple):
    """An open attempt's invoice as it is now (as stored)."""

    status: object
    amount: object
    currency: object
    due_date: object


# While its attempt is open, an invoice stays where it was claimed, or goes PROCESSING
# (an answer came back unknown); anything else was done by hand meanwhile.
_IN_FLIGHT = frozenset({InvoiceStatus.PROCESSING.value})


def replay_verdict(  # noqa: PLR0911 - one return per reason
    *,
    invoice_gone: bool,
    charged_by: object,
    month_charged: object,
    now: InvoiceNow | None = None,
    sent: tuple[int, object, InvoiceStatus] | None = None,
    local_date: date | None = None,
) -> str | None:
    """Why an open attempt's key must not be sent again should the provider not know
    it (it is looked up only), or None. Its request was judged when it was claimed and
    never changes; but a key the provider does not know, sent again, is a new charge:
    it goes only while the money facts around it stand, and while its invoice is still
    the one that was judged (`now` against the `sent` amount, currency and status),
    due where its customer is (`local_date`; None: their zone is unknown now)."""
    if invoice_gone:
        return "its invoice was deleted"
    if charged_by is not None:
        return "another attempt charged its invoice already"
    if month_charged is not None:
        return (
            f"a charge for its customer's month under key {str(month_charged)[:80]!r} "
            "succeeded or may have succeeded"
        )
    if now is None or sent is None:
        return None
    amount, currency, status = sent
    if now.status != status.value and now.status not in _IN_FLIGHT:
        return f"its invoice was set to {str(now.status)[:20]} meanwhile"
    if now.amount != amount or now.currency != currency:
        return "its invoice's amount or currency was edited meanwhile"
    if local_date is None:
        return "its customer's time zone is not one the zone database knows"
    if not has_begun(now.due_date, local_date):
        return "its invoice's due date has not begun where the customer is"
    return None


def card_said_never(row: InvoiceRow) -> Rejection:
    return Rejection(
        FailureCode.HARD_DECLINE,
        f"attempt {row.last_attempt_no} was answered with a hard decline or a card that needs "
        "its holder, so this card is never charged again on its own: once the customer has "
        "acted, release it with 'retry-failed --invoice'",
    )


def month_rule(row: InvoiceRow, claimed: Months, released: bool) -> Rejection | None:
    """One charge a month: a month this claim took already holds the row, whatever an
    operator said; the rows and the ledger hold it unless an operator released it. A
    word releases the charges its hold named, and no other: the store does not count
    those for an invoice so held (store.claims.MONTH_CHARGED), and a charge for the
    month made since, which the operator was not shown, holds it again."""
    twin = claimed.get((row.customer_id, month_of(row)))
    if twin is not None and twin != row.id:
        return Rejection(
            FailureCode.DUPLICATE_PERIOD,
            f"invoice {twin} is being charged for customer {row.customer_id}'s month of "
            f"{month_of(row)} by the same pass: never charged twice for one period; if this "
            "invoice is owed as well, name it alone with 'retry-failed --invoice'",
        )
    return money_taken(row) if released else period_taken(row)


def period_taken(row: InvoiceRow) -> Rejection | None:
    """The one-charge-a-month rule: by the rows (another invoice bills the month) and by
    the money (a charge for the month succeeded or may have, whatever the rows say)."""
    taken = money_taken(row)
    if taken is not None:
        return taken
    if row.duplicate_of is not None:
        return Rejection(
            FailureCode.DUPLICATE_PERIOD, twin_bills(row.duplicate_of, row.customer_id)
        )
    return None


def twin_bills(twin: object, customer_id: object) -> str:
    """A hold for the month by the rows: another invoice bills it. True for as long as
    that invoice bills the month, whatever becomes of it meanwhile (held, released,
    declined): `month_hold_now` says what the hold says once it no longer does."""
    return (
        f"invoice {twin} bills customer {customer_id} for the same month: never charged twice "
        "for one period; release the one that is owed with 'retry-failed --invoice', and void "
        "the other with 'antaeus void'"
    )


# The holds for the month that name the twin they were held for (twin_bills, and
# month_hold_now's own words once the twin no longer bills the month). A hold that names
# a charge instead, by its key (money_taken), says what the ledger holds, which stays so.
_NAMES_A_TWIN = re.compile(r"invoice (-?[0-9]{1,19}) bill(?:s|ed) customer ")
_ROW_ID = (-(2**63), 2**63 - 1)  # the least and the greatest row id SQLite takes


def twin_named(detail: object) -> int | None:
    """The invoice a hold for the month names as its twin, or None (a text written by
    hand that names no invoice there could be counts as naming none)."""
    found = _NAMES_A_TWIN.match(detail) if isinstance(detail, str) else None
    if found is None:
        return None
    named = int(found.group(1))
    return named if _ROW_ID[0] <= named <= _ROW_ID[1] else None


class MonthNow(NamedTuple):
    """An invoice held for its month by the rows, as its month stands now."""

    customer_id: object
    month: str
    named: int  # the twin its hold names
    named_status: object  # that twin's status now; None: it was deleted
    named_bills: bool  # that twin still bills the customer's month (store.claims.DUPLICATE)
    twin: object  # an invoice that bills the month beside it now (DUPLICATE's), or None
    charged_by: object  # an invoice whose charge for the month succeeded or may have


def month_hold_now(now: MonthNow) -> str:
    """What the hold of an invoice held for its month by the rows says now that its
    twin may have been charged, voided, given up or deleted: the money first, then the
    rows, as period_taken asks them. A charge is named by its invoice, never by its key:
    an operator's word on this text is not a word on that charge (money_taken shows it,
    and only a word on that hold charges the month twice)."""
    if now.charged_by is not None:
        return (
            f"a charge for customer {now.customer_id}'s month of {now.month}, by invoice "
            f"{now.charged_by}, succeeded or may have succeeded since this invoice was held "
            "for that month: never charged twice for one period; if this invoice is not owed, "
            "void it with 'antaeus void'; if it is owed as well, name it with 'retry-failed "
            "--invoice' to be shown that charge first"
        )
    if now.named_bills:
        return twin_bills(now.named, now.customer_id)
    if now.twin is not None:
        return twin_bills(now.twin, now.customer_id)
    became = "deleted" if now.named_status is None else f"{now.named_status} now"
    return (
        f"invoice {now.named} billed customer {now.customer_id} for the same month, and is "
        f"{became}: no other invoice bills the month of {now.month}, and no charge for it is "
        "known; if this invoice is owed, release it with 'retry-failed --invoice'; if not, "
        "void it with 'antaeus void'"
    )


def money_taken(row: InvoiceRow) -> Rejection | None:
    """The money side: a charge for the customer's month succeeded or may have."""
    if row.month_charged is not None:
        return Rejection(
            FailureCode.DUPLICATE_PERIOD,
            f"a charge for customer {row.customer_id}'s month of {month_of(row)} "
            f"succeeded or may have succeeded (key {str(row.month_charged)[:80]!r}): never "
            "charged twice for one period; if this invoice is owed as well, release it with "
            "'retry-failed --invoice'",
        )
    return None


def amount_shown(row: InvoiceRow, invoice: Invoice) -> bool:
    """Whether the invoice's hold showed the operator its amount as it is now: a word on
    an unusual amount releases that amount, not one edited in since (held again)."""
    detail = row.failure_detail
    shown = format_minor(invoice.amount.minor, invoice.amount.currency)
    return isinstance(detail, str) and detail.startswith(f"{shown} is ")


def unusual_amount(row: InvoiceRow, invoice: Invoice) -> Rejection | None:
    usual = row.usual_amount
    if type(usual) is not int:
        return None
    amount, currency = invoice.amount.minor, invoice.amount.currency
    times = _times(amount // usual) if usual > 0 else "far above"
    return Rejection(
        FailureCode.AMOUNT_ANOMALY,
        f"{format_minor(amount, currency)} is {times} what customer {invoice.customer_id} "
        "usually pays (the median of their paid invoices is "
        f"{format_minor(usual, currency)}): held as a likely mistake before "
        "the provider heard of it; if it is right, release it with 'retry-failed --invoice'",
    )


def _times(ratio: int) -> str:
    """How many times the usual amount, in words: "more than" for less than twice."""
    return f"{ratio} times" if ratio >= 2 else "more than"


def month_of(row: InvoiceRow) -> str:
    """The month an invoice bills: its due date's, as the ledger records it."""
    due = row.due_date
    return due[:7] if isinstance(due, str) else repr(due)[:20]
