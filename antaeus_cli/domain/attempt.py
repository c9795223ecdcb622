"""Charge attempts: what is sent under one idempotency key, and what came back. Pure."""

from __future__ import annotations

from typing import NamedTuple

from antaeus_cli.domain.invoice import AttemptOutcome, DunningState, Invoice, InvoiceStatus
from antaeus_cli.domain.settlement import Transition


class Attempt(NamedTuple):
    """A charge under one idempotency key: a new attempt, or the replay of an open one.

    A replay always sends the amount and currency recorded with the key, never the
    invoice's current ones, so the provider sees exactly the first request again.
    """

    invoice: Invoice
    attempt_no: int
    key: str
    dunning: DunningState
    from_status: InvoiceStatus  # where the invoice goes back to if this is never sent
    replay: bool = False
    id: int = 0  # the ledger row, assigned when the attempt is claimed


class CallResult(NamedTuple):
    """What the provider said about one key, after any in-pass network retries."""

    outcome: AttemptOutcome
    detail: str | None
    calls: int  # requests sent under the key in this pass, retries included


class Settled(NamedTuple):
    """An attempt with its answer and the invoice transition it causes (None: unknown)."""

    attempt: Attempt
    result: CallResult
    transition: Transition | None


# The common answers, shared: a batch of a thousand charges needs one object, not a
# thousand, and the ledger can group them by identity.
CHARGED_ONCE = CallResult(AttemptOutcome.CHARGED, None, 1)
DECLINED_DETAIL = "the balance did not allow the charge"
DECLINED_ONCE = CallResult(AttemptOutcome.DECLINED, DECLINED_DETAIL, 1)
