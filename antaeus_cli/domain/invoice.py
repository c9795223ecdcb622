"""Invoices, their statuses and the checks made before any money moves. Pure."""

from __future__ import annotations

import enum
from datetime import date
from typing import NamedTuple, TypeGuard

from antaeus_cli.domain.money import MAX_CHARGE_MINOR, Currency, Money

MAX_REF_LENGTH = 255  # a provider's customer id; Stripe's are far shorter
# The highest attempt number a claim reads exactly (store.claims packs it with four
# flags into one 64-bit integer): a ledger written past it by hand is held.
MAX_ATTEMPT_NO = 2**59 - 1


class InvoiceStatus(enum.StrEnum):
    """Where an invoice is in its life. The database enforces this set with a CHECK."""

    PENDING = "PENDING"  # not charged yet; `bill` charges it once it is due
    PROCESSING = "PROCESSING"  # an attempt is open: its outcome is not known yet
    PAID = "PAID"  # the provider confirmed the charge
    FAILED = "FAILED"  # declined; `retry-failed` charges it again on next_retry_on
    NEEDS_OPERATOR = "NEEDS_OPERATOR"  # a human must fix the cause; never retried on its own
    UNCOLLECTIBLE = "UNCOLLECTIBLE"  # declined on every retry of the dunning schedule
    # A hard decline or a card that needs its holder (3-D Secure, expired, wrong
    # details): never retried on the same card. `retry-failed --invoice` releases it
    # once the customer has acted.
    AWAITING_CUSTOMER = "AWAITING_CUSTOMER"
    # An operator voided it (`antaeus void`): never charged by any path. Only an invoice
    # never charged, with no charge open or in doubt, is voided: final.
    VOID = "VOID"


class AttemptOutcome(enum.StrEnum):
    """What became of one idempotency key. The database enforces this set with a CHECK."""

    STARTED = "started"  # written before the provider is called; not settled yet
    CHARGED = "charged"
    DECLINED = "declined"  # a soft decline: retried on the dunning schedule
    DECLINED_HARD = "declined_hard"  # lost, stolen, fraudulent...: never on this card again
    NEEDS_CUSTOMER = "needs_customer"  # authentication, expiry, wrong details
    PROCESSING = "processing"  # accepted, settles later (asynchronous methods): looked up
    CUSTOMER_NOT_FOUND = "customer_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    PROVIDER_ERROR = "provider_error"  # a definitive rejection we have no name for
    UNKNOWN = "unknown"  # network failures outlasted the retries: looked up later
    ABANDONED = "abandoned"  # claimed, then never sent because the pass stopped
    NOT_PROCESSED = "not_processed"  # rate limited on every try: nothing happened
    LAPSED = "lapsed"  # not found at the provider once its key's retention had passed

    @property
    def is_open(self) -> bool:
        """An open attempt may have moved money; only a replay of its key settles it."""
        return self in _OPEN


_OPEN = frozenset({AttemptOutcome.STARTED, AttemptOutcome.UNKNOWN, AttemptOutcome.PROCESSING})


class FailureCode(enum.StrEnum):
    """Why an invoice is not PAID. Stored next to a human-readable detail."""

    DECLINED = "declined"
    DUNNING_EXHAUSTED = "dunning_exhausted"
    MALFORMED = "malformed"
    CURRENCY_MISMATCH = "currency_mismatch"
    CUSTOMER_NOT_FOUND = "customer_not_found"
    PROVIDER_ERROR = "provider_error"
    HARD_DECLINE = "hard_decline"  # AWAITING_CUSTOMER: the card must not be charged again
    NEEDS_CUSTOMER = "needs_customer"  # AWAITING_CUSTOMER: the customer must act first
    # Changed by hand while a charge was in flight: the ledger and the row disagree.
    EDITED_IN_FLIGHT = "edited_in_flight"
    # Its latest attempt charged it, yet it is due again (set back by hand): never twice.
    ALREADY_CHARGED = "already_charged"
    # Guard rail: another invoice bills the same customer for the same month.
    DUPLICATE_PERIOD = "duplicate_period"
    # Guard rail: far above what the customer usually pays (domain.guards.AmountGuard).
    AMOUNT_ANOMALY = "amount_anomaly"


class DunningState(NamedTuple):
    """How far an invoice is through the dunning schedule."""

    declines: int = 0
    first_declined_on: date | None = None


class Invoice(NamedTuple):
    """An invoice that passed every local check and may be sent to the provider."""

    id: int
    customer_id: int
    amount: Money
    customer_ref: str | None = None  # the provider's id for the customer (Stripe: cus_...)


class Rejection(NamedTuple):
    """Why an invoice cannot be sent to the provider as it stands."""

    code: FailureCode
    detail: str


