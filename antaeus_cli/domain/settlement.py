"""What an invoice becomes once the provider has answered. Pure."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from antaeus_cli.domain.dunning import DunningSchedule
from antaeus_cli.domain.invoice import (
    NEVER_DECLINED,
    AttemptOutcome,
    DunningState,
    FailureCode,
    InvoiceStatus,
    Rejection,
)


class Transition(NamedTuple):
    """The invoice fields a settled attempt writes."""

    status: InvoiceStatus
    failure: Rejection | None = None
    next_retry_on: date | None = None
    dunning: DunningState = DunningState()


# Shared by every first-time payment, so the ledger can spot the common case by identity.
PAID_FIRST_TIME = Transition(InvoiceStatus.PAID)

_NEEDS_OPERATOR = {
    AttemptOutcome.CUSTOMER_NOT_FOUND: FailureCode.CUSTOMER_NOT_FOUND,
    AttemptOutcome.CURRENCY_MISMATCH: FailureCode.CURRENCY_MISMATCH,
    AttemptOutcome.PROVIDER_ERROR: FailureCode.PROVIDER_ERROR,
}


def settle(
    outcome: AttemptOutcome,
    detail: str | None,
    state: DunningState,
    as_of: date,
    schedule: DunningSchedule,
) -> Transition | None:
    """The invoice's next state, or None while the outcome is still unknown.

    | outcome                   | invoice becomes                                   |
    |---------------------------|---------------------------------------------------|
    | charged                   | PAID                                              |
    | declined                  | FAILED with a retry date, or UNCOLLECTIBLE        |
    | customer not found,       | NEEDS_OPERATOR; never retried automatically       |
    | currency mismatch, other  |                                                   |
    | unknown (network)         | stays PROCESSING until a replay of its key settles |
    """
    if outcome is AttemptOutcome.CHARGED:
        return (
            PAID_FIRST_TIME
            if state is NEVER_DECLINED or state == NEVER_DECLINED  # the common case: shared
            else Transition(InvoiceStatus.PAID, dunning=state)
        )
    if outcome is AttemptOutcome.DECLINED:
        return _declined(state, as_of=as_of, schedule=schedule)
    code = _NEEDS_OPERATOR.get(outcome)
    if code is not None:
        return Transition(
            InvoiceStatus.NEEDS_OPERATOR,
            failure=Rejection(code, detail or outcome),
            dunning=state,
        )
    if outcome.is_open:
        return None
    raise ValueError(f"outcome {outcome} does not settle an invoice")


def _declined(state: DunningState, *, as_of: date, schedule: DunningSchedule) -> Transition:
    first = state.first_declined_on or as_of
    declines = state.declines + 1
    after = DunningState(declines, first)
    retry_on = schedule.next_retry_on(first, declines, as_of)
    if retry_on is None:
        return Transition(
            InvoiceStatus.UNCOLLECTIBLE,
            failure=Rejection(
                FailureCode.DUNNING_EXHAUSTED,
                f"declined {declines} times; the dunning schedule ({schedule}) is spent",
            ),
            dunning=after,
        )
    return Transition(
        InvoiceStatus.FAILED,
        failure=Rejection(
            FailureCode.DECLINED, f"declined (insufficient balance), decline {declines}"
        ),
        next_retry_on=retry_on,
        dunning=after,
    )
