"""What a pass returns and reports while it runs. The CLI renders these; nothing here prints."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from antaeus_cli.domain.attempt import PAID_FIRST_TIME, RESTORE, Settled
from antaeus_cli.domain.clock import PassClock
from antaeus_cli.domain.invoice import InvoiceRow, InvoiceStatus, Rejection
from antaeus_cli.domain.money import CurrencyTotal, Totals
from antaeus_cli.domain.overdue import OpenAttempt, described
from antaeus_cli.errors import AntaeusError

# How many needs-operator invoices a result lists; `antaeus report` lists them all.
LISTED_LIMIT = 100


class Command(enum.StrEnum):
    BILL = "bill"
    RETRY_FAILED = "retry-failed"


class RunStatus(enum.StrEnum):
    """How a run ended; the billing_run table enforces the same set."""

    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED_OUTAGE = "stopped_outage"
    STOPPED_CAP = "stopped_cap"  # the next charge would have passed a --max-total
    STOPPED_BREAKER = "stopped_breaker"  # too many of the pass's first charges declined
    INTERRUPTED = "interrupted"
    CRASHED = "crashed"  # set by the next pass when the process died mid-run
    FAILED = "failed"  # an error it could not continue past (a refused credential among them)


class Phase(enum.StrEnum):
    RECONCILE = "reconcile"
    CHARGE = "charge"
    SWEEP = "sweep"


@dataclass(frozen=True, slots=True)
class OperatorItem:
    """An invoice this pass sent to an operator, and why."""

    invoice_id: int
    code: str
    detail: str


# What a first charge's decline made of its invoice, by the count it went to.
_DECLINE_COUNTS = {
    InvoiceStatus.FAILED.value: "declined",
    InvoiceStatus.UNCOLLECTIBLE.value: "uncollectible",
    InvoiceStatus.AWAITING_CUSTOMER.value: "awaiting_customer",
}


@dataclass(slots=True)
class PassCounts:
    """Running tallies; the names match the billing_run columns (but `handed_back`).

    A decline counts once, in one of `declined` (FAILED: retried on the dunning
    schedule), `uncollectible` and `awaiting_customer`; `declines` is their sum, and
    `declined_totals` holds the same invoices' amounts. A decline the breaker hands
    back leaves all three for `handed_back`.
    """

    reconciled: int = 0
    paid: int = 0
    declined: int = 0
    uncollectible: int = 0
    needs_operator: int = 0
    unknown: int = 0
    released: int = 0
    network_retries: int = 0
    awaiting_customer: int = 0  # hard declines and cards that need their holder
    not_processed: int = 0  # rate limited on every try, or lapsed: charged again later
    handed_back: int = 0  # declines the decline-rate breaker handed back, as never charged
    paid_totals: Totals = field(default_factory=Totals)
    declined_totals: Totals = field(default_factory=Totals)
    operator_items: list[OperatorItem] = field(default_factory=list)

    def as_columns(self) -> dict[str, int]:
        return {
            "reconciled": self.reconciled,
            "paid": self.paid,
            "declined": self.declined,
            "uncollectible": self.uncollectible,
            "needs_operator": self.needs_operator,
            "unknown": self.unknown,
            "released": self.released,
            "network_retries": self.network_retries,
            "awaiting_customer": self.awaiting_customer,
            "not_processed": self.not_processed,
            "handed_back": self.handed_back,
        }

    @property
    def declines(self) -> int:
        """Every decline recorded: retried later, uncollectible, or awaiting the customer."""
        return self.declined + self.uncollectible + self.awaiting_customer

    def hand_back(self, status: str, currency: str, minor: int) -> None:
        """A decline the breaker handed back: it was counted by the invoice `status` it
        made, and is now as if never charged."""
        name = _DECLINE_COUNTS.get(status)
        if name is None:
            return  # not a decline this tally counted
        setattr(self, name, getattr(self, name) - 1)
        self.declined_totals.take(currency, minor)
        self.handed_back += 1

    def add_operator_item(self, invoice_id: int, rejection: Rejection) -> None:
        self.needs_operator += 1
        if len(self.operator_items) < LISTED_LIMIT:
            self.operator_items.append(
                OperatorItem(invoice_id, rejection.code.value, rejection.detail)
            )

    def add_awaiting(self, row: InvoiceRow) -> None:
        """An invoice the judgement held for its customer (its card said never, in an
        earlier answer): a decline that waits for the customer, its amount beside it,
        so that the count and the totals count the same invoices."""
        self.awaiting_customer += 1
        # the card rule is asked after the amount and currency were found well formed:
        # the test only narrows their types (not mutated: always true here)
        if type(row.amount) is int and isinstance(row.currency, str):  # pragma: no mutate
            self.declined_totals.add(row.currency, row.amount)

    def add_held(self, settled: Settled, rejection: Rejection) -> None:
        """An answer recorded on its attempt whose invoice was held for an operator."""
        self.network_retries += settled.result.calls - 1
        if settled.attempt.replay:
            self.reconciled += 1
        self.add_operator_item(settled.attempt.invoice.id, rejection)

    def add_settled(self, settled: Settled) -> None:
        attempt, result, transition = settled
        if transition is PAID_FIRST_TIME and not attempt.replay and result.calls == 1:
            self.paid += 1  # the common case, first
            money = attempt.invoice.amount
            self.paid_totals.add(money.currency, money.minor)
            return
        if result.calls != 1:
            self.network_retries += result.calls - 1
        if transition is None:
            return
        if attempt.replay:
            self.reconciled += 1
        money = attempt.invoice.amount
        status = transition.status
        if status is InvoiceStatus.PAID:
            self.paid += 1
            self.paid_totals.add(money.currency, money.minor)
        elif status is InvoiceStatus.FAILED:
            self.declined += 1
            self.declined_totals.add(money.currency, money.minor)
        elif status is InvoiceStatus.UNCOLLECTIBLE:
            self.uncollectible += 1
            self.declined_totals.add(money.currency, money.minor)
        elif status is InvoiceStatus.AWAITING_CUSTOMER:
            self.awaiting_customer += 1
            self.declined_totals.add(money.currency, money.minor)
        elif transition is RESTORE:
            self.not_processed += 1
        elif transition.failure is not None:
            self.add_operator_item(attempt.invoice.id, transition.failure)


@dataclass(frozen=True, slots=True)
class Overdue:
    """Open attempts no pass could settle for so long that a person must
    (`domain.overdue`): the first LISTED_LIMIT of them, and how many there are."""

    listed: tuple[OpenAttempt, ...] = ()
    total: int = 0

    @classmethod
    def of(cls, attempts: list[OpenAttempt]) -> Overdue:
        return cls(tuple(attempts[:LISTED_LIMIT]), len(attempts))


def run_summary(
    command: Command,
    clock: PassClock,
    status: RunStatus,
    reason: str | None,
    counts: PassCounts,
    *,
    overdue: Overdue | None = None,
) -> dict[str, object] | None:
    """What the operator is told of a run that held invoices, left attempts overdue or
    stopped early; None for a run that completed with nothing for them."""
    overdue = overdue or Overdue()
    if status is RunStatus.COMPLETED and not counts.needs_operator and not overdue.total:
        return None
    return {
        "command": command.value,
        "as_of": clock.company_date.isoformat(),
        "as_of_instant": clock.as_of.instant.isoformat() if clock.as_of.instant else None,
        "status": status.value,
        "stop_reason": reason,
        "counts": counts.as_columns(),
        "needs_operator": counts.needs_operator,
        "held": [
            {"invoice_id": item.invoice_id, "code": item.code, "detail": item.detail}
            for item in counts.operator_items
        ],
        "overdue_total": overdue.total,
        "overdue": [described(attempt) for attempt in overdue.listed],
    }


@dataclass(frozen=True, slots=True)
class PassResult:
    run_id: int
    command: Command
    as_of: date  # the company's local date (the date form: the date given)
    provider: str
    status: RunStatus
    stop_reason: str | None
    counts: PassCounts
    unresolved: int  # attempts anywhere in the ledger still open when the run ended
    took_over_from: int | None
    as_of_instant: datetime | None = None  # in UTC; None for the date form
    overdue: Overdue = field(default_factory=Overdue)  # open attempts a person must settle

    @property
    def needs_operator(self) -> bool:
        """Whether some invoice or attempt needs a person: the pass exits 1."""
        return bool(self.counts.needs_operator or self.overdue.total)

    # The error that ended the pass part-way (a credential refused mid-pass), whose
    # exit code the run takes; None for a pass that ended any other way.
    error: AntaeusError | None = None

    @property
    def paid(self) -> list[CurrencyTotal]:
        return self.counts.paid_totals.rows()

    @property
    def declined(self) -> list[CurrencyTotal]:
        return self.counts.declined_totals.rows()


class Observer(Protocol):
    """Progress from a running pass. The CLI draws it; the core only calls it."""

    def phase(self, phase: Phase, total: int) -> None: ...

    def settled(self, settled: Settled) -> None: ...

    def rejected(self, row: InvoiceRow, rejection: Rejection) -> None: ...

    def held(self, invoice_id: int, rejection: Rejection) -> None:
        """An answer was recorded, but its invoice went to an operator instead."""
        ...

    def note(self, message: str) -> None: ...


class SilentObserver:
    def phase(self, phase: Phase, total: int) -> None:
        pass

    def settled(self, settled: Settled) -> None:
        pass

    def rejected(self, row: InvoiceRow, rejection: Rejection) -> None:
        pass

    def held(self, invoice_id: int, rejection: Rejection) -> None:
        pass

    def note(self, message: str) -> None:
        pass