class InvoiceRow(NamedTuple):
    """An invoice as read from storage, before any check. Any field may be malformed,
    because invoices are written by upstream systems, not only by this tool."""

    id: int
    customer_id: object
    amount: object
    currency: object
    customer_currency: object  # None when the customer row does not exist
    status: InvoiceStatus
    dunning: DunningState
    last_attempt_no: int = 0  # the highest attempt number in the ledger for this invoice
    in_flight: bool = False  # its latest attempt is open: only a replay may touch it
    customer_ref: object = None  # customer.provider_ref, as stored
    charged_before: bool = False  # its latest attempt charged: it was paid already
    duplicate_of: object = None  # another invoice for the same customer and month
    # The median of the customer's paid invoices, when this amount is unusual beside it
    # (domain.guards.AmountGuard, as store.claims.ANOMALY applies it).
    usual_amount: object = None
    timezone: object = None  # customer.timezone, as stored (None: the company's zone)
    due_date: object = None  # as stored: ISO text
    next_retry_on: object = None
    # The key of another invoice's charge for this customer's month (its due date's)
    # that succeeded or may have succeeded (charged, or still open), by the ledger.
    month_charged: object = None
    # Its latest attempt was answered with a hard decline or "needs the customer".
    card_refused: bool = False
    # PENDING, and its latest attempt was a decline: a tripped breaker handed it back.
    handed_back: bool = False
    failure_code: object = None  # as stored: why it is held, for an operator's release
    failure_detail: object = None  # as stored: what its hold showed the operator

    @property
    def next_attempt_no(self) -> int:
        """The number of this invoice's next key: one past the last in the ledger, so a
        key is never issued twice."""
        return self.last_attempt_no + 1


def check_chargeable(row: InvoiceRow) -> Invoice | Rejection:  # noqa: PLR0911 - one per check
    """The invoice is well formed and was never charged. The guard rails and dates are
    the rest of domain.judgement.judge, which every path calls."""
    if row.last_attempt_no >= MAX_ATTEMPT_NO:
        return Rejection(
            FailureCode.MALFORMED,
            f"its ledger numbers an attempt {row.last_attempt_no} or more, past the last "
            "number a key can take: was the attempt written by hand? Settle the invoice by "
            "hand; nothing was sent",
        )
    if row.charged_before:
        return Rejection(
            FailureCode.ALREADY_CHARGED,
            f"attempt {row.last_attempt_no} charged this invoice already (the ledger says "
            "so), yet it is due again: was it set back by hand? Mark it PAID, or bill the "
            "customer with a new invoice; it is never charged twice",
        )
    amount = row.amount
    if type(amount) is not int or amount <= 0:
        return Rejection(
            FailureCode.MALFORMED,
            f"amount must be a positive whole number of minor units, got {amount!r}",
        )
    if amount > MAX_CHARGE_MINOR:
        return Rejection(
            FailureCode.MALFORMED,
            f"amount {amount} exceeds the sanity limit of {MAX_CHARGE_MINOR} minor units",
        )
    currency = Currency.parse(row.currency)
    if currency is None:
        return Rejection(FailureCode.MALFORMED, f"unknown currency {row.currency!r}")
    customer_id = row.customer_id
    if type(customer_id) is not int or row.customer_currency is None:
        return Rejection(FailureCode.MALFORMED, f"customer {customer_id!r} does not exist")
    if row.customer_currency != currency:
        return Rejection(
            FailureCode.CURRENCY_MISMATCH,
            f"invoice is in {currency} but customer {customer_id} is billed in "
            f"{row.customer_currency!s}; checked before calling the provider",
        )
    ref = row.customer_ref
    if ref is not None and not is_customer_ref(ref):
        return Rejection(
            FailureCode.MALFORMED,
            f"customer {customer_id} has a malformed provider_ref {str(ref)[:40]!r}: expected "
            f"the provider's id, 1 to {MAX_REF_LENGTH} printable ASCII characters, no spaces",
        )
    return Invoice(row.id, customer_id, Money(amount, currency), ref)


def is_customer_ref(ref: object) -> TypeGuard[str]:
    """A provider's customer id as we accept it: 1 to MAX_REF_LENGTH characters from
    '!' to '~'. `store.claims.CHARGEABLE_SQL` says the same in SQL."""
    return (
        type(ref) is str
        and 1 <= len(ref) <= MAX_REF_LENGTH
        and all("!" <= char <= "~" for char in ref)
    )


def idempotency_key(namespace: str, invoice_id: int, attempt_no: int) -> str:
    """The key for the n-th charge attempt of an invoice.

    Deterministic, so a replay after a crash sends exactly the same key. The
    namespace is fixed when the database is created, so two databases that both
    hold an invoice 7 never share keys at one provider.

    The one definition. `store.claims.claim_due` builds the same text in SQL for
    speed; `tests/service/test_claims.py` pins the two together.
    """
    return f"{namespace}-inv-{invoice_id}-{attempt_no}"


STATUS_BY_VALUE: dict[str, InvoiceStatus] = {s.value: s for s in InvoiceStatus}
NEVER_DECLINED = DunningState()
