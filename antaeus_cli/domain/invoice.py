"""Invoices, their statuses and the checks made before any money moves. Pure."""

from __future__ import annotations

import enum
from datetime import date
from typing import NamedTuple

from antaeus_cli.domain.money import MAX_CHARGE_MINOR, Currency, Money


class InvoiceStatus(enum.StrEnum):
    """Where an invoice is in its life. The database enforces this set with a CHECK."""

    PENDING = "PENDING"  # not charged yet; `bill` charges it once it is due
    PROCESSING = "PROCESSING"  # an attempt is open: its outcome is not known yet
    PAID = "PAID"  # the provider confirmed the charge
    FAILED = "FAILED"  # declined; `retry-failed` charges it again on next_retry_on
    NEEDS_OPERATOR = "NEEDS_OPERATOR"  # a human must fix the cause; never retried on its own
    UNCOLLECTIBLE = "UNCOLLECTIBLE"  # declined on every retry of the dunning schedule


class AttemptOutcome(enum.StrEnum):
    """What became of one idempotency key. The database enforces this set with a CHECK."""

    STARTED = "started"  # written before the provider is called; not settled yet
    CHARGED = "charged"
    DECLINED = "declined"
    CUSTOMER_NOT_FOUND = "customer_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    PROVIDER_ERROR = "provider_error"  # a definitive rejection we have no name for
    UNKNOWN = "unknown"  # network failures outlasted the retries: replayed later
    ABANDONED = "abandoned"  # claimed, then never sent because the pass stopped

    @property
    def is_open(self) -> bool:
        """An open attempt may have moved money; only a replay of its key settles it."""
        return self in _OPEN


_OPEN = frozenset({AttemptOutcome.STARTED, AttemptOutcome.UNKNOWN})


class FailureCode(enum.StrEnum):
    """Why an invoice is not PAID. Stored next to a human-readable detail."""

    DECLINED = "declined"
    DUNNING_EXHAUSTED = "dunning_exhausted"
    MALFORMED = "malformed"
    CURRENCY_MISMATCH = "currency_mismatch"
    CUSTOMER_NOT_FOUND = "customer_not_found"
    PROVIDER_ERROR = "provider_error"


class DunningState(NamedTuple):
    """How far an invoice is through the dunning schedule."""

    declines: int = 0
    first_declined_on: date | None = None


class Invoice(NamedTuple):
    """An invoice that passed every local check and may be sent to the provider."""

    id: int
    customer_id: int
    amount: Money


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

    @property
    def next_attempt_no(self) -> int:
        """The number of this invoice's next key: one past the last in the ledger, so a
        key is never issued twice."""
        return self.last_attempt_no + 1


def check_chargeable(row: InvoiceRow) -> Invoice | Rejection:
    """Everything that can be checked without calling the provider."""
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
    return Invoice(row.id, customer_id, Money(amount, currency))


def idempotency_key(namespace: str, invoice_id: int, attempt_no: int) -> str:
    """The key for the n-th charge attempt of an invoice.

    Deterministic, so a replay after a crash sends exactly the same key. The
    namespace is fixed when the database is created, so two databases that both
    hold an invoice 7 never share keys at one provider.
    """
    return f"{namespace}-inv-{invoice_id}-{attempt_no}"


STATUS_BY_VALUE: dict[str, InvoiceStatus] = {s.value: s for s in InvoiceStatus}
NEVER_DECLINED = DunningState()
